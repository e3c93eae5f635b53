// `serve`'s worker: the child of the privileged parent that does the work
// (network, vscsi, FUSE serving, the control socket) as an unprivileged user
// in a chroot. It starts as root only to open what it needs (OpenBSD: the
// vscsi device, and KERN_PROC_NOBROADCASTKILL for itself), then drops
// privileges for good (app/privsep_drop.hpp) before any thread starts.
#pragma once

#include "app/control_socket.hpp"
#include "app/privsep_channel.hpp"
#include "app/privsep_drop.hpp"
#include "log/log.hpp"

#include <filesystem>
#include <string>

namespace ivs::app {

struct worker_options {
    std::filesystem::path socket; // for its log lines
    std::string device;           // OpenBSD: the vscsi device (empty: /dev/vscsi0)
    sandbox_user user;
    log::sink log;
};

// Applies the configurations the parent sends, answers the control socket
// (`control`, bound by the parent), attaches failed targets again, and on
// SIGTERM or SIGINT detaches every target not in use: while a disk is in
// use it keeps serving it and says which (SIGTERM again tries again).
// SIGHUP asks the parent for the configuration again. Returns the exit
// status. SIGINT, SIGTERM and SIGHUP must be blocked on entry.
int run_worker(unique_fd parent_end, control_server& control, const worker_options& o);

} // namespace ivs::app
