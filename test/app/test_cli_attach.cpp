// Integration: `iscsi-vscsi attach` against a real tgtd, through the
// embedded vscsi and the FUSE export: dd/cmp, ext4 on a loop device,
// several LUNs, spill-over onto a second vscsi target, repeated attach.
#include "test/support/attach_process.hpp"
#include "test/support/process.hpp"
#include "test/support/program.hpp"
#include "test/support/tgtd_fixture.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <sys/wait.h>

#include <csignal>
#include <cstdlib>
#include <dirent.h>
#include <fstream>
#include <functional>
#include <random>
#include <thread>

using namespace ivs;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

const std::string target_iqn = "iqn.2026-11.org.iscsi-vscsi.test:attach";

std::vector<char> make_random(std::size_t n, unsigned seed)
{
    std::mt19937_64 rng(seed);
    std::vector<char> v(n);
    for (auto& c : v)
        c = static_cast<char>(rng());
    return v;
}

std::vector<char> read_range(const fs::path& p, std::size_t offset, std::size_t n)
{
    std::ifstream in(p, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(offset));
    std::vector<char> v(n);
    in.read(v.data(), static_cast<std::streamsize>(n));
    v.resize(static_cast<std::size_t>(in.gcount()));
    return v;
}

std::size_t open_fds()
{
    std::size_t n = 0;
    for (const auto& e : fs::directory_iterator("/proc/self/fd"))
        (void)e, ++n;
    return n;
}

} // namespace

TEST_CASE("attach exports a LUN that dd, cmp and ext4 on a loop device use", "[cli][attach][tgtd]")
{
    test::tgtd_fixture tgtd;
    tgtd.add_target(1, target_iqn);
    const fs::path backing = tgtd.add_file_lun(1, 1, 256 << 20);
    tgtd.allow_initiator_address(1);
    const fs::path work = tgtd.temp_dir();

    {
        test::attach_process a(tgtd.portal(), target_iqn, work);
        const std::string out = a.log();
        CHECK(out.find("sd0 at scsibus0 targ 0 lun 1: <IET, VIRTUAL-DISK, 0001> SCSI3 0/direct fixed") !=
              std::string::npos);
        CHECK(out.find("sd0: 256MB, 512 bytes/sector, 524288 sectors") != std::string::npos);
        const fs::path file = a.export_dir() / "lun1";
        REQUIRE(fs::file_size(file) == (256u << 20));

        // 64 MiB of random data with dd, compared with the backing file.
        const fs::path src = work / "random.bin";
        {
            auto data = make_random(64 << 20, 42);
            std::ofstream(src, std::ios::binary).write(data.data(), static_cast<std::streamsize>(data.size()));
        }
        auto dd =
            test::run({"dd", "if=" + src.string(), "of=" + file.string(), "bs=1M", "conv=fsync", "status=none"}, 120s);
        INFO(dd.describe({"dd"}));
        REQUIRE(dd.ok());
        CHECK(test::run({"cmp", "-n", std::to_string(64 << 20), src.string(), file.string()}).ok());
        CHECK(test::run({"cmp", "-n", std::to_string(64 << 20), src.string(), backing.string()}).ok());

        // ext4 through a loop device over the exported file.
        const std::string loop = test::run_checked({"losetup", "--find", "--show", file.string()});
        const std::string dev = loop.substr(0, loop.find('\n'));
        const fs::path mnt = work / "mnt";
        fs::create_directories(mnt);
        bool ok = test::run({"mkfs.ext4", "-q", "-F", dev}, 120s).ok() && test::run({"mount", dev, mnt.string()}).ok();
        if (ok) {
            ok = test::run({"cp", src.string(), (mnt / "copy.bin").string()}, 120s).ok() && test::run({"sync"}).ok() &&
                 test::run({"cmp", src.string(), (mnt / "copy.bin").string()}).ok();
            test::run({"umount", mnt.string()});
        }
        test::run({"losetup", "-d", dev});
        CHECK(ok);
        CHECK(a.stop() == 0);
        CHECK_FALSE(test::is_mounted(a.export_dir()));
        CHECK(tgtd.connections(1).empty());
        CHECK(a.log().find("detached") != std::string::npos);
        CHECK(a.log().find("SYNCHRONIZE CACHE failed") == std::string::npos);
    }

    // Re-attach: the file system written before is intact.
    {
        test::attach_process a(tgtd.portal(), target_iqn, work);
        const fs::path file = a.export_dir() / "lun1";
        auto fsck = test::run({"fsck.ext4", "-n", "-f", file.string()}, 120s);
        INFO(fsck.describe({"fsck"}));
        CHECK(fsck.ok());
        CHECK(a.stop() == 0);
    }
}

TEST_CASE("attach maps two LUNs, and ten spill onto a second vscsi target", "[cli][attach][tgtd]")
{
    test::tgtd_fixture tgtd;
    tgtd.add_target(1, target_iqn);
    tgtd.allow_initiator_address(1);

    SECTION("two LUNs of one target")
    {
        const auto b1 = tgtd.add_file_lun(1, 1, 16 << 20);
        const auto b2 = tgtd.add_file_lun(1, 2, 32 << 20);
        test::attach_process a(tgtd.portal(), target_iqn, tgtd.temp_dir());
        CHECK(fs::file_size(a.export_dir() / "lun1") == (16u << 20));
        CHECK(fs::file_size(a.export_dir() / "lun2") == (32u << 20));
        auto data = make_random(1 << 20, 7);
        for (const char* name : {"lun1", "lun2"}) {
            std::fstream f(a.export_dir() / name, std::ios::in | std::ios::out | std::ios::binary);
            f.seekp(4096);
            f.write(data.data(), static_cast<std::streamsize>(data.size()));
        }
        CHECK(read_range(b1, 4096, data.size()) == data);
        CHECK(read_range(b2, 4096, data.size()) == data);
        CHECK(a.stop() == 0);
    }
    SECTION("ten LUNs")
    {
        for (int lun = 1; lun <= 10; ++lun)
            tgtd.add_file_lun(1, lun, 4 << 20);
        test::attach_process a(tgtd.portal(), target_iqn, tgtd.temp_dir());
        const std::string out = a.log();
        // LUN 0 (the controller) and 1..7 fill vscsi target 0; 8..10 spill to target 1.
        CHECK(out.find("targ 0 lun 7: <IET, VIRTUAL-DISK") != std::string::npos);
        CHECK(out.find("targ 1 lun 0: <IET, VIRTUAL-DISK") != std::string::npos);
        CHECK(out.find("targ 1 lun 2: <IET, VIRTUAL-DISK") != std::string::npos);
        for (int lun = 1; lun <= 10; ++lun)
            CHECK(fs::exists(a.export_dir() / ("lun" + std::to_string(lun))));
        CHECK(a.stop() == 0);
    }
}

TEST_CASE("attach and detach 20 times leaves nothing behind", "[cli][attach][tgtd]")
{
    test::tgtd_fixture tgtd;
    tgtd.add_target(1, target_iqn);
    tgtd.add_file_lun(1, 1, 8 << 20);
    tgtd.allow_initiator_address(1);
    const std::size_t fds = open_fds();
    for (int i = 0; i < 20; ++i) {
        test::attach_process a(tgtd.portal(), target_iqn, tgtd.temp_dir());
        CHECK(fs::file_size(a.export_dir() / "lun1") == (8u << 20));
        const pid_t pid = a.pid();
        REQUIRE(a.stop() == 0);
        CHECK(::kill(pid, 0) != 0); // reaped, gone
        CHECK_FALSE(test::is_mounted(a.export_dir()));
    }
    CHECK(tgtd.connections(1).empty());
    CHECK(open_fds() == fds);
}

TEST_CASE("attach failures are one clear line", "[cli][attach]")
{
    auto r = test::run({test::ivs_program(), "attach", "127.0.0.1:1", target_iqn}, 60s);
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("cannot connect") != std::string::npos);
    r = test::run({test::ivs_program(), "attach", "127.0.0.1"});
    CHECK(r.exit_code == 2);
    r = test::run({test::ivs_program(), "attach", "127.0.0.1", "not-an-iqn"});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("bad target name") != std::string::npos);
    r = test::run({test::ivs_program(), "attach", "127.0.0.1", target_iqn, "--header-digest", "md5"});
    CHECK(r.exit_code == 1);
    r = test::run({test::ivs_program(), "attach", "--help"});
    CHECK(r.exit_code == 0);
    for (const char* opt :
         {"--export", "--lun", "--chap-user", "--chap-secret-file", "--mutual-user", "--mutual-secret-file",
          "--header-digest", "--data-digest", "--initiator-name", "--initiator-address", "--device"})
        CHECK(r.out.find(opt) != std::string::npos);
}

TEST_CASE("attach --initiator-address: tgtd admitting only 127.0.0.2 sees the connection come from it",
          "[cli][attach][tgtd][local-address]")
{
    test::tgtd_fixture tgtd;
    tgtd.add_target(1, target_iqn);
    tgtd.add_file_lun(1, 1, 8 << 20);
    tgtd.allow_initiator_address(1, "127.0.0.2"); // Linux routes all of 127/8 on lo
    {
        test::attach_process a(tgtd.portal(), target_iqn, tgtd.temp_dir(), {"--initiator-address", "127.0.0.2"});
        CHECK(fs::file_size(a.export_dir() / "lun1") == (8u << 20));
        const auto conns = tgtd.connections(1);
        REQUIRE(conns.size() == 1);
        CHECK(conns[0].address == "127.0.0.2");
        CHECK(a.stop() == 0);
    }
    // Without it the system chooses 127.0.0.1, which tgtd refuses.
    auto r = test::run({test::ivs_program(), "attach", tgtd.portal(), target_iqn}, 60s);
    CHECK(r.exit_code == 1);
    CHECK(tgtd.connections(1).empty());

    // An address not on this host: one clear line at once, not after the connect timeout.
    const auto started = std::chrono::steady_clock::now();
    r = test::run({test::ivs_program(), "attach", tgtd.portal(), target_iqn, "--initiator-address", "192.0.2.1"}, 60s);
    CHECK(std::chrono::steady_clock::now() - started < 5s);
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("cannot connect to " + tgtd.portal() + ": cannot bind to local address 192.0.2.1: ") !=
          std::string::npos);
    r = test::run({test::ivs_program(), "attach", tgtd.portal(), target_iqn, "--initiator-address", "127.0.0.300"});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("bad --initiator-address '127.0.0.300'") != std::string::npos);
}

TEST_CASE("attach: SIGUSR1 rescans: a LUN added to the running target is exported, a deleted one goes",
          "[cli][attach][tgtd][rescan]")
{
    test::tgtd_fixture tgtd;
    tgtd.add_target(1, target_iqn);
    tgtd.add_file_lun(1, 1, 16 << 20);
    tgtd.allow_initiator_address(1);
    const fs::path work = tgtd.temp_dir();
    test::attach_process a(tgtd.portal(), target_iqn, work);
    const fs::path lun1 = a.export_dir() / "lun1";
    const fs::path lun2 = a.export_dir() / "lun2";
    REQUIRE(fs::exists(lun1));
    CHECK_FALSE(fs::exists(lun2));

    auto wait_for = [](const std::function<bool()>& cond) {
        const auto deadline = std::chrono::steady_clock::now() + 30s;
        while (!cond() && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(50ms);
        return cond();
    };
    auto logged = [&](const std::string& line) { return a.log().find(line) != std::string::npos; };

    // A LUN added while attached, nothing read: tgtd's UNIT ATTENTION
    // (3F/0E) waits for the next command, so SIGUSR1 is what finds it. Waits
    // are for the summary lines: a rescan that UNIT ATTENTION starts later
    // may log one more.
    const fs::path backing2 = tgtd.add_file_lun(1, 2, 8 << 20);
    {
        auto data = make_random(1 << 20, 7);
        std::fstream(backing2, std::ios::binary | std::ios::in | std::ios::out)
            .write(data.data(), static_cast<std::streamsize>(data.size()));
    }
    REQUIRE(::kill(a.pid(), SIGUSR1) == 0);
    REQUIRE(wait_for([&] { return logged("rescan: 1 LUNs added, 0 removed"); }));
    INFO(a.log());
    REQUIRE(fs::exists(lun2));
    CHECK(fs::file_size(lun2) == (8u << 20));
    CHECK(read_range(lun2, 0, 1 << 20) == read_range(backing2, 0, 1 << 20));
    CHECK(read_range(lun1, 0, 4096).size() == 4096); // the first one still works

    // The LUN deleted on the target: its file goes on the next rescan.
    tgtd.tgtadm({"--op", "delete", "--mode", "logicalunit", "--tid", "1", "--lun", "2"});
    REQUIRE(::kill(a.pid(), SIGUSR1) == 0);
    REQUIRE(wait_for([&] { return logged("rescan: 0 LUNs added, 1 removed"); }));
    CHECK_FALSE(fs::exists(lun2));
    CHECK(fs::exists(lun1));
    CHECK(read_range(lun1, 0, 4096).size() == 4096);

    CHECK(a.stop() == 0);
    CHECK(a.log().find("SYNCHRONIZE CACHE failed") == std::string::npos);
}
