// serve's privileged parent (run_parent) as its worker sees it: a real
// forked parent process with a real child as its worker, and this test on
// the worker's end of the channel. The parent sends the configuration
// unasked, answers reload with the file read again (or its error), SIGHUP
// sends it again, and every request the worker may make is checked: a
// mount or unmount of a directory the configuration does not export, a
// malformed or oversized request, an unknown message. SIGTERM goes on to
// the worker; when the worker is gone the parent removes the socket and
// exits.
#include "app/conf_bundle.hpp"
#include "app/privsep_channel.hpp"
#include "app/privsep_parent.hpp"
#include "app/privsep_protocol.hpp"
#include "test/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <fstream>

using namespace ivs;
using namespace ivs::app;
namespace fs = std::filesystem;

namespace {

// The next message, or false after 10 s (the parent would hang the test).
bool receive_within(channel& ch, message& m)
{
    pollfd p{ch.fd(), POLLIN, 0};
    if (::poll(&p, 1, 10000) != 1)
        return false;
    return !ch.receive(m);
}

std::string reason(const message& m)
{
    payload_reader r(m.data);
    std::string s;
    r.next(s);
    return s;
}

// A request, and its answer (the one with the same id).
message ask(channel& ch, privsep_msg type, std::uint32_t id, const std::string& data)
{
    REQUIRE_FALSE(ch.send(static_cast<std::uint32_t>(type), id, data));
    message m;
    REQUIRE(receive_within(ch, m));
    CHECK(m.id == id);
    return m;
}

std::size_t targets_in(const message& m)
{
    conf_bundle b;
    REQUIRE(decode_conf_bundle(m.data, b));
    config::conf c;
    std::string error;
    REQUIRE_FALSE(config::parse_conf_sources(b.sources, c, error));
    return c.targets.size();
}

const std::string target_a = "target a {\n\ttargetaddr 127.0.0.1\n\ttargetname iqn.2026-11.org.example:a\n"
                             "\texport \"/var/lib/ivs-test-export\"\n}\n";
const std::string target_b = "target b {\n\ttargetaddr 127.0.0.1\n\ttargetname iqn.2026-11.org.example:b\n}\n";

} // namespace

TEST_CASE("privsep parent: hands over the configuration, refuses what the configuration does not allow",
          "[privsep][parent]")
{
    test::temp_dir d("parent");
    const fs::path file = d.write("iscsi-vscsi.conf", target_a);
    const fs::path socket = d.write("ctl.sock", "");
    conf_bundle bundle;
    config::conf parsed;
    std::string error;
    REQUIRE_FALSE(make_conf_bundle(file, bundle, parsed, error));

    unique_fd parent_end, worker_end;
    REQUIRE_FALSE(make_channel_pair(parent_end, worker_end));
    sigset_t set, old;
    sigemptyset(&set);
    for (int s : {SIGHUP, SIGTERM, SIGINT, SIGCHLD})
        sigaddset(&set, s);
    REQUIRE(::pthread_sigmask(SIG_BLOCK, &set, &old) == 0);
    const pid_t parent = ::fork();
    REQUIRE(parent >= 0);
    if (parent == 0) {
        worker_end.reset();
        // The "worker": waits to be killed, or for this process to go (its
        // end of the pipe closes), so that no test leaves it behind.
        int alive[2];
        if (::pipe(alive) != 0)
            ::_exit(2);
        const pid_t worker = ::fork();
        if (worker == 0) {
            std::signal(SIGTERM, SIG_DFL); // not Catch2's handler: it dies of it
            ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
            ::close(alive[1]);
            char c;
            while (::read(alive[0], &c, 1) < 0 && errno == EINTR) {
            }
            ::_exit(0);
        }
        ::close(alive[0]);
        channel ch(std::move(parent_end), max_from_worker);
        parent_options o;
        o.conf_file = file;
        o.socket = socket;
        o.worker = worker;
        o.log = log::sink::discard();
        ::_exit(run_parent(ch, o, bundle, parsed));
    }
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    parent_end.reset();
    channel ch(std::move(worker_end), channel::max_message);
    struct reaper {
        pid_t pid;
        ~reaper()
        {
            if (pid > 0) {
                ::kill(pid, SIGKILL);
                ::waitpid(pid, nullptr, 0);
            }
        }
    } reap{parent};

    message m;
    REQUIRE(receive_within(ch, m));
    CHECK(m.type == static_cast<std::uint32_t>(privsep_msg::configuration));
    CHECK(m.id == 0);
    CHECK(targets_in(m) == 1);

    // Mounts: only the configuration's export directories; unmounts: only
    // what the parent mounted.
    m = ask(ch, privsep_msg::mount, 1, payload_writer().add("/etc").take());
    CHECK(m.type == static_cast<std::uint32_t>(privsep_msg::error));
    CHECK(reason(m) == "/etc is not an export directory of the configuration");
    m = ask(ch, privsep_msg::mount, 2, payload_writer().add("/var/lib/ivs-test-export").add("extra").take());
    CHECK(reason(m) == "malformed mount request");
    m = ask(ch, privsep_msg::unmount, 3, payload_writer().add("/var/lib/ivs-test-export").take());
    CHECK(m.type == static_cast<std::uint32_t>(privsep_msg::error));
    CHECK(reason(m) == "/var/lib/ivs-test-export is not one of the FUSE mounts made for the worker");

    // Names and disk users: malformed requests refused, good ones answered.
    m = ask(ch, privsep_msg::resolve, 4, payload_writer().add("127.0.0.1").add("ipx").take());
    CHECK(reason(m) == "malformed resolve request");
    m = ask(ch, privsep_msg::resolve, 5, payload_writer().add("127.0.0.1").add("inet").take());
    REQUIRE(m.type == static_cast<std::uint32_t>(privsep_msg::ok));
    {
        payload_reader r(m.data);
        std::string numeric;
        CHECK((r.next(numeric) && r.done() && numeric == "127.0.0.1"));
    }
    m = ask(ch, privsep_msg::disk_users, 6, payload_writer().add(max_disk_users_entries + 1).take());
    CHECK(reason(m) == "malformed disk_users request");
    m = ask(ch, privsep_msg::disk_users, 7, payload_writer().add(2).add(0).add(1).add("").take());
    CHECK(reason(m) == "malformed disk_users request"); // two announced, one given
    m = ask(ch, privsep_msg::disk_users, 8,
            payload_writer().add(1).add(0).add(1).add((d.path / "none").string()).take());
    REQUIRE(m.type == static_cast<std::uint32_t>(privsep_msg::ok));
    {
        payload_reader r(m.data);
        std::uint64_t n = 9, in_use = 9;
        std::string what;
        CHECK((r.next(n, 10) && r.next(in_use, 1) && r.next(what) && r.done()));
        CHECK(n == 1);
        CHECK(in_use == 0);
    }
    m = ask(ch, static_cast<privsep_msg>(99), 9, {});
    CHECK(reason(m) == "unknown request");

    // reload: the file read again; a broken one refused with its error.
    d.write("iscsi-vscsi.conf", target_a + target_b);
    m = ask(ch, privsep_msg::reload, 10, {});
    REQUIRE(m.type == static_cast<std::uint32_t>(privsep_msg::configuration));
    CHECK(targets_in(m) == 2);
    d.write("iscsi-vscsi.conf", target_a + "target {\n");
    m = ask(ch, privsep_msg::reload, 11, {});
    CHECK(m.type == static_cast<std::uint32_t>(privsep_msg::error));
    CHECK_THAT(reason(m), Catch::Contains("iscsi-vscsi.conf:"));

    // SIGHUP: the configuration again, unasked.
    d.write("iscsi-vscsi.conf", target_b);
    REQUIRE(::kill(parent, SIGHUP) == 0);
    REQUIRE(receive_within(ch, m));
    CHECK(m.type == static_cast<std::uint32_t>(privsep_msg::configuration));
    CHECK(m.id == 0);
    CHECK(targets_in(m) == 1);

    // SIGTERM goes to the worker, which dies of it; the parent cleans up.
    REQUIRE(::kill(parent, SIGTERM) == 0);
    int status = 0;
    pid_t done = 0;
    for (int i = 0; i < 1000 && done == 0; ++i) {
        done = ::waitpid(parent, &status, WNOHANG);
        if (done == 0)
            ::usleep(10000);
    }
    REQUIRE(done == parent); // within 10 s
    reap.pid = -1;
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 1); // the worker died of a signal
    CHECK_FALSE(fs::exists(socket));
}
