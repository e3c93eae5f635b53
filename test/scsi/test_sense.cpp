// Sense conversion: fixed and descriptor formats to vscsi's 18 fixed bytes.
#include "scsi/sense.hpp"
#include "test/support/bytes.hpp"

#include <catch2/catch.hpp>

#include <vector>

using namespace ivs::scsi;

using ivs::test::bytes;

TEST_CASE("sense: fixed format is kept, 18 bytes")
{
    // VALID, MEDIUM ERROR, information 0x00001234, UNRECOVERED READ ERROR, 2 extra bytes.
    auto in = bytes({0xf0, 0, 0x03, 0, 0, 0x12, 0x34, 10, 1, 2, 3, 4, 0x11, 0x00, 0, 0x80, 0, 9, 0xaa, 0xbb});
    auto s = convert_sense(in);
    REQUIRE(s);
    CHECK((*s)[0] == 0xf0);
    CHECK(sense_key(*s) == 0x03);
    CHECK((*s)[5] == 0x12);
    CHECK((*s)[6] == 0x34);
    CHECK((*s)[7] == 10);
    CHECK((*s)[8] == 1);
    CHECK((*s)[12] == 0x11);
    CHECK((*s)[15] == 0x80);
    CHECK((*s)[17] == 9);

    auto deferred = bytes({0x71, 0, 0x06, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x29, 0x00});
    s = convert_sense(deferred);
    REQUIRE(s);
    CHECK((*s)[0] == 0x71);
    CHECK((*s)[12] == 0x29);
}

TEST_CASE("sense: truncated fixed format is zero-filled with a clipped length")
{
    // Only 14 bytes: ASC/ASCQ present, additional length clipped to 6.
    auto s = convert_sense(bytes({0x70, 0, 0x05, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x24, 0x01}));
    REQUIRE(s);
    CHECK(sense_key(*s) == 0x05);
    CHECK((*s)[7] == 6);
    CHECK((*s)[12] == 0x24);
    CHECK((*s)[13] == 0x01);
    CHECK((*s)[14] == 0);

    // Key only.
    s = convert_sense(bytes({0x70, 0, 0x02}));
    REQUIRE(s);
    CHECK(sense_key(*s) == 0x02);
    CHECK((*s)[7] == 0);
    CHECK((*s)[12] == 0);

    CHECK(!convert_sense(bytes({0x70, 0})));
    CHECK(!convert_sense({}));
    CHECK(!convert_sense(bytes({0x00, 0, 5, 0, 0, 0, 0, 10}))); // not sense data
    CHECK(!convert_sense(bytes({0x7f, 0, 5})));
}

TEST_CASE("sense: descriptor format becomes fixed format")
{
    // NOT READY / 04 02, information descriptor (fits 32 bits), command-
    // specific, sense-key specific and FRU descriptors.
    auto in = bytes({0x72, 0x02, 0x04, 0x02, 0,    0,    0,    40,   0x00, 0x0a, 0x80, 0,    0, 0,   0,
                     0,    0xde, 0xad, 0xbe, 0xef, 0x01, 0x0a, 0,    0,    0,    0,    0,    0, 1,   2,
                     3,    4,    0x02, 0x06, 0,    0,    0x80, 0x00, 0x10, 0,    0x03, 0x02, 0, 0x77});
    auto s = convert_sense(in);
    REQUIRE(s);
    const fixed_sense want{0xf0, 0, 0x02, 0xde, 0xad, 0xbe, 0xef, 10, 1, 2, 3, 4, 0x04, 0x02, 0x77, 0x80, 0x00, 0x10};
    CHECK(*s == want);
}

TEST_CASE("sense: descriptor information beyond 32 bits is dropped, deferred kept")
{
    auto in = bytes({0x73, 0x03, 0x11, 0x00, 0, 0, 0, 12, 0x00, 0x0a, 0x80, 0, 0, 0, 0, 1, 0, 0, 0, 5});
    auto s = convert_sense(in);
    REQUIRE(s);
    CHECK((*s)[0] == 0x71); // no VALID: the LBA does not fit
    CHECK(sense_key(*s) == 0x03);
    CHECK((*s)[3] == 0);
    CHECK((*s)[6] == 0);
    CHECK((*s)[12] == 0x11);
}

TEST_CASE("sense: truncated descriptor sense")
{
    // Header only up to the key: ASC/ASCQ missing -> zero.
    auto s = convert_sense(bytes({0x72, 0x05}));
    REQUIRE(s);
    CHECK(sense_key(*s) == 0x05);
    CHECK((*s)[12] == 0);
    CHECK(!convert_sense(bytes({0x72})));

    // A descriptor longer than the data (and than the additional length) is ignored.
    s = convert_sense(bytes({0x72, 0x05, 0x25, 0x00, 0, 0, 0, 200, 0x02, 0x06, 0, 0, 0x80}));
    REQUIRE(s);
    CHECK((*s)[12] == 0x25);
    CHECK((*s)[15] == 0);
    // The additional length cuts a descriptor that the data would hold.
    s = convert_sense(bytes({0x72, 0x05, 0x25, 0x00, 0, 0, 0, 4, 0x02, 0x06, 0, 0, 0x80, 0, 0, 0}));
    REQUIRE(s);
    CHECK((*s)[15] == 0);
}

TEST_CASE("sense: the key of sense data as a target sent it")
{
    CHECK(sense_key(bytes({0x70, 0, 0x06})) == std::optional<std::uint8_t>(0x06));
    CHECK(sense_key(bytes({0xf1, 0, 0x35})) == std::optional<std::uint8_t>(0x05)); // VALID, deferred
    CHECK(sense_key(bytes({0x72, 0x05})) == std::optional<std::uint8_t>(0x05));
    CHECK(sense_key(bytes({0x73, 0x06, 0x29})) == std::optional<std::uint8_t>(0x06));
    CHECK_FALSE(sense_key(bytes({0x70, 0}))); // too short for the key
    CHECK_FALSE(sense_key(bytes({0x72})));
    CHECK_FALSE(sense_key(std::span<const std::byte>{}));
    CHECK_FALSE(sense_key(bytes({0x00, 0, 5}))); // not sense data
    // Fixed-format sense as built here.
    CHECK(sense_key(make_fixed_sense(key::unit_attention, asc::power_on_or_reset, 0)) == key::unit_attention);
}

TEST_CASE("sense: descriptor types 0x04 (stream) and 0x05 (block) keep their flags in byte 2")
{
    // MEDIUM ERROR with a stream commands descriptor: FILEMARK and EOM.
    auto s = convert_sense(bytes({0x72, 0x03, 0x00, 0x01, 0, 0, 0, 4, 0x04, 0x02, 0x00, 0xc0}));
    REQUIRE(s);
    CHECK(sense_key(*s) == 0x03);
    CHECK(((*s)[2] & 0xe0) == 0xc0);
    CHECK((*s)[12] == 0x00);
    CHECK((*s)[13] == 0x01);
    // ILLEGAL REQUEST with a block commands descriptor: ILI (and nothing else of byte 3).
    s = convert_sense(bytes({0x72, 0x05, 0x24, 0x00, 0, 0, 0, 4, 0x05, 0x02, 0x00, 0xff}));
    REQUIRE(s);
    CHECK(sense_key(*s) == 0x05);
    CHECK(((*s)[2] & 0xe0) == 0x20);
    // Both, after an information descriptor, deferred.
    s = convert_sense(bytes({0x73, 0x0e, 0x10, 0x00, 0, 0, 0,    20,   0x00, 0x0a, 0x80, 0,
                             0,    0,    0,    0,    0, 0, 0x12, 0x34, 0x05, 0x02, 0x00, 0x20}));
    REQUIRE(s);
    CHECK((*s)[0] == (0x71 | 0x80));
    CHECK(sense_key(*s) == 0x0e);
    CHECK(((*s)[2] & 0xe0) == 0x20);
    CHECK((*s)[5] == 0x12);
    CHECK((*s)[6] == 0x34);
}
