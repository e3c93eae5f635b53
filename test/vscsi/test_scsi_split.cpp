// Splitting block READ/WRITE by the maximum transfer, directly and through
// the embedded vscsi.
#include "scsi/opcode.hpp"
#include "vscsi/scsi_split.hpp"
#include "test/support/vscsi_test_support.hpp"

#include <catch2/catch.hpp>

using namespace ivs;
using namespace ivs::vscsi;
using namespace ivs::vscsi::test;

namespace {

std::uint64_t be(const std::array<std::uint8_t, 16>& cdb, int off, int n)
{
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i)
        v = (v << 8) | cdb[static_cast<std::size_t>(off + i)];
    return v;
}

} // namespace

TEST_CASE("split_rw cuts a 1 MiB READ into 16 READ(10) of 64 KiB with consecutive LBAs", "[split]")
{
    std::vector<std::byte> buf(1024 * 1024);
    std::vector<scsi_command> cmds;
    REQUIRE_FALSE(split_rw(2, 3, 1000, 512, buf, {}, 64 * 1024, cmds));
    REQUIRE(cmds.size() == 16);
    for (std::size_t i = 0; i < cmds.size(); ++i) {
        const auto& c = cmds[i];
        CHECK(c.target == 2);
        CHECK(c.lun == 3);
        CHECK(c.dir == vscsi_dir::read);
        CHECK(c.cdb[0] == scsi::op::read_10);
        CHECK(c.cdblen == 10);
        CHECK(be(c.cdb, 2, 4) == 1000 + 128 * i);
        CHECK(be(c.cdb, 7, 2) == 128);
        CHECK(c.data_in.data() == buf.data() + i * 64 * 1024);
        CHECK(c.data_in.size() == 64 * 1024);
    }
}

TEST_CASE("split_rw uses (16) CDBs past 32-bit LBAs, a short last piece, and rejects bad shapes", "[split]")
{
    std::vector<std::byte> buf(4096 * 20);
    std::vector<scsi_command> cmds;
    const std::uint64_t lba = 0xfffffff0ULL;
    REQUIRE_FALSE(split_rw(0, 0, lba, 4096, {}, buf, 64 * 1024, cmds));
    REQUIRE(cmds.size() == 2);
    CHECK(cmds[0].cdb[0] == scsi::op::write_10); // 0xfffffff0 + 16 fits in 32 bits
    CHECK(be(cmds[0].cdb, 7, 2) == 16);
    CHECK(cmds[1].cdb[0] == scsi::op::write_16); // 0x100000000 does not
    CHECK(cmds[1].cdblen == 16);
    CHECK(be(cmds[1].cdb, 2, 8) == lba + 16);
    CHECK(be(cmds[1].cdb, 10, 4) == 4);
    CHECK(cmds[1].data_out.size() == 4 * 4096);

    const auto einval = std::make_error_code(std::errc::invalid_argument);
    std::vector<std::byte> odd(1000);
    CHECK(split_rw(0, 0, 0, 512, odd, {}, 65536, cmds) == einval);
    CHECK(split_rw(0, 0, 0, 0, buf, {}, 65536, cmds) == einval);
    CHECK(split_rw(0, 0, 0, 131072, buf, {}, 65536, cmds) == einval);
    CHECK(split_rw(0, 0, 0, 512, buf, buf, 65536, cmds) == einval);
    CHECK(split_rw(0, 0, UINT64_MAX, 512, buf, {}, 65536, cmds) == einval);
}

TEST_CASE("a 1 MiB read through the embedded vscsi arrives as 16 commands of 64 KiB", "[split]")
{
    recorder rec; // outlives the device: the close completes into it
    embedded_vscsi dev;
    std::unique_ptr<vscsi_device> h;
    REQUIRE_FALSE(dev.open(h));
    std::vector<std::byte> buf(1024 * 1024);
    REQUIRE_FALSE(dev.submit_read(0, 1, 2048, 512, buf, rec.handler(1)));

    std::vector<vscsi_i2t> seen;
    vscsi_i2t c;
    while (!h->i2t(c))
        seen.push_back(c);
    REQUIRE(seen.size() == 16);
    for (std::size_t i = 0; i < seen.size(); ++i) {
        CHECK(seen[i].datalen == 64 * 1024);
        CHECK(seen[i].direction == vscsi_dir::read);
        CHECK(seen[i].cmd[0] == scsi::op::read_10);
        CHECK(be(seen[i].cmd, 2, 4) == 2048 + 128 * i);
        CHECK(be(seen[i].cmd, 7, 2) == 128);
    }
    // Complete out of order; each chunk filled with its index, the 4th short.
    for (std::size_t k = 0; k < seen.size(); ++k) {
        const std::size_t i = seen.size() - 1 - k;
        std::vector<std::byte> data(64 * 1024, static_cast<std::byte>(i + 1));
        const std::size_t n = i == 3 ? data.size() - 512 : data.size();
        REQUIRE_FALSE(h->data_read(seen[i].tag, std::span<const std::byte>(data.data(), n)));
        REQUIRE_FALSE(h->t2i(seen[i].tag, vscsi_status::done));
    }
    REQUIRE(rec.size() == 1);
    CHECK(rec.got[0].second.status == vscsi_status::done);
    CHECK(rec.got[0].second.residual == 512);
    CHECK(buf[0] == std::byte{1});
    CHECK(buf[15 * 65536 + 65535] == std::byte{16});
    CHECK(buf[3 * 65536 + 65535] == std::byte{0});
}

TEST_CASE("a split write reports the first failing chunk's sense", "[split]")
{
    recorder rec; // outlives the device: the close completes into it
    embedded_vscsi dev;
    std::unique_ptr<vscsi_device> h;
    REQUIRE_FALSE(dev.open(h));
    std::vector<std::byte> buf(3 * 65536, std::byte{0x5a});
    REQUIRE_FALSE(dev.submit_write(0, 0, 0, 4096, buf, rec.handler(1)));
    std::vector<vscsi_i2t> seen;
    vscsi_i2t c;
    while (!h->i2t(c))
        seen.push_back(c);
    REQUIRE(seen.size() == 3);
    std::vector<std::byte> fetched(65536);
    REQUIRE_FALSE(h->data_write(seen[0].tag, fetched));
    CHECK(fetched[100] == std::byte{0x5a});
    REQUIRE_FALSE(h->t2i(seen[0].tag, vscsi_status::done));
    REQUIRE_FALSE(h->t2i(seen[2].tag, vscsi_status::sense, scsi::make_fixed_sense(0x07, 0x27, 0)));
    REQUIRE_FALSE(h->t2i(seen[1].tag, vscsi_status::sense, scsi::make_fixed_sense(0x03, 0x0c, 0)));
    REQUIRE(rec.size() == 1);
    CHECK(rec.got[0].second.status == vscsi_status::sense);
    CHECK(scsi::sense_key(rec.got[0].second.sense) == 0x03); // chunk 1 precedes chunk 2
    CHECK(rec.got[0].second.residual == 2 * 65536);
}
