// serve_daemon: attaching one configuration target (a normal one: one
// session; a discovery one: SendTargets, then one session per target found).
#include "app/daemon_impl.hpp"
#include "app/daemon_log.hpp"
#include "app/serve_target.hpp"

#include "bridge/remote_luns.hpp"
#include "iscsi/sendtargets.hpp"

#include <algorithm>
#include <set>
#include <thread>

namespace ivs::app {

namespace {

using namespace std::chrono_literals;

void info(const std::string& s) { log_message(log_level::info, s); }
void warn(const std::string& s) { log_message(log_level::warning, s); }

} // namespace

void serve_daemon::impl::attach_target(attached_target& t)
{
    iscsi::session_config cfg;
    if (!make_session_config(current, t.conf, cfg, t.error)) {
        warn(t.error);
        return;
    }
    std::vector<std::uint64_t> luns(t.conf.luns.begin(), t.conf.luns.end());
    if (t.conf.type == config::conf_session_type::normal) {
        auto s = std::make_unique<attached_session>();
        s->target_name = t.conf.target_name;
        s->portal = cfg.target_portal;
        s->export_dir = t.conf.export_dir;
        auto& ref = *s;
        t.sessions.push_back(std::move(s));
        attach_session(t, ref, cfg, luns, false);
        return;
    }
    std::vector<std::pair<std::string, iscsi::portal>> found;
    if (!discover(t, cfg, found))
        return;
    if (found.empty()) {
        t.error = "target " + t.conf.name + ": the discovery portal offers no target";
        warn(t.error);
        return;
    }
    for (const auto& [name, portal] : found) {
        auto c = cfg;
        c.login.type = iscsi::session_type::normal;
        c.login.target_name = name;
        c.target_portal = portal;
        c.recover = true;
        if (t.conf.replacement_timeout)
            c.replacement_timeout = std::chrono::seconds(*t.conf.replacement_timeout);
        auto s = std::make_unique<attached_session>();
        s->target_name = name;
        s->portal = portal;
        s->export_dir = t.conf.export_dir;
        auto& ref = *s;
        t.sessions.push_back(std::move(s));
        attach_session(t, ref, c, luns, true);
    }
}

// A discovery session (RFC 7143 §13.3 SessionType=Discovery) asking
// SendTargets=All (Appendix C); one portal per target name, the first given.
bool serve_daemon::impl::discover(attached_target& t, const iscsi::session_config& cfg,
                                  std::vector<std::pair<std::string, iscsi::portal>>& found)
{
    std::unique_ptr<iscsi::session> s;
    auto [ec, message] = io.call<std::pair<std::error_code, std::string>>([&](auto done) {
        s = std::make_unique<iscsi::session>(io.context(), cfg);
        s->start([done](std::error_code e, const std::string& m) { done({e, m}); });
    });
    std::vector<iscsi::sendtargets_entry> entries;
    if (ec) {
        t.error = "target " + t.conf.name + ": discovery: " + message;
    } else {
        auto [e2, answer] = io.call<std::pair<std::error_code, pdu::text_list>>([&](auto done) {
            s->send_targets([done](std::error_code e, const pdu::text_list& a) { done({e, a}); });
        });
        if (e2) {
            t.error = "target " + t.conf.name + ": SendTargets failed: " + e2.message();
        } else {
            iscsi::target_address connected;
            connected.host = cfg.target_portal.host;
            connected.port = t.conf.target_addr.port;
            if (auto e3 = iscsi::parse_sendtargets(answer, connected, entries))
                t.error = "target " + t.conf.name + ": bad SendTargets answer: " + e3.message();
        }
        io.call_for([&](auto done) { s->logout(done); }, 15s);
    }
    io.call<bool>([&](auto done) {
        s.reset();
        done(true);
    });
    if (!t.error.empty()) {
        warn(t.error);
        return false;
    }
    std::set<std::string> seen;
    for (const auto& e : entries) {
        if (!seen.insert(e.target_name).second)
            continue;
        iscsi::portal p;
        p.host = e.address.host;
        p.port = std::to_string(e.address.port);
        found.emplace_back(e.target_name, p);
        info("target " + t.conf.name + ": discovered " + iscsi::format_sendtargets_entry(e));
    }
    return true;
}

bool serve_daemon::impl::attach_session(attached_target& t, attached_session& s, const iscsi::session_config& cfg,
                                        const std::vector<std::uint64_t>& wanted, bool discovered)
{
    const std::string who = "target " + t.conf.name + " (" + s.target_name + "): ";
    auto fail = [&](const std::string& why) {
        if (t.error.empty())
            t.error = who + why;
        warn(who + why);
        return false;
    };
    // Log in; the session recovers on its own afterwards (§6.3.5).
    auto [ec, message] = io.call<std::pair<std::error_code, std::string>>([&](auto done) {
        s.session = std::make_unique<iscsi::session>(io.context(), cfg);
        auto* state = &s.state;
        s.session->on_event([state](const iscsi::session_event& e) {
            using k = iscsi::session_event::kind;
            *state = e.what == k::reconnecting  ? "reconnecting"
                     : e.what == k::reconnected ? "logged in"
                     : e.what == k::failed      ? "failed"
                                                : *state;
        });
        s.session->start([done, state](std::error_code e, const std::string& m) {
            *state = e ? "login failed" : "logged in";
            done({e, m});
        });
    });
    if (ec)
        return fail(message);
    s.logged_in = true;
    info(who + "logged in at " + iscsi::format_portal(s.portal));

    std::vector<std::uint64_t> luns = wanted;
    if (luns.empty()) {
        auto [e2, reported] = io.call<std::pair<std::error_code, std::vector<std::uint64_t>>>([&](auto done) {
            bridge::report_remote_luns(*s.session, [done](std::error_code e, std::vector<std::uint64_t> l) {
                done({e, std::move(l)});
            });
        });
        if (e2)
            return fail("REPORT LUNS failed: " + e2.message());
        luns = std::move(reported);
    }
    if (luns.empty())
        return fail("the target reports no LUNs");

    std::vector<bridge::slot> slots;
    auto e3 = io.call<std::error_code>([&](auto done) { done(bridge->add_session(*s.session, luns, slots)); });
    if (e3)
        return fail("cannot map " + std::to_string(luns.size()) + " LUNs: " + e3.message());
    s.mapped = true;
    for (std::size_t i = 0; i < luns.size() && i < slots.size(); ++i) {
        attached_lun l;
        l.remote = luns[i];
        l.where = slots[i];
        s.luns.push_back(l);
        device->request_probe(slots[i].target, slots[i].lun);
    }
#if !defined(__OpenBSD__)
    wait_probe_idle(60s);
    for (const auto& d : vscsi->disks())
        for (auto& l : s.luns)
            if (l.where.target == d.target && l.where.lun == d.lun) {
                l.device = d.name;
                l.bytes = d.block_count * d.block_size;
            }
    if (s.export_dir.empty())
        return true;
#if IVS_HAVE_FUSE
    auto& ex = exports[s.export_dir];
    if (!ex.fuse) {
        fuse::fuse_export_options fo;
        fo.log = log::sink([](log::level l, std::string_view line) {
            log_message(l <= log::level::error ? log_level::error
                        : l == log::level::warning ? log_level::warning : log_level::info, line);
        });
        ex.fuse = std::make_unique<fuse::fuse_export>(*vscsi, s.export_dir, fo);
    }
    for (auto& l : s.luns) {
        const auto& d = vscsi->disks();
        auto it = std::find_if(d.begin(), d.end(),
                               [&](const auto& x) { return x.target == l.where.target && x.lun == l.where.lun; });
        if (it == d.end() || it->block_count == 0)
            continue;
        std::string name = fuse::fuse_disk_file_name(l.remote);
        if (discovered)
            name = s.target_name + "-" + name;
        if (auto e4 = ex.fuse->add_disk(name, it->target, it->lun, it->block_size, it->block_count)) {
            warn(who + "cannot export " + it->name + ": " + e4.message());
            continue;
        }
        l.export_name = name;
        ++ex.disks;
        info(who + it->name + " (LUN " + std::to_string(l.remote) + ") exported as " +
             (s.export_dir / name).string());
    }
    if (!ex.fuse->running()) {
        if (auto e5 = ex.fuse->start()) {
            exports.erase(s.export_dir);
            for (auto& l : s.luns)
                l.export_name.clear();
            return fail("cannot mount " + s.export_dir.string() + ": " + e5.message());
        }
    }
#else
    return fail("export needs FUSE, which this build lacks");
#endif
#else
    (void)discovered;
    for (const auto& l : s.luns)
        info(who + "LUN " + std::to_string(l.remote) + " -> vscsi targ " + std::to_string(l.where.target) +
             " lun " + std::to_string(l.where.lun));
#endif
    return true;
}

} // namespace ivs::app
