// serve_daemon: the shared host (device, bridge, exports), applying a
// configuration, detaching targets and their attachments, shutting down.
#include "app/daemon_impl.hpp"
#include "app/serve_target.hpp"

#include <algorithm>

namespace ivs::app {

namespace {

host_options host_options_with(log::sink l, std::string device)
{
    host_options o;
    o.log = std::move(l);
    o.device = std::move(device);
    return o;
}

} // namespace

serve_daemon::impl::impl(log::sink l, std::string device) : log(l), machine(host_options_with(l, std::move(device))) {}

serve_daemon::serve_daemon(log::sink log, std::string device)
    : impl_(std::make_unique<impl>(std::move(log), std::move(device)))
{
}

serve_daemon::~serve_daemon() { shutdown(); }

std::error_code serve_daemon::open(std::string& error)
{
    std::lock_guard lock(impl_->m);
    auto& d = *impl_;
    if (auto ec = d.machine.open(error))
        return ec;
    d.opened = true;
    return {};
}

void serve_daemon::impl::detach_target(attached_target& t)
{
    for (auto& s : t.sessions) {
        s->detach();
        info("target " + t.conf.name + " (" + s->options().session.login.target_name + "): detached");
    }
    t.sessions.clear();
}

std::string serve_daemon::apply(const config::conf& c)
{
    std::lock_guard lock(impl_->m);
    auto& d = *impl_;
    if (!d.opened || d.closed)
        return "not running";
    unsigned removed = 0, added = 0, kept = 0;
    // Detach what is gone, disabled or changed.
    for (auto it = d.targets.begin(); it != d.targets.end();) {
        const auto& name = (*it)->conf.name;
        auto n = std::find_if(c.targets.begin(), c.targets.end(), [&](const auto& t) { return t.name == name; });
        if (n != c.targets.end() && n->enabled && same_target(*n, (*it)->conf) && (*it)->error.empty()) {
            ++it;
            continue;
        }
        d.detach_target(**it);
        it = d.targets.erase(it);
        ++removed;
    }
    d.current.initiator_name = c.initiator_name;
    d.current.isid = c.isid;
    for (const auto& t : c.targets) {
        if (!t.enabled)
            continue;
        if (std::any_of(d.targets.begin(), d.targets.end(), [&](const auto& a) { return a->conf.name == t.name; })) {
            ++kept;
            continue;
        }
        auto a = std::make_unique<attached_target>();
        a->conf = t;
        d.attach_target(*a);
        if (a->error.empty())
            d.info("target " + t.name + ": attached");
        d.targets.push_back(std::move(a));
        ++added;
    }
    return std::to_string(added) + " attached, " + std::to_string(removed) + " detached, " + std::to_string(kept) +
           " unchanged";
}

unsigned serve_daemon::retry_failed()
{
    std::lock_guard lock(impl_->m);
    auto& d = *impl_;
    if (!d.opened || d.closed)
        return 0;
    std::vector<attached_target*> failed;
    d.machine.io().call<bool>([&](auto done) {
        for (auto& t : d.targets)
            if (!t->error.empty() ||
                std::any_of(t->sessions.begin(), t->sessions.end(), [](const auto& s) { return s->state() == "failed"; }))
                failed.push_back(t.get());
        done(true);
    });
    for (auto* t : failed) {
        d.detach_target(*t);
        t->error.clear();
        d.info("target " + t->conf.name + ": attaching again");
        d.attach_target(*t);
        if (t->error.empty())
            d.info("target " + t->conf.name + ": attached");
    }
    return static_cast<unsigned>(failed.size());
}

bool serve_daemon::detach(const std::string& name, std::string& error)
{
    std::lock_guard lock(impl_->m);
    auto& d = *impl_;
    auto it = std::find_if(d.targets.begin(), d.targets.end(), [&](const auto& t) { return t->conf.name == name; });
    if (it == d.targets.end()) {
        error = "no attached target '" + name + "'";
        return false;
    }
    d.detach_target(**it);
    d.targets.erase(it);
    return true;
}

void serve_daemon::shutdown()
{
    std::lock_guard lock(impl_->m);
    auto& d = *impl_;
    if (d.closed)
        return;
    d.closed = true;
    for (auto& t : d.targets)
        d.detach_target(*t);
    d.targets.clear();
    d.machine.close();
}

} // namespace ivs::app
