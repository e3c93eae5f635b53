// Integration tests of the tgtd fixture itself, checked with libiscsi's
// command line tools (iscsi-ls, iscsi-inq, iscsi-readcapacity16, iscsi-perf).
#include "test/support/process.hpp"
#include "test/support/tgtd_fixture.hpp"

#include <catch2/catch.hpp>

#include <csignal>
#include <filesystem>
#include <sys/stat.h>
#include <thread>

using namespace ivs::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

const std::string null_iqn = "iqn.2024-01.org.ivs.test:null";
const std::string file_iqn = "iqn.2024-01.org.ivs.test:file";
const std::string chap_iqn = "iqn.2024-01.org.ivs.test:chap";
constexpr std::uint64_t mib = 1024 * 1024;

std::string initiator(const std::string& name) { return "iqn.2024-01.org.ivs.test:init-" + name; }

// Two targets: tid 1 with a null LUN, tid 2 with a 64 MiB sparse file.
void add_two_targets(tgtd_fixture& t)
{
    t.add_target(1, null_iqn);
    t.add_null_lun(1, 1);
    t.allow_initiator_address(1, "ALL");
    t.add_target(2, file_iqn);
    t.add_file_lun(2, 1, 64 * mib);
    t.allow_initiator_address(2, "ALL");
}

bool process_alive(pid_t pid) { return kill(pid, 0) == 0; }

} // namespace

TEST_CASE("tgtd fixture serves two targets with null and file LUNs", "[integration][tgtd]")
{
    tgtd_fixture t;
    REQUIRE(t.host() == "127.0.0.1");
    REQUIRE(t.port() != 0);
    REQUIRE(process_alive(t.pid()));
    add_two_targets(t);

    run_result ls = run({"iscsi-ls", "-s", "-i", initiator("ls"), t.url()});
    INFO(ls.describe({"iscsi-ls", t.url()}));
    REQUIRE(ls.ok());
    CHECK_THAT(ls.out, Catch::Contains("Target:" + null_iqn + " Portal:" + t.portal()));
    CHECK_THAT(ls.out, Catch::Contains("Target:" + file_iqn + " Portal:" + t.portal()));
    CHECK_THAT(ls.out, Catch::Contains("Lun:1    Type:DIRECT_ACCESS"));

    run_result inq = run({"iscsi-inq", "-i", initiator("inq"), t.lun_url(null_iqn, 1)});
    INFO(inq.describe({"iscsi-inq"}));
    REQUIRE(inq.ok());
    CHECK_THAT(inq.out, Catch::Contains("Vendor:IET"));
    CHECK_THAT(inq.out, Catch::Contains("Peripheral Device Type:DIRECT_ACCESS"));

    // The file LUN is a sparse 64 MiB file the target reports at full size.
    const fs::path& file = t.lun_path(2, 1);
    REQUIRE(file.parent_path() == t.temp_dir());
    REQUIRE(fs::file_size(file) == 64 * mib);
    struct stat st {};
    REQUIRE(stat(file.c_str(), &st) == 0);
    CHECK(static_cast<std::uint64_t>(st.st_blocks) * 512 < mib);
    run_result cap = run({"iscsi-readcapacity16", "-i", initiator("cap"), t.lun_url(file_iqn, 1)});
    INFO(cap.describe({"iscsi-readcapacity16"}));
    REQUIRE(cap.ok());
    CHECK_THAT(cap.out, Catch::Contains("Total size:67108864"));
    CHECK_THROWS(t.lun_path(1, 1)); // null LUNs have no file
}

TEST_CASE("tgtd fixture CHAP accounts refuse and accept logins", "[integration][tgtd]")
{
    tgtd_fixture t;
    t.add_target(1, chap_iqn);
    t.add_null_lun(1, 1);
    t.allow_initiator_address(1, "ALL");
    t.add_incoming_account(1, "alice", "alice-secret-1");
    const std::vector<std::string> inq{"iscsi-inq", "-i", initiator("chap")};

    auto inquiry = [&](const std::string& url) {
        auto argv = inq;
        argv.push_back(url);
        return run(argv);
    };
    CHECK_FALSE(inquiry(t.lun_url(chap_iqn, 1)).ok());
    CHECK_FALSE(inquiry(t.lun_url(chap_iqn, 1, "alice", "wrong-secret-1")).ok());
    run_result good = inquiry(t.lun_url(chap_iqn, 1, "alice", "alice-secret-1"));
    INFO(good.describe(inq));
    CHECK(good.ok());

    SECTION("mutual CHAP: the initiator checks the target's answer")
    {
        t.add_outgoing_account(1, "target-out", "target-secret-1");
        const std::string base = t.lun_url(chap_iqn, 1, "alice", "alice-secret-1");
        run_result mutual = inquiry(base + "?target_user=target-out&target_password=target-secret-1");
        INFO(mutual.describe(inq));
        CHECK(mutual.ok());
        CHECK_FALSE(inquiry(base + "?target_user=target-out&target_password=wrong-secret-12").ok());
    }
}

TEST_CASE("tgtd fixture parameters and connections", "[integration][tgtd]")
{
    tgtd_fixture t;
    add_two_targets(t);
    t.set_target_param(1, "MaxRecvDataSegmentLength", "4096");
    CHECK(t.target_params(1).at("MaxRecvDataSegmentLength") == "4096");
    CHECK(t.connections(1).empty());

    // iscsi-perf keeps a session open until killed.
    const std::string name = initiator("perf");
    child_process perf({"iscsi-perf", "-i", name, t.lun_url(null_iqn, 1)},
                       {.log_file = t.temp_dir() / "perf.log", .netns = ""});
    std::vector<tgtd_connection> conns;
    for (int i = 0; i < 250 && conns.empty(); ++i) {
        std::this_thread::sleep_for(20ms);
        conns = t.connections(1);
    }
    perf.kill();
    REQUIRE(conns.size() == 1);
    CHECK(conns[0].initiator == name);
    CHECK(conns[0].address == "127.0.0.1");
    CHECK(conns[0].session > 0);
}

TEST_CASE("several tgtd fixtures run at once and clean up", "[integration][tgtd]")
{
    pid_t pid_a = 0, pid_b = 0;
    fs::path dir_a, dir_b;
    int control_a = 0;
    {
        tgtd_fixture a, b;
        pid_a = a.pid();
        pid_b = b.pid();
        dir_a = a.temp_dir();
        dir_b = b.temp_dir();
        control_a = a.control_port();
        REQUIRE(a.port() != b.port());
        REQUIRE(a.control_port() != b.control_port());
        REQUIRE(dir_a != dir_b);
        a.add_target(1, null_iqn);
        a.add_null_lun(1, 1);
        a.allow_initiator_address(1, "ALL");
        b.add_target(1, file_iqn);
        b.add_file_lun(1, 1, mib);
        b.allow_initiator_address(1, "ALL");

        run_result la = run({"iscsi-ls", "-i", initiator("a"), a.url()});
        run_result lb = run({"iscsi-ls", "-i", initiator("b"), b.url()});
        REQUIRE(la.ok());
        REQUIRE(lb.ok());
        CHECK_THAT(la.out, Catch::Contains(null_iqn));
        CHECK_THAT(la.out, !Catch::Contains(file_iqn));
        CHECK_THAT(lb.out, Catch::Contains(file_iqn));
        CHECK_THAT(lb.out, !Catch::Contains(null_iqn));
        REQUIRE(fs::exists(b.lun_path(1, 1)));
    }
    CHECK_FALSE(process_alive(pid_a));
    CHECK_FALSE(process_alive(pid_b));
    CHECK_FALSE(fs::exists(dir_a));
    CHECK_FALSE(fs::exists(dir_b));
    CHECK_FALSE(fs::exists("/var/run/tgtd/socket." + std::to_string(control_a)));
}

TEST_CASE("tgtd fixture cleans up when a test throws", "[integration][tgtd]")
{
    pid_t pid = 0;
    fs::path dir;
    try {
        tgtd_fixture t;
        pid = t.pid();
        dir = t.temp_dir();
        t.add_target(1, null_iqn);
        t.add_target(1, file_iqn); // duplicate tid: tgtadm fails, fixture throws
        FAIL("duplicate target id was accepted");
    } catch (const std::runtime_error& e) {
        CHECK_THAT(e.what(), Catch::Contains("tgtadm"));
    }
    CHECK_FALSE(process_alive(pid));
    CHECK_FALSE(fs::exists(dir));
}

TEST_CASE("tgtd fixture in its own network namespace", "[integration][tgtd][netns]")
{
    std::string ns;
    {
        tgtd_fixture t({.own_netns = true});
        ns = t.netns();
        REQUIRE_FALSE(ns.empty());
        REQUIRE(t.host().rfind("169.254.", 0) == 0);
        t.add_target(1, null_iqn);
        t.add_null_lun(1, 1);
        t.allow_initiator_address(1, "ALL");
        run_result ls = run({"iscsi-ls", "-s", "-i", initiator("netns"), t.url()});
        INFO(ls.describe({"iscsi-ls", t.url()}));
        REQUIRE(ls.ok());
        CHECK_THAT(ls.out, Catch::Contains("Target:" + null_iqn));
        // The namespace is ours to add faults to; its ruleset starts empty.
        CHECK(t.netns_exec({"nft", "list", "ruleset"}).empty());
        CHECK_THAT(run_checked({"ip", "netns", "list"}), Catch::Contains(ns));
    }
    CHECK_THAT(run_checked({"ip", "netns", "list"}), !Catch::Contains(ns));
}
