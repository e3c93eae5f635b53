// AHS (RFC 7143 §11.2.2) and LUN field (SAM single-level addressing) handling.
#include "pdu/pdus.hpp"
#include "test_codec_support.hpp"

#include <stdexcept>

using namespace ivs::pdu;
using ivs::pdu::test::bhs_hex;
using ivs::pdu::test::encoded;
using ivs::pdu::test::hex;

namespace {

// READ(32): variable-length CDB, 32 bytes, bytes 16..31 made distinct.
std::vector<std::byte> read32_cdb()
{
    return hex("7f 00 00 00 00 00 00 18 00 09 00 00 00 00 00 00"
               "10 11 12 13 14 15 16 17 18 19 1a 1b 1c 1d 1e 1f");
}

} // namespace

TEST_CASE("32-byte CDB goes to an Extended CDB AHS", "[pdu][codec][ahs]")
{
    scsi_command c;
    c.read_bit = true;
    c.initiator_task_tag = 3;
    c.expected_data_transfer_length = 512;
    const auto cdb = read32_cdb();
    REQUIRE_FALSE(c.set_cdb(cdb));
    REQUIRE(c.total_ahs_length() == 20);

    const auto b = encoded(c);
    CHECK(b == bhs_hex("01 c1 00 00 | 05 00 00 00 | 00 00 00 00 00 00 00 00"
                       "00 00 00 03 | 00 00 02 00 | 00 00 00 00 | 00 00 00 00"
                       "7f 00 00 00 00 00 00 18 00 09 00 00 00 00 00 00"));
    std::vector<std::byte> ahs(20, std::byte{0xee});
    REQUIRE(c.encode_ahs(ahs) == 20);
    // AHSLength = 32 - 15 = 17 (reserved byte + 16 CDB bytes), type 1.
    CHECK(ahs == hex("00 11 01 00 | 10 11 12 13 14 15 16 17 18 19 1a 1b 1c 1d 1e 1f"));

    scsi_command d;
    REQUIRE_FALSE(scsi_command::decode(b, ahs, d));
    CHECK(d.cdb_length == 32);
    CHECK(std::equal(cdb.begin(), cdb.end(), d.cdb_bytes().begin(), d.cdb_bytes().end()));
    CHECK(d == c);

    // Too small an output buffer: nothing written.
    std::vector<std::byte> small(16, std::byte{0xee});
    CHECK(c.encode_ahs(small) == 0);
    CHECK(small == std::vector<std::byte>(16, std::byte{0xee}));
}

TEST_CASE("17-byte CDB pads its AHS to 4 bytes", "[pdu][codec][ahs]")
{
    scsi_command c;
    auto cdb = hex("c0 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f 99");
    REQUIRE_FALSE(c.set_cdb(cdb));
    REQUIRE(c.total_ahs_length() == 8);
    std::vector<std::byte> ahs(8, std::byte{0xee});
    REQUIRE(c.encode_ahs(ahs) == 8);
    CHECK(ahs == hex("00 02 01 00 99 00 00 00"));
    scsi_command d;
    REQUIRE_FALSE(scsi_command::decode(encoded(c), ahs, d));
    CHECK(d.cdb_length == 17);
    CHECK(d == c);
}

TEST_CASE("bidirectional command carries the read length AHS", "[pdu][codec][ahs]")
{
    scsi_command c;
    c.read_bit = c.write_bit = true;
    c.expected_data_transfer_length = 0x1000;
    c.bidi_read_expected_data_transfer_length = 0x12345;
    REQUIRE(c.total_ahs_length() == 8);
    std::vector<std::byte> ahs(8);
    REQUIRE(c.encode_ahs(ahs) == 8);
    CHECK(ahs == hex("00 05 02 00 00 01 23 45"));
    const auto b = encoded(c);
    CHECK(std::to_integer<int>(b[4]) == 2);
    scsi_command d;
    REQUIRE_FALSE(scsi_command::decode(b, ahs, d));
    REQUIRE(d.bidi_read_expected_data_transfer_length);
    CHECK(*d.bidi_read_expected_data_transfer_length == 0x12345u);
    CHECK(d == c);

    // Both AHS together: extended CDB first, then the read length; decode
    // accepts either order.
    REQUIRE_FALSE(c.set_cdb(read32_cdb()));
    REQUIRE(c.total_ahs_length() == 28);
    std::vector<std::byte> both(28);
    REQUIRE(c.encode_ahs(both) == 28);
    const auto bb = encoded(c);
    CHECK(std::to_integer<int>(bb[4]) == 7);
    REQUIRE_FALSE(scsi_command::decode(bb, both, d));
    CHECK(d == c);
    std::vector<std::byte> swapped(both.begin() + 20, both.end());
    swapped.insert(swapped.end(), both.begin(), both.begin() + 20);
    REQUIRE_FALSE(scsi_command::decode(bb, swapped, d));
    CHECK(d == c);
}

TEST_CASE("malformed AHS is rejected with the right error", "[pdu][codec][ahs]")
{
    scsi_command c;
    c.bidi_read_expected_data_transfer_length = 1;
    auto b = encoded(c); // TotalAHSLength = 2 words
    const auto good = hex("00 05 02 00 00 00 00 01");
    scsi_command d;
    REQUIRE_FALSE(scsi_command::decode(b, good, d));

    // AHS bytes do not match TotalAHSLength.
    CHECK(scsi_command::decode(b, {}, d) == errc::ahs_length_inconsistent);
    CHECK(scsi_command::decode(b, std::span(good).first(4), d) == errc::ahs_length_inconsistent);
    // AHSLength runs past the AHS.
    CHECK(scsi_command::decode(b, hex("00 09 02 00 00 00 00 01"), d) == errc::ahs_length_inconsistent);
    // Bidi AHS must have AHSLength 5.
    CHECK(scsi_command::decode(b, hex("00 04 02 00 00 00 00 01"), d) == errc::ahs_length_inconsistent);
    // Reserved AHS types 0 and 3.
    CHECK(scsi_command::decode(b, hex("00 05 03 00 00 00 00 01"), d) == errc::ahs_type_unknown);
    CHECK(scsi_command::decode(b, hex("00 05 00 00 00 00 00 01"), d) == errc::ahs_type_unknown);
    // Non-iSCSI extension types (60..63) are skipped; reserved type bits ignored.
    REQUIRE_FALSE(scsi_command::decode(b, hex("00 05 3c 00 00 00 00 01"), d));
    CHECK_FALSE(d.bidi_read_expected_data_transfer_length);
    REQUIRE_FALSE(scsi_command::decode(b, hex("00 05 c2 00 00 00 00 07"), d));
    CHECK(d.bidi_read_expected_data_transfer_length == 7u);

    // Duplicates.
    b[4] = std::byte{4};
    CHECK(scsi_command::decode(b, hex("00 05 02 00 00 00 00 01 00 05 02 00 00 00 00 02"), d) == errc::ahs_duplicate);
    CHECK(scsi_command::decode(b, hex("00 02 01 00 aa 00 00 00 00 02 01 00 bb 00 00 00"), d) == errc::ahs_duplicate);

    // Extended CDB with AHSLength 1 (no CDB byte) or longer than any CDB.
    b[4] = std::byte{1};
    CHECK(scsi_command::decode(b, hex("00 01 01 00"), d) == errc::ahs_length_inconsistent);
    b[4] = std::byte{63};
    std::vector<std::byte> huge(252);
    huge[0] = std::byte{0};
    huge[1] = std::byte{249}; // entry fills the 252 bytes; 16 + 248 CDB bytes > 260
    huge[2] = std::byte{1};
    CHECK(scsi_command::decode(b, huge, d) == errc::field_out_of_range);

    // Untouched on failure.
    scsi_command before = d;
    CHECK(scsi_command::decode(b, huge, d));
    CHECK(d == before);
}

TEST_CASE("longest CDB round-trips; longer ones are refused", "[pdu][codec][ahs]")
{
    scsi_command c;
    std::vector<std::byte> cdb(max_cdb_size);
    for (std::size_t i = 0; i < cdb.size(); ++i)
        cdb[i] = std::byte(i);
    REQUIRE_FALSE(c.set_cdb(cdb));
    std::vector<std::byte> ahs(c.total_ahs_length());
    REQUIRE(ahs.size() == 248); // padded4(3 + 245)
    REQUIRE(c.encode_ahs(ahs) == ahs.size());
    scsi_command d;
    REQUIRE_FALSE(scsi_command::decode(encoded(c), ahs, d));
    CHECK(d == c);

    cdb.push_back(std::byte{0});
    CHECK(c.set_cdb(cdb) == errc::field_out_of_range);
}

TEST_CASE("AHS on PDUs that define none is checked then ignored", "[pdu][codec][ahs]")
{
    nop_in n;
    auto b = encoded(n);
    target_pdu out;
    b[4] = std::byte{2};
    REQUIRE_FALSE(decode_target_pdu(b, hex("00 05 3c 00 01 02 03 04"), out));
    CHECK(std::holds_alternative<nop_in>(out));
    CHECK(decode_target_pdu(b, {}, out) == errc::ahs_length_inconsistent);
    CHECK(decode_target_pdu(b, hex("00 09 3c 00 01 02 03 04"), out) == errc::ahs_length_inconsistent);

    nop_out o;
    auto ob = encoded(o);
    initiator_pdu iout;
    CHECK(decode_initiator_pdu(ob, hex("00 01 01 00"), iout) == errc::ahs_length_inconsistent);
}

TEST_CASE("LUN numbers use peripheral addressing below 256, flat above", "[pdu][lun]")
{
    CHECK(encode_lun(0) == 0);
    CHECK(encode_lun(5) == 0x0005000000000000ull);
    CHECK(encode_lun(255) == 0x00ff000000000000ull);
    CHECK(encode_lun(256) == 0x4100000000000000ull);
    CHECK(encode_lun(300) == 0x412c000000000000ull);
    CHECK(encode_lun(16383) == 0x7fff000000000000ull);
    CHECK(encode_lun(5, lun_addressing::flat) == 0x4005000000000000ull);
    CHECK(encode_lun(7, lun_addressing::peripheral) == 0x0007000000000000ull);
    CHECK_THROWS_AS(encode_lun(16384), std::invalid_argument);
    CHECK_THROWS_AS(encode_lun(256, lun_addressing::peripheral), std::invalid_argument);

    // On the wire: the first level occupies bytes 8..9 of the BHS.
    nop_out o;
    o.lun = encode_lun(300);
    const auto b = encoded(o);
    CHECK(std::to_integer<int>(b[8]) == 0x41);
    CHECK(std::to_integer<int>(b[9]) == 0x2c);
    for (int i = 10; i < 16; ++i)
        CHECK(std::to_integer<int>(b[static_cast<std::size_t>(i)]) == 0);
}

TEST_CASE("LUN decoding understands both single-level methods", "[pdu][lun]")
{
    std::uint16_t lun = 0xffff;
    REQUIRE_FALSE(decode_lun(0, lun));
    CHECK(lun == 0);
    REQUIRE_FALSE(decode_lun(0x0005000000000000ull, lun));
    CHECK(lun == 5);
    REQUIRE_FALSE(decode_lun(0x4005000000000000ull, lun));
    CHECK(lun == 5);
    REQUIRE_FALSE(decode_lun(0x7fff000000000000ull, lun));
    CHECK(lun == 16383);
    for (std::uint16_t n : {0, 1, 255, 256, 1000, 16383}) {
        REQUIRE_FALSE(decode_lun(encode_lun(n), lun));
        CHECK(lun == n);
    }

    lun = 42;
    CHECK(decode_lun(0x8001000000000000ull, lun) == errc::lun_unsupported); // logical unit addressing
    CHECK(decode_lun(0xc001000000000000ull, lun) == errc::lun_unsupported); // extended
    CHECK(decode_lun(0x0105000000000000ull, lun) == errc::lun_unsupported); // bus 1
    CHECK(decode_lun(0x0001000200000000ull, lun) == errc::lun_unsupported); // second level
    CHECK(decode_lun(0x4001000000000001ull, lun) == errc::lun_unsupported);
    CHECK(lun == 42);
}
