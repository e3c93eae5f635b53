// The embedded vscsi's midlayer probe against a scripted daemon: the command
// sequence, unit-attention retries, READ CAPACITY fallback, attach lines.
#include "test/support/vscsi_test_support.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <cstring>
#include <map>
#include <string>
#include <thread>

using namespace ivs;
using namespace ivs::vscsi;
using namespace ivs::vscsi::test;

namespace {

struct log_sink {
    std::mutex m;
    std::vector<std::string> lines;
    ivs::log::sink fn()
    {
        return ivs::log::sink([this](ivs::log::level, std::string_view s) {
            std::lock_guard lk(m);
            lines.emplace_back(s);
        });
    }
    std::vector<std::string> get()
    {
        std::lock_guard lk(m);
        return lines;
    }
};

std::vector<std::byte> inquiry(std::uint8_t type, const char* vendor, const char* product, const char* rev,
                               std::uint8_t version = 5)
{
    std::vector<std::byte> d(36, std::byte{' '});
    d[0] = std::byte{type};
    d[1] = std::byte{0};
    d[2] = std::byte{version};
    d[3] = std::byte{0x02};
    d[4] = std::byte{31};
    d[5] = d[6] = d[7] = std::byte{0};
    std::memcpy(d.data() + 8, vendor, std::min<std::size_t>(8, std::strlen(vendor)));
    std::memcpy(d.data() + 16, product, std::min<std::size_t>(16, std::strlen(product)));
    std::memcpy(d.data() + 32, rev, std::min<std::size_t>(4, std::strlen(rev)));
    return d;
}

std::vector<std::byte> be_bytes(std::uint64_t v, int n)
{
    std::vector<std::byte> out(static_cast<std::size_t>(n));
    for (int i = n - 1; i >= 0; --i, v >>= 8)
        out[static_cast<std::size_t>(i)] = static_cast<std::byte>(v & 0xff);
    return out;
}

// Supplies at most datalen bytes of `d` and completes with DONE.
void reply(vscsi_device& h, const vscsi_i2t& c, const std::vector<std::byte>& d)
{
    const std::size_t n = std::min(d.size(), c.datalen);
    REQUIRE_FALSE(h.data_read(c.tag, std::span<const std::byte>(d.data(), n)));
    REQUIRE_FALSE(h.t2i(c.tag, vscsi_status::done));
}

struct scripted {
    log_sink log;
    embedded_vscsi dev;
    std::unique_ptr<vscsi_device> h;
    std::vector<std::pair<int, std::uint8_t>> seen; // (lun, opcode)

    scripted() : dev(make_cfg(log)) { REQUIRE_FALSE(dev.open(h)); }
    static embedded_vscsi_config make_cfg(log_sink& l)
    {
        embedded_vscsi_config cfg;
        cfg.log = l.fn();
        return cfg;
    }
    bool run(const std::function<void(const vscsi_i2t&)>& answer)
    {
        return serve(
            *h,
            [&](const vscsi_i2t& c) {
                seen.emplace_back(c.lun, c.cmd[0]);
                answer(c);
            },
            [&] { return dev.probe_idle(); });
    }
};

} // namespace

TEST_CASE("probing a disk LUN: INQUIRY, TUR with one UNIT ATTENTION, READ CAPACITY(16) failing then (10)", "[probe]")
{
    scripted s;
    int tur_count = 0;
    REQUIRE_FALSE(s.h->request_probe(0, 1));
    REQUIRE(s.run([&](const vscsi_i2t& c) {
        switch (c.cmd[0]) {
        case 0x12:
            CHECK(c.direction == vscsi_dir::read);
            CHECK(c.datalen >= 36);
            reply(*s.h, c, inquiry(0x00, "IET", "VIRTUAL-DISK", "0001"));
            break;
        case 0x00:
            CHECK(c.direction == vscsi_dir::none);
            if (tur_count++ == 0) // power on, reset, or bus device reset occurred
                REQUIRE_FALSE(s.h->t2i(c.tag, vscsi_status::sense, scsi::make_fixed_sense(0x06, 0x29, 0x00)));
            else
                REQUIRE_FALSE(s.h->t2i(c.tag, vscsi_status::done));
            break;
        case 0x9e:
            CHECK(c.cmd[1] == 0x10); // READ CAPACITY(16) service action
            REQUIRE_FALSE(s.h->t2i(c.tag, vscsi_status::sense, scsi::make_fixed_sense(0x05, 0x20, 0x00)));
            break;
        case 0x25: {
            auto d = be_bytes(524287, 4);
            auto bl = be_bytes(512, 4);
            d.insert(d.end(), bl.begin(), bl.end());
            reply(*s.h, c, d);
            break;
        }
        default: FAIL("unexpected opcode " << int(c.cmd[0]));
        }
    }));
    const std::vector<std::pair<int, std::uint8_t>> expected = {{1, 0x12}, {1, 0x00}, {1, 0x00}, {1, 0x9e}, {1, 0x25}};
    CHECK(s.seen == expected);
    CHECK(s.log.get() ==
          std::vector<std::string>{"sd0 at scsibus0 targ 0 lun 1: <IET, VIRTUAL-DISK, 0001> SCSI3 0/direct fixed",
                                   "sd0: 256MB, 512 bytes/sector, 524288 sectors"});
    auto disks = s.dev.disks();
    REQUIRE(disks.size() == 1);
    CHECK(disks[0].name == "sd0");
    CHECK(disks[0].target == 0);
    CHECK(disks[0].lun == 1);
    CHECK(disks[0].vendor == "IET");
    CHECK(disks[0].product == "VIRTUAL-DISK");
    CHECK(disks[0].revision == "0001");
    CHECK(disks[0].block_size == 512);
    CHECK(disks[0].block_count == 524288);

    // Probing an attached LUN again issues nothing; detach removes it.
    s.seen.clear();
    REQUIRE_FALSE(s.h->request_probe(0, 1));
    REQUIRE(s.run([](const vscsi_i2t&) { FAIL("no command expected"); }));
    CHECK(s.seen.empty());
    REQUIRE_FALSE(s.h->request_detach(0, 1));
    REQUIRE(s.run([](const vscsi_i2t&) { FAIL("no command expected"); }));
    CHECK(s.dev.disks().empty());
    CHECK(s.log.get().back() == "sd0 detached");
}

TEST_CASE("a controller LUN gets no sd, a failing LUN is only skipped, units are numbered in attach order", "[probe]")
{
    scripted s;
    auto answer = [&](const vscsi_i2t& c) {
        switch (c.cmd[0]) {
        case 0x12:
            if (c.lun == 0)
                reply(*s.h, c, inquiry(0x0c, "IET", "Controller", "0001"));
            else if (c.lun == 2)
                REQUIRE_FALSE(s.h->t2i(c.tag, vscsi_status::err));
            else
                reply(*s.h, c, inquiry(0x00, "IET", "VIRTUAL-DISK", "0001", 2));
            break;
        case 0x00: REQUIRE_FALSE(s.h->t2i(c.tag, vscsi_status::done)); break;
        case 0x25: { // SCSI-2 device: READ CAPACITY(10) says 0xffffffff, (16) follows
            auto d = be_bytes(0xffffffff, 4);
            auto bl = be_bytes(4096, 4);
            d.insert(d.end(), bl.begin(), bl.end());
            reply(*s.h, c, d);
            break;
        }
        case 0x9e: {
            auto d = be_bytes(0x1ffffffffULL, 8);
            auto bl = be_bytes(4096, 4);
            d.insert(d.end(), bl.begin(), bl.end());
            d.resize(32);
            reply(*s.h, c, d);
            break;
        }
        default: REQUIRE_FALSE(s.h->t2i(c.tag, vscsi_status::sense, scsi::make_fixed_sense(0x05, 0x20, 0)));
        }
    };
    REQUIRE_FALSE(s.h->request_probe(0, 0));
    REQUIRE_FALSE(s.h->request_probe(0, 2));
    REQUIRE_FALSE(s.h->request_probe(0, 3));
    REQUIRE_FALSE(s.h->request_probe(1, 5));
    REQUIRE(s.run(answer));
    CHECK(s.log.get() == std::vector<std::string>{
                             "scsibus0 targ 0 lun 0: <IET, Controller, 0001> SCSI3 12/unknown fixed not configured",
                             "sd0 at scsibus0 targ 0 lun 3: <IET, VIRTUAL-DISK, 0001> SCSI2 0/direct fixed",
                             "sd0: 33554432MB, 4096 bytes/sector, 8589934592 sectors",
                             "sd1 at scsibus0 targ 1 lun 5: <IET, VIRTUAL-DISK, 0001> SCSI2 0/direct fixed",
                             "sd1: 33554432MB, 4096 bytes/sector, 8589934592 sectors"});
    // LUN 0 is probed with a TUR first (clears pending conditions).
    CHECK(s.seen.at(0) == std::pair<int, std::uint8_t>{0, 0x00});
    CHECK(s.seen.at(1) == std::pair<int, std::uint8_t>{0, 0x12});
    auto disks = s.dev.disks();
    REQUIRE(disks.size() == 2);
    CHECK(disks[1].name == "sd1");

    // The lowest free unit is reused after a detach, like autoconf does.
    REQUIRE_FALSE(s.h->request_detach(0, -1));
    REQUIRE_FALSE(s.h->request_probe(0, 4));
    REQUIRE(s.run(answer));
    disks = s.dev.disks();
    REQUIRE(disks.size() == 2);
    CHECK(disks[0].name == "sd1");
    CHECK(disks[1].name == "sd0");
    CHECK(disks[1].lun == 4);

    // The last close detaches everything.
    s.h.reset();
    auto lines = s.log.get();
    REQUIRE(lines.size() >= 2);
    CHECK(lines[lines.size() - 2] == "sd1 detached");
    CHECK(lines[lines.size() - 1] == "sd0 detached");
    CHECK(s.dev.disks().empty());
}

TEST_CASE("probing all LUNs of a target uses REPORT LUNS on LUN 0 of an SPC device", "[probe]")
{
    scripted s;
    REQUIRE_FALSE(s.h->request_probe(2, -1));
    REQUIRE(s.run([&](const vscsi_i2t& c) {
        switch (c.cmd[0]) {
        case 0x12: reply(*s.h, c, inquiry(0x00, "IET", c.lun == 0 ? "DISK-0" : "DISK-6", "0001")); break;
        case 0xa0: {
            CHECK(c.lun == 0);
            std::vector<std::byte> d = be_bytes(16, 4);
            d.resize(8 + 16);
            d[8 + 1] = std::byte{0};
            d[16 + 1] = std::byte{6};
            reply(*s.h, c, d);
            break;
        }
        case 0x9e: {
            auto d = be_bytes(2047, 8);
            auto bl = be_bytes(512, 4);
            d.insert(d.end(), bl.begin(), bl.end());
            reply(*s.h, c, d);
            break;
        }
        default: REQUIRE_FALSE(s.h->t2i(c.tag, vscsi_status::done));
        }
    }));
    auto disks = s.dev.disks();
    REQUIRE(disks.size() == 2);
    CHECK(disks[0].lun == 0);
    CHECK(disks[1].lun == 6);
    CHECK(disks[1].product == "DISK-6");
    CHECK(disks[1].block_count == 2048);
    int inquiries = 0;
    for (auto& [lun, op] : s.seen)
        inquiries += op == 0x12;
    CHECK(inquiries == 2); // only the reported LUNs
}

TEST_CASE("probing a target whose LUN 0 attaches nothing probes no other LUN", "[probe]")
{
    scripted s;
    REQUIRE_FALSE(s.h->request_probe(0, -1));
    REQUIRE(s.run([&](const vscsi_i2t& c) {
        if (c.cmd[0] == 0x12)
            reply(*s.h, c, inquiry(0x0c, "IET", "Controller", "0001"));
        else
            REQUIRE_FALSE(s.h->t2i(c.tag, vscsi_status::done));
    }));
    for (auto& [lun, op] : s.seen)
        CHECK(lun == 0);
    CHECK(s.dev.disks().empty());
}

TEST_CASE("INQUIRY data is parsed and made visible like scsi_strvis", "[probe]")
{
    auto d = inquiry(0x80 | 0x00, "  A\tB  ", "x\\y\x01", "");
    d[1] = std::byte{0x80};
    auto inq = parse_inquiry(d);
    REQUIRE(inq);
    CHECK(inq->qualifier == 4);
    CHECK(inq->removable);
    CHECK(inq->vendor == "A B");
    CHECK(inq->product == "x\\\\y\\001");
    CHECK(inq->revision.empty());
    CHECK_FALSE(parse_inquiry(std::span<const std::byte>(d.data(), 4)));
    CHECK(attach_line("sd3 at scsibus1", 4, 5, *inq) ==
          "sd3 at scsibus1 targ 4 lun 5: <A B, x\\\\y\\001, > SCSI3 0/direct removable");
}

TEST_CASE("wait_probe_idle wakes when the probe ends, and gives up at its limit", "[probe]")
{
    scripted s;
    REQUIRE_FALSE(s.h->request_probe(0, 1));
    // Nobody serves the probe's first command yet: not idle within the limit.
    CHECK_FALSE(s.dev.wait_probe_idle(std::chrono::milliseconds(100)));
    CHECK_FALSE(s.dev.probe_idle());
    // Served on another thread (every command fails: nothing attaches), the
    // probe ends and the waiter wakes well before its limit.
    std::atomic<bool> idle{false};
    std::thread daemon([&] {
        serve(
            *s.h,
            [&](const vscsi_i2t& c) {
                REQUIRE_FALSE(s.h->t2i(c.tag, vscsi_status::sense, scsi::make_fixed_sense(0x05, 0x25, 0x00)));
            },
            [&] { return idle.load(); });
    });
    const auto t0 = std::chrono::steady_clock::now();
    CHECK(s.dev.wait_probe_idle(std::chrono::seconds(20)));
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(10));
    CHECK(s.dev.probe_idle());
    idle = true;
    daemon.join();
    CHECK(s.dev.disks().empty());
}
