// A clock for session tests that moves only when the test says so: timeouts
// of minutes run in microseconds and always in the same order. Timers run
// from advance() (on the test's thread, which runs the io_context too), in
// deadline order, with now() at each one's deadline.
#pragma once

#include "iscsi/clock.hpp"

#include <iterator>
#include <map>
#include <utility>

namespace ivs::test {

class manual_clock final : public iscsi::clock {
public:
    // Far from the steady clock's epoch, so time points before "now" exist.
    manual_clock() : now_(time_point{} + std::chrono::hours(24 * 365)) {}

    time_point now() const override { return now_; }

    timer_id schedule(time_point at, std::function<void()> fn) override
    {
        const timer_id id = next_++;
        timers_.emplace(std::pair{at, id}, std::move(fn));
        return id;
    }

    void cancel(timer_id id) noexcept override
    {
        for (auto it = timers_.begin(); it != timers_.end(); ++it)
            if (it->first.second == id) {
                timers_.erase(it);
                return;
            }
    }

    // Moves time forward by `d`, running every timer due on the way (also
    // those the timers arm themselves). advance(0) runs what is due now.
    void advance(duration d)
    {
        const time_point end = now_ + d;
        while (!timers_.empty() && timers_.begin()->first.first <= end) {
            auto node = timers_.extract(timers_.begin());
            if (node.key().first > now_)
                now_ = node.key().first;
            node.mapped()();
        }
        now_ = end;
    }

    // Time until the next timer (duration::max() when none is armed).
    duration next_in() const
    {
        if (timers_.empty())
            return duration::max();
        return timers_.begin()->first.first <= now_ ? duration::zero() : timers_.begin()->first.first - now_;
    }
    std::size_t armed() const noexcept { return timers_.size(); }

private:
    time_point now_;
    timer_id next_ = 1;
    std::map<std::pair<time_point, timer_id>, std::function<void()>> timers_;
};

} // namespace ivs::test
