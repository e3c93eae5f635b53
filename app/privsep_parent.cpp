#include "app/privsep_parent.hpp"

#include "app/disk_users.hpp"
#include "app/fuse_mounts.hpp"
#include "app/privsep_protocol.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

namespace ivs::app {

namespace {

int signal_pipe[2] = {-1, -1};

extern "C" void on_signal(int sig)
{
    const int saved = errno;
    const unsigned char c = static_cast<unsigned char>(sig);
    [[maybe_unused]] auto n = ::write(signal_pipe[1], &c, 1);
    errno = saved;
}

class parent {
public:
    parent(channel& ch, const parent_options& o, const config::conf& parsed)
        : ch_(ch), o_(o), current_(parsed), mounts_(o.log)
    {}

    int run(const conf_bundle& initial);

private:
    void send_configuration(std::uint32_t id, const conf_bundle& b);
    void answer_error(std::uint32_t id, const std::string& why);
    void answer_ok(std::uint32_t id, const std::string& data = {}, int fd = -1);
    void handle(message& m);
    void reload(std::uint32_t id);
    void mount(std::uint32_t id, payload_reader& r);
    void unmount(std::uint32_t id, payload_reader& r);
    void resolve(std::uint32_t id, payload_reader& r);
    void disk_users(std::uint32_t id, payload_reader& r);
    bool exported(const std::filesystem::path& dir) const;

    channel& ch_;
    const parent_options& o_;
    config::conf current_;
    fuse_mounts mounts_;
    bool channel_open_ = true;
};

void parent::send_configuration(std::uint32_t id, const conf_bundle& b)
{
    std::string data = encode_conf_bundle(b);
    if (auto ec = ch_.send(static_cast<std::uint32_t>(privsep_msg::configuration), id, data))
        o_.log.error("privsep: cannot send the configuration to the worker: " + ec.message());
    wipe_string(data);
}

void parent::answer_error(std::uint32_t id, const std::string& why)
{
    (void)ch_.send(static_cast<std::uint32_t>(privsep_msg::error), id, payload_writer().add(why).take());
}

void parent::answer_ok(std::uint32_t id, const std::string& data, int fd)
{
    (void)ch_.send(static_cast<std::uint32_t>(privsep_msg::ok), id, data, fd);
}

bool parent::exported(const std::filesystem::path& dir) const
{
    return std::any_of(current_.targets.begin(), current_.targets.end(), [&](const auto& t) {
        return t.enabled && !t.export_dir.empty() && t.export_dir.lexically_normal() == dir.lexically_normal();
    });
}

void parent::reload(std::uint32_t id)
{
    conf_bundle b;
    config::conf parsed;
    std::string error;
    if (make_conf_bundle(o_.conf_file, b, parsed, error)) {
        o_.log.error("reload refused: " + error);
        if (id != 0)
            answer_error(id, error);
        return;
    }
    for (const auto& w : parsed.warnings)
        o_.log.warning(w);
    current_ = std::move(parsed);
    send_configuration(id, b);
}

void parent::mount(std::uint32_t id, payload_reader& r)
{
    std::string dir;
    if (!r.next(dir) || !r.done() || dir.empty() || dir.size() > max_request_path)
        return answer_error(id, "malformed mount request");
    if (!exported(dir))
        return answer_error(id, dir + " is not an export directory of the configuration");
    unique_fd fd;
    std::string why;
    if (mounts_.mount(dir, fd, why))
        return answer_error(id, why);
    answer_ok(id, {}, fd.get());
}

void parent::unmount(std::uint32_t id, payload_reader& r)
{
    std::string dir, why;
    if (!r.next(dir) || !r.done() || dir.empty() || dir.size() > max_request_path)
        return answer_error(id, "malformed unmount request");
    if (mounts_.unmount(dir, why))
        return answer_error(id, why);
    answer_ok(id);
}

void parent::resolve(std::uint32_t id, payload_reader& r)
{
    std::string host, family, numeric, why;
    if (!r.next(host) || !r.next(family) || !r.done() || host.empty() || host.size() > 255 ||
        (family != "any" && family != "inet" && family != "inet6"))
        return answer_error(id, "malformed resolve request");
    const auto f = family == "inet"    ? config::address_family::inet
                   : family == "inet6" ? config::address_family::inet6
                                       : config::address_family::any;
    if (!resolve_host(host, f, numeric, why))
        return answer_error(id, why);
    answer_ok(id, payload_writer().add(numeric).take());
}

void parent::disk_users(std::uint32_t id, payload_reader& r)
{
    std::uint64_t n = 0;
    if (!r.next(n, max_disk_users_entries))
        return answer_error(id, "malformed disk_users request");
    std::vector<disk_use_query> q(static_cast<std::size_t>(n));
    for (auto& e : q) {
        std::uint64_t target = 0, lun = 0;
        if (!r.next(target, 0xffff) || !r.next(lun, 0xffff) || !r.next(e.export_file) ||
            e.export_file.size() > max_request_path)
            return answer_error(id, "malformed disk_users request");
        e.target = static_cast<int>(target);
        e.lun = static_cast<int>(lun);
    }
    if (!r.done())
        return answer_error(id, "malformed disk_users request");
    payload_writer w;
    const auto users = find_disk_users(q, o_.device);
    w.add(users.size());
    for (const auto& u : users)
        w.add(u.in_use ? 1u : 0u).add(u.what);
    answer_ok(id, w.take());
}

void parent::handle(message& m)
{
    payload_reader r(m.data);
    m.fd.reset(); // the worker passes no descriptor
    switch (static_cast<privsep_msg>(m.type)) {
    case privsep_msg::reload: return reload(m.id);
    case privsep_msg::mount: return mount(m.id, r);
    case privsep_msg::unmount: return unmount(m.id, r);
    case privsep_msg::resolve: return resolve(m.id, r);
    case privsep_msg::disk_users: return disk_users(m.id, r);
    default:
        if (m.id != 0)
            answer_error(m.id, "unknown request");
        return;
    }
}

int parent::run(const conf_bundle& initial)
{
    send_configuration(0, initial);
    int status = 0;
    for (;;) {
        pollfd p[2] = {{signal_pipe[0], POLLIN, 0}, {channel_open_ ? ch_.fd() : -1, POLLIN, 0}};
        if (::poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            o_.log.error(std::string("privsep: poll: ") + std::strerror(errno));
            break;
        }
        if (p[0].revents & POLLIN) {
            unsigned char sig = 0;
            if (::read(signal_pipe[0], &sig, 1) == 1) {
                if (sig == SIGHUP) {
                    reload(0);
                } else if (sig == SIGTERM || sig == SIGINT) {
                    if (o_.worker > 0) // never kill(-1) or kill(0)
                        ::kill(o_.worker, sig);
                } else if (sig == SIGCHLD) {
                    const pid_t r = ::waitpid(o_.worker, &status, WNOHANG);
                    if (r == o_.worker)
                        break;
                }
            }
        }
        if (channel_open_ && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            message m;
            if (auto ec = ch_.receive(m)) {
                if (ec != channel_errc::closed)
                    o_.log.error("privsep: the worker broke the channel (" + ec.message() + "); no more requests");
                channel_open_ = false;
                continue;
            }
            handle(m);
        }
    }
    mounts_.unmount_all();
    if (!o_.socket.empty())
        ::unlink(o_.socket.c_str());
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    o_.log.error("the worker died of signal " + std::to_string(WTERMSIG(status)));
    return 1;
}

} // namespace

int run_parent(channel& ch, const parent_options& o, const conf_bundle& initial, const config::conf& parsed)
{
    if (::pipe(signal_pipe) != 0)
        return 1;
    for (int fd : signal_pipe)
        ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigset_t set;
    sigemptyset(&set);
    for (int s : {SIGHUP, SIGTERM, SIGINT, SIGCHLD}) {
        ::sigaction(s, &sa, nullptr);
        sigaddset(&set, s);
    }
    ::sigprocmask(SIG_UNBLOCK, &set, nullptr);
    // The worker may have exited before the handler was there.
    on_signal(SIGCHLD);
    parent p(ch, o, parsed);
    return p.run(initial);
}

} // namespace ivs::app
