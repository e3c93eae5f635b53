// pdu_reader: incremental framing, digests, limits, destinations (RFC 7143 §11.2, §13.1).
#include "test/support/framing_support.hpp"

#include "pdu/error.hpp"

#include <catch2/catch.hpp>

#include <cstring>

using namespace ivs::pdu;
using namespace ivs::pdu::test;
using event = pdu_reader::event;

namespace {

constexpr std::uint8_t op_data_in = 0x25;
constexpr std::uint8_t op_nop_in = 0x20;
constexpr std::uint8_t op_scsi_command = 0x01;

reader_config cfg(bool hd, bool dd, std::uint32_t limit = 8192) { return reader_config{limit, hd, dd}; }

// An Extended CDB AHS (RFC 7143 §11.2.2.3): AHSLength 9, type 1, reserved,
// 8 bytes of CDB, padded to 12 bytes.
bytes extended_cdb_ahs()
{
    bytes a(12, std::byte{0});
    store16(a.data(), 9);
    a[2] = std::byte{1};
    for (std::size_t i = 4; i < 12; ++i)
        a[i] = std::byte(static_cast<std::uint8_t>(0xa0 + i));
    a[11] = std::byte{0}; // padding
    return a;
}

struct digest_case {
    bool hd;
    bool dd;
};

} // namespace

TEST_CASE("reader: PDU without data segment", "[framing]")
{
    for (auto [hd, dd] : {digest_case{false, false}, digest_case{true, true}}) {
        pdu_reader reader(cfg(hd, dd));
        const auto bhs = make_bhs(op_nop_in, 0, 0);
        const auto wire = wire_pdu(bhs, {}, {}, hd, dd);
        REQUIRE(wire.size() == 48 + (hd ? 4u : 0u)); // no data digest without data
        auto r = reader.feed(wire);
        CHECK(r.ev == event::pdu_ready);
        CHECK(r.consumed == wire.size());
        CHECK(reader.bhs() == bhs);
        CHECK(reader.ahs().empty());
        CHECK(reader.data().empty());
        // The next feed starts a new PDU.
        r = reader.feed({});
        CHECK(r.ev == event::need_more);
        CHECK(reader.bytes_needed() == 48);
    }
}

TEST_CASE("reader: byte-at-a-time and random splits give the same PDUs", "[framing]")
{
    for (auto [hd, dd] :
         {digest_case{false, false}, digest_case{true, false}, digest_case{false, true}, digest_case{true, true}}) {
        INFO("hd=" << hd << " dd=" << dd);
        bytes stream;
        std::vector<received> expected;
        for (std::size_t len : {0u, 1u, 2u, 3u, 4u, 5u, 255u, 1000u, 8192u}) {
            const auto bhs = make_bhs(op_data_in, 0, len, static_cast<std::uint32_t>(len));
            const auto data = pattern(len, static_cast<std::uint8_t>(len));
            const auto w = wire_pdu(bhs, {}, data, hd, dd);
            stream.insert(stream.end(), w.begin(), w.end());
            expected.push_back({bhs, {}, data, false});
        }
        {
            pdu_reader reader(cfg(hd, dd));
            auto res = run_reader(reader, stream, whole());
            CHECK(!res.error);
            CHECK(res.consumed == stream.size());
            CHECK(res.pdus == expected);
        }
        {
            pdu_reader reader(cfg(hd, dd));
            auto res = run_reader(reader, stream, bytewise());
            CHECK(!res.error);
            CHECK(res.pdus == expected);
        }
        for (unsigned seed : {1u, 2u, 3u}) {
            pdu_reader reader(cfg(hd, dd));
            auto res = run_reader(reader, stream, random_splits(seed));
            CHECK(!res.error);
            CHECK(res.pdus == expected);
        }
    }
}

TEST_CASE("reader: many PDUs in one feed stop at each PDU", "[framing]")
{
    bytes stream;
    for (int i = 0; i < 10; ++i) {
        const auto w = wire_pdu(make_bhs(op_data_in, 0, 16, i), {}, pattern(16, i), true, true);
        stream.insert(stream.end(), w.begin(), w.end());
    }
    pdu_reader reader(cfg(true, true));
    std::span<const std::byte> in(stream);
    int complete = 0;
    while (!in.empty()) {
        auto r = reader.feed(in);
        REQUIRE(r.ev != event::failed);
        in = in.subspan(r.consumed);
        if (r.ev == event::pdu_ready) {
            CHECK(load32(reader.bhs().data() + 16) == static_cast<std::uint32_t>(complete));
            CHECK(std::equal(reader.data().begin(), reader.data().end(), pattern(16, complete).begin()));
            ++complete;
        }
    }
    CHECK(complete == 10);
}

TEST_CASE("reader: header digest mismatch fails and stays failed", "[framing]")
{
    auto wire = wire_pdu(make_bhs(op_data_in, 0, 8), {}, pattern(8), true, true);
    SECTION("corrupted header byte") { wire[20] ^= std::byte{0x01}; }
    SECTION("corrupted digest byte") { wire[50] ^= std::byte{0x80}; }
    pdu_reader reader(cfg(true, true));
    auto r = reader.feed(wire);
    CHECK(r.ev == event::failed);
    CHECK(r.consumed == 52); // nothing taken past the header
    CHECK(reader.error() == errc::header_digest_mismatch);
    r = reader.feed(wire);
    CHECK(r.ev == event::failed);
    CHECK(r.consumed == 0);
    CHECK(reader.failed());
}

TEST_CASE("reader: data digest mismatch", "[framing]")
{
    auto wire = wire_pdu(make_bhs(op_data_in, 0, 5), {}, pattern(5), false, true);
    REQUIRE(wire.size() == 48 + 8 + 4);
    SECTION("data byte") { wire[49] ^= std::byte{0x10}; }
    SECTION("padding byte, covered by the digest") { wire[54] = std::byte{0x01}; }
    SECTION("digest byte") { wire[wire.size() - 1] ^= std::byte{0x01}; }
    pdu_reader reader(cfg(false, true));
    auto res = run_reader(reader, wire, bytewise());
    CHECK(res.error == errc::data_digest_mismatch);
    CHECK(res.pdus.empty());
}

TEST_CASE("reader: padding is ignored without a data digest", "[framing]")
{
    auto wire = wire_pdu(make_bhs(op_data_in, 0, 5), {}, pattern(5), false, false);
    wire[54] = std::byte{0xff};
    pdu_reader reader(cfg(false, false));
    auto res = run_reader(reader, wire, whole());
    CHECK(!res.error);
    REQUIRE(res.pdus.size() == 1);
    CHECK(res.pdus[0].data == pattern(5));
}

TEST_CASE("reader: DataSegmentLength over the limit is rejected before any data", "[framing]")
{
    const std::uint32_t limit = 4096;
    pdu_reader reader(cfg(false, false, limit));
    SECTION("at the limit is accepted")
    {
        const auto wire = wire_pdu(make_bhs(op_data_in, 0, limit), {}, pattern(limit), false, false);
        auto res = run_reader(reader, wire, whole());
        CHECK(!res.error);
        CHECK(res.pdus.size() == 1);
    }
    SECTION("one over")
    {
        // Only the BHS is offered: the reader must decide without the data.
        const auto bhs = make_bhs(op_data_in, 0, limit + 1);
        auto r = reader.feed(bhs);
        CHECK(r.ev == event::failed);
        CHECK(r.consumed == 48);
        CHECK(reader.error() == errc::data_segment_too_long);
    }
    SECTION("maximum 24-bit length, with header digest")
    {
        reader.configure(cfg(true, false, limit));
        const auto wire = wire_pdu(make_bhs(op_data_in, 0, 0xffffff), {}, {}, true, false);
        auto r = reader.feed(wire);
        CHECK(r.ev == event::failed);
        CHECK(r.consumed == 52);
        CHECK(reader.error() == errc::data_segment_too_long);
    }
}

TEST_CASE("reader: unknown opcode", "[framing]")
{
    for (std::uint8_t op : {0x07, 0x1c, 0x3c}) {
        pdu_reader r0;
        auto r = r0.feed(make_bhs(op, 0, 0));
        CHECK(r.ev == event::failed);
        CHECK(r0.error() == errc::unknown_opcode);
    }
}

TEST_CASE("reader: AHS", "[framing]")
{
    const auto ahs = extended_cdb_ahs();
    SECTION("well formed, with and without digests")
    {
        for (bool dig : {false, true}) {
            const auto bhs = make_bhs(op_scsi_command, ahs.size(), 6);
            const auto wire = wire_pdu(bhs, ahs, pattern(6), dig, dig);
            pdu_reader reader(cfg(dig, dig));
            auto res = run_reader(reader, wire, random_splits(9, 7));
            CHECK(!res.error);
            REQUIRE(res.pdus.size() == 1);
            CHECK(res.pdus[0].ahs == ahs);
            CHECK(res.pdus[0].data == pattern(6));
        }
    }
    SECTION("two AHS back to back")
    {
        bytes two = ahs;
        bytes bidi(8, std::byte{0}); // Bidirectional Read Expected Data Transfer Length AHS
        store16(bidi.data(), 5);
        bidi[2] = std::byte{2};
        store32(bidi.data() + 4, 4096);
        two.insert(two.end(), bidi.begin(), bidi.end());
        const auto wire = wire_pdu(make_bhs(op_scsi_command, two.size(), 0), two, {}, false, false);
        pdu_reader reader;
        auto r = reader.feed(wire);
        CHECK(r.ev == event::pdu_ready);
        CHECK(std::equal(reader.ahs().begin(), reader.ahs().end(), two.begin(), two.end()));
    }
    SECTION("AHSLength running past TotalAHSLength")
    {
        bytes bad = ahs;
        store16(bad.data(), 13); // 3 + 13 padded is 16 > 12
        const auto wire = wire_pdu(make_bhs(op_scsi_command, bad.size(), 0), bad, {}, false, false);
        pdu_reader reader;
        auto r = reader.feed(wire);
        CHECK(r.ev == event::failed);
        CHECK(reader.error() == errc::ahs_length_inconsistent);
    }
    SECTION("largest AHS fits the fixed storage")
    {
        bytes big(max_ahs_size, std::byte{0});
        store16(big.data(), static_cast<std::uint16_t>(max_ahs_size - 3));
        big[2] = std::byte{1};
        const auto wire = wire_pdu(make_bhs(op_scsi_command, big.size(), 0), big, {}, true, false);
        pdu_reader reader(cfg(true, false));
        auto res = run_reader(reader, wire, random_splits(4, 300));
        CHECK(!res.error);
        REQUIRE(res.pdus.size() == 1);
        CHECK(res.pdus[0].ahs == big);
    }
}

TEST_CASE("reader: data lands in the caller's destination", "[framing]")
{
    const std::size_t len = 1001; // 3 bytes of padding
    const auto data = pattern(len, 5);
    const auto wire = wire_pdu(make_bhs(op_data_in, 0, len), {}, data, true, true);
    bytes task_buffer(4096, std::byte{0xee});
    const std::size_t offset = 100;
    for (auto splits : {whole(), bytewise(), random_splits(11)}) {
        std::fill(task_buffer.begin(), task_buffer.end(), std::byte{0xee});
        pdu_reader reader(cfg(true, true));
        auto res = run_reader(reader, wire, splits, [&](pdu_reader& r) {
            CHECK(r.data_segment_length() == len);
            CHECK(!r.set_data_destination(std::span(task_buffer).subspan(offset)));
        });
        CHECK(!res.error);
        REQUIRE(res.pdus.size() == 1);
        CHECK(res.pdus[0].in_destination);
        CHECK(res.pdus[0].data == data);
        CHECK(reader.data().data() == task_buffer.data() + offset);
        CHECK(std::equal(data.begin(), data.end(), task_buffer.begin() + offset));
        // Neither padding nor digest was written around the data.
        CHECK(task_buffer[offset - 1] == std::byte{0xee});
        CHECK(task_buffer[offset + len] == std::byte{0xee});
        CHECK(task_buffer[offset + len + 1] == std::byte{0xee});
    }
}

TEST_CASE("reader: destination too small", "[framing]")
{
    const auto wire = wire_pdu(make_bhs(op_data_in, 0, 100), {}, pattern(100), false, false);
    bytes small(99);
    pdu_reader reader;
    auto r = reader.feed(wire);
    REQUIRE(r.ev == event::header_ready);
    CHECK(reader.feed({}).ev == event::need_more); // an empty feed does not commit to a buffer
    CHECK(reader.set_data_destination(small) == errc::buffer_too_small);
    CHECK(reader.failed());
    CHECK(reader.feed(std::span(wire).subspan(r.consumed)).ev == event::failed);
    CHECK(std::all_of(small.begin(), small.end(), [](std::byte b) { return b == std::byte{0}; }));
}

TEST_CASE("reader: destination only settable while the header is ready", "[framing]")
{
    bytes buf(16);
    pdu_reader reader;
    CHECK(reader.set_data_destination(buf));
    CHECK(!reader.failed());
}

TEST_CASE("reader: direct socket reads into the destination", "[framing]")
{
    const std::size_t len = 8190;
    const auto data = pattern(len, 3);
    const auto wire = wire_pdu(make_bhs(op_data_in, 0, len), {}, data, true, true);
    for (bool own_buffer : {true, false}) {
        bytes task_buffer(len);
        pdu_reader reader(cfg(true, true));
        // The read buffer held the header and the first 10 data bytes.
        auto r = reader.feed(std::span(wire).first(52 + 10));
        REQUIRE(r.ev == event::header_ready);
        CHECK(r.consumed == 52);
        if (own_buffer)
            REQUIRE(!reader.set_data_destination(task_buffer));
        r = reader.feed(std::span(wire).subspan(52, 10));
        CHECK(r.ev == event::need_more);
        CHECK(r.consumed == 10);
        CHECK(reader.bytes_needed() == len - 10 + 2 + 4);
        // Socket -> destination, in two reads.
        std::size_t pos = 62;
        for (std::size_t part : {std::size_t{5000}, len - 10 - 5000}) {
            auto target = reader.direct_read_target();
            REQUIRE(target.size() == len - (pos - 52));
            std::memcpy(target.data(), wire.data() + pos, part);
            r = reader.commit_direct(part);
            CHECK(r.ev == event::need_more);
            pos += part;
        }
        CHECK(reader.direct_read_target().empty()); // padding and digest go through feed()
        r = reader.feed(std::span(wire).subspan(pos));
        CHECK(r.ev == event::pdu_ready);
        CHECK(r.consumed == 6);
        CHECK(reader.data_in_destination() == own_buffer);
        CHECK(std::equal(reader.data().begin(), reader.data().end(), data.begin(), data.end()));
        if (own_buffer)
            CHECK(task_buffer == data);
    }
}

TEST_CASE("reader: direct read completing the PDU", "[framing]")
{
    const auto data = pattern(64);
    const auto wire = wire_pdu(make_bhs(op_data_in, 0, 64), {}, data, false, false);
    pdu_reader reader;
    REQUIRE(reader.feed(std::span(wire).first(48)).ev == event::header_ready);
    auto target = reader.direct_read_target();
    REQUIRE(target.size() == 64);
    std::memcpy(target.data(), data.data(), 64);
    CHECK(reader.commit_direct(64).ev == event::pdu_ready);
    CHECK(std::equal(reader.data().begin(), reader.data().end(), data.begin(), data.end()));
    // Committing more than was offered is a caller bug and fails the reader.
    pdu_reader other;
    REQUIRE(other.feed(std::span(wire).first(48)).ev == event::header_ready);
    REQUIRE(other.direct_read_target().size() == 64);
    CHECK(other.commit_direct(65).ev == event::failed);
}

TEST_CASE("reader: digests switched on between PDUs", "[framing]")
{
    // A final Login Response without digests, then Full Feature Phase PDUs with both.
    const auto login = wire_pdu(make_bhs(0x23, 0, 7), {}, pattern(7), false, false);
    const auto ffp = wire_pdu(make_bhs(op_data_in, 0, 9), {}, pattern(9), true, true);
    bytes stream = login;
    stream.insert(stream.end(), ffp.begin(), ffp.end());

    pdu_reader reader(cfg(false, false));
    std::span<const std::byte> in(stream);
    auto r = reader.feed(in);
    REQUIRE(r.ev == event::header_ready);
    in = in.subspan(r.consumed);
    r = reader.feed(in);
    REQUIRE(r.ev == event::pdu_ready);
    CHECK(r.consumed == 8);
    in = in.subspan(r.consumed);
    reader.configure(cfg(true, true));
    auto res = run_reader(reader, in, whole());
    CHECK(!res.error);
    REQUIRE(res.pdus.size() == 1);
    CHECK(res.pdus[0].data == pattern(9));
}

TEST_CASE("reader: configure mid-PDU applies to the next PDU", "[framing]")
{
    const auto first = wire_pdu(make_bhs(op_data_in, 0, 4), {}, pattern(4), false, false);
    const auto second = wire_pdu(make_bhs(op_data_in, 0, 4), {}, pattern(4), true, false);
    pdu_reader reader(cfg(false, false));
    REQUIRE(reader.feed(std::span(first).first(20)).ev == event::need_more);
    reader.configure(cfg(true, false));
    auto r1 = run_reader(reader, std::span(first).subspan(20), whole());
    CHECK(!r1.error);
    CHECK(r1.pdus.size() == 1);
    auto r2 = run_reader(reader, second, whole());
    CHECK(!r2.error);
    CHECK(r2.pdus.size() == 1);
}

TEST_CASE("reader: bytes_needed follows the PDU", "[framing]")
{
    const auto wire = wire_pdu(make_bhs(op_scsi_command, 12, 5), extended_cdb_ahs(), pattern(5), true, true);
    pdu_reader reader(cfg(true, true));
    CHECK(reader.bytes_needed() == 48);
    reader.feed(std::span(wire).first(10));
    CHECK(reader.bytes_needed() == 38);
    reader.feed(std::span(wire).subspan(10, 38));
    CHECK(reader.bytes_needed() == 12 + 4);
    auto r = reader.feed(std::span(wire).subspan(48, 16));
    REQUIRE(r.ev == event::header_ready);
    CHECK(reader.bytes_needed() == 5 + 3 + 4);
    reader.feed(std::span(wire).subspan(64, 6));
    CHECK(reader.bytes_needed() == 2 + 4);
    CHECK(reader.feed(std::span(wire).subspan(70)).ev == event::pdu_ready);
}

TEST_CASE("reader: RFC 3720 B.4 digest of 32 zero bytes", "[framing]")
{
    // A Data-In carrying 32 zero bytes: its data digest is aa 36 91 8a on the wire.
    const auto bhs = make_bhs(op_data_in, 0, 32);
    bytes wire(bhs.begin(), bhs.end());
    wire.resize(48 + 32, std::byte{0});
    for (std::uint8_t b : {0xaa, 0x36, 0x91, 0x8a})
        wire.push_back(std::byte{b});
    pdu_reader reader(cfg(false, true));
    auto res = run_reader(reader, wire, whole());
    CHECK(!res.error);
    CHECK(res.pdus.size() == 1);
}
