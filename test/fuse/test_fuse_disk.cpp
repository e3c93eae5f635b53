// The FUSE export's disk I/O without a mount: byte ranges over whole-block
// commands against an in-memory disk, read-modify-write, concurrent partial
// writes, errors, SYNCHRONIZE CACHE; and fuse_export's argument checks.
#include "vscsi/embedded_vscsi.hpp"
#include "fuse/fuse_disk.hpp"
#include "fuse/fuse_export.hpp"
#include "test/support/ram_disk_daemon.hpp"

#include <catch2/catch.hpp>

#include <cerrno>
#include <random>
#include <thread>

using namespace ivs;
using namespace ivs::fuse;
using namespace ivs::vscsi;
using namespace ivs::vscsi::test;

namespace {

std::vector<std::byte> random_bytes(std::size_t n, std::uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<std::byte> v(n);
    for (auto& b : v)
        b = static_cast<std::byte>(rng() & 0xff);
    return v;
}

constexpr std::uint64_t blocks = 2048;  // 1 MiB of 512-byte blocks

struct rig {
    embedded_vscsi dev;
    ram_disk_daemon daemon{dev, {{0, 0, 512, blocks}, {0, 1, 4096, 64}}};
    fuse_disk disk{dev, 0, 0, 512, blocks};
};

} // namespace

TEST_CASE("fuse_disk: aligned and unaligned reads and writes match a shadow copy", "[fuse]") {
    rig r;
    auto shadow = random_bytes(blocks * 512, 1);
    r.daemon.fill(0, 0, shadow);
    REQUIRE(r.disk.size() == blocks * 512);

    std::mt19937 rng(7);
    for (int i = 0; i < 300; ++i) {
        const std::uint64_t off = rng() % (blocks * 512);
        const std::size_t len = 1 + rng() % std::min<std::uint64_t>(200000, blocks * 512 - off);
        if (i % 2 == 0) {
            auto data = random_bytes(len, static_cast<std::uint32_t>(i));
            REQUIRE(r.disk.write(data, off) == static_cast<long>(len));
            std::copy(data.begin(), data.end(), shadow.begin() + static_cast<long>(off));
        } else {
            std::vector<std::byte> out(len);
            REQUIRE(r.disk.read(out, off) == static_cast<long>(len));
            REQUIRE(std::equal(out.begin(), out.end(), shadow.begin() + static_cast<long>(off)));
        }
    }
    REQUIRE(r.daemon.contents(0, 0) == shadow);
}

TEST_CASE("fuse_disk: the end of the disk", "[fuse]") {
    rig r;
    const std::uint64_t size = r.disk.size();
    std::vector<std::byte> buf(1000, std::byte{0x5a});
    CHECK(r.disk.read(buf, size) == 0);
    CHECK(r.disk.read(buf, size + 12345) == 0);
    CHECK(r.disk.read(buf, size - 100) == 100);            // short read at EOF
    std::fill(buf.begin(), buf.end(), std::byte{0x5a});
    CHECK(r.disk.write(buf, size) == -ENOSPC);             // cannot grow
    CHECK(r.disk.write(buf, size + 1) == -ENOSPC);
    CHECK(r.disk.write(buf, size - 300) == 300);           // cut at the end
    auto c = r.daemon.contents(0, 0);
    CHECK(std::all_of(c.end() - 300, c.end(), [](std::byte b) { return b == std::byte{0x5a}; }));
    CHECK(c[c.size() - 301] == std::byte{0});
    CHECK(r.disk.write({}, 0) == 0);
}

TEST_CASE("fuse_disk: concurrent partial-block writers lose no update", "[fuse]") {
    rig r;
    // Thread t writes 100-byte pieces at t*100 + k*800: every 512-byte block
    // is shared by pieces of several threads, so each write is a
    // read-modify-write racing with its neighbours.
    constexpr int threads = 8;
    constexpr int pieces = 400;
    std::vector<std::thread> ts;
    std::atomic<int> failures{0};
    for (int t = 0; t < threads; ++t) {
        ts.emplace_back([&, t] {
            std::vector<std::byte> piece(100, static_cast<std::byte>(t + 1));
            for (int k = 0; k < pieces; ++k)
                if (r.disk.write(piece, static_cast<std::uint64_t>(t * 100 + k * 800)) != 100)
                    ++failures;
        });
    }
    for (auto& t : ts)
        t.join();
    REQUIRE(failures == 0);
    auto c = r.daemon.contents(0, 0);
    for (int k = 0; k < pieces; ++k)
        for (int t = 0; t < threads; ++t)
            for (int i = 0; i < 100; ++i)
                REQUIRE(c[static_cast<std::size_t>(k * 800 + t * 100 + i)] ==
                        static_cast<std::byte>(t + 1));
}

TEST_CASE("fuse_disk: 4096-byte blocks, a write inside one block", "[fuse]") {
    rig r;
    fuse_disk d4(r.dev, 0, 1, 4096, 64);
    auto shadow = random_bytes(64 * 4096, 3);
    r.daemon.fill(0, 1, shadow);
    auto data = random_bytes(10, 4);
    REQUIRE(d4.write(data, 4096 * 5 + 7) == 10);
    std::copy(data.begin(), data.end(), shadow.begin() + 4096 * 5 + 7);
    auto data2 = random_bytes(4096 * 3, 5);  // spans 4 blocks, both ends partial
    REQUIRE(d4.write(data2, 4096 * 9 + 4000) == 4096 * 3);
    std::copy(data2.begin(), data2.end(), shadow.begin() + 4096 * 9 + 4000);
    REQUIRE(r.daemon.contents(0, 1) == shadow);
}

TEST_CASE("fuse_disk: SCSI errors become EIO, RESET is retried once", "[fuse]") {
    rig r;
    std::vector<std::byte> buf(4096);
    r.daemon.medium_error(0, 0, 100, 100);
    CHECK(r.disk.read(buf, 99 * 512) == -EIO);      // covers block 100
    CHECK(r.disk.read(buf, 101 * 512) == 4096);     // does not
    CHECK(r.disk.write(buf, 100 * 512 + 3) == -EIO);  // its read-modify-write reads block 100

    r.daemon.reset_next(1);
    CHECK(r.disk.read(buf, 0) == 4096);
    r.daemon.reset_next(1);
    CHECK(r.disk.write(buf, 0) == 4096);
    r.daemon.reset_next(2);
    CHECK(r.disk.read(buf, 0) == -EIO);
    r.daemon.reset_next(0);

    r.disk.mark_removed();
    CHECK(r.disk.read(buf, 0) == -EIO);
    CHECK(r.disk.write(buf, 0) == -EIO);
    CHECK(r.disk.sync(false) == -EIO);
}

TEST_CASE("fuse_disk: sync sends SYNCHRONIZE CACHE, flush only after writes", "[fuse]") {
    rig r;
    std::vector<std::byte> buf(512, std::byte{1});
    CHECK(r.disk.sync(true) == 0);
    CHECK(r.daemon.sync_count() == 0);  // nothing written yet
    CHECK(r.disk.sync(false) == 0);
    CHECK(r.daemon.sync_count() == 1);
    REQUIRE(r.disk.write(buf, 0) == 512);
    CHECK(r.disk.sync(true) == 0);
    CHECK(r.daemon.sync_count() == 2);
    CHECK(r.disk.sync(true) == 0);
    CHECK(r.daemon.sync_count() == 2);
    r.daemon.sync_supported(false);  // ILLEGAL REQUEST: no cache to flush
    CHECK(r.disk.sync(false) == 0);
    CHECK(r.daemon.sync_count() == 3);
}

TEST_CASE("fuse_disk: a closed device fails with EIO", "[fuse]") {
    embedded_vscsi dev;
    fuse_disk d(dev, 0, 0, 512, 16);
    std::vector<std::byte> buf(512);
    CHECK(d.read(buf, 0) == -EIO);
    CHECK(d.write(buf, 0) == -EIO);
    CHECK(d.sync(false) == -EIO);
}

TEST_CASE("fuse_export: argument checks and error messages", "[fuse]") {
    embedded_vscsi dev;
    fuse_export fx(dev, "/nonexistent/ivs-mountpoint");
    CHECK(fx.add_disk("", 0, 0, 512, 1) == fuse_export_errc::invalid_name);
    CHECK(fx.add_disk("a/b", 0, 0, 512, 1) == fuse_export_errc::invalid_name);
    CHECK(fx.add_disk("..", 0, 0, 512, 1) == fuse_export_errc::invalid_name);
    CHECK(fx.add_disk(std::string(256, 'x'), 0, 0, 512, 1) == fuse_export_errc::invalid_name);
    CHECK(fx.add_disk("lun0", 0, 0, 0, 1) == fuse_export_errc::invalid_geometry);
    CHECK(fx.add_disk("lun0", 0, 0, 512, 0) == fuse_export_errc::invalid_geometry);
    CHECK(fx.add_disk("lun0", 0, 0, 1 << 20, 1) == fuse_export_errc::invalid_geometry);  // over MAXPHYS
    CHECK(fx.add_disk("lun0", 0, 0, 4096, std::uint64_t{1} << 62) == fuse_export_errc::invalid_geometry);
    CHECK_FALSE(fx.add_disk("lun0", 0, 0, 512, 8));
    CHECK(fx.add_disk("lun0", 0, 1, 512, 8) == fuse_export_errc::name_exists);
    CHECK(fx.remove_disk("lun7") == fuse_export_errc::no_such_disk);
    CHECK_FALSE(fx.remove_disk("lun0"));
    CHECK(fx.start() == fuse_export_errc::not_a_directory);
    CHECK_FALSE(fx.running());
    fx.stop();  // harmless when not started
    CHECK(fuse_disk_file_name(3) == "lun3");
    CHECK(make_error_code(fuse_export_errc::mount_failed).message().find("mount") != std::string::npos);
    CHECK(std::error_code(fuse_export_errc::no_such_disk).category().name() == std::string("fuse_export"));
}
