// serve_daemon: the shared host (device, bridge, exports), applying a
// configuration, detaching targets and their attachments, shutting down.
#include "app/daemon_impl.hpp"
#include "app/serve_target.hpp"

#include <algorithm>

namespace ivs::app {

namespace {

host_options host_options_of(const serve_daemon_options& o)
{
    host_options h = o.host;
    h.log = o.log;
    return h;
}

bool same_identity(const std::optional<iscsi::chap_identity>& a, const std::optional<iscsi::chap_identity>& b)
{
    if (a.has_value() != b.has_value())
        return false;
    return !a || (a->name == b->name && a->secret.same_as(b->secret));
}

// What make_session_config took from outside the configuration or the
// target's block: the address it connects to, the local address (resolved,
// or the global initiatoraddr) and the CHAP secrets.
bool same_inputs(const std::optional<iscsi::session_config>& a, const std::optional<iscsi::session_config>& b)
{
    if (!a || !b)
        return false;
    return a->target_portal.host == b->target_portal.host && a->target_portal.port == b->target_portal.port &&
           a->local_address == b->local_address && same_identity(a->login.chap, b->login.chap) &&
           same_identity(a->login.mutual_chap, b->login.mutual_chap);
}

} // namespace

serve_daemon::impl::impl(serve_daemon_options o)
    : options(std::move(o)), log(options.log), machine(host_options_of(options))
{}

serve_daemon::serve_daemon(serve_daemon_options options) : impl_(std::make_unique<impl>(std::move(options))) {}

serve_daemon::~serve_daemon() { shutdown(true); }

std::error_code serve_daemon::open(std::string& error)
{
    std::lock_guard lock(impl_->m);
    auto& d = *impl_;
    if (auto ec = d.machine.open(error))
        return ec;
    d.opened = true;
    d.rescans = std::make_unique<rescan_worker>([this](const std::string& name) {
        std::string summary;
        (void)rescan(name, summary); // logged by the attachments
    });
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

void serve_daemon::impl::flush_target(attached_target& t)
{
    for (auto& s : t.sessions)
        if (s->attached())
            if (auto ec = s->flush())
                warn("target " + t.conf.name + " (" + s->options().session.login.target_name +
                     "): flush failed: " + ec.message());
}

std::string serve_daemon::apply(const config::conf& c, target_inputs in)
{
    std::lock_guard lock(impl_->m);
    auto& d = *impl_;
    if (!d.opened || d.closed)
        return "not running";
    unsigned removed = 0, added = 0, kept = 0, in_use = 0;
    // Detach what is gone, disabled or changed, unless in use.
    for (auto it = d.targets.begin(); it != d.targets.end();) {
        auto& t = **it;
        auto n = std::find_if(c.targets.begin(), c.targets.end(), [&](const auto& x) { return x.name == t.conf.name; });
        if (n != c.targets.end() && n->enabled && same_target(*n, t.conf) && t.error.empty()) {
            iscsi::session_config now;
            std::string why;
            std::optional<iscsi::session_config> made;
            if (make_session_config(c, *n, in, now, why))
                made = std::move(now);
            if (same_inputs(made, t.settings)) {
                ++it;
                continue;
            }
        }
        if (t.error.empty()) {
            if (const auto used = d.disks_in_use(t); !used.empty()) {
                for (const auto& line : used)
                    d.warn(line + "; the target stays as it was (" +
                           (n == c.targets.end() || !n->enabled ? "removed" : "changed") +
                           " in the configuration): unmount it and reload, or detach -f " + t.conf.name);
                d.flush_target(t);
                ++in_use;
                ++it;
                continue;
            }
        }
        d.detach_target(t);
        it = d.targets.erase(it);
        ++removed;
    }
    d.current.initiator_name = c.initiator_name;
    d.current.initiator_addr = c.initiator_addr;
    d.current.isid = c.isid;
    d.inputs = std::move(in);
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
    std::string summary = std::to_string(added) + " attached, " + std::to_string(removed) + " detached, " +
                          std::to_string(kept) + " unchanged";
    if (in_use > 0)
        summary += " (" + std::to_string(in_use) + " in use, kept as before)";
    return summary;
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
            if (!t->error.empty() || std::any_of(t->sessions.begin(), t->sessions.end(),
                                                 [](const auto& s) { return s->state() == "failed"; }))
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

bool serve_daemon::detach(const std::string& name, bool force, std::string& error)
{
    std::lock_guard lock(impl_->m);
    auto& d = *impl_;
    auto it = std::find_if(d.targets.begin(), d.targets.end(), [&](const auto& t) { return t->conf.name == name; });
    if (it == d.targets.end()) {
        error = "no attached target '" + name + "'";
        return false;
    }
    if (!force) {
        if (const auto used = d.disks_in_use(**it); !used.empty()) {
            d.flush_target(**it);
            error.clear();
            for (const auto& line : used) {
                d.warn(line + "; not detached");
                error += line + "\n";
            }
            error += "not detached (flushed); unmount first, or detach -f " + name + " to detach anyway";
            return false;
        }
    } else {
        for (const auto& line : d.disks_in_use(**it))
            d.warn(line + "; detached anyway (forced)");
    }
    d.detach_target(**it);
    d.targets.erase(it);
    return true;
}

std::vector<std::string> serve_daemon::shutdown(bool force)
{
    if (impl_->rescans)
        impl_->rescans->stop(); // outside the lock: a rescan under way takes it
    std::lock_guard lock(impl_->m);
    auto& d = *impl_;
    if (d.closed)
        return {};
    std::vector<std::string> kept;
    for (auto it = d.targets.begin(); it != d.targets.end();) {
        if (!force && d.opened) {
            if (const auto used = d.disks_in_use(**it); !used.empty()) {
                d.flush_target(**it);
                kept.insert(kept.end(), used.begin(), used.end());
                ++it;
                continue;
            }
        }
        d.detach_target(**it);
        it = d.targets.erase(it);
    }
    if (!kept.empty())
        return kept;
    d.closed = true;
    d.machine.close();
    return {};
}

} // namespace ivs::app
