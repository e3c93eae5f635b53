// The fault-injecting proxy: one thread polls the listening socket, a wake-up
// pipe and both sockets of every forwarded connection. Bytes read are queued
// per direction with the time they may leave (delay); bit flips and
// truncation are applied to target->initiator bytes as they are read.
#include "fault_proxy.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <list>
#include <stdexcept>
#include <vector>

namespace ivs::test {

namespace {

using clock_type = std::chrono::steady_clock;
constexpr std::size_t read_size = 64 * 1024;
constexpr std::size_t queue_limit = 4 << 20; // stop reading a side beyond this backlog

[[noreturn]] void fail(const std::string& what)
{
    throw std::runtime_error("fault_proxy: " + what + ": " + std::strerror(errno));
}

void set_nonblocking(int fd)
{
    const int flags = ::fcntl(fd, F_GETFL);
    ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

struct chunk {
    clock_type::time_point release;
    std::vector<char> bytes;
    std::size_t sent = 0;
};

// One direction of a forwarded connection.
struct pipe_half {
    std::deque<chunk> queue;
    std::size_t queued = 0;
    bool eof = false; // the reading side closed: close once the queue drains

    bool ready(clock_type::time_point now) const { return !queue.empty() && queue.front().release <= now; }
};

struct link {
    int initiator = -1;
    int target = -1;
    std::uint64_t from_target = 0; // target->initiator bytes read so far
    pipe_half to_initiator, to_target;
    bool cut = false; // truncated: forward what is queued, then close
    bool dead = false;

    void close()
    {
        if (initiator >= 0)
            ::close(initiator);
        if (target >= 0)
            ::close(target);
        initiator = target = -1;
        dead = true;
    }
};

// Sends what may leave now; false when the peer is gone.
bool flush(int fd, pipe_half& h, clock_type::time_point now)
{
    while (h.ready(now)) {
        chunk& c = h.queue.front();
        const ssize_t n = ::send(fd, c.bytes.data() + c.sent, c.bytes.size() - c.sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return true;
        if (n <= 0)
            return false;
        c.sent += static_cast<std::size_t>(n);
        h.queued -= static_cast<std::size_t>(n);
        if (c.sent == c.bytes.size())
            h.queue.pop_front();
    }
    return true;
}

} // namespace

fault_proxy::fault_proxy(std::string target_host, std::uint16_t target_port)
    : target_host_(std::move(target_host)), target_port_(target_port)
{
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0)
        fail("socket");
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    ::inet_pton(AF_INET, host_.c_str(), &sa.sin_addr);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(listen_fd_, 16) != 0)
        fail("bind/listen");
    socklen_t len = sizeof sa;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&sa), &len);
    port_ = ntohs(sa.sin_port);
    set_nonblocking(listen_fd_);
    if (::pipe2(wake_fd_, O_CLOEXEC | O_NONBLOCK) != 0)
        fail("pipe");
    thread_ = std::thread([this] { run(); });
}

fault_proxy::~fault_proxy()
{
    stop_ = true;
    wake();
    thread_.join();
    ::close(listen_fd_);
    ::close(wake_fd_[0]);
    ::close(wake_fd_[1]);
}

void fault_proxy::wake()
{
    const char c = 0;
    [[maybe_unused]] const auto n = ::write(wake_fd_[1], &c, 1);
}

void fault_proxy::flip_every(std::uint64_t n)
{
    std::lock_guard lock(mutex_);
    flip_every_ = n;
}

void fault_proxy::flip_once(std::uint64_t k)
{
    std::lock_guard lock(mutex_);
    flip_once_ = static_cast<std::int64_t>(k);
}

void fault_proxy::truncate_after(std::uint64_t k)
{
    {
        std::lock_guard lock(mutex_);
        truncate_after_ = static_cast<std::int64_t>(k);
    }
    wake();
}

void fault_proxy::delay(std::chrono::milliseconds d)
{
    std::lock_guard lock(mutex_);
    delay_ = d;
}

void fault_proxy::close_all()
{
    {
        std::lock_guard lock(mutex_);
        close_all_ = true;
    }
    wake();
}

void fault_proxy::clear()
{
    std::lock_guard lock(mutex_);
    flip_every_ = 0;
    flip_once_ = -1;
    truncate_after_ = -1;
    delay_ = std::chrono::milliseconds(0);
}

fault_proxy_counters fault_proxy::counters() const
{
    std::lock_guard lock(mutex_);
    return counters_;
}

void fault_proxy::run()
{
    std::list<link> links;
    std::vector<char> buf(read_size);
    std::vector<pollfd> fds;

    // Connects a new initiator connection to the target (blocking, loopback).
    auto accept_one = [&] {
        const int in = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (in < 0)
            return;
        const int out = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(target_port_);
        ::inet_pton(AF_INET, target_host_.c_str(), &sa.sin_addr);
        if (out < 0 || ::connect(out, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
            ::close(in);
            if (out >= 0)
                ::close(out);
            return;
        }
        const int one = 1;
        for (int fd : {in, out}) {
            set_nonblocking(fd);
            ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        }
        links.push_back(link{});
        links.back().initiator = in;
        links.back().target = out;
        std::lock_guard lock(mutex_);
        ++counters_.connections;
    };

    // Reads from one side into the other direction's queue; false on EOF/error.
    auto read_side = [&](link& l, bool from_target) {
        const int fd = from_target ? l.target : l.initiator;
        const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
            return true;
        if (n <= 0)
            return false;
        std::size_t len = static_cast<std::size_t>(n);
        std::lock_guard lock(mutex_);
        if (from_target) {
            // Truncation: keep what may still pass, then cut the connection.
            if (truncate_after_ >= 0) {
                if (static_cast<std::uint64_t>(truncate_after_) <= len) {
                    len = static_cast<std::size_t>(truncate_after_);
                    truncate_after_ = -1;
                    l.cut = true;
                    ++counters_.truncations;
                } else {
                    truncate_after_ -= static_cast<std::int64_t>(len);
                }
            }
            if (flip_once_ >= 0) {
                if (static_cast<std::uint64_t>(flip_once_) < len) {
                    buf[static_cast<std::size_t>(flip_once_)] ^= 0x10;
                    ++counters_.bits_flipped;
                    flip_once_ = -1;
                } else {
                    flip_once_ -= static_cast<std::int64_t>(len);
                }
            }
            if (flip_every_ > 0) {
                // Bytes n-1, 2n-1, ... of this connection's stream.
                std::uint64_t next = (l.from_target / flip_every_ + 1) * flip_every_ - 1;
                for (; next < l.from_target + len; next += flip_every_) {
                    buf[static_cast<std::size_t>(next - l.from_target)] ^= 0x04;
                    ++counters_.bits_flipped;
                }
            }
            l.from_target += len;
            counters_.to_initiator += len;
        } else {
            counters_.to_target += len;
        }
        if (len > 0) {
            pipe_half& h = from_target ? l.to_initiator : l.to_target;
            h.queue.push_back(chunk{clock_type::now() + delay_,
                                    std::vector<char>(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(len)), 0});
            h.queued += len;
        }
        return true;
    };

    while (!stop_) {
        {
            std::lock_guard lock(mutex_);
            if (close_all_) {
                close_all_ = false;
                for (auto& l : links)
                    l.close();
            }
        }
        links.remove_if([](const link& l) { return l.dead; });

        const auto now = clock_type::now();
        auto timeout = std::chrono::milliseconds(200);
        auto consider = [&](const pipe_half& h) {
            if (!h.queue.empty() && h.queue.front().release > now)
                timeout =
                    std::min(timeout, std::chrono::ceil<std::chrono::milliseconds>(h.queue.front().release - now));
        };
        fds.clear();
        fds.push_back({listen_fd_, POLLIN, 0});
        fds.push_back({wake_fd_[0], POLLIN, 0});
        for (auto& l : links) {
            consider(l.to_initiator);
            consider(l.to_target);
            short in_ev = 0, out_ev = 0;
            if (!l.to_target.eof && l.to_target.queued < queue_limit)
                in_ev |= POLLIN;
            if (!l.cut && !l.to_initiator.eof && l.to_initiator.queued < queue_limit)
                out_ev |= POLLIN;
            if (l.to_initiator.ready(now))
                in_ev |= POLLOUT;
            if (l.to_target.ready(now))
                out_ev |= POLLOUT;
            fds.push_back({l.initiator, in_ev, 0});
            fds.push_back({l.target, out_ev, 0});
        }
        const int ready = ::poll(fds.data(), fds.size(), static_cast<int>(timeout.count()));
        if (ready < 0 && errno != EINTR)
            break;
        if (fds[1].revents) {
            char drain[64];
            while (::read(wake_fd_[0], drain, sizeof drain) > 0) {
            }
        }
        if (fds[0].revents & POLLIN)
            accept_one();
        const auto after = clock_type::now();
        std::size_t i = 2;
        for (auto& l : links) {
            if (i + 1 >= fds.size())
                break; // accepted during this round: polled next time
            const short in_rev = fds[i++].revents, out_rev = fds[i++].revents;
            if (in_rev & (POLLIN | POLLHUP | POLLERR))
                if (!read_side(l, false))
                    l.to_target.eof = true;
            if (out_rev & (POLLIN | POLLHUP | POLLERR))
                if (!l.cut && !read_side(l, true))
                    l.to_initiator.eof = true;
            if (!flush(l.initiator, l.to_initiator, after) || !flush(l.target, l.to_target, after)) {
                l.close();
                continue;
            }
            // A closed or cut side ends the connection once its bytes are out.
            const bool t_done = (l.to_initiator.eof || l.cut) && l.to_initiator.queue.empty();
            const bool i_done = l.to_target.eof && l.to_target.queue.empty();
            if (t_done || i_done)
                l.close();
        }
    }
    for (auto& l : links)
        l.close();
}

} // namespace ivs::test
