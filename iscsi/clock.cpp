#include "iscsi/clock.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <unordered_map>

namespace ivs::iscsi {
namespace {

class steady_clock final : public clock, public std::enable_shared_from_this<steady_clock> {
public:
    explicit steady_clock(boost::asio::io_context& io) : io_(io) {}

    time_point now() const override { return std::chrono::steady_clock::now(); }

    timer_id schedule(time_point at, std::function<void()> fn) override
    {
        const timer_id id = next_++;
        auto timer = std::make_unique<boost::asio::steady_timer>(io_, at);
        auto* t = timer.get();
        timers_.emplace(id, std::move(timer));
        t->async_wait([weak = weak_from_this(), id, fn = std::move(fn)](const boost::system::error_code& ec) {
            const auto self = weak.lock();
            // Cancelled, even when it had expired already: cancel() erased it.
            if (!self || ec || self->timers_.erase(id) == 0)
                return;
            fn();
        });
        return id;
    }

    void cancel(timer_id id) noexcept override
    {
        // Destroying the timer cancels its wait: the handler runs later with
        // operation_aborted and does nothing.
        timers_.erase(id);
    }

private:
    boost::asio::io_context& io_;
    timer_id next_ = 1;
    std::unordered_map<timer_id, std::unique_ptr<boost::asio::steady_timer>> timers_;
};

} // namespace

std::shared_ptr<clock> make_steady_clock(boost::asio::io_context& io) { return std::make_shared<steady_clock>(io); }

} // namespace ivs::iscsi
