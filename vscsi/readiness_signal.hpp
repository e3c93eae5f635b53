// A level-triggered readiness fd: readable from set() (or arm() and its
// notify()) until a clear() that finds it written. An eventfd on Linux, a
// non-blocking pipe elsewhere.
//
// arm() and clear() run under the owner's lock; the write of an arm() may
// follow after the lock is released (notify()), so that the thread the fd
// wakes does not find the lock still held by the one that woke it. A
// clear() that finds the fd not yet written leaves it armed: the pending
// write still lands, and the next clear() consumes it.
#pragma once

#include <system_error>

namespace ivs::vscsi {

class readiness_signal {
public:
    readiness_signal(); // throws std::system_error if no fd can be created
    ~readiness_signal();
    readiness_signal(const readiness_signal&) = delete;
    readiness_signal& operator=(const readiness_signal&) = delete;

    [[nodiscard]] int fd() const noexcept { return read_fd_; }
    // True when this arms the fd: the caller must then notify(), at once or
    // after releasing its lock. False when already armed.
    [[nodiscard]] bool arm() noexcept;
    void notify() noexcept; // the write of an arm()
    void set() noexcept;    // arm() and notify() in one (idempotent)
    void clear() noexcept;  // idempotent

private:
    int read_fd_ = -1;
    int write_fd_ = -1; // == read_fd_ for an eventfd
    bool armed_ = false;
};

} // namespace ivs::vscsi
