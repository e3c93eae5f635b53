// iscsi-vscsi attach HOST[:PORT] IQN: log in, map the target's LUNs onto
// vscsi, let the midlayer probe them, optionally export them through FUSE,
// and stay attached until SIGINT/SIGTERM; then flush, detach, unmount and
// log out (app/disk_attachment.hpp).
#include "app/commands.hpp"
#include "app/disk_attachment.hpp"
#include "app/host.hpp"
#include "app/log_sinks.hpp"
#include "config/attach_options.hpp"

#include <csignal>
#include <signal.h>
#include <unistd.h>
#include <iostream>

namespace ivs::app {

namespace {

// Blocks SIGINT, SIGTERM and SIGUSR1 (rescan) in every thread started after
// this, so that sigwait() on the main thread is the one place they arrive.
sigset_t block_stop_signals()
{
    // A parent that ignored them (nohup, some shells) must not stop the
    // detach from happening: take them back first.
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
    std::signal(SIGUSR1, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    return set;
}

int attach(const config::attach_options& o)
{
    const sigset_t stop = block_stop_signals();
    const log::sink out = to_console();
    host_options ho;
    ho.device = o.device;
    ho.log = out;
    host h(ho);
    std::string error;
    if (h.open(error)) {
        out.error("attach: " + error);
        return 1;
    }
    disk_attachment_options ao;
    ao.session = o.session;
    ao.luns = o.luns;
    ao.export_dir = o.export_dir;
    ao.require_disk = true;
    ao.probe_timeout = o.probe_timeout;
    // REPORTED LUNS DATA HAS CHANGED: the same rescan as SIGUSR1, on the
    // main thread (a process-directed signal reaches its sigwait()).
    ao.on_lun_change = [] { ::kill(::getpid(), SIGUSR1); };
    disk_attachment disks(h, ao);
    if (!disks.attach(error)) {
        out.error("attach: " + error);
        return 1;
    }
    out.info("attached; SIGINT or SIGTERM detaches, SIGUSR1 rescans the LUNs");
    int sig = 0;
    while (sigwait(&stop, &sig) != 0 || sig == SIGUSR1) {
        if (sig != SIGUSR1)
            continue;
        std::string summary;
        (void)disks.rescan(summary); // logged by the attachment
        sig = 0;
    }
    out.info("detaching");
    disks.detach();
    h.close();
    out.info("detached");
    return 0;
}

} // namespace

int run_attach(std::span<const std::string> args)
{
    config::attach_options opts;
    std::string error;
    switch (config::parse_attach_options(args, opts, error)) {
    case config::parse_outcome::help: std::cout << config::attach_help(); return 0;
    case config::parse_outcome::usage_error:
        std::cerr << "iscsi-vscsi: attach: " << error << " (try --help)\n";
        return 2;
    case config::parse_outcome::bad_value: std::cerr << "iscsi-vscsi: attach: " << error << '\n'; return 1;
    case config::parse_outcome::ok: break;
    }
    return attach(opts);
}

} // namespace ivs::app
