// iscsi-vscsi serve: the boot-time daemon (attach every enabled target of
// iscsi-vscsi.conf(5), keep them attached, answer the control socket).
//
// serve never forks into the background: it stays in the foreground
// (rc.d(8) backgrounds it, systemd runs it as Type=simple); -d only sends
// the log to stderr instead of syslog. It does fork once, for privilege
// separation: the parent stays root and does what needs it (reading the
// configuration and the secrets, FUSE mounts on Linux, names), the worker
// (app/serve_worker.hpp) does the rest chrooted as an unprivileged user.
#include "app/commands.hpp"
#include "app/conf_bundle.hpp"
#include "app/control_socket.hpp"
#include "app/log_sinks.hpp"
#include "app/privsep_channel.hpp"
#include "app/privsep_drop.hpp"
#include "app/privsep_parent.hpp"
#include "app/serve_target.hpp"
#include "app/serve_worker.hpp"

#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>

#include <pthread.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define IVS_LEAK_CHECK_AT_EXIT 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(leak_sanitizer)
#define IVS_LEAK_CHECK_AT_EXIT 1
#endif
#endif
#if !defined(IVS_LEAK_CHECK_AT_EXIT)
#define IVS_LEAK_CHECK_AT_EXIT 0
#endif

namespace ivs::app {

namespace {

constexpr const char* default_conf_file = "/etc/iscsi-vscsi.conf";

// serve's options (iscsi-vscsi(8)): -d, -f FILE, -n (check the
// configuration and exit, as OpenBSD daemons' -n), -s SOCKET, -u USER (the
// worker's), --device PATH (the vscsi device; iscsid(8) calls it -n, taken
// here by the check).
struct serve_args {
    bool foreground_log = false;
    bool check_only = false;
    std::string file = default_conf_file;
    std::string socket = default_control_socket;
    std::string user = default_worker_user;
    bool user_given = false;
    std::string device; // empty: /dev/vscsi0
};

bool parse_serve_args(std::span<const std::string> args, serve_args& out, std::string& error)
{
    for (std::size_t i = 0; i < args.size(); ++i) {
        const auto& a = args[i];
        if (a == "-d") {
            out.foreground_log = true;
        } else if (a == "-n") {
            out.check_only = true;
        } else if (a == "-f" || a == "-s" || a == "-u" || a == "--device") {
            if (i + 1 >= args.size()) {
                error = "option " + a + " needs a value";
                return false;
            }
            (a == "-f" ? out.file : a == "-s" ? out.socket : a == "-u" ? out.user : out.device) = args[++i];
            out.user_given |= a == "-u";
#if !defined(__OpenBSD__)
            if (a == "--device") {
                error = "--device names an OpenBSD vscsi device; this platform uses the embedded vscsi";
                return false;
            }
#endif
        } else {
            error = "unknown argument '" + a + "'";
            return false;
        }
    }
    return true;
}

int check_configuration(const serve_args& a)
{
    config::conf c;
    std::string error;
    if (load_serve_conf(a.file, c, error)) {
        std::cerr << error << (error.empty() || error.back() != '\n' ? "\n" : "");
        return 1;
    }
    for (const std::string& w : c.warnings)
        std::cerr << "warning: " << w << '\n';
    std::cerr << "configuration OK\n";
    return 0;
}

// The parent after the fork: only reading (the configuration, the secrets,
// /dev for the disks in use) and removing the control socket are left to
// it. No pledge(2): the disk lookup's SCIOCIDENTIFY on sd(4) raw partitions
// is allowed by no promise (kern_pledge.c's pledge_ioctl).
void narrow_parent([[maybe_unused]] const serve_args& a, [[maybe_unused]] const log::sink& log)
{
#if defined(__OpenBSD__)
    if (::unveil("/", "r") != 0 || ::unveil(a.socket.c_str(), "c") != 0 || ::unveil(nullptr, nullptr) != 0)
        log.warning(std::string("unveil: ") + std::strerror(errno));
#endif
}

} // namespace

int run_serve(std::span<const std::string> args)
{
    serve_args a;
    std::string error;
    if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
        std::cout << "usage: iscsi-vscsi serve [-dn] [-f FILE] [-s SOCKET] [-u USER] [--device PATH]\n\n"
                     "Attaches every enabled target of FILE (default /etc/iscsi-vscsi.conf) and\n"
                     "keeps them attached; answers status, show, reload, detach and rescan on SOCKET\n"
                     "(default /var/run/iscsi-vscsi.sock). Stays in the foreground; -d logs to\n"
                     "stderr instead of syslog. SIGHUP reloads; SIGTERM and SIGINT detach every\n"
                     "disk not in use. Runs as root, the work in a process of its own chrooted\n"
                     "to /var/empty as USER (default _iscsivscsi).\n"
                     "-n only checks FILE (and its secret files), prints its warnings and exits.\n"
                     "--device is the vscsi(4) device on OpenBSD (default /dev/vscsi0).\n";
        return 0;
    }
    if (!parse_serve_args(args, a, error)) {
        std::cerr << "iscsi-vscsi: serve: " << error << " (try --help)\n";
        return 2;
    }
    if (a.check_only) // configtest: nothing opened, nothing logged
        return check_configuration(a);
    if (::geteuid() != 0) {
        std::cerr << "iscsi-vscsi: serve: needs root (it opens the vscsi device, mounts the exports and drops "
                     "to an unprivileged user for the rest)\n";
        return 1;
    }
    // -d: the log on the standard error instead of syslog.
    const log::sink log = a.foreground_log ? log::to_stderr() : to_syslog();
    conf_bundle bundle;
    config::conf c;
    if (make_conf_bundle(a.file, bundle, c, error)) {
        // The configuration errors go to stderr whatever -d says, and to the log.
        std::cerr << error << (error.empty() || error.back() != '\n' ? "\n" : "");
        if (!a.foreground_log)
            log.error(error);
        return 1;
    }
    for (const std::string& w : c.warnings)
        log.warning(w);
    sandbox_user user;
    std::string warning;
    if (!find_sandbox_user(a.user, a.user_given, user, warning, error) || !prepare_sandbox_root(user, error)) {
        std::cerr << "iscsi-vscsi: serve: " << error << '\n';
        if (!a.foreground_log)
            log.error(error);
        return 1;
    }
    if (!warning.empty())
        log.warning(warning);

    // Signals arrive only where they are waited for: blocked before any
    // thread or child, the parent and the worker unblock what they handle.
    for (int s : {SIGINT, SIGTERM, SIGHUP, SIGCHLD})
        std::signal(s, SIG_DFL);
    std::signal(SIGPIPE, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    for (int s : {SIGINT, SIGTERM, SIGHUP, SIGCHLD})
        sigaddset(&set, s);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);

    control_server control;
    if (control.open(a.socket, error)) {
        log.error(error);
        return 1;
    }
    if (!ignore_broadcast_kill(error)) {
        log.error(error);
        return 1;
    }
    unique_fd parent_end, worker_end;
    if (auto ec = make_channel_pair(parent_end, worker_end)) {
        log.error("socketpair: " + ec.message());
        return 1;
    }
    const pid_t pid = ::fork();
    if (pid < 0) {
        log.error(std::string("fork: ") + std::strerror(errno));
        return 1;
    }
    if (pid == 0) {
        parent_end.reset();
        sigset_t child_set;
        sigemptyset(&child_set);
        sigaddset(&child_set, SIGCHLD);
        pthread_sigmask(SIG_UNBLOCK, &child_set, nullptr);
        set_process_title("worker");
        control.keep_file();
        worker_options wo;
        wo.socket = a.socket;
        wo.device = a.device;
        wo.user = user;
        wo.log = log;
        const int status = run_worker(std::move(worker_end), control, wo);
#if IVS_LEAK_CHECK_AT_EXIT
        // LeakSanitizer's check at exit reads /proc/PID/task, which the
        // chrooted worker cannot see: it would fail the exit. Sanitizer
        // builds skip it in the worker (the parent's still runs).
        std::fflush(nullptr);
        ::_exit(status);
#endif
        return status;
    }
    worker_end.reset();
    control.close_copy();
    narrow_parent(a, log);
    log.info("privilege separation: the worker is process " + std::to_string(pid));
    channel ch(std::move(parent_end), max_from_worker);
    parent_options po;
    po.conf_file = a.file;
    po.socket = a.socket;
    po.device = a.device;
    po.worker = pid;
    po.log = log;
    return run_parent(ch, po, bundle, c);
}

} // namespace ivs::app
