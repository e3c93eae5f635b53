#include "app/privsep_channel.hpp"

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ivs::app {

namespace {

// The frame header: what imsg(3)'s imsg_hdr holds that this channel uses.
struct frame_header {
    std::uint32_t type;
    std::uint32_t id;
    std::uint32_t length; // bytes of data after the header
    std::uint32_t flags;
};
constexpr std::uint32_t flag_fd = 1; // one descriptor travels with the header's first byte

std::error_code last_error() { return {errno, std::generic_category()}; }

class channel_category_impl : public std::error_category {
public:
    const char* name() const noexcept override { return "privsep channel"; }
    std::string message(int ev) const override
    {
        switch (static_cast<channel_errc>(ev)) {
        case channel_errc::closed: return "the other process closed the channel";
        case channel_errc::too_large: return "message too large";
        case channel_errc::bad_frame: return "malformed message frame";
        }
        return "unknown channel error";
    }
};

#if defined(MSG_NOSIGNAL)
constexpr int send_flags = MSG_NOSIGNAL;
#else
constexpr int send_flags = 0;
#endif

} // namespace

const std::error_category& channel_category() noexcept
{
    static const channel_category_impl c;
    return c;
}

std::error_code make_error_code(channel_errc e) noexcept { return {static_cast<int>(e), channel_category()}; }

unique_fd& unique_fd::operator=(unique_fd&& o) noexcept
{
    if (this != &o)
        reset(o.release());
    return *this;
}

void unique_fd::reset(int fd) noexcept
{
    if (fd_ >= 0)
        ::close(fd_);
    fd_ = fd;
}

channel::channel(unique_fd fd, std::size_t max_receive) : fd_(std::move(fd)), max_receive_(max_receive) {}

std::error_code channel::send(std::uint32_t type, std::uint32_t id, const std::string& data, int fd)
{
    if (data.size() > max_message)
        return channel_errc::too_large;
    const frame_header h{type, id, static_cast<std::uint32_t>(data.size()), fd >= 0 ? flag_fd : 0u};
    std::lock_guard lock(send_m_);
    iovec iov[2];
    iov[0].iov_base = const_cast<frame_header*>(&h);
    iov[0].iov_len = sizeof h;
    iov[1].iov_base = const_cast<char*>(data.data());
    iov[1].iov_len = data.size();
    alignas(cmsghdr) unsigned char control[CMSG_SPACE(sizeof(int))];
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = data.empty() ? 1 : 2;
    if (fd >= 0) {
        std::memset(control, 0, sizeof control);
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
    }
    // The descriptor goes with the first sendmsg; what a short send left
    // goes after it without.
    std::size_t left = sizeof h + data.size();
    for (;;) {
        const ssize_t n = ::sendmsg(fd_.get(), &msg, send_flags);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EPIPE || errno == ECONNRESET ? make_error_code(channel_errc::closed) : last_error();
        }
        left -= static_cast<std::size_t>(n);
        if (left == 0)
            return {};
        msg.msg_control = nullptr;
        msg.msg_controllen = 0;
        std::size_t skip = static_cast<std::size_t>(n);
        while (msg.msg_iovlen > 0 && skip >= msg.msg_iov[0].iov_len) {
            skip -= msg.msg_iov[0].iov_len;
            ++msg.msg_iov;
            --msg.msg_iovlen;
        }
        msg.msg_iov[0].iov_base = static_cast<char*>(msg.msg_iov[0].iov_base) + skip;
        msg.msg_iov[0].iov_len -= skip;
    }
}

std::error_code channel::receive(message& out)
{
    out = message{};
    frame_header h{};
    std::size_t got = 0;
    unique_fd passed;
    bool extra_fds = false;
    while (got < sizeof h) {
        iovec iov{reinterpret_cast<char*>(&h) + got, sizeof h - got};
        alignas(cmsghdr) unsigned char control[CMSG_SPACE(sizeof(int) * 4)];
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        const ssize_t n = ::recvmsg(fd_.get(), &msg, MSG_CMSG_CLOEXEC);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return last_error();
        }
        if (n == 0)
            return channel_errc::closed;
        for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                continue;
            const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (std::size_t i = 0; i < count; ++i) {
                int fd = -1;
                std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
                if (!passed)
                    passed.reset(fd);
                else {
                    ::close(fd);
                    extra_fds = true;
                }
            }
        }
        if ((msg.msg_flags & MSG_CTRUNC) != 0)
            extra_fds = true;
        got += static_cast<std::size_t>(n);
    }
    if (extra_fds || (h.flags & ~flag_fd) != 0 || ((h.flags & flag_fd) != 0) != static_cast<bool>(passed))
        return channel_errc::bad_frame;
    if (h.length > max_receive_ || h.length > max_message)
        return channel_errc::too_large;
    std::string data(h.length, '\0');
    std::size_t done = 0;
    while (done < data.size()) {
        const ssize_t n = ::recv(fd_.get(), data.data() + done, data.size() - done, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return last_error();
        }
        if (n == 0)
            return channel_errc::closed;
        done += static_cast<std::size_t>(n);
    }
    out.type = h.type;
    out.id = h.id;
    out.data = std::move(data);
    out.fd = std::move(passed);
    return {};
}

void channel::shutdown() noexcept { ::shutdown(fd_.get(), SHUT_RDWR); }

std::error_code make_channel_pair(unique_fd& a, unique_fd& b)
{
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return last_error();
    a.reset(sv[0]);
    b.reset(sv[1]);
    return {};
}

} // namespace ivs::app
