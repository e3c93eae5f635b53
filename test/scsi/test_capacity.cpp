// READ CAPACITY(10)/(16) parameter data.
#include "scsi/capacity.hpp"
#include "test/support/bytes.hpp"

#include <catch2/catch.hpp>

#include <vector>

using namespace ivs::scsi;

using ivs::test::bytes;

TEST_CASE("capacity: READ CAPACITY(10) and (16)")
{
    auto c10 = parse_read_capacity_10(bytes({0x00, 0x07, 0xff, 0xff, 0, 0, 2, 0}));
    REQUIRE(c10);
    CHECK(c10->last_lba == 0x7ffff);
    CHECK(c10->block_length == 512);
    CHECK_FALSE(parse_read_capacity_10(bytes({0, 0, 0, 1, 0, 0, 2})));

    auto d16 = bytes({0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x10, 0, 0xaa, 0xbb});
    auto c16 = parse_read_capacity_16(d16);
    REQUIRE(c16);
    CHECK(c16->last_lba == 0x100000000ull);
    CHECK(c16->block_length == 4096);
    CHECK_FALSE(parse_read_capacity_16(std::span<const std::byte>(d16.data(), 11)));
}
