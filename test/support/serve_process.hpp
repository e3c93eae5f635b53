// One `iscsi-vscsi serve -d` for the integration tests (the program named by
// $IVS_PROGRAM): started with a configuration file and a control socket in
// a work directory, waited for until it logs "serving on", stopped by
// signal and reaped. serve forks its unprivileged worker: worker() finds
// it, and the destructor kills both (and lazily unmounts the export
// directories handed to watch_mount) if the test did not stop them.
#pragma once

#include "test/support/process.hpp"

#include <chrono>
#include <csignal>
#include <filesystem>
#include <string>
#include <vector>

#include <sys/types.h>

namespace ivs::test {

// $IVS_PROGRAM, the iscsi-vscsi under test.
std::string ivs_program();
bool is_mounted(const std::filesystem::path& dir);
std::string read_text(const std::filesystem::path& p);
// Writes `text` and sets `mode` (default 0600).
void write_file_mode(const std::filesystem::path& p, const std::string& text,
                     std::filesystem::perms mode = std::filesystem::perms::owner_read |
                                                   std::filesystem::perms::owner_write);
bool contains(const std::string& hay, const std::string& needle);

class serve_process {
public:
    // `extra` goes after "serve -d -f CONF -s SOCKET". Fails the test when
    // serve exits or does not say "serving on" within two minutes.
    serve_process(const std::filesystem::path& conf, const std::filesystem::path& work,
                  const std::vector<std::string>& extra = {});
    ~serve_process();
    serve_process(const serve_process&) = delete;
    serve_process& operator=(const serve_process&) = delete;

    void watch_mount(const std::filesystem::path& d) { dirs_.push_back(d); }

    // iscsi-vscsi ARGS -s SOCKET
    run_result ctl(std::vector<std::string> args, std::chrono::milliseconds limit = std::chrono::seconds(120)) const;

    // Sends `sig` and waits (at most `limit`) for serve to exit: its exit
    // status, or -1 when it did not exit in time (it is left running).
    int stop(int sig = SIGTERM, std::chrono::milliseconds limit = std::chrono::seconds(120));
    bool signal(int sig) const;
    [[nodiscard]] bool running() const { return pid_ > 0; }
    // Waits until the log holds `text` (at most `limit`).
    bool wait_for_log(const std::string& text, std::chrono::milliseconds limit = std::chrono::seconds(60)) const;

    [[nodiscard]] pid_t pid() const { return pid_; }
    // The worker: serve's child process (-1 when there is none).
    [[nodiscard]] pid_t worker() const;
    [[nodiscard]] std::string log() const { return read_text(log_); }
    [[nodiscard]] const std::filesystem::path& socket() const { return socket_; }

private:
    static inline int count_ = 0;
    std::filesystem::path log_;
    std::filesystem::path socket_;
    pid_t pid_ = -1;
    std::vector<std::filesystem::path> dirs_;
};

} // namespace ivs::test
