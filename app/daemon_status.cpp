// serve_daemon::status: a snapshot taken on the io thread (sessions and the
// bridge live there), printed as text or as one JSON object.
#include "app/daemon_impl.hpp"

#include <cstdio>
#include <map>
#include <sstream>

namespace ivs::app {

namespace {

struct session_snapshot {
    std::string state;
    iscsi::session_params params;
    iscsi::session_counters counters;
    std::size_t in_flight = 0;
    bool present = false;
};

std::string json_string(std::string_view s)
{
    std::string out = "\"";
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out + "\"";
}

const char* yes(bool b) { return b ? "true" : "false"; }

} // namespace

std::string serve_daemon::status(bool json)
{
    std::lock_guard lock(impl_->m);
    return json ? impl_->status_json() : impl_->status_text();
}

namespace {

using snapshot_map = std::map<const disk_attachment*, session_snapshot>;

snapshot_map take_snapshots(serve_daemon::impl& d, bridge::bridge_counters& bc)
{
    snapshot_map out;
    if (d.closed || !d.opened)
        return out;
    d.machine.io().call<bool>([&](auto done) {
        for (const auto& t : d.targets)
            for (const auto& s : t->sessions) {
                auto& snap = out[s.get()];
                snap.state = s->state();
                if (auto* session = s->session()) {
                    snap.present = true;
                    snap.params = session->params();
                    snap.counters = session->counters();
                    snap.in_flight = session->tasks_in_flight();
                }
            }
        bc = d.machine.bridge().counters();
        done(true);
    });
    return out;
}

} // namespace

std::string serve_daemon::impl::status_json()
{
    bridge::bridge_counters bc;
    auto snaps = take_snapshots(*this, bc);
    std::ostringstream o;
    o << "{\"targets\":[";
    bool first_t = true;
    for (const auto& t : targets) {
        o << (first_t ? "" : ",") << "{\"name\":" << json_string(t->conf.name)
          << ",\"type\":" << (t->conf.type == config::conf_session_type::discovery ? "\"discovery\"" : "\"normal\"")
          << ",\"error\":" << json_string(t->error) << ",\"sessions\":[";
        first_t = false;
        bool first_s = true;
        for (const auto& s : t->sessions) {
            const auto& snap = snaps[s.get()];
            const auto& p = snap.params;
            const auto& c = snap.counters;
            o << (first_s ? "" : ",") << "{\"target\":" << json_string(s->options().session.login.target_name)
              << ",\"portal\":" << json_string(iscsi::format_portal(s->options().session.target_portal))
              << ",\"state\":" << json_string(snap.state);
            first_s = false;
            if (snap.present) {
                o << ",\"parameters\":{\"HeaderDigest\":\"" << (p.header_digest ? "CRC32C" : "None")
                  << "\",\"DataDigest\":\"" << (p.data_digest ? "CRC32C" : "None")
                  << "\",\"MaxRecvDataSegmentLength\":" << p.max_recv_data_segment_length
                  << ",\"TargetMaxRecvDataSegmentLength\":" << p.target_max_recv_data_segment_length
                  << ",\"MaxBurstLength\":" << p.max_burst_length << ",\"FirstBurstLength\":" << p.first_burst_length
                  << ",\"InitialR2T\":" << yes(p.initial_r2t) << ",\"ImmediateData\":" << yes(p.immediate_data)
                  << ",\"MaxOutstandingR2T\":" << p.max_outstanding_r2t << "}";
                o << ",\"counters\":{\"commands\":" << c.commands << ",\"bytes_read\":" << c.bytes_read
                  << ",\"bytes_written\":" << c.bytes_written << ",\"reissued\":" << c.reissued
                  << ",\"reconnects\":" << c.reconnects << ",\"in_flight\":" << snap.in_flight << "}";
            }
            o << ",\"luns\":[";
            bool first_l = true;
            for (const auto& l : s->luns()) {
                o << (first_l ? "" : ",") << "{\"lun\":" << l.remote << ",\"vscsi_target\":" << l.where.target
                  << ",\"vscsi_lun\":" << l.where.lun << ",\"device\":" << json_string(l.device)
                  << ",\"bytes\":" << l.bytes() << ",\"export\":"
                  << json_string(l.export_name.empty() ? std::string()
                                                       : (s->options().export_dir / l.export_name).string())
                  << "}";
                first_l = false;
            }
            o << "]}";
        }
        o << "]}";
    }
    o << "],\"bridge\":{\"commands\":" << bc.commands << ",\"submitted\":" << bc.submitted
      << ",\"retries\":" << bc.retries << ",\"bytes_read\":" << bc.bytes_read
      << ",\"bytes_written\":" << bc.bytes_written << ",\"done\":" << bc.done << ",\"sense\":" << bc.sense
      << ",\"reset\":" << bc.reset << ",\"err\":" << bc.err << ",\"device_errors\":" << bc.device_errors
      << ",\"max_outstanding\":" << bc.max_outstanding << "}}\n";
    return o.str();
}

std::string serve_daemon::impl::status_text()
{
    bridge::bridge_counters bc;
    auto snaps = take_snapshots(*this, bc);
    std::ostringstream o;
    for (const auto& t : targets) {
        o << "target " << t->conf.name << (t->conf.type == config::conf_session_type::discovery ? " (discovery)" : "");
        if (!t->error.empty())
            o << ": " << t->error;
        o << '\n';
        for (const auto& s : t->sessions) {
            const auto& snap = snaps[s.get()];
            const auto& cfg = s->options().session;
            o << "  session " << cfg.login.target_name << " at " << iscsi::format_portal(cfg.target_portal) << ": "
              << snap.state << '\n';
            if (snap.present) {
                const auto& p = snap.params;
                const auto& c = snap.counters;
                o << "    HeaderDigest " << (p.header_digest ? "CRC32C" : "None") << ", DataDigest "
                  << (p.data_digest ? "CRC32C" : "None") << ", MaxRecvDataSegmentLength "
                  << p.max_recv_data_segment_length << ", MaxBurstLength " << p.max_burst_length
                  << ", FirstBurstLength " << p.first_burst_length << '\n';
                o << "    commands " << c.commands << ", read " << c.bytes_read << " bytes, written " << c.bytes_written
                  << " bytes, reissued " << c.reissued << ", reconnects " << c.reconnects << '\n';
            }
            for (const auto& l : s->luns()) {
                o << "    LUN " << l.remote << ": vscsi targ " << l.where.target << " lun " << l.where.lun;
                if (!l.device.empty())
                    o << ", " << l.device << ", " << l.bytes() << " bytes";
                if (!l.export_name.empty())
                    o << ", exported as " << (s->options().export_dir / l.export_name).string();
                o << '\n';
            }
        }
    }
    o << "bridge: commands " << bc.commands << ", retries " << bc.retries << ", read " << bc.bytes_read
      << " bytes, written " << bc.bytes_written << ", errors " << bc.err + bc.device_errors << '\n';
    return o.str();
}

} // namespace ivs::app
