// Running helper programs from tests (tgtadm, iscsi-ls, ip, ...) without a
// shell: fork/exec, output captured, a hard timeout, and on Linux children
// that die with the test program (PR_SET_PDEATHSIG) so an abort leaves
// nothing behind.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <sys/types.h>
#include <vector>

namespace ivs::test {

struct run_result {
    int exit_code = -1;      // exit status, or -1 when killed by a signal
    int term_signal = 0;     // signal that ended the child, 0 if it exited
    bool timed_out = false;  // killed by run() after the timeout
    std::string out;         // captured stdout
    std::string err;         // captured stderr

    bool ok() const { return exit_code == 0 && !timed_out; }
    // One line for error messages: "argv...: exit 3" plus the output.
    std::string describe(const std::vector<std::string>& argv) const;
};

// Runs argv[0] (looked up in PATH) with the given arguments and waits for it.
// Throws std::runtime_error only when the program cannot be started.
run_result run(const std::vector<std::string>& argv,
               std::chrono::milliseconds timeout = std::chrono::seconds(30));

// Like run() but throws std::runtime_error (with the output) unless it exits 0.
std::string run_checked(const std::vector<std::string>& argv,
                        std::chrono::milliseconds timeout = std::chrono::seconds(30));

struct spawn_options {
    std::filesystem::path log_file;  // stdout+stderr appended here; /dev/null if empty
    std::string netns;               // run inside /var/run/netns/<netns> if not empty (Linux)
};

// Starts a long-running child (a daemon in the foreground) and returns its pid.
// The child gets SIGKILL when the calling thread exits. Throws on failure.
pid_t spawn(const std::vector<std::string>& argv, const spawn_options& opts);

// Non-blocking check: true (and the wait status in *status) if pid has ended.
bool reap_if_exited(pid_t pid, int* status = nullptr);

// SIGKILL and waitpid(); harmless if the child has already been reaped.
void kill_and_reap(pid_t pid);

// Last `bytes` bytes of a file ("" if unreadable).
std::string file_tail(const std::filesystem::path& path, std::size_t bytes = 2000);

}  // namespace ivs::test
