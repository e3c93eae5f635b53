// The FUSE export's disk I/O without a mount: byte ranges over whole-block
// commands against an in-memory disk, read-modify-write, concurrent partial
// writes, the asynchronous range lock, errors, SYNCHRONIZE CACHE; and
// fuse_export's argument checks.
#include "vscsi/embedded_vscsi.hpp"
#include "fuse/fuse_disk.hpp"
#include "fuse/fuse_export.hpp"
#include "test/support/ram_disk_daemon.hpp"

#include <catch2/catch.hpp>

#include <cerrno>
#include <cstring>
#include <future>
#include <random>
#include <thread>

using namespace ivs;
using namespace ivs::fuse;
using namespace ivs::vscsi;
using namespace ivs::vscsi::test;

namespace {

std::vector<std::byte> random_bytes(std::size_t n, std::uint32_t seed)
{
    std::mt19937 rng(seed);
    std::vector<std::byte> v(n);
    for (auto& b : v)
        b = static_cast<std::byte>(rng() & 0xff);
    return v;
}

constexpr std::uint64_t blocks = 2048; // 1 MiB of 512-byte blocks

// A disk_op whose completion fulfils a promise: the tests wait for it.
struct waited_op : disk_op {
    std::promise<long> result;
    waited_op()
    {
        done = [](disk_op& op, long r) { static_cast<waited_op&>(op).result.set_value(r); };
    }
};

long read_at(fuse_disk& d, std::span<std::byte> out, std::uint64_t offset)
{
    waited_op op;
    auto f = op.result.get_future();
    std::vector<std::byte> blocks(d.read_buffer_size(offset, out.size()));
    d.read(op, offset, out.size(), blocks);
    const long r = f.get();
    if (r > 0)
        std::memcpy(out.data(), op.read_data(), static_cast<std::size_t>(r));
    return r;
}

long write_at(fuse_disk& d, std::span<const std::byte> data, std::uint64_t offset)
{
    waited_op op;
    auto f = op.result.get_future();
    d.write(op, offset, data);
    return f.get();
}

long sync_disk(fuse_disk& d, bool only_if_written)
{
    waited_op op;
    auto f = op.result.get_future();
    d.sync(op, only_if_written);
    return f.get();
}

struct rig {
    embedded_vscsi dev;
    ram_disk_daemon daemon{dev, {{0, 0, 512, blocks}, {0, 1, 4096, 64}}};
    fuse_disk disk{dev, 0, 0, 512, blocks};
};

} // namespace

TEST_CASE("fuse_disk: aligned and unaligned reads and writes match a shadow copy", "[fuse]")
{
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
            REQUIRE(write_at(r.disk, data, off) == static_cast<long>(len));
            std::copy(data.begin(), data.end(), shadow.begin() + static_cast<long>(off));
        } else {
            std::vector<std::byte> out(len);
            REQUIRE(read_at(r.disk, out, off) == static_cast<long>(len));
            REQUIRE(std::equal(out.begin(), out.end(), shadow.begin() + static_cast<long>(off)));
        }
    }
    REQUIRE(r.daemon.contents(0, 0) == shadow);
}

TEST_CASE("fuse_disk: the end of the disk", "[fuse]")
{
    rig r;
    const std::uint64_t size = r.disk.size();
    std::vector<std::byte> buf(1000, std::byte{0x5a});
    CHECK(read_at(r.disk, buf, size) == 0);
    CHECK(read_at(r.disk, buf, size + 12345) == 0);
    CHECK(read_at(r.disk, buf, size - 100) == 100); // short read at EOF
    std::fill(buf.begin(), buf.end(), std::byte{0x5a});
    CHECK(write_at(r.disk, buf, size) == -ENOSPC); // cannot grow
    CHECK(write_at(r.disk, buf, size + 1) == -ENOSPC);
    CHECK(write_at(r.disk, buf, size - 300) == 300); // cut at the end
    auto c = r.daemon.contents(0, 0);
    CHECK(std::all_of(c.end() - 300, c.end(), [](std::byte b) { return b == std::byte{0x5a}; }));
    CHECK(c[c.size() - 301] == std::byte{0});
    CHECK(write_at(r.disk, {}, 0) == 0);
}

TEST_CASE("fuse_disk: concurrent partial-block writers lose no update", "[fuse]")
{
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
                if (write_at(r.disk, piece, static_cast<std::uint64_t>(t * 100 + k * 800)) != 100)
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
                REQUIRE(c[static_cast<std::size_t>(k * 800 + t * 100 + i)] == static_cast<std::byte>(t + 1));
}

TEST_CASE("fuse_disk: overlapping writes in flight at once land in submission order", "[fuse]")
{
    // Submitted without waiting: partial-block pieces (read-modify-write)
    // and whole-block writes over the same blocks, all in flight together.
    // Overlapping writes run one after the other in the order they came,
    // so the disk ends up as the writes applied one by one.
    rig r;
    auto shadow = random_bytes(blocks * 512, 41);
    r.daemon.fill(0, 0, shadow);
    constexpr int ops = 300;
    std::vector<std::unique_ptr<waited_op>> pending;
    std::vector<std::future<long>> results;
    std::vector<std::vector<std::byte>> payloads;
    std::vector<long> lengths;
    std::mt19937 rng(43);
    payloads.reserve(ops);
    for (int i = 0; i < ops; ++i) {
        const bool aligned = i % 3 == 0;
        const std::uint64_t off = aligned ? (rng() % 64) * 512 : rng() % (64 * 512);
        const std::size_t len = aligned ? 512 * (1 + rng() % 8) : 1 + rng() % 1500;
        payloads.push_back(random_bytes(len, static_cast<std::uint32_t>(500 + i)));
        std::copy(payloads.back().begin(), payloads.back().end(), shadow.begin() + static_cast<long>(off));
        lengths.push_back(static_cast<long>(len));
        pending.push_back(std::make_unique<waited_op>());
        results.push_back(pending.back()->result.get_future());
        r.disk.write(*pending.back(), off, payloads.back());
    }
    for (int i = 0; i < ops; ++i)
        REQUIRE(results[static_cast<std::size_t>(i)].get() == lengths[static_cast<std::size_t>(i)]);
    CHECK(r.disk.writers().held() == 0);
    CHECK(r.disk.writers().waiting() == 0);
    REQUIRE(r.daemon.contents(0, 0) == shadow);
}

TEST_CASE("block_range_lock: disjoint ranges at once, overlapping ones in order", "[fuse]")
{
    block_range_lock lock;
    std::vector<int> order;
    struct node : block_range_lock::waiter {
        int id = 0;
        std::vector<int>* order = nullptr;
    };
    auto make = [&](int id, std::uint64_t first, std::uint64_t last) {
        auto n = std::make_unique<node>();
        n->id = id;
        n->order = &order;
        n->first = first;
        n->last = last;
        n->context = n.get();
        n->granted = [](block_range_lock::waiter& w) {
            auto& me = *static_cast<node*>(w.context);
            me.order->push_back(me.id);
        };
        return n;
    };
    auto a = make(1, 0, 9), b = make(2, 10, 19), c = make(3, 5, 12), d = make(4, 30, 40), e = make(5, 12, 12),
         f = make(6, 20, 29);
    lock.acquire(*a); // free: granted at once
    lock.acquire(*b); // disjoint from a
    lock.acquire(*c); // overlaps a and b: waits
    lock.acquire(*d); // disjoint from everything: at once
    lock.acquire(*e); // overlaps b, and c queued before it: waits
    lock.acquire(*f); // disjoint from held and queued ranges: at once
    CHECK(order == std::vector<int>{1, 2, 4, 6});
    CHECK(lock.held() == 4);
    CHECK(lock.waiting() == 2);
    lock.release(*a); // c still overlaps b
    CHECK(order == std::vector<int>{1, 2, 4, 6});
    lock.release(*b); // c runs; e overlaps c, stays behind it
    CHECK(order == std::vector<int>{1, 2, 4, 6, 3});
    lock.release(*c);
    CHECK(order == std::vector<int>{1, 2, 4, 6, 3, 5});
    lock.release(*d);
    lock.release(*e);
    lock.release(*f);
    CHECK(lock.held() == 0);
    CHECK(lock.waiting() == 0);
}

TEST_CASE("fuse_disk: 4096-byte blocks, a write inside one block", "[fuse]")
{
    rig r;
    fuse_disk d4(r.dev, 0, 1, 4096, 64);
    auto shadow = random_bytes(64 * 4096, 3);
    r.daemon.fill(0, 1, shadow);
    auto data = random_bytes(10, 4);
    REQUIRE(write_at(d4, data, 4096 * 5 + 7) == 10);
    std::copy(data.begin(), data.end(), shadow.begin() + 4096 * 5 + 7);
    auto data2 = random_bytes(4096 * 3, 5); // spans 4 blocks, both ends partial
    REQUIRE(write_at(d4, data2, 4096 * 9 + 4000) == 4096 * 3);
    std::copy(data2.begin(), data2.end(), shadow.begin() + 4096 * 9 + 4000);
    REQUIRE(r.daemon.contents(0, 1) == shadow);
}

TEST_CASE("fuse_disk: SCSI errors become EIO, RESET is retried as sd retries it", "[fuse]")
{
    rig r;
    std::vector<std::byte> buf(4096);
    r.daemon.medium_error(0, 0, 100, 100);
    CHECK(read_at(r.disk, buf, 99 * 512) == -EIO);       // covers block 100
    CHECK(read_at(r.disk, buf, 101 * 512) == 4096);      // does not
    CHECK(write_at(r.disk, buf, 100 * 512 + 3) == -EIO); // its read-modify-write reads block 100

    r.daemon.reset_next(1);
    CHECK(read_at(r.disk, buf, 0) == 4096);
    r.daemon.reset_next(1);
    CHECK(write_at(r.disk, buf, 0) == 4096);
    r.daemon.reset_next(4); // four retries (vscsi/retry_rules.hpp, sd's bound)
    CHECK(read_at(r.disk, buf, 0) == 4096);
    r.daemon.reset_next(5);
    CHECK(read_at(r.disk, buf, 0) == -EIO);
    r.daemon.reset_next(0);

    r.disk.mark_removed();
    CHECK(read_at(r.disk, buf, 0) == -EIO);
    CHECK(write_at(r.disk, buf, 0) == -EIO);
    CHECK(sync_disk(r.disk, false) == -EIO);
}

TEST_CASE("fuse_disk: a transient ABORTED COMMAND is retried, a persistent one is EIO after the bound", "[fuse]")
{
    rig r;
    std::vector<std::byte> pattern(4096);
    for (std::size_t i = 0; i < pattern.size(); ++i)
        pattern[i] = static_cast<std::byte>(i * 7);
    REQUIRE(write_at(r.disk, pattern, 0) == 4096);
    const auto aborted = scsi::make_fixed_sense(scsi::key::aborted_command, 0x47, 0x00);
    std::vector<std::byte> buf(4096);
    r.daemon.sense_next(1, aborted);
    CHECK(read_at(r.disk, buf, 0) == 4096);
    CHECK(buf == pattern);
    CHECK(r.daemon.senses_left() == 0);
    r.daemon.sense_next(5, aborted); // the first try and four retries
    CHECK(read_at(r.disk, buf, 0) == -EIO);
    CHECK(r.daemon.senses_left() == 0);
    r.daemon.sense_next(1, scsi::make_fixed_sense(scsi::key::medium_error, 0x11, 0));
    CHECK(read_at(r.disk, buf, 0) == -EIO); // not retried
    r.daemon.sense_next(1, scsi::make_fixed_sense(scsi::key::unit_attention, 0x29, 0));
    CHECK(write_at(r.disk, pattern, 0) == 4096);
    r.daemon.sense_next(0, aborted);
}

TEST_CASE("fuse_disk: sync sends SYNCHRONIZE CACHE, flush only after writes", "[fuse]")
{
    rig r;
    std::vector<std::byte> buf(512, std::byte{1});
    CHECK(sync_disk(r.disk, true) == 0);
    CHECK(r.daemon.sync_count() == 0); // nothing written yet
    CHECK(sync_disk(r.disk, false) == 0);
    CHECK(r.daemon.sync_count() == 1);
    REQUIRE(write_at(r.disk, buf, 0) == 512);
    CHECK(sync_disk(r.disk, true) == 0);
    CHECK(r.daemon.sync_count() == 2);
    CHECK(sync_disk(r.disk, true) == 0);
    CHECK(r.daemon.sync_count() == 2);
    r.daemon.sync_supported(false); // ILLEGAL REQUEST: no cache to flush
    CHECK(sync_disk(r.disk, false) == 0);
    CHECK(r.daemon.sync_count() == 3);
}

TEST_CASE("fuse_disk: a closed device fails with EIO", "[fuse]")
{
    embedded_vscsi dev;
    fuse_disk d(dev, 0, 0, 512, 16);
    std::vector<std::byte> buf(512);
    CHECK(read_at(d, buf, 0) == -EIO);
    CHECK(write_at(d, buf, 0) == -EIO);
    CHECK(sync_disk(d, false) == -EIO);
}

TEST_CASE("fuse_export: argument checks and error messages", "[fuse]")
{
    embedded_vscsi dev;
    fuse_export fx(dev, "/nonexistent/ivs-mountpoint");
    CHECK(fx.add_disk("", 0, 0, 512, 1) == fuse_export_errc::invalid_name);
    CHECK(fx.add_disk("a/b", 0, 0, 512, 1) == fuse_export_errc::invalid_name);
    CHECK(fx.add_disk("..", 0, 0, 512, 1) == fuse_export_errc::invalid_name);
    CHECK(fx.add_disk(std::string(256, 'x'), 0, 0, 512, 1) == fuse_export_errc::invalid_name);
    CHECK(fx.add_disk("lun0", 0, 0, 0, 1) == fuse_export_errc::invalid_geometry);
    CHECK(fx.add_disk("lun0", 0, 0, 512, 0) == fuse_export_errc::invalid_geometry);
    CHECK(fx.add_disk("lun0", 0, 0, 1 << 20, 1) == fuse_export_errc::invalid_geometry); // over MAXPHYS
    CHECK(fx.add_disk("lun0", 0, 0, 4096, std::uint64_t{1} << 62) == fuse_export_errc::invalid_geometry);
    CHECK_FALSE(fx.add_disk("lun0", 0, 0, 512, 8));
    CHECK(fx.add_disk("lun0", 0, 1, 512, 8) == fuse_export_errc::name_exists);
    CHECK(fx.remove_disk("lun7") == fuse_export_errc::no_such_disk);
    CHECK_FALSE(fx.remove_disk("lun0"));
    CHECK(fx.start() == fuse_export_errc::not_a_directory);
    CHECK_FALSE(fx.running());
    fx.stop(); // harmless when not started
    CHECK(fuse_disk_file_name(3) == "lun3");
    CHECK(make_error_code(fuse_export_errc::mount_failed).message().find("mount") != std::string::npos);
    CHECK(std::error_code(fuse_export_errc::no_such_disk).category().name() == std::string("fuse_export"));
}
