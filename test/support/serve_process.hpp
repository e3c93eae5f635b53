// One `iscsi-vscsi serve -d` for the integration tests (the program named by
// $IVS_PROGRAM): started with a configuration file and a control socket in
// a work directory, waited for until it logs "serving on", stopped by
// signal and reaped. serve forks its unprivileged worker: worker() finds
// it, and the destructor kills both (and lazily unmounts the export
// directories handed to watch_mount) if the test did not stop them.
#pragma once

#include "test/support/process.hpp"
#include "test/support/program.hpp"

#include <chrono>
#include <csignal>
#include <filesystem>
#include <string>
#include <vector>

#include <sys/types.h>

namespace ivs::test {

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
    bool signal(int sig) { return child_.signal(sig); }
    // Reaps serve if it has exited; true while it runs.
    bool running() { return child_.running(); }
    // Waits until the log holds `text` (at most `limit`).
    bool wait_for_log(const std::string& text, std::chrono::milliseconds limit = std::chrono::seconds(60)) const;

    [[nodiscard]] pid_t pid() const { return child_.pid(); }
    // The worker: serve's child process (-1 when there is none).
    [[nodiscard]] pid_t worker() const;
    [[nodiscard]] std::string log() const { return child_.output(); }
    [[nodiscard]] const std::filesystem::path& socket() const { return socket_; }

private:
    static inline int count_ = 0;
    std::filesystem::path socket_;
    child_process child_;
    std::vector<std::filesystem::path> dirs_;
};

} // namespace ivs::test
