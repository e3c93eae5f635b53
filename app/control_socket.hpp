// The control socket of `iscsi-vscsi serve`: a unix stream socket, mode
// 0600, answering one request per connection. A request is one line
// ("status", "status json", "reload", "detach NAME", "rescan NAME"); the answer is "ok\n"
// or "error: REASON\n" followed by the body, and the server closes the
// connection. Only root and the user running serve may connect (peer
// credentials are checked).
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <string>
#include <system_error>
#include <thread>

#include <sys/types.h>

namespace ivs::app {

inline constexpr const char* default_control_socket = "/var/run/iscsi-vscsi.sock";
inline constexpr std::size_t max_control_line = 4096;

class control_server {
public:
    // Handles one request line; sets `ok` false for an error answer.
    using handler = std::function<std::string(const std::string& request, bool& ok)>;

    control_server() = default;
    ~control_server(); // stop()
    control_server(const control_server&) = delete;
    control_server& operator=(const control_server&) = delete;

    // Binds and listens. Refuses (EADDRINUSE) when another server answers
    // on `path`; replaces a stale socket file left by a dead one.
    std::error_code open(const std::filesystem::path& path, std::string& error);
    // Serves requests on a thread of its own, one at a time.
    void start(handler h);
    // Stops serving, closes and removes the socket.
    void stop();
    // serve's privilege separation: the parent binds, the worker serves.
    // In the parent after fork: closes its copies, leaves the socket file.
    void close_copy();
    // In the worker: stop() will leave the socket file to the parent.
    void keep_file() noexcept { path_.clear(); }

private:
    void serve();

    std::filesystem::path path_;
    uid_t allowed_uid_ = 0; // besides root: the effective uid at open(), kept by the worker that changes user
    int fd_ = -1;
    int wake_[2] = {-1, -1};
    handler handler_;
    std::thread thread_;
};

// Client side: sends `request`, returns the answer (status line and body).
std::error_code control_request(const std::filesystem::path& path, const std::string& request, std::string& answer);

} // namespace ivs::app
