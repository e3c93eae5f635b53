// The state of `iscsi-vscsi serve`: one vscsi device and bridge shared by
// every session, the targets of the configuration attached onto it, their
// FUSE exports. Public calls are serialised by one mutex and may come from
// any thread but the io thread (the signal loop and the control socket).
#pragma once

#include "config/conf.hpp"

#include <memory>
#include <string>
#include <system_error>

namespace ivs::config {

class serve_daemon {
public:
    serve_daemon();
    ~serve_daemon(); // shutdown()
    serve_daemon(const serve_daemon&) = delete;
    serve_daemon& operator=(const serve_daemon&) = delete;

    // Starts the io thread, opens the vscsi device (OpenBSD: `device`, empty
    // for /dev/vscsi0; elsewhere the embedded one), starts the bridge.
    std::error_code open(const std::string& device, std::string& error);

    // Makes the attached set match `c`: detaches the targets that are gone,
    // disabled or changed, attaches the new ones (and the changed ones
    // again), leaves the rest alone. A target that fails to attach is
    // logged and shown as failed in status. Returns a summary line.
    std::string apply(const conf& c);

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

} // namespace ivs::config
