#include "vscsi/readiness_signal.hpp"

#include <cerrno>
#include <cstdint>
#include <fcntl.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/eventfd.h>
#endif

namespace ivs::vscsi {

readiness_signal::readiness_signal()
{
#if defined(__linux__)
    read_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (read_fd_ < 0)
        throw std::system_error(errno, std::generic_category(), "eventfd");
    write_fd_ = read_fd_;
#else
    int fds[2];
    if (::pipe(fds) != 0)
        throw std::system_error(errno, std::generic_category(), "pipe");
    for (int fd : fds) {
        ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
        ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    read_fd_ = fds[0];
    write_fd_ = fds[1];
#endif
}

readiness_signal::~readiness_signal()
{
    if (write_fd_ != read_fd_)
        ::close(write_fd_);
    ::close(read_fd_);
}

bool readiness_signal::arm() noexcept
{
    if (armed_)
        return false;
    armed_ = true;
    return true;
}

void readiness_signal::notify() noexcept
{
#if defined(__linux__)
    const std::uint64_t one = 1;
#else
    const char one = 1;
#endif
    ssize_t r;
    do
        r = ::write(write_fd_, &one, sizeof one);
    while (r < 0 && errno == EINTR);
}

void readiness_signal::set() noexcept
{
    if (arm())
        notify();
}

void readiness_signal::clear() noexcept
{
    if (!armed_)
        return;
    // Drain everything: the counter of an eventfd, the byte(s) of a pipe.
    bool consumed = false;
    char buf[64];
    for (;;) {
        ssize_t r = ::read(read_fd_, buf, sizeof buf);
        if (r > 0) {
            consumed = true;
            if (write_fd_ != read_fd_)
                continue;
            break;
        }
        if (r < 0 && errno == EINTR)
            continue;
        break;
    }
    // Not written yet: an arm()'s notify() is on its way; stay armed so
    // that the next clear() consumes it.
    if (consumed)
        armed_ = false;
}

} // namespace ivs::vscsi
