// Running helper programs from tests (tgtadm, iscsi-ls, ip, ...) without a
// shell: fork/exec, output captured, a hard timeout, and on Linux children
// that die with the test program (PR_SET_PDEATHSIG) so an abort leaves
// nothing behind.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace ivs::test {

struct run_result {
    int exit_code = -1;     // exit status, or -1 when killed by a signal
    int term_signal = 0;    // signal that ended the child, 0 if it exited
    bool timed_out = false; // killed by run() after the timeout
    std::string out;        // captured stdout
    std::string err;        // captured stderr

    bool ok() const { return exit_code == 0 && !timed_out; }
    // One line for error messages: "argv...: exit 3" plus the output.
    std::string describe(const std::vector<std::string>& argv) const;
};

// Runs argv[0] (looked up in PATH) with the given arguments and waits for it.
// Throws std::runtime_error only when the program cannot be started.
run_result run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = std::chrono::seconds(30));

// Like run() but throws std::runtime_error (with the output) unless it exits 0.
std::string run_checked(const std::vector<std::string>& argv,
                        std::chrono::milliseconds timeout = std::chrono::seconds(30));

struct spawn_options {
    std::filesystem::path log_file; // stdout+stderr appended here; /dev/null if empty
    std::string netns;              // run inside /var/run/netns/<netns> if not empty (Linux)
};

// Starts a long-running child (a daemon in the foreground) and returns its pid.
// The child gets SIGKILL when the calling thread exits. Throws on failure.
pid_t spawn(const std::vector<std::string>& argv, const spawn_options& opts);

// Non-blocking check: true (and the wait status in *status) if pid has ended.
bool reap_if_exited(pid_t pid, int* status = nullptr);

// SIGKILL and waitpid(); harmless if the child has already been reaped.
void kill_and_reap(pid_t pid);

// A long-running child started by spawn() and owned by the test: its output
// in a log file, waited for with a bound, stopped by its own pid only (a
// reaped child's pid is -1 and is never signalled). The destructor kills
// (SIGKILL) and reaps a child that still runs.
class child_process {
public:
    child_process() = default;
    // Throws std::runtime_error when the program cannot be started.
    child_process(const std::vector<std::string>& argv, const spawn_options& opts);
    ~child_process();
    child_process(child_process&& other) noexcept;
    child_process& operator=(child_process&& other) noexcept;
    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;

    // The child's pid while it has not been reaped, else -1.
    [[nodiscard]] pid_t pid() const { return pid_; }
    // Reaps the child if it has exited; true while it runs.
    bool running();
    // Once reaped: its exit code, or -1 when a signal ended it.
    [[nodiscard]] int exit_code() const;
    // Once reaped: its wait status (nullopt before, or when unknown).
    [[nodiscard]] std::optional<int> wait_status() const { return status_; }
    // Waits up to `limit` for the child to exit: exit_code(), or -1 when it
    // still runs.
    int wait(std::chrono::milliseconds limit);
    // kill(pid, sig) while the child runs; false when it does not or kill fails.
    bool signal(int sig);
    enum class on_timeout { kill, leave_running };
    // Sends `sig` and waits up to `limit` for the child to exit: exit_code(),
    // or -1 when it did not exit in time; it is then SIGKILLed and reaped, or
    // left running (on_timeout::leave_running).
    int stop(int sig, std::chrono::milliseconds limit, on_timeout then = on_timeout::kill);
    // SIGKILL and reap; nothing when it is not running.
    void kill();

    // The log file's contents ("" without one).
    [[nodiscard]] std::string output() const;
    [[nodiscard]] const std::filesystem::path& log_file() const { return log_; }
    // Waits until the log holds `text`: false when the child exits without
    // writing it, or after `limit`.
    bool wait_for_output(const std::string& text, std::chrono::milliseconds limit);

private:
    std::optional<std::optional<int>> reap(bool block);

    pid_t pid_ = -1;
    std::optional<int> status_;
    std::filesystem::path log_;
};

// Last `bytes` bytes of a file ("" if unreadable).
std::string file_tail(const std::filesystem::path& path, std::size_t bytes = 2000);

} // namespace ivs::test
