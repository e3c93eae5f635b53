// REPORT LUNS parameter data: framing, LUN decoding, building.
#include "scsi/report_luns.hpp"
#include "test/support/bytes.hpp"

#include <catch2/catch.hpp>

#include <vector>

using namespace ivs::scsi;

using ivs::test::bytes;

TEST_CASE("report_luns: entries are bounded by the list length and by the data")
{
    // Two entries listed and present, then a third beyond the list length.
    auto d =
        bytes({0, 0, 0, 16, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x40, 0x12, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0});
    auto e = report_luns_entries(d);
    REQUIRE(e);
    CHECK(*e == std::vector<std::uint64_t>{0x0001000000000000ull, 0x4012000000000000ull});
    CHECK(*parse_report_luns(d) == std::vector<std::uint64_t>{1, 0x12});

    // A list length beyond the data: only whole entries present count.
    d = bytes({0, 0, 4, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 6, 0});
    CHECK(*parse_report_luns(d) == std::vector<std::uint64_t>{5});

    // A header alone: no LUNs; less than a header: nothing usable.
    CHECK(parse_report_luns(bytes({0, 0, 0, 0, 0, 0, 0, 0}))->empty());
    CHECK_FALSE(parse_report_luns(bytes({0, 0, 0, 8, 0, 0, 0})));
    CHECK_FALSE(report_luns_entries({}));
}

TEST_CASE("report_luns: peripheral and flat entries decode, other addressing is skipped")
{
    CHECK(decode_lun_entry(0x0007000000000000ull) == 7u);
    CHECK(decode_lun_entry(0x412c000000000000ull) == 300u);
    CHECK_FALSE(decode_lun_entry(0x8001000000000000ull)); // logical unit addressing
    CHECK_FALSE(decode_lun_entry(0xc001000000000000ull)); // extended
    CHECK_FALSE(decode_lun_entry(0x0105000000000000ull)); // bus 1
    CHECK_FALSE(decode_lun_entry(0x0001000200000000ull)); // second level
    auto d =
        bytes({0, 0, 0, 24, 0, 0, 0, 0, 0x80, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3, 0, 1, 0, 0, 0, 0});
    CHECK(*parse_report_luns(d) == std::vector<std::uint64_t>{2});
}

TEST_CASE("report_luns: built in peripheral addressing, the length counts all, the data is cut")
{
    const std::uint8_t luns[] = {0, 5, 255};
    CHECK(make_report_luns(luns, 4096) ==
          bytes({0, 0, 0, 24, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 255, 0, 0, 0, 0, 0, 0}));
    CHECK(make_report_luns(luns, 12) == bytes({0, 0, 0, 24, 0, 0, 0, 0, 0, 0, 0, 0}));
    CHECK(make_report_luns({}, 4096) == bytes({0, 0, 0, 0, 0, 0, 0, 0}));
    CHECK(*parse_report_luns(make_report_luns(luns, 4096)) == std::vector<std::uint64_t>{0, 5, 255});
}
