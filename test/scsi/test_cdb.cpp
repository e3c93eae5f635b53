// CDB builders: every byte of the commands the project issues itself.
#include "scsi/cdb.hpp"
#include "scsi/opcode.hpp"

#include <catch2/catch.hpp>

#include <vector>

using namespace ivs::scsi;

namespace {

std::vector<std::uint8_t> bytes_of(const cdb& c) { return {c.view().begin(), c.view().end()}; }

} // namespace

TEST_CASE("cdb: the fixed commands")
{
    CHECK(bytes_of(test_unit_ready()) == std::vector<std::uint8_t>{0x00, 0, 0, 0, 0, 0});
    CHECK(bytes_of(inquiry(36)) == std::vector<std::uint8_t>{0x12, 0, 0, 0, 36, 0});
    CHECK(bytes_of(inquiry(0x1234)) == std::vector<std::uint8_t>{0x12, 0, 0, 0x12, 0x34, 0});
    CHECK(bytes_of(report_luns(0x01020304)) == std::vector<std::uint8_t>{0xa0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 0, 0});
    CHECK(bytes_of(read_capacity_10()) == std::vector<std::uint8_t>{0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0});
    CHECK(bytes_of(read_capacity_16(32)) ==
          std::vector<std::uint8_t>{0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0});
    CHECK(bytes_of(synchronize_cache_10()) == std::vector<std::uint8_t>{0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0});
    // Bytes past the length stay zero.
    const cdb c = inquiry(36);
    for (std::size_t i = c.length; i < c.bytes.size(); ++i)
        CHECK(c.bytes[i] == 0);
    CHECK(c.as_bytes().size() == 6);
}

TEST_CASE("cdb: READ/WRITE(10) while the range fits 32 bits and 16-bit lengths, (16) beyond")
{
    CHECK(bytes_of(read_write(false, 0x01020304, 0x0506)) ==
          std::vector<std::uint8_t>{op::read_10, 0, 1, 2, 3, 4, 0, 5, 6, 0});
    CHECK(bytes_of(read_write(true, 0xfffffff0, 16)) ==
          std::vector<std::uint8_t>{op::write_10, 0, 0xff, 0xff, 0xff, 0xf0, 0, 0, 16, 0});
    // The range would end past 2^32: (16).
    CHECK(bytes_of(read_write(true, 0xfffffff0, 17)) ==
          std::vector<std::uint8_t>{op::write_16, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xf0, 0, 0, 0, 17, 0, 0});
    // More than 0xffff blocks: (16).
    CHECK(bytes_of(read_write(false, 7, 0x10000)) ==
          std::vector<std::uint8_t>{op::read_16, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 1, 0, 0, 0, 0});
    CHECK(bytes_of(read_write(false, 0x0102030405060708, 1)) ==
          std::vector<std::uint8_t>{op::read_16, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 1, 0, 0});
}

TEST_CASE("cdb: REPORT LUNS allocation length rewritten in place")
{
    std::vector<std::byte> c(12);
    c[0] = std::byte{op::report_luns};
    c[2] = std::byte{0x02}; // SELECT REPORT is kept
    REQUIRE(set_report_luns_allocation_length(c, 16384));
    CHECK(c[2] == std::byte{0x02});
    CHECK(c[6] == std::byte{0});
    CHECK(c[7] == std::byte{0});
    CHECK(c[8] == std::byte{0x40});
    CHECK(c[9] == std::byte{0});
    std::vector<std::byte> short_cdb(6);
    CHECK_FALSE(set_report_luns_allocation_length(short_cdb, 16384));
    CHECK(short_cdb == std::vector<std::byte>(6));
}
