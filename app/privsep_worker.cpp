#include "app/privsep_worker.hpp"

namespace ivs::app {

namespace {

// Configurations (the file, its includes, secrets) are the largest messages.
constexpr std::size_t max_from_parent = channel::max_message;

} // namespace

parent_link::parent_link(unique_fd fd, log::sink log) : ch_(std::move(fd), max_from_parent), log_(std::move(log)) {}

parent_link::~parent_link() { stop(); }

void parent_link::start(std::function<void(std::string)> on_configuration, std::function<void()> on_gone)
{
    on_configuration_ = std::move(on_configuration);
    on_gone_ = std::move(on_gone);
    reader_ = std::thread([this] { read_loop(); });
}

void parent_link::read_loop()
{
    for (;;) {
        message m;
        if (auto ec = ch_.receive(m)) {
            if (ec != channel_errc::closed)
                log_.error("privsep: the channel to the privileged process broke: " + ec.message());
            break;
        }
        const auto type = static_cast<privsep_msg>(m.type);
        if (m.id == 0) {
            if (type == privsep_msg::configuration && on_configuration_)
                on_configuration_(std::move(m.data));
            else
                log_.warning("privsep: unexpected message " + std::to_string(m.type) + " from the privileged process");
            continue;
        }
        std::lock_guard lock(m_);
        if (waiting_.count(m.id) == 0)
            continue; // its requester gave up waiting
        answers_[m.id] = std::move(m);
        cv_.notify_all();
    }
    {
        std::lock_guard lock(m_);
        gone_ = true;
        cv_.notify_all();
    }
    if (on_gone_)
        on_gone_();
}

bool parent_link::request(privsep_msg type, const std::string& data, message& answer, std::string& error,
                          std::chrono::milliseconds limit)
{
    std::unique_lock lock(m_);
    if (gone_) {
        error = "the privileged process is gone";
        return false;
    }
    const std::uint32_t id = next_id_++;
    if (next_id_ == 0)
        next_id_ = 1;
    waiting_[id] = true;
    lock.unlock();
    const auto sent = ch_.send(static_cast<std::uint32_t>(type), id, data);
    lock.lock();
    const bool arrived =
        !sent && cv_.wait_for(lock, limit, [&] { return gone_ || answers_.count(id) != 0; }) && answers_.count(id) != 0;
    waiting_.erase(id);
    if (!arrived) {
        error = sent    ? "cannot ask the privileged process: " + sent.message()
                : gone_ ? "the privileged process is gone"
                        : "the privileged process did not answer in time";
        return false;
    }
    answer = std::move(answers_[id]);
    answers_.erase(id);
    if (static_cast<privsep_msg>(answer.type) == privsep_msg::error) {
        payload_reader r(answer.data);
        if (!r.next(error))
            error = "the privileged process refused";
        return false;
    }
    return true;
}

void parent_link::notify(privsep_msg type, const std::string& data)
{
    (void)ch_.send(static_cast<std::uint32_t>(type), 0, data);
}

void parent_link::stop()
{
    if (!reader_.joinable())
        return;
    ch_.shutdown();
    reader_.join();
}

} // namespace ivs::app
