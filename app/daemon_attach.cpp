// serve_daemon: attaching one configuration target (a normal one: one
// session; a discovery one: SendTargets, then one session per target found).
#include "app/daemon_impl.hpp"
#include "app/serve_target.hpp"

#include "iscsi/sendtargets.hpp"

#include <set>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace ivs::app {

namespace {

using namespace std::chrono_literals;

bool is_numeric_address(const std::string& host)
{
    unsigned char buf[sizeof(in6_addr)];
    return ::inet_pton(AF_INET, host.c_str(), buf) == 1 || ::inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

} // namespace

void serve_daemon::impl::attach_target(attached_target& t)
{
    iscsi::session_config cfg;
    t.settings.reset();
    if (!make_session_config(current, t.conf, inputs, cfg, t.error)) {
        warn(t.error);
        return;
    }
    t.settings = cfg;
    if (t.conf.type == config::conf_session_type::normal) {
        attach_session(t, cfg, false);
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
        attach_session(t, c, true);
    }
}

// A discovery session (RFC 7143 §13.3 SessionType=Discovery) asking
// SendTargets=All (Appendix C); one portal per target name, the first given.
bool serve_daemon::impl::discover(attached_target& t, const iscsi::session_config& cfg,
                                  std::vector<std::pair<std::string, iscsi::portal>>& found)
{
    std::unique_ptr<iscsi::session> s;
    auto& io = machine.io();
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
        std::string why;
        if (options.resolve && !is_numeric_address(p.host) && !options.resolve(e.address.host, p.host, why)) {
            warn("target " + t.conf.name + ": discovered " + e.target_name + ": " + why);
            continue;
        }
        found.emplace_back(e.target_name, p);
        info("target " + t.conf.name + ": discovered " + iscsi::format_sendtargets_entry(e));
    }
    return true;
}

// One session of the target: its disks through a disk_attachment, which
// undoes what it did when a step fails; the attachment stays listed (with
// the target's error) until the target is detached or attached again.
void serve_daemon::impl::attach_session(attached_target& t, const iscsi::session_config& cfg, bool discovered)
{
    disk_attachment_options o;
    o.session = cfg;
    o.luns.assign(t.conf.luns.begin(), t.conf.luns.end());
    o.export_dir = t.conf.export_dir;
    // Discovered targets share the directory: their files carry the name.
    if (discovered)
        o.export_prefix = cfg.login.target_name + "-";
    o.export_all = false;
    o.log_prefix = "target " + t.conf.name + " (" + cfg.login.target_name + "): ";
    o.on_lun_change = [this, name = t.conf.name] { lun_change(name); };
    auto a = std::make_unique<disk_attachment>(machine, o);
    std::string why;
    if (!a->attach(why)) {
        if (t.error.empty())
            t.error = o.log_prefix + why;
        warn(o.log_prefix + why);
    }
    t.sessions.push_back(std::move(a));
}

} // namespace ivs::app
