// The worker's end of the privsep channel: requests to the privileged
// parent (reload, mount, unmount, resolve, disk_users) with their answers,
// and the configurations the parent sends unasked (at start, on SIGHUP).
// One thread reads the channel and hands answers to whoever waits for them;
// requests come from any thread. When the parent is gone every request
// fails at once ("the privileged process is gone") and the worker goes on
// with what it has.
#pragma once

#include "app/privsep_channel.hpp"
#include "app/privsep_protocol.hpp"
#include "log/log.hpp"

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>

namespace ivs::app {

class parent_link {
public:
    parent_link(unique_fd fd, log::sink log);
    ~parent_link(); // stop()
    parent_link(const parent_link&) = delete;
    parent_link& operator=(const parent_link&) = delete;

    // Starts the reader. `on_configuration` gets each configuration the
    // parent sends unasked, on the reader thread: it must not wait for the
    // link. `on_gone` runs once when the channel closes or breaks.
    void start(std::function<void(std::string data)> on_configuration, std::function<void()> on_gone);

    // Sends a request and waits for its answer (at most `limit`). The
    // answer is `ok` or `configuration` (message.type), or the request
    // fails with `error` holding the parent's reason or what went wrong.
    bool request(privsep_msg type, const std::string& data, message& answer, std::string& error,
                 std::chrono::milliseconds limit = std::chrono::seconds(60));
    void notify(privsep_msg type, const std::string& data);

    void stop();

private:
    void read_loop();

    channel ch_;
    log::sink log_;
    std::function<void(std::string)> on_configuration_;
    std::function<void()> on_gone_;
    std::mutex m_;
    std::condition_variable cv_;
    std::uint32_t next_id_ = 1;
    std::map<std::uint32_t, message> answers_; // arrived, not yet taken
    std::map<std::uint32_t, bool> waiting_;    // ids someone waits for
    bool gone_ = false;
    std::thread reader_;
};

} // namespace ivs::app
