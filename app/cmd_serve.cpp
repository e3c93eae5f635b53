// iscsi-vscsi serve: the boot-time daemon (attach every enabled target of
// iscsi-vscsi.conf(5), keep them attached, answer the control socket), and
// the control commands status, reload and detach.
//
// serve never forks: it stays in the foreground (rc.d(8) backgrounds it,
// systemd runs it as Type=simple); -d only sends the log to stderr instead
// of syslog.
#include "app/commands.hpp"
#include "app/control_socket.hpp"
#include "app/daemon.hpp"
#include "app/log_sinks.hpp"
#include "config/options.hpp"
#include "app/serve_target.hpp"

#include <condition_variable>
#include <csignal>
#include <mutex>
#include <thread>
#include <iostream>
#include <pthread.h>
#include <unistd.h>

#if defined(__linux__)
#include <sys/prctl.h>
#endif

namespace ivs::app {

namespace {

constexpr const char* default_conf_file = "/etc/iscsi-vscsi.conf";
constexpr std::chrono::seconds retry_interval{10};

constexpr config::option_spec socket_specs[] = {
    {"socket", true, false, "SOCKET", "control socket (default /var/run/iscsi-vscsi.sock)"},
    {"json", false, false, {}, "status: print JSON"},
    {"help", false, false, {}, "show this help"},
};

// serve's options (iscsi-vscsi(8)): -d, -f FILE, -n (check the
// configuration and exit, as OpenBSD daemons' -n), -s SOCKET, --device PATH
// (the vscsi device; iscsid(8) calls it -n, taken here by the check).
struct serve_args {
    bool foreground_log = false;
    bool check_only = false;
    std::string file = default_conf_file;
    std::string socket = default_control_socket;
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
        } else if (a == "-f" || a == "-s" || a == "--device") {
            if (i + 1 >= args.size()) {
                error = "option " + a + " needs a value";
                return false;
            }
            (a == "-f" ? out.file : a == "-s" ? out.socket : out.device) = args[++i];
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

// What the process may still do once the sockets and devices are open.
void drop_privileges([[maybe_unused]] const serve_args& a, [[maybe_unused]] const log::sink& log)
{
#if defined(__linux__)
    // No setuid/file-capability gains through anything exec'd from here on.
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        log.warning("prctl(PR_SET_NO_NEW_PRIVS) failed");
#endif
#if defined(__OpenBSD__)
    // Reading anywhere (config, includes, secret files named by a reload),
    // writing only the control socket's directory and the vscsi device. No
    // pledge(2): no promise allows the vscsi(4) ioctls.
    const std::string dir = std::filesystem::path(a.socket).parent_path().string();
    if (::unveil("/", "r") != 0 || ::unveil(dir.empty() ? "." : dir.c_str(), "rwc") != 0 ||
        ::unveil(a.device.empty() ? "/dev/vscsi0" : a.device.c_str(), "rw") != 0 || ::unveil(nullptr, nullptr) != 0)
        log.warning("unveil failed");
#endif
}

void log_warnings(const config::conf& c, const log::sink& log)
{
    for (const std::string& w : c.warnings)
        log.warning(w);
}

std::string reload(const std::string& file, serve_daemon& d, const log::sink& log, bool& ok)
{
    config::conf c;
    std::string error;
    if (load_serve_conf(file, c, error)) {
        ok = false;
        log.error("reload refused: " + error);
        return error + (error.empty() || error.back() != '\n' ? "\n" : "");
    }
    log_warnings(c, log);
    const std::string summary = d.apply(c);
    log.info("reloaded " + file + ": " + summary);
    return summary + "\n";
}

} // namespace

int run_serve(std::span<const std::string> args)
{
    serve_args a;
    std::string error;
    if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
        std::cout << "usage: iscsi-vscsi serve [-dn] [-f FILE] [-s SOCKET] [--device PATH]\n\n"
                     "Attaches every enabled target of FILE (default /etc/iscsi-vscsi.conf) and\n"
                     "keeps them attached; answers status, reload and detach on SOCKET (default\n"
                     "/var/run/iscsi-vscsi.sock). Stays in the foreground; -d logs to stderr\n"
                     "instead of syslog. SIGHUP reloads; SIGTERM and SIGINT detach everything.\n"
                     "-n only checks FILE (and its secret files), prints its warnings and exits.\n"
                     "--device is the vscsi(4) device on OpenBSD (default /dev/vscsi0).\n";
        return 0;
    }
    if (!parse_serve_args(args, a, error)) {
        std::cerr << "iscsi-vscsi: serve: " << error << " (try --help)\n";
        return 2;
    }
    if (a.check_only) { // configtest: nothing opened, nothing logged
        config::conf c;
        if (load_serve_conf(a.file, c, error)) {
            std::cerr << error << (error.empty() || error.back() != '\n' ? "\n" : "");
            return 1;
        }
        for (const std::string& w : c.warnings)
            std::cerr << "warning: " << w << '\n';
        std::cerr << "configuration OK\n";
        return 0;
    }
    // -d: the log on the standard error instead of syslog.
    const log::sink log = a.foreground_log ? log::to_stderr() : to_syslog();
    config::conf c;
    if (load_serve_conf(a.file, c, error)) {
        // The configuration errors go to stderr whatever -d says, and to the log.
        std::cerr << error << (error.empty() || error.back() != '\n' ? "\n" : "");
        if (!a.foreground_log)
            log.error(error);
        return 1;
    }
    log_warnings(c, log);

    // Signals arrive only in sigwait() below: block them before any thread.
    for (int s : {SIGINT, SIGTERM, SIGHUP})
        std::signal(s, SIG_DFL);
    std::signal(SIGPIPE, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    for (int s : {SIGINT, SIGTERM, SIGHUP})
        sigaddset(&set, s);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);

    control_server control;
    if (control.open(a.socket, error)) {
        log.error(error);
        return 1;
    }
    serve_daemon daemon(log, a.device);
    if (daemon.open(error)) {
        log.error(error);
        return 1;
    }
    drop_privileges(a, log);
    log.info("attaching: " + daemon.apply(c));
    control.start([&](const std::string& request, bool& ok) -> std::string {
        if (request == "status")
            return daemon.status(false);
        if (request == "status json")
            return daemon.status(true);
        if (request == "reload")
            return reload(a.file, daemon, log, ok);
        if (request.rfind("detach ", 0) == 0) {
            const std::string name = request.substr(7);
            std::string why;
            if (!daemon.detach(name, why)) {
                ok = false;
                return why + "\n";
            }
            log.info("target " + name + ": detached on request");
            return "detached " + name + "\n";
        }
        ok = false;
        return "unknown request\n";
    });
    // Targets that could not be attached (unreachable at boot, login
    // refused) or whose session gave up are tried again periodically.
    std::mutex retry_m;
    std::condition_variable retry_cv;
    bool stopping = false;
    std::thread retry([&] {
        std::unique_lock lock(retry_m);
        while (!retry_cv.wait_for(lock, retry_interval, [&] { return stopping; })) {
            lock.unlock();
            daemon.retry_failed();
            lock.lock();
        }
    });
    log.info("serving on " + a.socket + "; SIGHUP reloads, SIGTERM detaches everything");
    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            bool ok = true;
            reload(a.file, daemon, log, ok);
            continue;
        }
        break;
    }
    log.info("detaching everything");
    {
        std::lock_guard lock(retry_m);
        stopping = true;
    }
    retry_cv.notify_all();
    retry.join();
    control.stop();
    daemon.shutdown();
    log.info("stopped");
    return 0;
}

namespace {

int control_command(const char* name, std::span<const std::string> args, bool takes_name)
{
    // -s SOCKET as in serve, the same as --socket SOCKET.
    std::vector<std::string> argv;
    for (const auto& arg : args)
        argv.push_back(arg == "-s" ? "--socket" : arg);
    config::parsed_options o;
    std::string error;
    if (!config::parse_options(argv, socket_specs, o, error)) {
        std::cerr << "iscsi-vscsi: " << name << ": " << error << " (try --help)\n";
        return 2;
    }
    if (o.has("help")) {
        std::cout << "usage: iscsi-vscsi " << name << (takes_name ? " NAME" : "") << " [options]\n\noptions:\n"
                  << config::format_options_help(socket_specs);
        return 0;
    }
    const std::string socket = o.get("socket", default_control_socket);
    const auto& pos = o.positionals;
    if (pos.size() != (takes_name ? 1u : 0u) || (o.has("json") && std::string(name) != "status")) {
        std::cerr << "iscsi-vscsi: " << name << ": unexpected arguments (try --help)\n";
        return 2;
    }
    std::string request = name;
    if (o.has("json"))
        request += " json";
    if (takes_name)
        request += " " + pos[0];
    std::string answer;
    if (auto ec = control_request(socket, request, answer)) {
        std::cerr << "iscsi-vscsi: " << name << ": cannot reach serve on " << socket << ": " << ec.message()
                  << '\n';
        return 1;
    }
    if (answer.rfind("ok\n", 0) == 0) {
        std::cout << answer.substr(3);
        return 0;
    }
    std::cerr << "iscsi-vscsi: " << name << ": " << (answer.rfind("error: ", 0) == 0 ? answer.substr(7) : answer);
    if (answer.empty() || answer.back() != '\n')
        std::cerr << '\n';
    return 1;
}

} // namespace

int run_status(std::span<const std::string> args) { return control_command("status", args, false); }
int run_reload(std::span<const std::string> args) { return control_command("reload", args, false); }
int run_detach(std::span<const std::string> args) { return control_command("detach", args, true); }

} // namespace ivs::app
