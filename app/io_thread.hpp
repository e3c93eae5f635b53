// An io_context on a thread of its own, for command-line code that runs a
// sequence of steps: each step is posted to the io thread and waited for.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

namespace ivs::app {

class io_thread {
public:
    io_thread() : work_(boost::asio::make_work_guard(io_)) {}
    ~io_thread() { stop(); }
    io_thread(const io_thread&) = delete;
    io_thread& operator=(const io_thread&) = delete;

    boost::asio::io_context& context() noexcept { return io_; }

    void start()
    {
        thread_ = std::thread([this] { io_.run(); });
    }

    void stop()
    {
        work_.reset();
        io_.stop();
        if (thread_.joinable())
            thread_.join();
    }

    // Runs step(done) on the io thread and waits until it calls done(T).
    template <class T, class Step>
    T call(Step step)
    {
        auto result = std::make_shared<std::promise<T>>();
        auto future = result->get_future();
        boost::asio::post(io_, [step = std::move(step), result]() mutable {
            step([result](T value) {
                try {
                    result->set_value(std::move(value));
                } catch (const std::future_error&) { // answered twice
                }
            });
        });
        return future.get();
    }

    // The same for steps that end with an error code, bounded in time.
    template <class Step>
    std::error_code call_for(Step step, std::chrono::milliseconds limit)
    {
        auto result = std::make_shared<std::promise<std::error_code>>();
        auto future = result->get_future();
        boost::asio::post(io_, [step = std::move(step), result]() mutable {
            step([result](std::error_code ec) {
                try {
                    result->set_value(ec);
                } catch (const std::future_error&) {
                }
            });
        });
        if (future.wait_for(limit) != std::future_status::ready)
            return make_error_code(std::errc::timed_out);
        return future.get();
    }

private:
    // Concurrency hint 1: only this thread runs it, so handlers it posts or
    // defers go to a thread-private queue (no lock, no reactor interrupt).
    // Other threads may still post (call()), under the scheduler's lock.
    boost::asio::io_context io_{1};
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
    std::thread thread_;
};

} // namespace ivs::app
