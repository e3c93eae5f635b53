// Time and one-shot timers of a session, injectable: every timeout the
// session keeps (login, logout, keepalive, command, Time2Wait, replacement;
// RFC 7143 leaves their values to the implementation, §7.5, §7.11) is
// measured and scheduled through a clock, so tests can drive time by hand
// (test/iscsi/manual_clock.hpp) instead of sleeping. No Asio in this header.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <utility>

namespace boost::asio {
class io_context;
}

namespace ivs::iscsi {

class clock {
public:
    using duration = std::chrono::steady_clock::duration;
    using time_point = std::chrono::steady_clock::time_point;
    using timer_id = std::uint64_t; // never 0

    virtual ~clock() = default;

    virtual time_point now() const = 0;
    // Runs `fn` once, at `at` or later, on the io_context's thread; never
    // from inside schedule() itself.
    virtual timer_id schedule(time_point at, std::function<void()> fn) = 0;
    // `fn` of that timer will not run; nothing happens for a timer that
    // already ran or was cancelled.
    virtual void cancel(timer_id id) noexcept = 0;
};

// std::chrono::steady_clock, timers on `io` (Asio steady timers).
std::shared_ptr<clock> make_steady_clock(boost::asio::io_context& io);

// One timer on a clock that is armed again and again: arming replaces what
// was pending. Cancelled when destroyed.
class one_shot_timer {
public:
    explicit one_shot_timer(clock& c) noexcept : clock_(&c) {}
    ~one_shot_timer() { cancel(); }
    one_shot_timer(const one_shot_timer&) = delete;
    one_shot_timer& operator=(const one_shot_timer&) = delete;

    void arm_at(clock::time_point at, std::function<void()> fn)
    {
        cancel();
        id_ = clock_->schedule(at, [this, fn = std::move(fn)] {
            id_ = 0;
            fn();
        });
    }
    void arm(clock::duration after, std::function<void()> fn) { arm_at(clock_->now() + after, std::move(fn)); }
    void cancel() noexcept
    {
        if (id_ != 0)
            clock_->cancel(std::exchange(id_, 0));
    }
    bool armed() const noexcept { return id_ != 0; }

private:
    clock* clock_;
    clock::timer_id id_ = 0;
};

} // namespace ivs::iscsi
