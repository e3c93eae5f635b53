#include "app/serve_worker.hpp"

#include "app/conf_bundle.hpp"
#include "app/daemon.hpp"
#include "app/privsep_protocol.hpp"
#include "app/privsep_worker.hpp"

#include <condition_variable>
#include <csignal>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <deque>
#include <mutex>
#include <thread>

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

namespace ivs::app {

namespace {

constexpr std::chrono::seconds retry_interval{10};

// What the worker's main loop waits for.
struct event {
    enum class kind { signal, configuration, parent_gone } what = kind::signal;
    int sig = 0;
    std::string data;
};

class event_queue {
public:
    void push(event e)
    {
        std::lock_guard lock(m_);
        q_.push_back(std::move(e));
        cv_.notify_one();
    }
    event pop()
    {
        std::unique_lock lock(m_);
        cv_.wait(lock, [&] { return !q_.empty(); });
        event e = std::move(q_.front());
        q_.pop_front();
        return e;
    }

private:
    std::mutex m_;
    std::condition_variable cv_;
    std::deque<event> q_;
};

// The daemon's ways to the parent.
serve_daemon_options daemon_options(parent_link& link, const worker_options& o, int device_fd)
{
    serve_daemon_options d;
    d.log = o.log;
    d.host.device = o.device;
    d.host.device_fd = device_fd;
    d.host.mount_fuse = [&link](const std::filesystem::path& dir, int& fd, std::string& why) -> std::error_code {
        message answer;
        if (!link.request(privsep_msg::mount, payload_writer().add(dir.string()).take(), answer, why))
            return make_error_code(std::errc::operation_not_permitted);
        if (!answer.fd) {
            why = "the privileged process sent no /dev/fuse descriptor";
            return make_error_code(std::errc::bad_file_descriptor);
        }
        fd = answer.fd.release();
        return {};
    };
    d.host.unmount_fuse = [&link, log = o.log](const std::filesystem::path& dir) {
        message answer;
        std::string why;
        if (link.request(privsep_msg::unmount, payload_writer().add(dir.string()).take(), answer, why))
            return true;
        log.error("fuse: cannot unmount " + dir.string() + ": " + why);
        return false;
    };
    d.disk_users = [&link, log = o.log](const std::vector<disk_use_query>& q) {
        payload_writer w;
        w.add(q.size());
        for (const auto& e : q)
            w.add(static_cast<std::uint64_t>(e.target)).add(static_cast<std::uint64_t>(e.lun)).add(e.export_file);
        message answer;
        std::string why;
        std::vector<disk_use> out;
        if (!link.request(privsep_msg::disk_users, w.take(), answer, why)) {
            log.warning("cannot ask who uses the disks: " + why);
            return out;
        }
        payload_reader r(answer.data);
        std::uint64_t n = 0, in_use = 0;
        if (!r.next(n, max_disk_users_entries) || n != q.size())
            return out;
        out.resize(q.size());
        for (auto& u : out) {
            if (!r.next(in_use, 1) || !r.next(u.what))
                return std::vector<disk_use>{};
            u.in_use = in_use == 1;
        }
        return out;
    };
    d.resolve = [&link](const std::string& host, std::string& numeric, std::string& why) {
        message answer;
        if (!link.request(privsep_msg::resolve, payload_writer().add(host).add("any").take(), answer, why))
            return false;
        payload_reader r(answer.data);
        return r.next(numeric) && r.done();
    };
    return d;
}

std::string apply_configuration(serve_daemon& daemon, std::string& data, const log::sink& log)
{
    conf_bundle b;
    const bool decoded = decode_conf_bundle(data, b);
    wipe_string(data);
    config::conf c;
    std::string error;
    if (!decoded || config::parse_conf_sources(b.sources, c, error)) {
        // The parent parsed the same text: this is not the administrator's mistake.
        log.error("the configuration from the privileged process is unusable: " +
                  (decoded ? error : std::string("malformed message")));
        return "not applied: the configuration from the privileged process is unusable\n";
    }
    return daemon.apply(c, inputs_from(b));
}

} // namespace

int run_worker(unique_fd parent_end, control_server& control, const worker_options& o)
{
    const log::sink& log = o.log;
    int device_fd = -1;
#if defined(__OpenBSD__)
    const std::string device = o.device.empty() ? "/dev/vscsi0" : o.device;
    device_fd = ::open(device.c_str(), O_RDWR | O_CLOEXEC);
    if (device_fd < 0) {
        log.error("cannot open the vscsi device " + device + ": " + std::strerror(errno));
        return 1;
    }
#endif
    std::string error;
    if (!ignore_broadcast_kill(error)) {
        log.error(error);
        return 1;
    }
    // Before the chroot: the log's connection (syslog), the time zone.
    ::tzset();
    log.info("worker " + std::to_string(::getpid()) + ": running as " + o.user.name + " in " + o.user.root.string());
    if (!enter_sandbox(o.user, error)) {
        log.error("worker: " + error);
        return 1;
    }

    event_queue events;
    parent_link link(std::move(parent_end), log);
    link.start(
        [&](std::string data) {
            events.push({event::kind::configuration, 0, std::move(data)});
        },
        [&] {
            events.push({event::kind::parent_gone, 0, {}});
        });

    serve_daemon daemon(daemon_options(link, o, device_fd));
    if (daemon.open(error)) {
        log.error(error);
        return 1;
    }
    // Signals: one thread waits for them (they are blocked everywhere).
    sigset_t set;
    sigemptyset(&set);
    for (int s : {SIGINT, SIGTERM, SIGHUP})
        sigaddset(&set, s);
    std::atomic<bool> stopping{false};
    std::thread signals([&] {
        for (;;) {
            int sig = 0;
            if (sigwait(&set, &sig) != 0)
                continue;
            if (stopping)
                return;
            events.push({event::kind::signal, sig, {}});
        }
    });

    // The first configuration comes from the parent unasked.
    bool run = true;
    for (bool configured = false; !configured && run;) {
        event e = events.pop();
        if (e.what == event::kind::configuration) {
            log.info("attaching: " + apply_configuration(daemon, e.data, log));
            configured = true;
        } else if (e.what == event::kind::parent_gone || e.sig == SIGTERM || e.sig == SIGINT) {
            run = false;
        }
    }
    auto reload = [&](bool& ok) -> std::string {
        message answer;
        std::string why;
        if (!link.request(privsep_msg::reload, {}, answer, why, std::chrono::minutes(2))) {
            ok = false;
            return why + (why.empty() || why.back() != '\n' ? "\n" : "");
        }
        const std::string summary = apply_configuration(daemon, answer.data, log);
        log.info("reloaded: " + summary);
        return summary + "\n";
    };
    control.start([&](const std::string& request, bool& ok) -> std::string {
        if (request == "status")
            return daemon.status(false);
        if (request == "status json")
            return daemon.status(true);
        if (request == "show summary")
            return daemon.show_summary();
        if (request == "show vscsi stats")
            return daemon.vscsi_stats();
        if (request == "reload")
            return reload(ok);
        if (request.rfind("detach ", 0) == 0) {
            const bool force = request.rfind("detach -f ", 0) == 0;
            const std::string name = request.substr(force ? 10 : 7);
            std::string why;
            if (!daemon.detach(name, force, why)) {
                ok = false;
                return why + "\n";
            }
            log.info("target " + name + ": detached on request" + (force ? " (forced)" : ""));
            return "detached " + name + "\n";
        }
        if (request.rfind("rescan ", 0) == 0) {
            std::string summary;
            ok = daemon.rescan(request.substr(7), summary);
            return summary + "\n";
        }
        ok = false;
        return "unknown request\n";
    });
    // Targets that could not be attached (unreachable at boot, login
    // refused) or whose session gave up are tried again periodically.
    std::mutex retry_m;
    std::condition_variable retry_cv;
    bool retry_stop = false;
    std::thread retry([&] {
        std::unique_lock lock(retry_m);
        while (!retry_cv.wait_for(lock, retry_interval, [&] { return retry_stop; })) {
            lock.unlock();
            daemon.retry_failed();
            lock.lock();
        }
    });
    if (run)
        log.info("serving on " + o.socket.string() + "; SIGHUP reloads, SIGTERM detaches what is not in use");
    while (run) {
        event e = events.pop();
        switch (e.what) {
        case event::kind::configuration: log.info("reloaded: " + apply_configuration(daemon, e.data, log)); break;
        case event::kind::parent_gone:
            log.error("the privileged process is gone: no more reloads, FUSE mounts or name lookups; "
                      "the disks attached stay");
            break;
        case event::kind::signal:
            if (e.sig == SIGHUP) {
                bool ok = true;
                reload(ok);
                break;
            }
            log.info("detaching everything not in use");
            if (const auto kept = daemon.shutdown(); !kept.empty()) {
                for (const auto& line : kept)
                    log.warning(line);
                log.warning("not stopping: " + std::to_string(kept.size()) + (kept.size() == 1 ? " disk" : " disks") +
                            " in use (flushed); unmount, then SIGTERM again, or detach -f the target");
                break;
            }
            run = false;
            break;
        }
    }
    {
        std::lock_guard lock(retry_m);
        retry_stop = true;
    }
    retry_cv.notify_all();
    retry.join();
    control.stop();
    daemon.shutdown(true);
    stopping = true;
    ::pthread_kill(signals.native_handle(), SIGTERM);
    signals.join();
    link.stop();
    log.info("stopped");
    return 0;
}

} // namespace ivs::app
