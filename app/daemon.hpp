// The state of `iscsi-vscsi serve`: one host (vscsi device, bridge, FUSE
// exports) shared by every session, and the targets of the configuration
// attached onto it. Public calls are serialised by one mutex and may come from
// any thread but the io thread (the signal loop and the control socket).
//
// A disk in use is not detached unless forced: a file system mounted on it
// (OpenBSD: an sd(4) partition; Linux: through a loop device over its export
// file), or its export file open. detach, a reload that drops or changes its
// target, and shutdown (SIGTERM) keep such a target attached, flush it, and
// say which disk is in use.
#pragma once

#include "app/disk_users.hpp"
#include "app/host.hpp"
#include "app/serve_target.hpp"
#include "config/conf.hpp"
#include "log/log.hpp"

#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

namespace ivs::app {

struct serve_daemon_options {
    log::sink log;
    host_options host; // its log is `log`
    // Who else uses the disks (serve's parent asks the system); empty:
    // only the export's own open handles count.
    disk_users_fn disk_users;
    // A host name a discovery session returned, as a numeric address (the
    // worker cannot resolve); empty: kept as given.
    std::function<bool(const std::string& host, std::string& numeric, std::string& why)> resolve;
};

class serve_daemon {
public:
    explicit serve_daemon(serve_daemon_options options);
    ~serve_daemon(); // shutdown(true)
    serve_daemon(const serve_daemon&) = delete;
    serve_daemon& operator=(const serve_daemon&) = delete;

    // Opens the host: the io thread, the vscsi device, the bridge.
    std::error_code open(std::string& error);

    // Makes the attached set match `c`: detaches the targets that are gone,
    // disabled or changed (their secret or resolved address included) unless
    // in use, attaches the new ones (and the changed ones again), leaves the
    // rest alone. `in` gives secrets and addresses (kept for retries). A
    // target that fails to attach is logged and shown as failed in status.
    // Returns a summary line.
    std::string apply(const config::conf& c, target_inputs in = {});

    // Detaches the configuration target `name` (all its sessions). False
    // with `error` when there is no such attached target, or when one of its
    // disks is in use and not `force` (the lines say which; it is flushed).
    bool detach(const std::string& name, bool force, std::string& error);

    // Reads the LUNs of target `name` again (each of its sessions): new ones
    // are attached and exported, gone ones detached. False with `summary`
    // saying why (no such target, REPORT LUNS failed); the same happens on
    // its own when a target reports REPORTED LUNS DATA HAS CHANGED.
    bool rescan(const std::string& name, std::string& summary);

    // Attaches again the targets whose attach failed or whose session gave
    // up (replacement timeout passed). Returns how many were retried.
    unsigned retry_failed();

    // Targets, sessions, LUNs and counters: text or a JSON object.
    std::string status(bool json);
    // As iscsictl(8) prints iscsid's: "show summary" (the initiator and the
    // sessions) and "show vscsi stats".
    std::string show_summary();
    std::string vscsi_stats();

    // Flush (SYNCHRONIZE CACHE), detach, unmount, log out every target not
    // in use (every one with `force`); the others are flushed and kept.
    // Returns one line per disk in use, empty when everything went: then the
    // bridge and the io thread are stopped too. Idempotent.
    std::vector<std::string> shutdown(bool force = false);

    struct impl;

private:
    std::unique_ptr<impl> impl_;
};

} // namespace ivs::app
