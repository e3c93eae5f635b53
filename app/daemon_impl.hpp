// Internals of serve_daemon (app/daemon*.cpp): the configuration targets and
// the disk attachments (one per iSCSI session) each one has.
#pragma once

#include "app/daemon.hpp"
#include "app/disk_attachment.hpp"
#include "app/host.hpp"

#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace ivs::app {

// One `target` block of the configuration and what it attached: one
// session, or for a discovery block one per target found.
struct attached_target {
    config::conf_target conf;
    std::string error;  // why attaching failed; empty when it did not
    std::vector<std::unique_ptr<disk_attachment>> sessions;
};

struct serve_daemon::impl {
    impl(log::sink l, std::string device);

    log::sink log;
    std::mutex m;
    host machine;
    bool opened = false;
    bool closed = false;
    config::conf current;  // global settings of the configuration last applied
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
    // daemon_status.cpp
    std::string status_text();
    std::string status_json();
};

} // namespace ivs::app
