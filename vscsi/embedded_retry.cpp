// The embedded midlayer's retries: a completion the retry rules
// (vscsi/retry_rules.hpp) call transient goes back on the queue under a new
// tag, at once or after the rule's delay, while the command has retries
// left; the midlayer's handler sees only the final completion.
#include "vscsi/embedded_vscsi.hpp"
#include "vscsi/embedded_ccb.hpp"
#include "vscsi/readiness_signal.hpp"

#include <algorithm>

namespace ivs::vscsi {

bool embedded_vscsi::retry_locked(ccb_ptr c, const scsi_completion& comp)
{
    const retry_rule& rule = match_retry_rule(comp);
    if (rule.verdict == retry_verdict::end || c->retries_left <= 0 || !open_)
        return false;
    --c->retries_left;
    live_.erase(c->tag);
    if (rule.verdict == retry_verdict::retry || config_.retry.delay.count() <= 0) {
        enqueue_locked(c);
        return true;
    }
    // Waits without a tag (the daemon cannot see it); keeps its opening.
    c->dequeued = false;
    c->moved = 0;
    delayed_.emplace_back(std::chrono::steady_clock::now() + config_.retry.delay, c);
    retry_cv_.notify_all();
    return true;
}

// Puts delayed commands back on the queue when their time comes.
void embedded_vscsi::retry_timer()
{
    std::unique_lock lk(m_);
    while (!stopping_) {
        if (delayed_.empty()) {
            retry_cv_.wait(lk);
            continue;
        }
        const auto first = std::min_element(delayed_.begin(), delayed_.end(),
                                            [](const auto& a, const auto& b) { return a.first < b.first; });
        if (std::chrono::steady_clock::now() < first->first) {
            retry_cv_.wait_until(lk, first->first);
            continue;
        }
        const ccb_ptr c = first->second;
        delayed_.erase(first);
        if (!open_)
            continue; // do_close completed it already
        enqueue_locked(c);
        if (update_readiness_locked()) {
            // The fd is written with m_ released: the daemon it wakes finds m_ free.
            lk.unlock();
            ready_->notify();
            lk.lock();
        }
    }
}

} // namespace ivs::vscsi
