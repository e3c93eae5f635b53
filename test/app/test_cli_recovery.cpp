// Integration: `iscsi-vscsi attach` rides out target and network failures
// (RFC 7143 §6.3.5 session reinstatement at ERL 0). tgtd is SIGKILLed and
// restarted during a write through the FUSE export; traffic to a tgtd in its
// own network namespace is dropped with nftables during a read, briefly and
// then for longer than the replacement timeout.
#include "test/support/attach_process.hpp"
#include "test/support/process.hpp"
#include "test/support/tgtd_fixture.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <sys/wait.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <random>
#include <thread>
#include <utility>

using namespace ivs;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

const std::string target_iqn = "iqn.2026-11.org.iscsi-vscsi.test:recovery";

void write_random(const fs::path& p, std::size_t n, unsigned seed)
{
    std::mt19937_64 rng(seed);
    std::vector<std::uint64_t> v(n / 8);
    for (auto& w : v)
        w = rng();
    std::ofstream(p, std::ios::binary | std::ios::in | std::ios::out)
        .write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(n));
}

std::uintmax_t allocated_bytes(const fs::path& p)
{
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 ? static_cast<std::uintmax_t>(st.st_blocks) * 512 : 0;
}

std::uintmax_t size_or_zero(const fs::path& p)
{
    std::error_code ec;
    const auto n = fs::file_size(p, ec);
    return ec ? 0 : n;
}

// Waits until pred() holds; false after `limit`.
template <class Pred>
bool wait_for(Pred pred, std::chrono::milliseconds limit)
{
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > deadline)
            return false;
        std::this_thread::sleep_for(20ms);
    }
    return true;
}

// Drops every TCP segment to or from the portal inside tgtd's namespace
// (never the host's ruleset); lifted by the destructor or lift().
class portal_blackhole {
public:
    explicit portal_blackhole(test::tgtd_fixture& tgtd) : tgtd_(tgtd)
    {
        const fs::path rules = tgtd.temp_dir() / "drop.nft";
        const std::string port = std::to_string(tgtd.port());
        std::ofstream(rules) << "table inet ivs_drop {\n"
                                "  chain in { type filter hook input priority 0; tcp dport "
                             << port << " drop; }\n"
                             << "  chain out { type filter hook output priority 0; tcp sport " << port
                             << " drop; }\n}\n";
        tgtd_.netns_exec({"nft", "-f", rules.string()});
        active_ = true;
    }
    ~portal_blackhole()
    {
        try {
            lift();
        } catch (...) {
        }
    }
    void lift()
    {
        if (std::exchange(active_, false))
            tgtd_.netns_exec({"nft", "delete", "table", "inet", "ivs_drop"});
    }

private:
    test::tgtd_fixture& tgtd_;
    bool active_ = false;
};

constexpr std::size_t mib = 1 << 20;

} // namespace

TEST_CASE("a write survives tgtd killed with SIGKILL and restarted 3 s later", "[cli][recovery][tgtd]")
{
    test::tgtd_fixture tgtd;
    tgtd.add_target(1, target_iqn);
    const fs::path backing = tgtd.add_file_lun(1, 1, 128 * mib);
    tgtd.allow_initiator_address(1);
    const fs::path work = tgtd.temp_dir();
    const fs::path src = work / "random.bin";
    {
        std::ofstream(src, std::ios::binary).put('\0');
        fs::resize_file(src, 64 * mib);
        write_random(src, 64 * mib, 1234);
    }

    test::attach_process a(tgtd.portal(), target_iqn, work);
    test::child_process dd(
        {"dd", "if=" + src.string(), "of=" + a.lun(1).string(), "bs=1M", "conv=fsync", "status=none"},
        {work / "dd.log", ""});
    // Kill once the first data has reached the target, while dd still runs.
    REQUIRE(wait_for([&] { return allocated_bytes(backing) >= 1 * mib || !dd.running(); }, 30s));
    REQUIRE(dd.running());
    tgtd.kill();
    const auto killed_at = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(3s);
    CHECK(dd.running()); // the writer waits for the target
    tgtd.start();

    const int rc = dd.wait(60s);
    INFO("dd: " << dd.output() << "\nattach log:\n" << a.log());
    CHECK(rc == 0);
    CHECK(std::chrono::steady_clock::now() - killed_at > 3s);
    CHECK(a.log().find("reinstating the session") != std::string::npos);
    CHECK(tgtd.connections(1).size() == 1); // logged in again to the new tgtd
    CHECK(test::run({"cmp", "-n", std::to_string(64 * mib), src.string(), backing.string()}).ok());
    CHECK(a.stop() == 0);
}

TEST_CASE("reads stall while the network drops traffic and fail after the replacement timeout",
          "[cli][recovery][tgtd][netns]")
{
    test::tgtd_fixture tgtd({.own_netns = true});
    tgtd.add_target(1, target_iqn);
    const fs::path backing = tgtd.add_file_lun(1, 1, 64 * mib);
    tgtd.allow_initiator_address(1);
    write_random(backing, 64 * mib, 99);
    const fs::path work = tgtd.temp_dir();

    SECTION("a 10 s drop stalls a read, which then completes with the right data")
    {
        test::attach_process a(tgtd.portal(), target_iqn, work);
        const fs::path out = work / "read.bin";
        test::child_process dd(
            {"dd", "if=" + a.lun(1).string(), "of=" + out.string(), "bs=64K", "iflag=direct", "status=none"},
            {work / "dd.log", ""});
        REQUIRE(wait_for([&] { return size_or_zero(out) >= 1 * mib || !dd.running(); }, 30s));
        REQUIRE(dd.running());
        std::uintmax_t stalled_at = 0;
        {
            portal_blackhole drop(tgtd);
            std::this_thread::sleep_for(2s);
            stalled_at = size_or_zero(out);
            std::this_thread::sleep_for(8s);
            CHECK(dd.running());
            CHECK(size_or_zero(out) == stalled_at); // nothing got through
        }
        const int rc = dd.wait(60s);
        INFO("dd: " << dd.output() << "\nattach log:\n" << a.log());
        CHECK(stalled_at < 64 * mib);
        CHECK(rc == 0);
        CHECK(test::run({"cmp", out.string(), backing.string()}).ok());
        CHECK(a.stop() == 0);
    }

    SECTION("a drop longer than the replacement timeout fails reads with EIO until traffic flows again")
    {
        test::attach_process a(tgtd.portal(), target_iqn, work, {"--replacement-timeout", "3"});
        const fs::path out = work / "read.bin";
        std::optional<portal_blackhole> drop(std::in_place, tgtd);
        const auto dropped_at = std::chrono::steady_clock::now();
        test::child_process dd({"dd", "if=" + a.lun(1).string(), "of=" + out.string(), "bs=64K", "count=16",
                                "iflag=direct", "status=none"},
                               {work / "dd.log", ""});
        // NOP-Out keepalive declares the connection dead after ~10 s, the
        // replacement timeout fails the read 3 s later.
        const int rc = dd.wait(30s);
        const auto failed_after = std::chrono::steady_clock::now() - dropped_at;
        INFO("dd: " << dd.output() << "\nattach log:\n" << a.log());
        CHECK(rc > 0);
        CHECK(dd.output().find("Input/output error") != std::string::npos);
        CHECK(failed_after > 3s);
        CHECK(a.log().find("reinstating the session") != std::string::npos);

        // Still dropped: new reads fail fast instead of waiting again.
        const auto t0 = std::chrono::steady_clock::now();
        auto again = test::run({"dd", "if=" + a.lun(1).string(), "of=" + out.string(), "bs=64K", "count=1", "skip=100",
                                "iflag=direct", "status=none"},
                               30s);
        CHECK(again.exit_code > 0);
        CHECK(std::chrono::steady_clock::now() - t0 < 2s);

        drop.reset();
        // Recovery keeps trying in the background: reads work again, with
        // nothing restarted.
        int attempts = 0;
        const bool recovered = wait_for(
            [&] {
                ++attempts;
                auto r = test::run({"dd", "if=" + a.lun(1).string(), "of=" + out.string(), "bs=64K", "count=16",
                                    "iflag=direct", "status=none"},
                                   20s);
                if (!r.ok())
                    std::this_thread::sleep_for(500ms);
                return r.ok();
            },
            60s);
        INFO("attempts " << attempts << "\nattach log:\n" << a.log());
        CHECK(recovered);
        CHECK(test::run({"cmp", "-n", std::to_string(mib), out.string(), backing.string()}).ok());
        CHECK(a.stop() == 0);
    }
}

TEST_CASE("an idle mutual-CHAP session logs in again to a restarted tgtd", "[cli][recovery][tgtd][chap]")
{
    test::tgtd_fixture tgtd;
    tgtd.add_target(1, target_iqn);
    const fs::path backing = tgtd.add_file_lun(1, 1, 16 * mib);
    tgtd.allow_initiator_address(1);
    tgtd.add_incoming_account(1, "recovery-user", "recovery-secret-1");
    tgtd.add_outgoing_account(1, "recovery-target", "recovery-secret-2");
    const fs::path work = tgtd.temp_dir();
    std::ofstream(work / "secret1") << "recovery-secret-1\n";
    std::ofstream(work / "secret2") << "recovery-secret-2\n";
    const fs::path a_src = work / "a.bin", b_src = work / "b.bin";
    for (const auto& [p, seed] : {std::pair{a_src, 1u}, std::pair{b_src, 2u}}) {
        std::ofstream(p, std::ios::binary).put('\0');
        fs::resize_file(p, mib);
        write_random(p, mib, seed);
    }
    auto dd_to = [](const fs::path& src, const fs::path& dst, const std::string& seek) {
        return test::run({"dd", "if=" + src.string(), "of=" + dst.string(), "bs=64K", "seek=" + seek, "oflag=direct",
                          "conv=fsync,notrunc", "status=none"},
                         60s);
    };

    test::attach_process a(tgtd.portal(), target_iqn, work,
                           {"--chap-user", "recovery-user", "--chap-secret-file", (work / "secret1").string(),
                            "--mutual-user", "recovery-target", "--mutual-secret-file", (work / "secret2").string()});
    REQUIRE(dd_to(a_src, a.lun(1), "0").ok());

    tgtd.restart(3s); // same portal, targets, LUN file and accounts
    INFO("attach log:\n" << a.log());
    CHECK(wait_for([&] { return tgtd.connections(1).size() == 1; }, 30s));
    CHECK(a.log().find("reinstating the session") != std::string::npos);

    // Written before the crash and read back after it; written after it.
    const fs::path back = work / "back.bin";
    CHECK(test::run({"dd", "if=" + a.lun(1).string(), "of=" + back.string(), "bs=64K", "count=16", "iflag=direct",
                     "status=none"},
                    60s)
              .ok());
    CHECK(test::run({"cmp", a_src.string(), back.string()}).ok());
    CHECK(dd_to(b_src, a.lun(1), "16").ok());
    CHECK(test::run(
              {"cmp", "-n", std::to_string(mib), "-i", "0:" + std::to_string(mib), b_src.string(), backing.string()})
              .ok());
    CHECK(a.stop() == 0);
}
