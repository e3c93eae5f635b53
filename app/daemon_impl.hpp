// Internals of serve_daemon (app/daemon*.cpp): what is attached, per
// configuration target and per session.
#pragma once

#include "app/daemon.hpp"
#include "app/io_thread.hpp"

#include "bridge/bridge.hpp"
#include "iscsi/session.hpp"

#if defined(__OpenBSD__)
#include "vscsi/openbsd_vscsi.hpp"
#else
#include "vscsi/embedded_vscsi.hpp"
#endif
#if IVS_HAVE_FUSE
#include "fuse/fuse_export.hpp"
#endif

#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace ivs::app {

// One disk of a session: remote LUN, where it sits on vscsi, its export.
struct attached_lun {
    std::uint64_t remote = 0;
    bridge::slot where;
    std::string device;          // "sd0"; empty when no driver attached it
    std::uint64_t bytes = 0;     // capacity; 0 when unknown
    std::string export_name;     // file name in the export dir; empty: not exported
};

// One iSCSI session of a configuration target (a discovery target has one
// per target found).
struct attached_session {
    std::string target_name;
    iscsi::portal portal;
    std::filesystem::path export_dir;
    std::unique_ptr<iscsi::session> session;  // created, used and destroyed on the io thread
    std::string state = "logging in";         // io thread only
    bool logged_in = false;
    bool mapped = false;
    std::vector<attached_lun> luns;
};

// One `target` block of the configuration and what it attached.
struct attached_target {
    config::conf_target conf;
    std::string error;  // why attaching failed; empty when it did not
    std::vector<std::unique_ptr<attached_session>> sessions;
};

struct serve_daemon::impl {
    std::mutex m;
    io_thread io;
    bool opened = false;
    bool closed = false;
#if !defined(__OpenBSD__)
    std::optional<vscsi::embedded_vscsi> vscsi;
#endif
    std::unique_ptr<vscsi::vscsi_device> device;
    std::optional<bridge::bridge> bridge;
#if IVS_HAVE_FUSE
    struct export_entry {
        std::unique_ptr<fuse::fuse_export> fuse;
        std::size_t disks = 0;
    };
    std::map<std::filesystem::path, export_entry> exports;
#endif
    config::conf current;  // global settings of the configuration last applied
    std::vector<std::unique_ptr<attached_target>> targets;

    // daemon_attach.cpp
    void attach_target(attached_target& t);
    bool attach_session(attached_target& t, attached_session& s, const iscsi::session_config& cfg,
                        const std::vector<std::uint64_t>& luns, bool discovered);
    bool discover(attached_target& t, const iscsi::session_config& cfg,
                  std::vector<std::pair<std::string, iscsi::portal>>& found);
    // daemon.cpp
    void detach_session(attached_session& s);
    void detach_target(attached_target& t);
    void wait_probe_idle(std::chrono::milliseconds limit);
    // daemon_status.cpp
    std::string status_text();
    std::string status_json();
};

} // namespace ivs::app
