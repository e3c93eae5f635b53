// A level-triggered readiness fd: readable exactly between set() and clear().
// An eventfd on Linux, a non-blocking pipe elsewhere.
#pragma once

#include <system_error>

namespace ivs::vscsi {

class readiness_signal {
public:
    readiness_signal();   // throws std::system_error if no fd can be created
    ~readiness_signal();
    readiness_signal(const readiness_signal&) = delete;
    readiness_signal& operator=(const readiness_signal&) = delete;

    [[nodiscard]] int fd() const noexcept { return read_fd_; }
    void set() noexcept;    // idempotent
    void clear() noexcept;  // idempotent

private:
    int read_fd_ = -1;
    int write_fd_ = -1;     // == read_fd_ for an eventfd
    bool set_ = false;
};

} // namespace ivs::vscsi
