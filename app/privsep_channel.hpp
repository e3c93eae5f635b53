// The message channel between `serve`'s privileged parent and its
// unprivileged worker: one end of a socketpair(AF_UNIX, SOCK_STREAM) each,
// messages framed as imsg(3) frames them (a fixed header naming the type, a
// request number and the length, then the data) with at most one file
// descriptor passed along (SCM_RIGHTS). The same code runs on OpenBSD and
// Linux; both ends are this program, so the header is in host byte order.
//
// Either side sends from any thread (sends are serialised); one thread
// receives. A peer that breaks the framing (a length over the limit, a
// descriptor where none was announced, a short header) is an error: the
// receiver closes the channel rather than guess.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <system_error>
#include <utility>

namespace ivs::app {

// A file descriptor owned by one object; closed when it goes.
class unique_fd {
public:
    unique_fd() noexcept = default;
    explicit unique_fd(int fd) noexcept : fd_(fd) {}
    unique_fd(unique_fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    unique_fd& operator=(unique_fd&& o) noexcept;
    unique_fd(const unique_fd&) = delete;
    unique_fd& operator=(const unique_fd&) = delete;
    ~unique_fd() { reset(); }

    [[nodiscard]] int get() const noexcept { return fd_; }
    [[nodiscard]] explicit operator bool() const noexcept { return fd_ >= 0; }
    [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }
    void reset(int fd = -1) noexcept;

private:
    int fd_ = -1;
};

struct message {
    std::uint32_t type = 0;
    std::uint32_t id = 0; // a request's number, repeated in its answer; 0: not an answer
    std::string data;
    unique_fd fd; // the descriptor passed with the message, if any
};

enum class channel_errc {
    closed = 1, // the peer closed its end (or shut the channel down)
    too_large,  // a message over the limit, sent or announced
    bad_frame,  // a header or descriptor that breaks the framing
};
[[nodiscard]] const std::error_category& channel_category() noexcept;
[[nodiscard]] std::error_code make_error_code(channel_errc e) noexcept;

class channel {
public:
    // Takes `fd` (a connected AF_UNIX stream socket). Messages received
    // larger than `max_receive` bytes of data are refused.
    channel(unique_fd fd, std::size_t max_receive);
    channel(const channel&) = delete;
    channel& operator=(const channel&) = delete;

    // Sends the whole message (and dups nothing: `fd`, if any, stays the
    // caller's). Thread-safe.
    std::error_code send(std::uint32_t type, std::uint32_t id, const std::string& data, int fd = -1);
    // Blocks for the next message. Errors: closed, too_large, bad_frame, or
    // the system's. After an error the channel is of no further use.
    std::error_code receive(message& out);
    // Makes a blocked receive() return closed, and the peer's too.
    void shutdown() noexcept;

    [[nodiscard]] int fd() const noexcept { return fd_.get(); }

    // The largest message either side may send.
    static constexpr std::size_t max_message = 16u << 20;

private:
    unique_fd fd_;
    std::size_t max_receive_;
    std::mutex send_m_;
};

// Two connected ends (socketpair), close-on-exec.
std::error_code make_channel_pair(unique_fd& a, unique_fd& b);

} // namespace ivs::app

template <>
struct std::is_error_code_enum<ivs::app::channel_errc> : std::true_type {};
