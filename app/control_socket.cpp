#include "app/control_socket.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ivs::app {

namespace {

std::error_code last_error() { return {errno, std::generic_category()}; }

bool make_address(const std::filesystem::path& path, sockaddr_un& sa)
{
    std::memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    const std::string s = path.string();
    if (s.empty() || s.size() >= sizeof sa.sun_path)
        return false;
    std::memcpy(sa.sun_path, s.data(), s.size());
    return true;
}

int connect_to(const std::filesystem::path& path)
{
    sockaddr_un sa;
    if (!make_address(path, sa)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
        const int e = errno;
        ::close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

bool write_all(int fd, const std::string& s)
{
    std::size_t off = 0;
    while (off < s.size()) {
        ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        off += static_cast<std::size_t>(n);
    }
    return true;
}

// The peer is root or `allowed`.
bool peer_allowed(int fd, uid_t allowed)
{
#if defined(__OpenBSD__)
    uid_t uid;
    gid_t gid;
    if (getpeereid(fd, &uid, &gid) != 0)
        return false;
#else
    ucred cred{};
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
        return false;
    const uid_t uid = cred.uid;
#endif
    return uid == 0 || uid == allowed;
}

} // namespace

control_server::~control_server() { stop(); }

std::error_code control_server::open(const std::filesystem::path& path, std::string& error)
{
    sockaddr_un sa;
    if (!make_address(path, sa)) {
        error = "control socket path " + path.string() + " is empty or too long";
        return make_error_code(std::errc::filename_too_long);
    }
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            error = path.string() + " exists and is not a socket";
            return make_error_code(std::errc::file_exists);
        }
        int probe = connect_to(path);
        if (probe >= 0) {
            ::close(probe);
            error = "another iscsi-vscsi serve answers on " + path.string();
            return make_error_code(std::errc::address_in_use);
        }
        ::unlink(path.c_str()); // stale: its server is gone
    }
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) {
        auto ec = last_error();
        error = "socket: " + ec.message();
        return ec;
    }
    const mode_t old = ::umask(077); // created 0600, never wider
    const int rc = ::bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    ::umask(old);
    if (rc != 0 || ::chmod(path.c_str(), 0600) != 0 || ::listen(fd_, 8) != 0) {
        auto ec = last_error();
        error = "cannot listen on " + path.string() + ": " + ec.message();
        ::close(fd_);
        fd_ = -1;
        return ec;
    }
    if (::pipe(wake_) != 0) {
        auto ec = last_error();
        error = "pipe: " + ec.message();
        return ec;
    }
    ::fcntl(wake_[0], F_SETFD, FD_CLOEXEC);
    ::fcntl(wake_[1], F_SETFD, FD_CLOEXEC);
    path_ = path;
    allowed_uid_ = ::geteuid();
    return {};
}

void control_server::close_copy()
{
    for (int* fd : {&fd_, &wake_[0], &wake_[1]})
        if (*fd >= 0) {
            ::close(*fd);
            *fd = -1;
        }
    path_.clear();
}

void control_server::start(handler h)
{
    handler_ = std::move(h);
    thread_ = std::thread([this] { serve(); });
}

void control_server::stop()
{
    if (wake_[1] >= 0) {
        char c = 0;
        [[maybe_unused]] auto n = ::write(wake_[1], &c, 1);
    }
    if (thread_.joinable())
        thread_.join();
    for (int* fd : {&fd_, &wake_[0], &wake_[1]})
        if (*fd >= 0) {
            ::close(*fd);
            *fd = -1;
        }
    if (!path_.empty()) {
        ::unlink(path_.c_str());
        path_.clear();
    }
}

void control_server::serve()
{
    for (;;) {
        pollfd p[2] = {{fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
        if (::poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        if (p[1].revents)
            return;
        if (!(p[0].revents & POLLIN))
            continue;
        int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0)
            continue;
        ::fcntl(c, F_SETFD, FD_CLOEXEC);
        std::string line;
        bool complete = false;
        if (peer_allowed(c, allowed_uid_)) {
            // One line, bounded in size and time (5 s).
            char buf[512];
            while (line.size() <= max_control_line) {
                pollfd q{c, POLLIN, 0};
                if (::poll(&q, 1, 5000) <= 0)
                    break;
                ssize_t n = ::recv(c, buf, sizeof buf, 0);
                if (n <= 0)
                    break;
                line.append(buf, static_cast<std::size_t>(n));
                if (auto nl = line.find('\n'); nl != std::string::npos) {
                    line.resize(nl);
                    complete = true;
                    break;
                }
            }
            bool ok = true;
            std::string body = complete ? handler_(line, ok) : "";
            write_all(c, complete ? (ok ? "ok\n" : "error: ") + body : "error: malformed request\n");
        } else {
            write_all(c, "error: permission denied\n");
        }
        // Let the client read the answer before the close: unread input
        // would turn the close into a reset. Drained for a bounded time.
        ::shutdown(c, SHUT_WR);
        char sink[512];
        for (int i = 0; i < 128; ++i) {
            pollfd q{c, POLLIN, 0};
            if (::poll(&q, 1, 100) <= 0 || ::recv(c, sink, sizeof sink, 0) <= 0)
                break;
        }
        ::close(c);
    }
}

std::error_code control_request(const std::filesystem::path& path, const std::string& request, std::string& answer)
{
    int fd = connect_to(path);
    if (fd < 0)
        return last_error();
    std::error_code ec;
    if (!write_all(fd, request + "\n")) {
        ec = last_error();
    } else {
        char buf[4096];
        for (;;) {
            ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                ec = last_error();
                break;
            }
            if (n == 0)
                break;
            answer.append(buf, static_cast<std::size_t>(n));
        }
    }
    ::close(fd);
    return ec;
}

} // namespace ivs::app
