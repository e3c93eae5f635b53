// Internals of serve_daemon (app/daemon*.cpp): the configuration targets and
// the disk attachments (one per iSCSI session) each one has.
#pragma once

#include "app/daemon.hpp"
#include "app/disk_attachment.hpp"
#include "app/host.hpp"
#include "app/daemon_rescan.hpp"

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ivs::app {

// One `target` block of the configuration and what it attached: one
// session, or for a discovery block one per target found.
struct attached_target {
    config::conf_target conf;
    // The session settings made from `conf` (secrets and resolved address
    // included): a reload compares them; empty when they could not be made.
    std::optional<iscsi::session_config> settings;
    std::string error; // why attaching failed; empty when it did not
    std::vector<std::unique_ptr<disk_attachment>> sessions;
};

struct serve_daemon::impl {
    explicit impl(serve_daemon_options o);

    serve_daemon_options options;
    log::sink log;
    std::mutex m;
    host machine;
    bool opened = false;
    bool closed = false;
    config::conf current; // global settings of the configuration last applied
    target_inputs inputs; // its secrets and addresses
    std::vector<std::unique_ptr<attached_target>> targets;

    void info(const std::string& s) const { log.info(s); }
    void warn(const std::string& s) const { log.warning(s); }

    // daemon_attach.cpp
    void attach_target(attached_target& t);
    void attach_session(attached_target& t, const iscsi::session_config& cfg, bool discovered);
    bool discover(attached_target& t, const iscsi::session_config& cfg,
                  std::vector<std::pair<std::string, iscsi::portal>>& found);
    // daemon.cpp
    void detach_target(attached_target& t);
    // daemon_rescan.cpp: rescans on their own thread (set up by open()).
    std::unique_ptr<rescan_worker> rescans;
    bool rescan_target(const std::string& name, std::string& summary);
    void lun_change(const std::string& name); // any thread
    // daemon_in_use.cpp: one line per disk of `t` in use ("target NAME: ...").
    std::vector<std::string> disks_in_use(const attached_target& t);
    // Flushes `t`'s sessions, logging what fails.
    void flush_target(attached_target& t);
    // daemon_status.cpp
    std::string status_text();
    std::string status_json();
};

} // namespace ivs::app
