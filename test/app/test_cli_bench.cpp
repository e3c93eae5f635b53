// Integration: `iscsi-vscsi bench` against a tgtd null LUN, reading and
// writing for one second each: one JSON object with the figures, I/O done,
// and a clean logout (the target has no session left).
#include "test/support/json_field.hpp"
#include "test/support/process.hpp"
#include "test/support/tgtd_fixture.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>
#include <thread>

using namespace ivs;

namespace {

using ivs::test::json_number;

const std::string target_iqn = "iqn.2026-11.org.iscsi-vscsi.test:bench";

std::string program()
{
    const char* p = std::getenv("IVS_PROGRAM");
    REQUIRE(p != nullptr);
    return p;
}

} // namespace

TEST_CASE("bench reads and writes a null LUN and reports JSON figures", "[cli][tgtd]")
{
    test::tgtd_fixture tgtd;
    tgtd.add_target(1, target_iqn);
    tgtd.allow_initiator_address(1);
    tgtd.add_null_lun(1, 1);

    for (const std::string mode : {"--read", "--write"}) {
        for (const std::string qd : {"1", "8"}) {
            const std::vector<std::string> argv{program(), "bench",     tgtd.portal(), target_iqn, "--lun",
                                                "1",       "--seconds", "1",           "--bs",     "8192",
                                                "--qd",    qd,          mode,          "--json"};
            auto r = test::run(argv, std::chrono::seconds(60));
            INFO(r.describe(argv));
            REQUIRE(r.ok());
            // stdout holds exactly the JSON object (the log goes to stderr).
            REQUIRE(r.out.size() > 2);
            CHECK(r.out.front() == '{');
            CHECK(r.out.find('}') == r.out.size() - 2);
            CHECK(r.out.find(mode == "--read" ? "\"mode\":\"read\"" : "\"mode\":\"write\"") != std::string::npos);
            CHECK(json_number(r.out, "iops") > 0);
            CHECK(json_number(r.out, "mbps") > 0);
            CHECK(json_number(r.out, "lat_mean_us") > 0);
            CHECK(json_number(r.out, "lat_p99_us") >= json_number(r.out, "lat_mean_us") * 0.5);
            CHECK(json_number(r.out, "cpu_s") >= 0);
            CHECK(json_number(r.out, "bs") == 8192);
            CHECK(json_number(r.out, "qd") == std::stod(qd));
            CHECK(json_number(r.out, "seconds") >= 1.0);
            CHECK(r.err.find("sd0 detached") != std::string::npos);
            // Logged out: tgtd drops the session within moments.
            for (int i = 0; i < 40 && !tgtd.connections(1).empty(); ++i)
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
            CHECK(tgtd.connections(1).empty());
        }
    }

    // QD counts requests: 4 requests of 1 MiB split by the 64 KiB MAXPHYS are
    // 64 commands, and the default openings let all of them be in flight.
    const std::vector<std::string> argv{program(),   "bench",  tgtd.portal(),    target_iqn, "--lun", "1",
                                        "--seconds", "1",      "--bs",           "1048576",  "--qd",  "4",
                                        "--read",    "--json", "--max-transfer", "65536"};
    auto r = test::run(argv, std::chrono::seconds(60));
    INFO(r.describe(argv));
    REQUIRE(r.ok());
    CHECK(json_number(r.out, "max_transfer") == 65536);
    CHECK(json_number(r.out, "openings") == 64);
    CHECK(json_number(r.out, "max_in_flight") > 16);
    CHECK(json_number(r.out, "max_in_flight") <= 64);

    // By default a request of 1 MiB is one command, as attach and serve
    // send it on Linux (and as libiscsi does).
    const std::vector<std::string> whole{program(), "bench", tgtd.portal(), target_iqn, "--lun", "1",       "--seconds",
                                         "1",       "--bs",  "1048576",     "--qd",     "4",     "--write", "--json"};
    r = test::run(whole, std::chrono::seconds(60));
    INFO(r.describe(whole));
    REQUIRE(r.ok());
    CHECK(json_number(r.out, "max_transfer") == 1048576);
    CHECK(json_number(r.out, "openings") == 16);
    CHECK(json_number(r.out, "max_in_flight") <= 4);
}

TEST_CASE("bench rejects bad command lines and an absent LUN", "[cli][tgtd]")
{
    auto r = test::run({program(), "bench", "127.0.0.1", target_iqn});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("--lun") != std::string::npos);
    r = test::run({program(), "bench", "127.0.0.1", target_iqn, "--lun", "1", "--read", "--write"});
    CHECK(r.exit_code == 2);
    r = test::run({program(), "bench", "127.0.0.1", target_iqn, "--lun", "1", "--qd", "0"});
    CHECK(r.exit_code == 1);

    test::tgtd_fixture tgtd;
    tgtd.add_target(1, target_iqn);
    tgtd.allow_initiator_address(1);
    tgtd.add_null_lun(1, 1);
    r = test::run({program(), "bench", tgtd.portal(), target_iqn, "--lun", "5", "--seconds", "1"},
                  std::chrono::seconds(90));
    CHECK(r.exit_code == 1);
    CHECK(r.out.empty());
    // --bs not a multiple of the 512-byte blocks
    r = test::run({program(), "bench", tgtd.portal(), target_iqn, "--lun", "1", "--bs", "1000", "--seconds", "1"},
                  std::chrono::seconds(90));
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("block size") != std::string::npos);
}
