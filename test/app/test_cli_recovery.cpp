// Integration: `iscsi-vscsi attach` rides out target and network failures
// (RFC 7143 §6.3.5 session reinstatement at ERL 0). tgtd is SIGKILLed and
// restarted during a write through the FUSE export; traffic to a tgtd in its
// own network namespace is dropped with nftables during a read, briefly and
// then for longer than the replacement timeout.
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

std::string program()
{
    const char* p = std::getenv("IVS_PROGRAM");
    REQUIRE(p != nullptr);
    return p;
}

bool mounted(const fs::path& dir)
{
    std::ifstream in("/proc/mounts");
    std::string dev, where, rest;
    while (in >> dev >> where && std::getline(in, rest))
        if (where == dir.string())
            return true;
    return false;
}

std::string read_file(const fs::path& p)
{
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// One running `iscsi-vscsi attach` (the pattern of test_cli_attach.cpp),
// stopped with SIGINT when the test is done and killed if it unwinds.
class attach_process {
public:
    attach_process(const test::tgtd_fixture& tgtd, const fs::path& work, std::vector<std::string> extra = {})
        : log_(work / ("attach-" + std::to_string(++count_) + ".log")),
          export_dir_(work / ("export-" + std::to_string(count_)))
    {
        fs::create_directories(export_dir_);
        std::vector<std::string> argv{program(), "attach", tgtd.portal(), target_iqn, "--export",
                                      export_dir_.string()};
        argv.insert(argv.end(), extra.begin(), extra.end());
        pid_ = test::spawn(argv, {log_, ""});
        const auto deadline = std::chrono::steady_clock::now() + 60s;
        while (std::chrono::steady_clock::now() < deadline) {
            if (log().find("attached; SIGINT") != std::string::npos)
                return;
            if (test::reap_if_exited(pid_)) {
                pid_ = -1;
                FAIL("attach exited early: " << log());
            }
            std::this_thread::sleep_for(50ms);
        }
        FAIL("attach did not finish attaching: " << log());
    }

    ~attach_process()
    {
        if (pid_ > 0)
            test::kill_and_reap(pid_);
        if (mounted(export_dir_))
            test::run({"umount", "-l", export_dir_.string()});
    }

    int stop()
    {
        if (pid_ <= 0)  // already reaped: kill(-1) would signal every process
            return -1;
        ::kill(pid_, SIGINT);
        const auto deadline = std::chrono::steady_clock::now() + 60s;
        int status = 0;
        while (!test::reap_if_exited(pid_, &status)) {
            if (std::chrono::steady_clock::now() > deadline) {
                test::kill_and_reap(pid_);
                pid_ = -1;
                return -1;
            }
            std::this_thread::sleep_for(20ms);
        }
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }

    std::string log() const { return read_file(log_); }
    fs::path lun(int n) const { return export_dir_ / ("lun" + std::to_string(n)); }

private:
    static inline int count_ = 0;
    fs::path log_;
    fs::path export_dir_;
    pid_t pid_ = -1;
};

// A dd (or any program) running in the background, its output in a file.
class background {
public:
    background(const std::vector<std::string>& argv, const fs::path& log) : log_(log)
    {
        pid_ = test::spawn(argv, {log_, ""});
    }
    ~background()
    {
        if (pid_ > 0)
            test::kill_and_reap(pid_);
    }
    bool running()
    {
        if (pid_ > 0 && test::reap_if_exited(pid_, &status_))
            pid_ = -1;
        return pid_ > 0;
    }
    // Waits up to `limit`; the exit code, or -1 if killed or still running.
    int wait(std::chrono::milliseconds limit)
    {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (running() && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(20ms);
        if (running())
            return -1;
        return WIFEXITED(status_) ? WEXITSTATUS(status_) : -1;
    }
    std::string output() const { return read_file(log_); }

private:
    fs::path log_;
    pid_t pid_ = -1;
    int status_ = 0;
};

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

    attach_process a(tgtd, work);
    background dd({"dd", "if=" + src.string(), "of=" + a.lun(1).string(), "bs=1M", "conv=fsync", "status=none"},
                  work / "dd.log");
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
        attach_process a(tgtd, work);
        const fs::path out = work / "read.bin";
        background dd({"dd", "if=" + a.lun(1).string(), "of=" + out.string(), "bs=64K", "iflag=direct",
                       "status=none"},
                      work / "dd.log");
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
        attach_process a(tgtd, work, {"--replacement-timeout", "3"});
        const fs::path out = work / "read.bin";
        std::optional<portal_blackhole> drop(std::in_place, tgtd);
        const auto dropped_at = std::chrono::steady_clock::now();
        background dd({"dd", "if=" + a.lun(1).string(), "of=" + out.string(), "bs=64K", "count=16",
                       "iflag=direct", "status=none"},
                      work / "dd.log");
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
        auto again = test::run({"dd", "if=" + a.lun(1).string(), "of=" + out.string(), "bs=64K", "count=1",
                                "skip=100", "iflag=direct", "status=none"},
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
        return test::run({"dd", "if=" + src.string(), "of=" + dst.string(), "bs=64K", "seek=" + seek,
                          "oflag=direct", "conv=fsync,notrunc", "status=none"},
                         60s);
    };

    attach_process a(tgtd, work,
                     {"--chap-user", "recovery-user", "--chap-secret-file", (work / "secret1").string(),
                      "--mutual-user", "recovery-target", "--mutual-secret-file", (work / "secret2").string()});
    REQUIRE(dd_to(a_src, a.lun(1), "0").ok());

    tgtd.restart(3s); // same portal, targets, LUN file and accounts
    INFO("attach log:\n" << a.log());
    CHECK(wait_for([&] { return tgtd.connections(1).size() == 1; }, 30s));
    CHECK(a.log().find("reinstating the session") != std::string::npos);

    // Written before the crash and read back after it; written after it.
    const fs::path back = work / "back.bin";
    CHECK(test::run({"dd", "if=" + a.lun(1).string(), "of=" + back.string(), "bs=64K", "count=16",
                     "iflag=direct", "status=none"},
                    60s)
              .ok());
    CHECK(test::run({"cmp", a_src.string(), back.string()}).ok());
    CHECK(dd_to(b_src, a.lun(1), "16").ok());
    CHECK(test::run({"cmp", "-n", std::to_string(mib), "-i", "0:" + std::to_string(mib), b_src.string(),
                     backing.string()})
              .ok());
    CHECK(a.stop() == 0);
}
