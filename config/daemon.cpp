// serve_daemon: the shared device and bridge, applying a configuration,
// detaching targets and sessions, shutting down.
#include "config/daemon_impl.hpp"
#include "config/daemon_log.hpp"
#include "config/serve_target.hpp"

#include <algorithm>
#include <thread>

namespace ivs::config {

namespace {

using namespace std::chrono_literals;

void info(const std::string& s) { log_message(log_level::info, s); }
void warn(const std::string& s) { log_message(log_level::warning, s); }

} // namespace

serve_daemon::serve_daemon() : impl_(std::make_unique<impl>()) {}

serve_daemon::~serve_daemon() { shutdown(); }

std::error_code serve_daemon::open([[maybe_unused]] const std::string& device, std::string& error)
{
    std::lock_guard lock(impl_->m);
    auto& d = *impl_;
    d.io.start();
    std::error_code ec;
#if defined(__OpenBSD__)
    ec = bridge::openbsd_vscsi::open(device.empty() ? "/dev/vscsi0" : device.c_str(), d.device);
#else
    bridge::embedded_vscsi_config cfg;
    cfg.logger = [](std::string_view line) { log_message(log_level::info, line); };
    d.vscsi.emplace(cfg);
    ec = d.vscsi->open(d.device);
#endif
    if (ec) {
        error = "cannot open the vscsi device: " + ec.message();
        return ec;
    }
    bridge::bridge_options bo;
    bo.logger = [](std::string_view line) { log_message(log_level::warning, line); };
    d.io.call<bool>([&](auto done) {
        d.bridge.emplace(d.io.context(), *d.device, bo);
        d.bridge->start();
        done(true);
    });
    d.opened = true;
    return {};
}

void serve_daemon::impl::wait_probe_idle(std::chrono::milliseconds limit)
{
#if !defined(__OpenBSD__)
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!vscsi->probe_idle() && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(20ms);
#else
    (void)limit;
#endif
}

// Unexport, flush (SYNCHRONIZE CACHE (10), SBC-3), detach the disks, unmap,
// log out (§11.14), in this order, each step bounded.
void serve_daemon::impl::detach_session(attached_session& s)
{
#if IVS_HAVE_FUSE
    auto ex = exports.find(s.export_dir);
    if (ex != exports.end()) {
        for (auto& l : s.luns) {
            if (l.export_name.empty())
                continue;
            ex->second.fuse->remove_disk(l.export_name);
            l.export_name.clear();
            --ex->second.disks;
        }
        if (ex->second.disks == 0) {
            ex->second.fuse->stop();
            exports.erase(ex);
        }
    }
#endif
#if !defined(__OpenBSD__)
    for (const auto& l : s.luns) {
        if (l.device.empty())
            continue;
        bridge::scsi_command cmd;
        cmd.target = l.where.target;
        cmd.lun = l.where.lun;
        cmd.cdb[0] = 0x35; // SYNCHRONIZE CACHE (10)
        cmd.cdblen = 10;
        bridge::scsi_completion done;
        auto ec = vscsi->execute(cmd, done);
        if (ec || done.status != bridge::vscsi_status::done)
            warn("SYNCHRONIZE CACHE of " + l.device + " failed");
    }
#endif
    if (s.mapped) {
        for (const auto& l : s.luns)
            device->request_detach(l.where.target, l.where.lun);
        wait_probe_idle(10s);
        io.call<bool>([&](auto done) {
            bridge->remove_session(*s.session);
            done(true);
        });
        s.mapped = false;
    }
    if (s.session && s.logged_in) {
        auto ec = io.call_for([&](auto done) { s.session->logout(done); }, 15s);
        if (ec)
            warn(s.target_name + ": logout: " + ec.message());
        s.logged_in = false;
    }
    if (s.session) {
        io.call<bool>([&](auto done) {
            s.session.reset();
            done(true);
        });
    }
    s.luns.clear();
}

void serve_daemon::impl::detach_target(attached_target& t)
{
    for (auto& s : t.sessions) {
        detach_session(*s);
        info("target " + t.conf.name + " (" + s->target_name + "): detached");
    }
    t.sessions.clear();
}

std::string serve_daemon::apply(const conf& c)
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
            info("target " + t.name + ": attached");
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
    d.io.call<bool>([&](auto done) {
        for (auto& t : d.targets)
            if (!t->error.empty() ||
                std::any_of(t->sessions.begin(), t->sessions.end(), [](const auto& s) { return s->state == "failed"; }))
                failed.push_back(t.get());
        done(true);
    });
    for (auto* t : failed) {
        d.detach_target(*t);
        t->error.clear();
        info("target " + t->conf.name + ": attaching again");
        d.attach_target(*t);
        if (t->error.empty())
            info("target " + t->conf.name + ": attached");
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
#if IVS_HAVE_FUSE
    for (auto& [dir, e] : d.exports)
        e.fuse->stop();
    d.exports.clear();
#endif
    if (d.bridge) {
        d.io.call<bool>([&](auto done) {
            d.bridge->shutdown();
            done(true);
        });
    }
    d.device.reset(); // the last close
    if (d.bridge) {
        d.io.call<bool>([&](auto done) {
            d.bridge.reset();
            done(true);
        });
    }
    d.io.stop();
}

} // namespace ivs::config
