// The mounted FUSE export over an in-memory disk daemon (integration: root,
// /dev/fuse, losetup, mkfs.ext4): disks attached by the midlayer probe
// appear as lun<N> files; dd, cmp, unaligned and concurrent I/O, fsync,
// the page cache and O_DIRECT, many requests in flight with two workers
// or none (pumped by the owner's thread, as the program runs it),
// ext4 on a loop device, and unmounting (also while busy, and with a
// request still in flight).
#include "vscsi/embedded_vscsi.hpp"
#include "fuse/fuse_export.hpp"
#include "test/support/ram_disk_daemon.hpp"
#include "test/support/process.hpp"

#include <catch2/catch.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <set>
#include <thread>

using namespace ivs;
using namespace ivs::fuse;
using namespace ivs::vscsi;
using namespace ivs::vscsi::test;
using ivs::test::run;
namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t lun0_blocks = 131072; // 64 MiB of 512-byte blocks
constexpr std::uint64_t lun1_blocks = 4096;   // 16 MiB of 4096-byte blocks
constexpr std::size_t mib = 1 << 20;

std::vector<std::byte> random_bytes(std::size_t n, std::uint32_t seed)
{
    std::mt19937 rng(seed);
    std::vector<std::byte> v(n);
    for (auto& b : v)
        b = static_cast<std::byte>(rng() & 0xff);
    return v;
}

bool is_mounted(const fs::path& p)
{
    std::ifstream in("/proc/mounts");
    // Appended, not " " + path + " ": GCC 12 at -O3 warns (-Wrestrict) about that.
    std::string needle = " ";
    needle += p.string();
    needle += ' ';
    std::string line;
    while (std::getline(in, line))
        if (line.find(needle) != std::string::npos)
            return true;
    return false;
}

int open_fuse_fds()
{
    int n = 0;
    for (const auto& e : fs::directory_iterator("/proc/self/fd")) {
        std::error_code ec;
        if (fs::read_symlink(e.path(), ec) == "/dev/fuse")
            ++n;
    }
    return n;
}

struct temp_dir {
    fs::path path;
    explicit temp_dir(const char* tag)
    {
        std::string t = std::string("/tmp/ivs-") + tag + "-XXXXXX";
        REQUIRE(::mkdtemp(t.data()) != nullptr);
        path = t;
    }
    ~temp_dir()
    {
        if (is_mounted(path))
            ::umount2(path.c_str(), MNT_DETACH);
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

// A page-aligned buffer for O_DIRECT.
struct aligned_buffer {
    std::byte* p = nullptr;
    std::size_t n = 0;
    explicit aligned_buffer(std::size_t bytes) : n(bytes)
    {
        p = static_cast<std::byte*>(std::aligned_alloc(4096, (bytes + 4095) / 4096 * 4096));
        REQUIRE(p != nullptr);
    }
    ~aligned_buffer() { std::free(p); }
    aligned_buffer(const aligned_buffer&) = delete;
    aligned_buffer& operator=(const aligned_buffer&) = delete;
    std::span<std::byte> span() { return {p, n}; }
};

template <class Pred>
bool wait_until(Pred pred, std::chrono::milliseconds limit = std::chrono::seconds(20))
{
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > deadline)
            return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
}

struct loop_guard {
    std::string dev;
    ~loop_guard()
    {
        if (!dev.empty())
            run({"losetup", "-d", dev});
    }
};

void write_file(const fs::path& p, const std::vector<std::byte>& d)
{
    std::ofstream out(p, std::ios::binary);
    out.write(reinterpret_cast<const char*>(d.data()), static_cast<std::streamsize>(d.size()));
    REQUIRE(out.good());
}

std::vector<std::byte> read_file(const fs::path& p)
{
    std::ifstream in(p, std::ios::binary);
    std::vector<char> v((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<std::byte> out(v.size());
    std::memcpy(out.data(), v.data(), v.size());
    return out;
}

std::string trim(std::string s)
{
    while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
        s.pop_back();
    return s;
}

// A daemon with two disks, attached by the midlayer probe; disk_event adds
// and removes the export's files as the bridge does.
struct rig {
    std::atomic<fuse_export*> fx_ptr{nullptr};
    embedded_vscsi dev;
    ram_disk_daemon daemon{dev, {{0, 0, 512, lun0_blocks}, {0, 1, 4096, lun1_blocks}}};
    temp_dir mp{"fuse-mnt"};
    fuse_export fx;

    // Without workers (as the program runs it) a thread of the test waits
    // for the export's descriptor and pumps it, as the io thread does.
    std::thread pumper;
    std::atomic<bool> pumping{false};

    explicit rig(fuse_export_options opts = {}, int openings = 16)
        : dev(make_config(openings)), fx(dev, mp.path, std::move(opts))
    {
        REQUIRE(::geteuid() == 0); // the integration suite runs as root
        fx_ptr = &fx;
        daemon.request_probe(0, 0);
        daemon.request_probe(0, 1);
        for (int i = 0; i < 500 && dev.disks().size() < 2; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        REQUIRE(dev.disks().size() == 2);
        start();
        REQUIRE(is_mounted(mp.path));
    }
    ~rig()
    {
        stop();
        fx_ptr = nullptr; // the daemon's last close detaches the disks
    }
    void start()
    {
        REQUIRE_FALSE(fx.start());
        const int fd = fx.loop_fd();
        if (fd < 0)
            return;
        pumping = true;
        pumper = std::thread([this, fd] {
            while (pumping) {
                pollfd p{fd, POLLIN, 0};
                if (::poll(&p, 1, 20) > 0 && fx.pump() == fuse_export::pump_result::ended)
                    break;
            }
        });
    }
    void stop()
    {
        pumping = false;
        if (pumper.joinable())
            pumper.join();
        fx.stop();
    }
    embedded_vscsi_config make_config(int openings)
    {
        embedded_vscsi_config cfg;
        cfg.openings = openings;
        cfg.disk_event = [this](const attached_disk& d, bool attached) {
            fuse_export* fx = fx_ptr.load();
            if (fx == nullptr)
                return;
            const auto name = fuse_disk_file_name(static_cast<std::uint64_t>(d.lun));
            if (attached)
                fx->add_disk(name, d.target, d.lun, d.block_size, d.block_count);
            else
                fx->remove_disk(name);
        };
        return cfg;
    }
    fs::path file(int lun) const { return mp.path / fuse_disk_file_name(static_cast<std::uint64_t>(lun)); }
};

} // namespace

TEST_CASE("fuse export: directory, attributes, dd and cmp", "[fuse][integration]")
{
    fuse_export_options opts;
    opts.direct_io = GENERATE(true, false);
    opts.workers = GENERATE(2u, 0u);
    INFO("direct_io " << opts.direct_io << ", workers " << opts.workers);
    rig r(opts);
    std::set<std::string> names;
    for (const auto& e : fs::directory_iterator(r.mp.path))
        names.insert(e.path().filename().string());
    CHECK(names == std::set<std::string>{"lun0", "lun1"});

    struct stat st {};
    REQUIRE(::stat(r.file(0).c_str(), &st) == 0);
    CHECK(S_ISREG(st.st_mode));
    CHECK((st.st_mode & 07777) == 0600);
    CHECK(st.st_uid == 0);
    CHECK(static_cast<std::uint64_t>(st.st_size) == lun0_blocks * 512);
    REQUIRE(::stat(r.file(1).c_str(), &st) == 0);
    CHECK(static_cast<std::uint64_t>(st.st_size) == lun1_blocks * 4096);

    struct statvfs sv {};
    REQUIRE(::statvfs(r.mp.path.c_str(), &sv) == 0);
    CHECK(sv.f_blocks * sv.f_frsize == lun0_blocks * 512 + lun1_blocks * 4096);

    temp_dir work("fuse-work");
    const auto src = work.path / "src";
    const auto data = random_bytes(16 * mib, 11);
    write_file(src, data);

    // Buffered dd (conv=notrunc: the file cannot be truncated), then direct.
    const auto syncs = r.daemon.sync_count();
    auto res =
        run({"dd", "if=" + src.string(), "of=" + r.file(0).string(), "bs=1M", "conv=notrunc,fsync", "status=none"});
    REQUIRE(res.ok());
    CHECK(r.daemon.sync_count() > syncs);
    auto disk0 = r.daemon.contents(0, 0);
    CHECK(std::equal(data.begin(), data.end(), disk0.begin()));
    const std::vector<std::string> cmp0{"cmp", "-n", std::to_string(16 * mib), src.string(), r.file(0).string()};
    res = run(cmp0);
    INFO(res.describe(cmp0));
    CHECK(res.ok());

    res = run({"dd", "if=" + src.string(), "of=" + r.file(1).string(), "bs=1M", "oflag=direct", "conv=notrunc",
               "status=none"});
    REQUIRE(res.ok());
    CHECK(r.daemon.contents(0, 1) == data); // lun1 is exactly 16 MiB
    const auto back = work.path / "back";
    const std::vector<std::string> dd_back{
        "dd", "if=" + r.file(1).string(), "of=" + back.string(), "bs=1M", "iflag=direct", "status=none"};
    res = run(dd_back);
    INFO(res.describe(dd_back));
    REQUIRE(res.ok());
    CHECK(run({"cmp", src.string(), back.string()}).ok());

    // A different byte is noticed by cmp through the mount.
    auto changed = data;
    changed[12345] ^= std::byte{1};
    r.daemon.fill(0, 1, changed);
    CHECK_FALSE(run({"cmp", src.string(), r.file(1).string()}).ok());

    // Fixed size: no truncation, no growth.
    CHECK(::truncate(r.file(0).c_str(), 0) == -1);
    CHECK(errno == EPERM);
    CHECK(::truncate(r.file(0).c_str(), static_cast<off_t>(lun0_blocks * 512 + 512)) == -1);
    CHECK(errno == EFBIG);
    CHECK(::truncate(r.file(0).c_str(), static_cast<off_t>(lun0_blocks * 512)) == 0);
    // O_TRUNC is ignored, as by a block device node: dd without notrunc
    // writes and the size stays.
    CHECK(run({"dd", "if=" + src.string(), "of=" + r.file(0).string(), "bs=1M", "status=none"}).ok());
    CHECK(std::filesystem::file_size(r.file(0)) == lun0_blocks * 512);
    const int fd = ::open(r.file(0).c_str(), O_RDWR);
    REQUIRE(fd >= 0);
    char b[700]{};
    CHECK(::pwrite(fd, b, sizeof b, static_cast<off_t>(lun0_blocks * 512)) == -1);
    CHECK(errno == ENOSPC);
    CHECK(::pread(fd, b, sizeof b, static_cast<off_t>(lun0_blocks * 512 - 100)) == 100);
    CHECK(::pread(fd, b, sizeof b, static_cast<off_t>(lun0_blocks * 512)) == 0);
    ::close(fd);
}

TEST_CASE("fuse export: unaligned, concurrent and fsync'd I/O through the mount", "[fuse][integration]")
{
    fuse_export_options opts;
    opts.direct_io = GENERATE(true, false);
    INFO("direct_io " << opts.direct_io);
    rig r(opts);
    auto shadow = random_bytes(lun0_blocks * 512, 21);
    r.daemon.fill(0, 0, shadow);
    const int fd = ::open(r.file(0).c_str(), O_RDWR);
    REQUIRE(fd >= 0);
    std::mt19937 rng(5);
    for (int i = 0; i < 200; ++i) {
        const std::uint64_t off = rng() % (shadow.size() - 300000);
        const std::size_t len = 1 + rng() % 300000;
        if (i % 2 == 0) {
            auto d = random_bytes(len, static_cast<std::uint32_t>(100 + i));
            REQUIRE(::pwrite(fd, d.data(), len, static_cast<off_t>(off)) == static_cast<ssize_t>(len));
            std::copy(d.begin(), d.end(), shadow.begin() + static_cast<long>(off));
        } else {
            std::vector<std::byte> out(len);
            REQUIRE(::pread(fd, out.data(), len, static_cast<off_t>(off)) == static_cast<ssize_t>(len));
            REQUIRE(std::equal(out.begin(), out.end(), shadow.begin() + static_cast<long>(off)));
        }
    }
    REQUIRE(r.daemon.contents(0, 0) == shadow);

    const auto before = r.daemon.sync_count();
    CHECK(::fsync(fd) == 0);
    CHECK(r.daemon.sync_count() == before + 1);
    CHECK(::fdatasync(fd) == 0);
    CHECK(r.daemon.sync_count() == before + 2);
    ::close(fd);

    // Writers on their own file descriptors, distinct ranges, odd chunks
    // (neighbouring ranges share blocks).
    constexpr int writers = 4;
    constexpr std::size_t range = 3 * mib + 333;
    std::vector<std::thread> ts;
    std::atomic<int> failures{0};
    for (int t = 0; t < writers; ++t) {
        ts.emplace_back([&, t] {
            const int wfd = ::open(r.file(0).c_str(), O_WRONLY);
            if (wfd < 0) {
                ++failures;
                return;
            }
            const auto d = random_bytes(range, static_cast<std::uint32_t>(1000 + t));
            for (std::size_t pos = 0; pos < range;) {
                const std::size_t n = std::min<std::size_t>(range - pos, 77777);
                if (::pwrite(wfd, d.data() + pos, n, static_cast<off_t>(t * range + pos)) != static_cast<ssize_t>(n))
                    ++failures;
                pos += n;
            }
            ::close(wfd);
        });
    }
    for (auto& t : ts)
        t.join();
    REQUIRE(failures == 0);
    const auto disk = r.daemon.contents(0, 0);
    for (int t = 0; t < writers; ++t) {
        const auto d = random_bytes(range, static_cast<std::uint32_t>(1000 + t));
        REQUIRE(std::equal(d.begin(), d.end(), disk.begin() + static_cast<long>(t * range)));
    }
}

TEST_CASE("fuse export: the page cache stays coherent with O_DIRECT and with what changed on the disk",
          "[fuse][integration]")
{
    fuse_export_options opts;
    opts.direct_io = false; // reads cached
    rig r(opts);
    auto shadow = random_bytes(lun0_blocks * 512, 51);
    r.daemon.fill(0, 0, shadow);
    const int cached = ::open(r.file(0).c_str(), O_RDWR);
    const int direct = ::open(r.file(0).c_str(), O_RDWR | O_DIRECT);
    REQUIRE(cached >= 0);
    REQUIRE(direct >= 0);
    std::vector<std::byte> got(8192);
    aligned_buffer dbuf(8192);
    const auto reads = r.daemon.rw_count();
    REQUIRE(::pread(cached, got.data(), got.size(), 65536) == 8192);
    CHECK(std::equal(got.begin(), got.end(), shadow.begin() + 65536));
    // Cached: reading again reaches no command.
    const auto after_first = r.daemon.rw_count();
    CHECK(after_first > reads);
    REQUIRE(::pread(cached, got.data(), got.size(), 65536) == 8192);
    CHECK(r.daemon.rw_count() == after_first);

    // A direct write is seen through the cache at once.
    auto d1 = random_bytes(8192, 52);
    std::memcpy(dbuf.p, d1.data(), d1.size());
    REQUIRE(::pwrite(direct, dbuf.p, 8192, 65536) == 8192);
    std::copy(d1.begin(), d1.end(), shadow.begin() + 65536);
    REQUIRE(::pread(cached, got.data(), got.size(), 65536) == 8192);
    CHECK(got == d1);

    // An unaligned write through the cache reaches the disk before it
    // returns, and a direct read sees it.
    auto d2 = random_bytes(1000, 53);
    REQUIRE(::pwrite(cached, d2.data(), d2.size(), 65536 + 777) == 1000);
    std::copy(d2.begin(), d2.end(), shadow.begin() + 65536 + 777);
    REQUIRE(::pread(direct, dbuf.p, 8192, 65536) == 8192);
    CHECK(std::equal(dbuf.p, dbuf.p + 8192, shadow.begin() + 65536));
    CHECK(r.daemon.contents(0, 0) == shadow);

    // Changed on the disk behind the export (another initiator): a direct
    // read sees it at once, a new open drops what the cache held.
    auto d3 = random_bytes(4096, 54);
    std::copy(d3.begin(), d3.end(), shadow.begin() + 65536);
    r.daemon.fill(0, 0, shadow);
    REQUIRE(::pread(direct, dbuf.p, 4096, 65536) == 4096);
    CHECK(std::equal(dbuf.p, dbuf.p + 4096, d3.begin()));
    const int reopened = ::open(r.file(0).c_str(), O_RDONLY);
    REQUIRE(reopened >= 0);
    REQUIRE(::pread(reopened, got.data(), 4096, 65536) == 4096);
    CHECK(std::equal(got.begin(), got.begin() + 4096, d3.begin()));
    ::close(reopened);
    ::close(direct);
    ::close(cached);
}

TEST_CASE("fuse export: requests are answered asynchronously, many in flight with two workers or none",
          "[fuse][integration]")
{
    // The daemon holds every READ: each reader's request stays in flight.
    // Were a worker to wait for its command, two would be in flight at most
    // (none at all, the pumping thread stuck in its first request).
    fuse_export_options opts;
    opts.workers = GENERATE(2u, 0u);
    INFO("workers " << opts.workers);
    rig r(opts, 64);
    const auto shadow = random_bytes(lun0_blocks * 512, 61);
    r.daemon.fill(0, 0, shadow);
    r.daemon.hold_io(true);
    constexpr int readers = 40;
    std::vector<std::thread> ts;
    std::atomic<int> failures{0};
    for (int i = 0; i < readers; ++i) {
        ts.emplace_back([&, i] {
            aligned_buffer b(4096);
            const int fd = ::open(r.file(0).c_str(), O_RDONLY | O_DIRECT);
            const auto off = static_cast<off_t>(i) * 8192;
            if (fd < 0 || ::pread(fd, b.p, 4096, off) != 4096 || !std::equal(b.p, b.p + 4096, shadow.begin() + off))
                ++failures;
            if (fd >= 0)
                ::close(fd);
        });
    }
    const bool all_in_flight = wait_until([&] { return r.daemon.parked() == readers; });
    CHECK(r.daemon.parked() == readers);
    CHECK(all_in_flight);
    CHECK(r.fx.requests_in_flight() == readers);
    r.daemon.hold_io(false);
    for (auto& t : ts)
        t.join();
    CHECK(failures == 0);
    CHECK(wait_until([&] { return r.fx.requests_in_flight() == 0; }));
}

TEST_CASE("fuse export: stop while a request is in flight; it is answered later, the channels close then",
          "[fuse][integration]")
{
    fuse_export_options opts;
    opts.workers = GENERATE(2u, 0u);
    INFO("workers " << opts.workers);
    rig r(opts);
    r.daemon.hold_io(true);
    std::atomic<ssize_t> got{0};
    std::thread reader([&] {
        const int fd = ::open(r.file(0).c_str(), O_RDONLY);
        char b[512];
        got = fd < 0 ? -2 : ::pread(fd, b, sizeof b, 0);
        if (fd >= 0)
            ::close(fd);
    });
    REQUIRE(wait_until([&] { return r.daemon.parked() == 1; }));
    r.stop(); // busy: lazy unmount and connection abort
    reader.join();
    CHECK(got == -1); // the connection was aborted under the read
    CHECK_FALSE(is_mounted(r.mp.path));
    // The request still holds the session and its channels (one per
    // worker, or the pumped one).
    CHECK(open_fuse_fds() == 1 + std::max(1, static_cast<int>(opts.workers)));
    r.daemon.hold_io(false); // its command completes; the reply goes nowhere
    CHECK(wait_until([&] { return open_fuse_fds() == 0; }));

    // Mounted again, the file reads.
    r.start();
    std::vector<std::byte> buf(512);
    const int fd = ::open(r.file(0).c_str(), O_RDONLY);
    REQUIRE(fd >= 0);
    CHECK(::pread(fd, buf.data(), buf.size(), 0) == 512);
    ::close(fd);
}

TEST_CASE("fuse export: ext4 on a loop device over the exported file", "[fuse][integration]")
{
    fuse_export_options opts;
    opts.direct_io = GENERATE(true, false); // page cache on or off
    INFO("direct_io " << opts.direct_io);
    rig r(opts);
    temp_dir fsmnt("fuse-ext4");
    loop_guard loop;
    auto res = run({"losetup", "--find", "--show", r.file(0).string()});
    REQUIRE(res.ok());
    loop.dev = trim(res.out);
    const std::vector<std::string> mkfs{"mkfs.ext4", "-q", "-F", loop.dev};
    res = run(mkfs, std::chrono::seconds(60));
    INFO(res.describe(mkfs));
    REQUIRE(res.ok());
    REQUIRE(run({"mount", loop.dev, fsmnt.path.string()}).ok());
    const auto a = random_bytes(3 * mib + 17, 31), b = random_bytes(100, 32);
    write_file(fsmnt.path / "a", a);
    fs::create_directory(fsmnt.path / "dir");
    write_file(fsmnt.path / "dir" / "b", b);
    REQUIRE(run({"umount", fsmnt.path.string()}).ok());
    // Mounted again: the contents came back from the disk.
    REQUIRE(run({"mount", loop.dev, fsmnt.path.string()}).ok());
    CHECK(read_file(fsmnt.path / "a") == a);
    CHECK(read_file(fsmnt.path / "dir" / "b") == b);
    REQUIRE(run({"umount", fsmnt.path.string()}).ok());
    REQUIRE(run({"losetup", "-d", loop.dev}).ok());
    loop.dev.clear();
    res = run({"fsck.ext4", "-n", "-f", r.file(0).string()}, std::chrono::seconds(60));
    INFO(res.out << res.err);
    CHECK(res.ok());
}

TEST_CASE("fuse export: stop unmounts, also while a file is open", "[fuse][integration]")
{
    rig r;
    CHECK(r.fx.start() == fuse_export_errc::already_started);
    CHECK(open_fuse_fds() == 3); // the session's and one channel per worker (two)

    // A disk detached at run time disappears from the directory.
    REQUIRE_FALSE(r.fx.remove_disk("lun1"));
    CHECK_FALSE(fs::exists(r.file(1)));
    CHECK(fs::exists(r.file(0)));

    const int fd = ::open(r.file(0).c_str(), O_RDWR);
    REQUIRE(fd >= 0);
    r.fx.stop(); // busy: lazy unmount and connection abort
    CHECK_FALSE(r.fx.running());
    CHECK_FALSE(is_mounted(r.mp.path));
    char c = 0;
    CHECK(::pread(fd, &c, 1, 0) == -1); // the connection is gone
    ::close(fd);
    CHECK(open_fuse_fds() == 0);

    // Mounted again, stopped while idle.
    REQUIRE_FALSE(r.fx.start());
    CHECK(is_mounted(r.mp.path));
    CHECK(fs::exists(r.file(0)));
    r.fx.stop();
    CHECK_FALSE(is_mounted(r.mp.path));
    CHECK(open_fuse_fds() == 0);
}

TEST_CASE("fuse export: open_handles counts the open files, a loop device's too", "[fuse][integration]")
{
    rig r;
    CHECK(r.fx.open_handles("lun0") == 0);
    CHECK(r.fx.open_handles("nosuch") == 0);
    const int fd = ::open(r.file(0).c_str(), O_RDONLY);
    REQUIRE(fd >= 0);
    CHECK(r.fx.open_handles("lun0") == 1);
    CHECK(r.fx.open_handles("lun1") == 0);
    loop_guard loop;
    auto res = run({"losetup", "--find", "--show", r.file(0).string()});
    REQUIRE(res.ok());
    loop.dev = trim(res.out);
    CHECK(r.fx.open_handles("lun0") == 2); // the loop device holds the file open
    ::close(fd);
    REQUIRE(run({"losetup", "-d", loop.dev}).ok());
    loop.dev.clear();
    // FUSE sends RELEASE after the last close returns: wait for it.
    for (int i = 0; i < 500 && r.fx.open_handles("lun0") != 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(r.fx.open_handles("lun0") == 0);
}

TEST_CASE("fuse export: /dev/fd/N serves a descriptor mounted by someone else", "[fuse][integration]")
{
    // What a privileged parent does for its unprivileged worker (mount(8)'s
    // and libfuse's own options for a root mount).
    embedded_vscsi dev{embedded_vscsi_config{}};
    ram_disk_daemon daemon{dev, {{0, 0, 512, lun1_blocks}}};
    temp_dir mp("fuse-fd");
    const int fuse_fd = ::open("/dev/fuse", O_RDWR | O_CLOEXEC);
    REQUIRE(fuse_fd >= 0);
    const std::string opts = "fd=" + std::to_string(fuse_fd) + ",rootmode=40000,user_id=0,group_id=0";
    REQUIRE(::mount("iscsi-vscsi", mp.path.c_str(), "fuse.iscsi-vscsi", MS_NOSUID | MS_NODEV, opts.c_str()) == 0);
    CHECK(open_fuse_fds() == 1);
    {
        fuse_export fx(dev, "/dev/fd/" + std::to_string(fuse_fd));
        REQUIRE_FALSE(fx.start());
        CHECK(fx.mountpoint() == "/dev/fd/" + std::to_string(fuse_fd));
        daemon.request_probe(0, 0);
        for (int i = 0; i < 500 && dev.disks().empty(); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        REQUIRE(dev.disks().size() == 1);
        REQUIRE_FALSE(fx.add_disk("lun0", 0, 0, 512, lun1_blocks));
        const auto data = random_bytes(64 * 1024, 77);
        write_file(mp.path / "lun0", data);
        auto back = read_file(mp.path / "lun0");
        back.resize(data.size());
        CHECK(back == data);
        // The one who mounted unmounts; stop() then only joins and closes.
        REQUIRE(::umount2(mp.path.c_str(), UMOUNT_NOFOLLOW) == 0);
        fx.stop();
        CHECK_FALSE(fx.running());
    }
    CHECK(open_fuse_fds() == 0); // the descriptor was closed with the session
    CHECK_FALSE(is_mounted(mp.path));
}
