// serve_daemon: rescanning a target's LUNs, on request (the control socket's
// "rescan NAME") or when its target reports that they changed.
#include "app/daemon_impl.hpp"
#include "app/daemon_rescan.hpp"

#include <algorithm>

namespace ivs::app {

void rescan_worker::request(const std::string& name)
{
    {
        std::lock_guard lk(m_);
        if (stopping_)
            return;
        if (std::find(queue_.begin(), queue_.end(), name) == queue_.end())
            queue_.push_back(name);
        if (!thread_.joinable())
            thread_ = std::thread([this] { run(); });
    }
    cv_.notify_all();
}

void rescan_worker::stop()
{
    {
        std::lock_guard lk(m_);
        stopping_ = true;
        queue_.clear();
    }
    cv_.notify_all();
    if (thread_.joinable())
        thread_.join();
}

void rescan_worker::run()
{
    std::unique_lock lk(m_);
    for (;;) {
        cv_.wait(lk, [this] { return stopping_ || !queue_.empty(); });
        if (stopping_)
            return;
        const std::string name = queue_.front();
        queue_.pop_front();
        lk.unlock();
        rescan_(name);
        lk.lock();
    }
}

bool serve_daemon::impl::rescan_target(const std::string& name, std::string& summary)
{
    if (!opened || closed) {
        summary = "not running";
        return false;
    }
    auto it = std::find_if(targets.begin(), targets.end(), [&](const auto& t) { return t->conf.name == name; });
    if (it == targets.end()) {
        summary = "no attached target '" + name + "'";
        return false;
    }
    bool ok = true;
    std::string all;
    for (auto& s : (*it)->sessions) {
        if (!s->attached())
            continue;
        std::string one;
        ok = s->rescan(one) && ok;
        all += (all.empty() ? "" : "; ") + one;
    }
    summary = all.empty() ? "nothing attached" : all;
    return ok;
}

void serve_daemon::impl::lun_change(const std::string& name)
{
    if (!rescans)
        return;
    info("target " + name + ": the target reports its LUNs changed; rescanning");
    rescans->request(name);
}

bool serve_daemon::rescan(const std::string& name, std::string& summary)
{
    std::lock_guard lock(impl_->m);
    return impl_->rescan_target(name, summary);
}

} // namespace ivs::app
