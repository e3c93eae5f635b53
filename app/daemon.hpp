// The state of `iscsi-vscsi serve`: one host (vscsi device, bridge, FUSE
// exports) shared by every session, and the targets of the configuration
// attached onto it. Public calls are serialised by one mutex and may come from
// any thread but the io thread (the signal loop and the control socket).
#pragma once

#include "config/conf.hpp"
#include "log/log.hpp"

#include <memory>
#include <string>
#include <system_error>

namespace ivs::app {

class serve_daemon {
public:
    explicit serve_daemon(log::sink log, std::string device = {});
    ~serve_daemon(); // shutdown()
    serve_daemon(const serve_daemon&) = delete;
    serve_daemon& operator=(const serve_daemon&) = delete;

    // Opens the host: the io thread, the vscsi device (OpenBSD: the
    // constructor's `device`, empty for /dev/vscsi0; elsewhere the embedded
    // one), the bridge.
    std::error_code open(std::string& error);

    // Makes the attached set match `c`: detaches the targets that are gone,
    // disabled or changed, attaches the new ones (and the changed ones
    // again), leaves the rest alone. A target that fails to attach is
    // logged and shown as failed in status. Returns a summary line.
    std::string apply(const config::conf& c);

    // Detaches the configuration target `name` (all its sessions); false
    // with `error` when there is no such attached target.
    bool detach(const std::string& name, std::string& error);

    // Attaches again the targets whose attach failed or whose session gave
    // up (replacement timeout passed). Returns how many were retried.
    unsigned retry_failed();

    // Targets, sessions, LUNs and counters: text or a JSON object.
    std::string status(bool json);

    // Flush (SYNCHRONIZE CACHE), detach, unmount, log out everything;
    // stops the bridge and the io thread. Idempotent.
    void shutdown();

    struct impl;

private:
    std::unique_ptr<impl> impl_;
};

} // namespace ivs::app
