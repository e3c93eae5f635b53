// serve_daemon: "show summary" and "show vscsi stats", printed the way
// iscsictl(8) prints iscsid's answers, with the lines iscsid has no
// counterpart for (the state and digests of a session) added after them.
#include "app/daemon_impl.hpp"

#include <cstdio>
#include <sstream>

namespace ivs::app {

namespace {

// As fmt_scaled(3): at most four digits and a unit suffix, "512B", "1.5K", "123M".
std::string scaled(std::uint64_t n)
{
    static const char units[] = "BKMGTPE";
    double v = static_cast<double>(n);
    int u = 0;
    while (v >= 1024.0 && u < 6) {
        v /= 1024.0;
        ++u;
    }
    char buf[32];
    if (u == 0)
        std::snprintf(buf, sizeof buf, "%lluB", static_cast<unsigned long long>(n));
    else if (v < 10.0)
        std::snprintf(buf, sizeof buf, "%.1f%c", v, units[u]);
    else
        std::snprintf(buf, sizeof buf, "%.0f%c", v, units[u]);
    return buf;
}

void isid_line(std::ostringstream& o, std::uint64_t isid)
{
    char buf[64];
    std::snprintf(buf, sizeof buf, "ISID base %x qualifier %hx", static_cast<unsigned>(isid >> 16),
                  static_cast<unsigned short>(isid & 0xffff));
    o << buf;
}

} // namespace

std::string serve_daemon::show_summary()
{
    std::lock_guard lock(impl_->m);
    auto& d = *impl_;
    std::ostringstream o;
    o << "Initiator: ";
    if (d.current.isid) {
        std::uint64_t v = 0;
        for (auto b : config::isid_bytes(*d.current.isid))
            v = (v << 8) | b;
        isid_line(o, v);
    } else {
        o << "ISID random for each session";
    }
    o << '\n';
    struct row {
        std::string state;
        iscsi::session_params params;
        bool present = false;
    };
    std::vector<std::vector<row>> rows(d.targets.size());
    if (d.opened && !d.closed)
        d.machine.io().call<bool>([&](auto done) {
            for (std::size_t i = 0; i < d.targets.size(); ++i)
                for (const auto& s : d.targets[i]->sessions) {
                    row r;
                    r.state = s->state();
                    if (auto* session = s->session()) {
                        r.present = true;
                        r.params = session->params();
                    }
                    rows[i].push_back(r);
                }
            done(true);
        });
    for (std::size_t i = 0; i < d.targets.size(); ++i) {
        const auto& t = *d.targets[i];
        const bool discovery = t.conf.type == config::conf_session_type::discovery;
        const auto& addr = t.settings ? iscsi::format_portal(t.settings->target_portal)
                                      : t.conf.target_addr.host + ":" + std::to_string(t.conf.target_addr.port);
        o << "\nSession '" << t.conf.name << "':\n"
          << "    SessionType: " << (discovery ? "discovery" : "normal") << "\tMaxConnections: 1\n";
        if (!discovery)
            o << "    TargetName: " << t.conf.target_name << '\n';
        o << "    TargetAddr: " << addr << '\n';
        if (t.settings)
            o << "    InitiatorName: " << t.settings->login.initiator_name << '\n';
        o << "    InitiatorAddr: "
          << (t.settings && !t.settings->local_address.empty() ? t.settings->local_address
              : t.conf.initiator_addr                          ? t.conf.initiator_addr->host
                                                               : "any")
          << '\n';
        if (!t.error.empty())
            o << "    Error: " << t.error << '\n';
        for (std::size_t j = 0; j < t.sessions.size() && j < rows[i].size(); ++j) {
            const auto& s = *t.sessions[j];
            const auto& r = rows[i][j];
            if (discovery)
                o << "    Discovered: " << s.options().session.login.target_name << " at "
                  << iscsi::format_portal(s.options().session.target_portal) << '\n';
            o << "    State: " << r.state;
            if (r.present)
                o << "\tHeaderDigest: " << (r.params.header_digest ? "CRC32C" : "None")
                  << "\tDataDigest: " << (r.params.data_digest ? "CRC32C" : "None");
            o << "\t";
            isid_line(o, s.options().session.login.isid);
            o << '\n';
        }
    }
    return o.str();
}

std::string serve_daemon::vscsi_stats()
{
    std::lock_guard lock(impl_->m);
    auto& d = *impl_;
    bridge::bridge_counters c;
    if (d.opened && !d.closed)
        d.machine.io().call<bool>([&](auto done) {
            c = d.machine.bridge().counters();
            done(true);
        });
    std::ostringstream o;
    o << "VSCSI ioctl statistics:\n"
      << d.machine.probe_requests() << " probe calls and " << d.machine.detach_requests() << " detach calls\n"
      << c.commands << " I2T calls (" << c.commands_read << " read, " << c.commands_write << " writes)\n"
      << c.data_reads << " data reads (" << scaled(c.bytes_read) << " bytes read)\n"
      << c.data_writes << " data writes (" << scaled(c.bytes_written) << " bytes written)\n"
      << c.done + c.sense + c.reset + c.err << " T2I calls (" << c.done << " done, " << c.sense << " sense errors, "
      << c.reset + c.err << " errors)\n"
      << c.device_errors << " failed device calls, " << c.retries << " commands retried, " << c.max_outstanding
      << " outstanding at most\n";
    return o.str();
}

} // namespace ivs::app
