// Integration: `iscsi-vscsi serve` against real tgtd fixtures: a plain
// target, one with mutual CHAP and a discovery portal with two targets;
// status --json, reload adding and removing targets while I/O runs on
// another, detach, SIGTERM cleanup, OpenBSD iscsi.conf syntax, refused
// configurations, rescan NAME and on a UNIT ATTENTION.
#include "test/support/process.hpp"
#include "test/support/serve_process.hpp"
#include "test/support/tgtd_fixture.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <sys/wait.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <random>
#include <thread>

using namespace ivs;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

const std::string iqn_base = "iqn.2026-11.org.iscsi-vscsi.test:";

std::string program() { return test::ivs_program(); }
bool mounted(const fs::path& dir) { return test::is_mounted(dir); }
void write_private(const fs::path& p, const std::string& text,
                   fs::perms mode = fs::perms::owner_read | fs::perms::owner_write)
{
    test::write_file_mode(p, text, mode);
}
using test::contains;
using test::serve_process;

std::string target_block(const std::string& name, const test::tgtd_fixture& t, const std::string& iqn,
                         const fs::path& export_dir, const std::string& extra = "")
{
    return "target " + name + " {\n\ttargetaddr " + t.host() + " port " + std::to_string(t.port()) +
           "\n\ttargetname \"" + iqn + "\"\n\texport \"" + export_dir.string() + "\"\n" + extra + "}\n";
}

} // namespace

TEST_CASE("serve attaches plain, mutual-CHAP and discovered targets; reload, detach, SIGTERM", "[cli][serve][tgtd]")
{
    test::tgtd_fixture filer;
    filer.add_target(1, iqn_base + "plain");
    const fs::path plain_backing = filer.add_file_lun(1, 1, 96 << 20);
    filer.add_target(2, iqn_base + "chap");
    filer.add_file_lun(2, 1, 16 << 20);
    filer.add_incoming_account(2, "host1", "host1-secret-0123");
    filer.add_outgoing_account(2, "filer", "filer-secret-4567");
    filer.add_target(3, iqn_base + "extra");
    filer.add_file_lun(3, 1, 8 << 20);
    for (int tid : {1, 2, 3})
        filer.allow_initiator_address(tid);

    test::tgtd_fixture lab;
    lab.add_target(1, iqn_base + "lab-a");
    lab.add_file_lun(1, 1, 8 << 20);
    lab.add_target(2, iqn_base + "lab-b");
    lab.add_file_lun(2, 1, 12 << 20);
    lab.allow_initiator_address(1);
    lab.allow_initiator_address(2);

    const fs::path work = filer.temp_dir();
    const fs::path exp_plain = work / "exp-plain", exp_chap = work / "exp-chap", exp_lab = work / "exp-lab",
                   exp_extra = work / "exp-extra";
    for (const auto& d : {exp_plain, exp_chap, exp_lab, exp_extra})
        fs::create_directories(d);
    write_private(work / "host1.secret", "host1-secret-0123\n");
    write_private(work / "filer.secret", "filer-secret-4567\n");

    const std::string plain = target_block("plain", filer, iqn_base + "plain", exp_plain);
    const std::string chap =
        target_block("chap", filer, iqn_base + "chap", exp_chap,
                     "\tchap user host1 secret-file \"" + (work / "host1.secret").string() + "\"\n" +
                         "\tmutual-chap user filer secret-file \"" + (work / "filer.secret").string() + "\"\n");
    const std::string discovery = "target lab {\n\tdiscovery\n\ttargetaddr " + lab.host() + " port " +
                                  std::to_string(lab.port()) + "\n\texport \"" + exp_lab.string() + "\"\n}\n";
    const std::string extra = target_block("extra", filer, iqn_base + "extra", exp_extra);
    const fs::path conf = work / "iscsi-vscsi.conf";
    write_private(conf, "initiatorname iqn.2026-11.org.iscsi-vscsi.test:host1\n" + plain + chap + discovery);

    serve_process serve(conf, work);
    for (const auto& d : {exp_plain, exp_chap, exp_lab, exp_extra})
        serve.watch_mount(d);
    INFO(serve.log());

    // Everything attached and exported.
    CHECK(fs::file_size(exp_plain / "lun1") == (96u << 20));
    CHECK(fs::file_size(exp_chap / "lun1") == (16u << 20));
    CHECK(fs::file_size(exp_lab / (iqn_base + "lab-a-lun1")) == (8u << 20));
    CHECK(fs::file_size(exp_lab / (iqn_base + "lab-b-lun1")) == (12u << 20));
    CHECK(filer.connections(1).size() == 1);
    CHECK(filer.connections(2).size() == 1);
    CHECK(lab.connections(1).size() == 1);
    CHECK(lab.connections(2).size() == 1);

    auto st = serve.ctl({"status", "--json"});
    INFO(st.describe({"status"}));
    REQUIRE(st.ok());
    for (const char* key : {"\"name\":\"plain\"", "\"name\":\"chap\"", "\"name\":\"lab\"", "\"state\":\"logged in\"",
                            "\"bytes\":100663296", "\"bytes\":16777216", "\"HeaderDigest\"", "\"reconnects\":0",
                            "\"bridge\":{\"commands\":", "\"vscsi_target\":"})
        CHECK(contains(st.out, key));
    CHECK(contains(st.out, "\"export\":\"" + (exp_plain / "lun1").string() + "\""));
    if (fs::exists("/usr/bin/python3")) { // well-formed JSON
        std::ofstream(work / "status.json") << st.out;
        CHECK(test::run({"/usr/bin/python3", "-m", "json.tool", (work / "status.json").string()}).ok());
    }
    CHECK(contains(st.out, "\"target\":\"" + iqn_base + "lab-a\""));
    CHECK(contains(st.out, "\"target\":\"" + iqn_base + "lab-b\""));
    struct stat sb {};
    REQUIRE(::lstat(serve.socket().c_str(), &sb) == 0);
    CHECK((sb.st_mode & 0777) == 0600);
    auto text = serve.ctl({"status"});
    CHECK(text.ok());
    CHECK(contains(text.out, "target chap"));

    // I/O on plain keeps running while reload removes chap and adds extra.
    const fs::path src = work / "random.bin";
    {
        std::mt19937_64 rng(11);
        std::vector<char> v(64 << 20);
        for (auto& c : v)
            c = static_cast<char>(rng());
        std::ofstream(src, std::ios::binary).write(v.data(), static_cast<std::streamsize>(v.size()));
    }
    test::child_process dd({"dd", "if=" + src.string(), "of=" + (exp_plain / "lun1").string(), "bs=16k", "oflag=direct",
                            "conv=fsync", "status=none"},
                           {work / "dd.log", ""});
    write_private(conf, "initiatorname iqn.2026-11.org.iscsi-vscsi.test:host1\n" + plain + discovery + extra);
    auto rl = serve.ctl({"reload"});
    INFO(rl.describe({"reload"}));
    CHECK(rl.ok());
    CHECK(contains(rl.out, "1 attached, 1 detached, 2 unchanged"));
    WARN("dd still running after the reload: " << dd.running());
    const int dd_exit = dd.wait(120s);
    INFO(dd.output());
    REQUIRE_FALSE(dd.running());
    CHECK(dd_exit == 0);
    CHECK(test::run({"cmp", "-n", std::to_string(64 << 20), src.string(), plain_backing.string()}).ok());
    CHECK(filer.connections(2).empty());
    CHECK_FALSE(mounted(exp_chap));
    CHECK(filer.connections(3).size() == 1);
    CHECK(fs::file_size(exp_extra / "lun1") == (8u << 20));
    CHECK(filer.connections(1).size() == 1); // plain was left alone

    st = serve.ctl({"status", "--json"});
    CHECK(contains(st.out, "\"name\":\"extra\""));
    CHECK_FALSE(contains(st.out, "\"name\":\"chap\""));

    // detach NAME, then an unknown name.
    auto dt = serve.ctl({"detach", "extra"});
    CHECK(dt.ok());
    CHECK(filer.connections(3).empty());
    dt = serve.ctl({"detach", "nosuch"});
    CHECK(dt.exit_code == 1);
    CHECK(contains(dt.err, "nosuch"));

    // SIGHUP reloads as well: chap comes back.
    write_private(conf, plain + chap + discovery);
    REQUIRE(serve.signal(SIGHUP));
    for (int i = 0; i < 600 && filer.connections(2).empty(); ++i)
        std::this_thread::sleep_for(100ms);
    CHECK(filer.connections(2).size() == 1);

    // A broken file on reload is refused with file:line, the old state stays.
    write_private(conf, plain + "target broken {\n\ttargetadr 127.0.0.1\n}\n");
    rl = serve.ctl({"reload"});
    CHECK(rl.exit_code == 1);
    CHECK(contains(rl.err, conf.string() + ":" + std::to_string(std::count(plain.begin(), plain.end(), '\n') + 2)));
    CHECK(lab.connections(1).size() == 1);

    // SIGTERM: everything flushed, unmounted, logged out.
    CHECK(serve.stop() == 0);
    for (int tid : {1, 2, 3})
        CHECK(filer.connections(tid).empty());
    CHECK(lab.connections(1).empty());
    CHECK(lab.connections(2).empty());
    for (const auto& d : {exp_plain, exp_chap, exp_lab, exp_extra})
        CHECK_FALSE(mounted(d));
    CHECK_FALSE(fs::exists(serve.socket()));
}

TEST_CASE("serve accepts OpenBSD iscsi.conf syntax", "[cli][serve][tgtd]")
{
    test::tgtd_fixture filer;
    filer.add_target(1, iqn_base + "obsd");
    filer.add_file_lun(1, 1, 8 << 20);
    filer.allow_initiator_address(1);
    const fs::path work = filer.temp_dir();
    const fs::path conf = work / "iscsi.conf";
    write_private(conf, "# as iscsid(8) reads it\nfiler = \"" + filer.host() +
                            "\"\nisid en 32473 17\n\n"
                            "target disk1 {\n\ttargetaddr $filer port " +
                            std::to_string(filer.port()) + "\n\ttargetname \"" + iqn_base + "obsd\"\n}\n");
    serve_process serve(conf, work);
    INFO(serve.log());
    auto st = serve.ctl({"status"});
    CHECK(st.ok());
    CHECK(contains(st.out, "target disk1"));
    CHECK(contains(st.out, "LUN 1: vscsi targ"));
    CHECK(filer.connections(1).size() == 1);
    CHECK(serve.stop(SIGINT) == 0);
    CHECK(filer.connections(1).empty());
}

TEST_CASE("serve attaches a target that was missing at startup once it appears", "[cli][serve][tgtd]")
{
    test::tgtd_fixture filer;
    filer.add_target(1, iqn_base + "early");
    filer.add_file_lun(1, 1, 8 << 20);
    filer.allow_initiator_address(1);
    const fs::path work = filer.temp_dir();
    const fs::path exp_early = work / "exp-early", exp_late = work / "exp-late";
    fs::create_directories(exp_early);
    fs::create_directories(exp_late);
    const fs::path conf = work / "iscsi-vscsi.conf";
    write_private(conf, target_block("early", filer, iqn_base + "early", exp_early) +
                            target_block("late", filer, iqn_base + "late", exp_late));
    serve_process serve(conf, work);
    serve.watch_mount(exp_early);
    serve.watch_mount(exp_late);
    INFO(serve.log());
    auto st = serve.ctl({"status", "--json"});
    CHECK(contains(st.out, "\"name\":\"late\""));
    CHECK(contains(st.out, "\"name\":\"late\",\"type\":\"normal\",\"error\":\"target late ("));
    CHECK(filer.connections(1).size() == 1);

    filer.add_target(2, iqn_base + "late");
    filer.add_file_lun(2, 1, 4 << 20);
    filer.allow_initiator_address(2);
    for (int i = 0; i < 300 && !fs::exists(exp_late / "lun1"); ++i)
        std::this_thread::sleep_for(100ms);
    CHECK(filer.connections(2).size() == 1);
    CHECK(fs::file_size(exp_late / "lun1") == (4u << 20));
    CHECK(serve.stop() == 0);
    CHECK(filer.connections(1).empty());
    CHECK(filer.connections(2).empty());
}

TEST_CASE("serve binds to initiatoraddr: global, per target, discovered targets; reload changes it",
          "[cli][serve][tgtd][local-address]")
{
    // Each target admits one local address only (Linux routes 127/8 on lo).
    test::tgtd_fixture filer;
    filer.add_target(1, iqn_base + "bound-a");
    filer.add_file_lun(1, 1, 8 << 20);
    filer.allow_initiator_address(1, "127.0.0.2");
    filer.add_target(2, iqn_base + "bound-b");
    filer.add_file_lun(2, 1, 8 << 20);
    filer.allow_initiator_address(2, "127.0.0.3");
    test::tgtd_fixture lab;
    lab.add_target(1, iqn_base + "lab-a");
    lab.add_file_lun(1, 1, 8 << 20);
    lab.allow_initiator_address(1, "127.0.0.3");

    const fs::path work = filer.temp_dir();
    const fs::path exp_a = work / "exp-a", exp_b = work / "exp-b", exp_lab = work / "exp-lab",
                   exp_off = work / "exp-off";
    for (const auto& d : {exp_a, exp_b, exp_lab, exp_off})
        fs::create_directories(d);
    const std::string targets =
        target_block("a", filer, iqn_base + "bound-a", exp_a) + // the global initiatoraddr
        target_block("b", filer, iqn_base + "bound-b", exp_b, "\tinitiatoraddr 127.0.0.3\n") +
        "target lab {\n\tdiscovery\n\ttargetaddr " + lab.host() + " port " + std::to_string(lab.port()) +
        "\n\tinitiatoraddr 127.0.0.3\n\texport \"" + exp_lab.string() + "\"\n}\n" +
        target_block("off", filer, iqn_base + "bound-a", exp_off, "\tinitiatoraddr 192.0.2.1\n"); // not here
    const fs::path conf = work / "iscsi-vscsi.conf";
    write_private(conf, "initiatoraddr 127.0.0.2\n" + targets);

    serve_process serve(conf, work);
    for (const auto& d : {exp_a, exp_b, exp_lab, exp_off})
        serve.watch_mount(d);
    INFO(serve.log());
    auto addresses = [](test::tgtd_fixture& t, int tid) {
        std::vector<std::string> out;
        for (const auto& c : t.connections(tid))
            out.push_back(c.address);
        return out;
    };
    CHECK(fs::file_size(exp_a / "lun1") == (8u << 20));
    CHECK(fs::file_size(exp_b / "lun1") == (8u << 20));
    CHECK(fs::file_size(exp_lab / (iqn_base + "lab-a-lun1")) == (8u << 20));
    CHECK(addresses(filer, 1) == std::vector<std::string>{"127.0.0.2"});
    CHECK(addresses(filer, 2) == std::vector<std::string>{"127.0.0.3"});
    CHECK(addresses(lab, 1) == std::vector<std::string>{"127.0.0.3"});

    auto st = serve.ctl({"status", "--json"});
    INFO(st.describe({"status"}));
    CHECK(contains(st.out, "cannot bind to local address 192.0.2.1: "));
    auto show = serve.ctl({"show"});
    INFO(show.describe({"show"}));
    CHECK(contains(show.out, "InitiatorAddr: 127.0.0.2\n"));
    CHECK(contains(show.out, "InitiatorAddr: 127.0.0.3\n"));
    CHECK(contains(show.out, "InitiatorAddr: 192.0.2.1\n"));

    // A new global address: target a logs in again from it; b keeps its own.
    filer.allow_initiator_address(1, "127.0.0.4");
    write_private(conf, "initiatoraddr 127.0.0.4\n" + targets);
    auto rl = serve.ctl({"reload"});
    INFO(rl.describe({"reload"}));
    CHECK(rl.ok());
    CHECK(addresses(filer, 1) == std::vector<std::string>{"127.0.0.4"});
    CHECK(addresses(filer, 2) == std::vector<std::string>{"127.0.0.3"});
    CHECK(serve.stop() == 0);
    CHECK(filer.connections(1).empty());
}

TEST_CASE("serve -n checks the configuration, prints its warnings and exits", "[cli][serve]")
{
    const fs::path work = fs::temp_directory_path() / ("ivs-serve-n-" + std::to_string(::getpid()));
    fs::create_directories(work);
    const fs::path sock = work / "s.sock";
    // OpenBSD's 0644 iscsi.conf, a target address given twice (iscsictl
    // keeps the last), a readable file without secrets: fine, with a warning.
    const fs::path ok = work / "iscsi.conf";
    write_private(ok,
                  "target a {\n\ttargetaddr 127.0.0.1\n\ttargetaddr 127.0.0.2\n"
                  "\ttargetname iqn.2026-11.org.example:a\n}\n",
                  fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read);
    auto r = test::run({program(), "serve", "-n", "-f", ok.string(), "-s", sock.string()}, 10s);
    INFO(r.describe({"serve", "-n"}));
    CHECK(r.exit_code == 0);
    CHECK(r.err == "warning: " + ok.string() +
                       ":3: targetaddr: replaces the setting of line 2 (iscsictl(8) "
                       "keeps the last one too)\nconfiguration OK\n");
    CHECK(r.out.empty());
    CHECK_FALSE(fs::exists(sock)); // nothing opened

    const fs::path bad = work / "bad.conf";
    write_private(bad, "target a {\n\ttargetaddr 127.0.0.1\n\tbogus 1\n}\n");
    r = test::run({program(), "serve", "-d", "-n", "-f", bad.string()}, 10s);
    CHECK(r.exit_code == 1);
    CHECK(r.err == bad.string() + ":3: unknown keyword \"bogus\"\n");

    const fs::path bad_addr = work / "bad-addr.conf";
    write_private(bad_addr, "target a {\n\ttargetaddr 127.0.0.1\n\tinitiatoraddr 127.0.0.300\n"
                            "\ttargetname iqn.2026-11.org.example:a\n}\n");
    r = test::run({program(), "serve", "-n", "-f", bad_addr.string()}, 10s);
    CHECK(r.exit_code == 1);
    CHECK(r.err == bad_addr.string() + ":3: initiatoraddr: \"127.0.0.300\" is not an IPv4 or IPv6 address or a "
                                       "host name (not an IPv4 address)\n");

    r = test::run({program(), "serve", "-n", "-f", (work / "missing.conf").string()}, 10s);
    CHECK(r.exit_code == 1);
    CHECK(contains(r.err, "missing.conf: No such file or directory"));

    // --device names /dev/vscsiN on OpenBSD only (iscsid's -n DEVICE).
    r = test::run({program(), "serve", "-n", "--device", "/dev/vscsi1", "-f", ok.string()}, 10s);
    CHECK(r.exit_code == 2);
    CHECK(contains(r.err, "--device names an OpenBSD vscsi device"));
    fs::remove_all(work);
}

TEST_CASE("serve refuses broken and insecure configuration files", "[cli][serve]")
{
    const fs::path work = fs::temp_directory_path() / ("ivs-serve-" + std::to_string(::getpid()));
    fs::create_directories(work);
    const fs::path conf = work / "bad.conf";
    write_private(conf, "target a {\n\ttargetaddr 127.0.0.1\n\ttargetname iqn.2026-11.org.example:a\n}\n"
                        "target b {\n\tbogus-keyword 1\n}\n");
    auto r = test::run({program(), "serve", "-d", "-f", conf.string(), "-s", (work / "s.sock").string()});
    CHECK(r.exit_code == 1);
    CHECK(contains(r.err, conf.string() + ":6:"));

    // Anyone may read the configuration (it holds no secret), nobody else write it.
    const fs::path open_conf = work / "open.conf";
    write_private(open_conf, "target a {\n\ttargetaddr 127.0.0.1\n\ttargetname iqn.2026-11.org.example:a\n}\n",
                  fs::perms::owner_read | fs::perms::owner_write | fs::perms::others_read | fs::perms::others_write);
    r = test::run({program(), "serve", "-d", "-f", open_conf.string(), "-s", (work / "s.sock").string()});
    CHECK(r.exit_code == 1);
    CHECK(contains(r.err, open_conf.string() + ": writable by group or others (mode 0606)"));

    // A secret file others can read is refused as well.
    write_private(work / "open.secret", "secret-secret-1234\n",
                  fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
    const fs::path chap_conf = work / "chap.conf";
    write_private(chap_conf, "target a {\n\ttargetaddr 127.0.0.1\n\ttargetname iqn.2026-11.org.example:a\n"
                             "\tchap user u secret-file \"" +
                                 (work / "open.secret").string() + "\"\n}\n");
    r = test::run({program(), "serve", "-d", "-f", chap_conf.string(), "-s", (work / "s.sock").string()});
    CHECK(r.exit_code == 1);
    CHECK(contains(r.err, "open.secret: holds a secret and is readable by group or others (mode 0640)"));
    CHECK(contains(r.err, chap_conf.string() + ":1:"));
    CHECK_FALSE(fs::exists(work / "s.sock"));

    // Usage errors and an absent server.
    CHECK(test::run({program(), "serve", "-x"}).exit_code == 2);
    r = test::run({program(), "status", "-s", (work / "none.sock").string()});
    CHECK(r.exit_code == 1);
    CHECK(contains(r.err, "cannot reach serve"));
    fs::remove_all(work);
}

TEST_CASE("serve: 'rescan NAME' exports a LUN added to the running target and drops a deleted one",
          "[cli][serve][tgtd][rescan]")
{
    test::tgtd_fixture filer;
    filer.add_target(1, iqn_base + "grows");
    filer.add_file_lun(1, 1, 16 << 20);
    filer.allow_initiator_address(1);
    const fs::path work = filer.temp_dir();
    const fs::path exp = work / "exp-grows";
    fs::create_directories(exp);
    const fs::path conf = work / "iscsi-vscsi.conf";
    write_private(conf, target_block("grows", filer, iqn_base + "grows", exp));
    serve_process serve(conf, work);
    serve.watch_mount(exp);
    const fs::path lun1 = exp / "lun1", lun2 = exp / "lun2";
    REQUIRE(fs::exists(lun1));
    CHECK_FALSE(fs::exists(lun2));

    auto read_at = [](const fs::path& p, std::size_t n) {
        std::vector<char> v(n);
        std::ifstream in(p, std::ios::binary);
        in.read(v.data(), static_cast<std::streamsize>(n));
        v.resize(static_cast<std::size_t>(in.gcount()));
        return v;
    };

    // A LUN added to the running target, with known bytes.
    const fs::path backing2 = filer.add_file_lun(1, 2, 8 << 20);
    {
        std::mt19937_64 rng(23);
        std::vector<char> v(1 << 20);
        for (auto& c : v)
            c = static_cast<char>(rng());
        std::fstream(backing2, std::ios::binary | std::ios::in | std::ios::out)
            .write(v.data(), static_cast<std::streamsize>(v.size()));
    }
    auto r = serve.ctl({"rescan", "grows"});
    INFO(r.describe({"rescan"}) << serve.log());
    REQUIRE(r.ok());
    CHECK(contains(r.out, "1 LUNs added, 0 removed"));
    REQUIRE(fs::exists(lun2));
    CHECK(fs::file_size(lun2) == (8u << 20));
    CHECK(read_at(lun2, 1 << 20) == read_at(backing2, 1 << 20));
    auto st = serve.ctl({"status", "--json"});
    CHECK(contains(st.out, "\"export\":\"" + lun2.string() + "\""));

    // The LUN deleted on the target: its file goes, the other still reads.
    filer.tgtadm({"--op", "delete", "--mode", "logicalunit", "--tid", "1", "--lun", "2"});
    r = serve.ctl({"rescan", "grows"});
    INFO(r.describe({"rescan"}) << serve.log());
    REQUIRE(r.ok());
    CHECK(contains(r.out, "0 LUNs added, 1 removed"));
    CHECK_FALSE(fs::exists(lun2));
    CHECK(read_at(lun1, 4096).size() == 4096);
    st = serve.ctl({"status", "--json"});
    CHECK_FALSE(contains(st.out, lun2.string()));

    // An unknown name is a clear error.
    r = serve.ctl({"rescan", "nosuch"});
    CHECK(r.exit_code == 1);
    CHECK(contains(r.err, "nosuch"));
    CHECK(serve.stop() == 0);
    CHECK(filer.connections(1).empty());
    CHECK_FALSE(mounted(exp));
}

TEST_CASE("serve: a LUN added to the running target appears on the next command's UNIT ATTENTION",
          "[cli][serve][tgtd][rescan]")
{
    test::tgtd_fixture filer;
    filer.add_target(1, iqn_base + "tells");
    filer.add_file_lun(1, 1, 16 << 20);
    filer.allow_initiator_address(1);
    const fs::path work = filer.temp_dir();
    const fs::path exp = work / "exp-tells";
    fs::create_directories(exp);
    const fs::path conf = work / "iscsi-vscsi.conf";
    write_private(conf, target_block("tells", filer, iqn_base + "tells", exp));
    serve_process serve(conf, work);
    serve.watch_mount(exp);
    const fs::path lun1 = exp / "lun1", lun2 = exp / "lun2";
    REQUIRE(fs::exists(lun1));

    // tgtd queues REPORTED LUNS DATA HAS CHANGED for the nexus' other LUNs
    // and sends no AsyncEvent: a READ on LUN 1 (past the page cache) is
    // answered with it, and that alone starts the rescan.
    filer.add_file_lun(1, 2, 8 << 20);
    const auto r = test::run(
        {"dd", "if=" + lun1.string(), "of=/dev/null", "bs=4k", "count=1", "skip=7", "iflag=direct", "status=none"});
    INFO(r.describe({"dd"}));
    CHECK(r.ok());
    for (int i = 0; i < 300 && !fs::exists(lun2); ++i)
        std::this_thread::sleep_for(100ms);
    INFO(serve.log());
    CHECK(contains(serve.log(), "target tells: the target reports its LUNs changed; rescanning"));
    REQUIRE(fs::exists(lun2));
    CHECK(fs::file_size(lun2) == (8u << 20));

    CHECK(serve.stop() == 0);
    CHECK(filer.connections(1).empty());
}
