// serve's rescans on their own thread: a target's session reports
// REPORTED LUNS DATA HAS CHANGED on the io thread, which must not wait;
// the target's name is queued here and rescanned under the daemon's lock.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace ivs::app {

class rescan_worker {
public:
    // `rescan` runs on the worker's thread, one name at a time.
    explicit rescan_worker(std::function<void(const std::string&)> rescan) : rescan_(std::move(rescan)) {}
    ~rescan_worker() { stop(); }
    rescan_worker(const rescan_worker&) = delete;
    rescan_worker& operator=(const rescan_worker&) = delete;

    // Any thread; a name already queued is queued once. Ignored once stopped.
    void request(const std::string& name);
    // Finishes the rescan under way, drops the rest, joins. Idempotent.
    void stop();

private:
    void run();

    std::function<void(const std::string&)> rescan_;
    std::mutex m_;
    std::condition_variable cv_;
    std::deque<std::string> queue_;
    bool stopping_ = false;
    std::thread thread_;
};

} // namespace ivs::app
