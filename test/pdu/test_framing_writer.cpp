// outgoing_pdu: gather-list framing, digests, and the writer -> reader round trip.
#include "test/support/framing_support.hpp"

#include "pdu/error.hpp"
#include "pdu/writer.hpp"

#include <catch2/catch.hpp>

using namespace ivs::pdu;
using namespace ivs::pdu::test;
using event = pdu_reader::event;

namespace {

bytes flatten(std::span<const std::span<const std::byte>> buffers)
{
    bytes out;
    for (auto b : buffers)
        out.insert(out.end(), b.begin(), b.end());
    return out;
}

bytes flatten(const outgoing_pdu& pdu)
{
    auto b = pdu.buffers();
    return flatten(b);
}

} // namespace

TEST_CASE("writer: gather list equals the expected wire bytes", "[framing]")
{
    for (bool hd : {false, true}) {
        for (bool dd : {false, true}) {
            for (std::size_t len : {0u, 1u, 3u, 4u, 5u, 4096u}) {
                INFO("hd=" << hd << " dd=" << dd << " len=" << len);
                const auto data = pattern(len);
                // The BHS handed in has stale length fields; the writer sets them.
                auto bhs_in = make_bhs(0x05, 0, 0);
                bhs_in[4] = std::byte{0x7f};
                outgoing_pdu pdu;
                REQUIRE(!pdu.assemble(bhs_in, {}, data, {hd, dd}));
                const auto expected = wire_pdu(make_bhs(0x05, 0, len), {}, data, hd, dd);
                CHECK(flatten(pdu) == expected);
                CHECK(pdu.wire_size() == expected.size());
                CHECK(pdu.data_segment_length() == len);
                CHECK(pdu.header().size() == 48u + (hd ? 4u : 0u));
                CHECK(pdu.trailer().size() == (padded4(len) - len) + (dd && len ? 4u : 0u));
                // Zero copy: the data entry is the caller's own buffer.
                CHECK(pdu.data().data() == data.data());
            }
        }
    }
}

TEST_CASE("writer: AHS goes into the header and under the header digest", "[framing]")
{
    bytes ahs(8, std::byte{0});
    store16(ahs.data(), 5);
    ahs[2] = std::byte{2};
    store32(ahs.data() + 4, 512);
    const auto data = pattern(10);
    outgoing_pdu pdu;
    REQUIRE(!pdu.assemble(make_bhs(0x01, 0, 0), ahs, data, {true, true}));
    CHECK(flatten(pdu) == wire_pdu(make_bhs(0x01, 8, 10), ahs, data, true, true));
    CHECK(pdu.header().size() == 48 + 8 + 4);
}

TEST_CASE("writer: RFC 3720 B.4 data digest of 32 zero bytes", "[framing]")
{
    const bytes zeros(32, std::byte{0});
    outgoing_pdu pdu;
    REQUIRE(!pdu.assemble(make_bhs(0x05, 0, 0), {}, zeros, {false, true}));
    const bytes expected{std::byte{0xaa}, std::byte{0x36}, std::byte{0x91}, std::byte{0x8a}};
    CHECK(bytes(pdu.trailer().begin(), pdu.trailer().end()) == expected);
}

TEST_CASE("writer: scattered data gives the same framing", "[framing]")
{
    const auto data = pattern(1003);
    const std::span<const std::byte> all(data);
    const std::span<const std::byte> pieces[] = {all.first(1), all.subspan(1, 500), all.subspan(501, 0),
                                                 all.subspan(501)};
    outgoing_pdu whole_pdu, scattered;
    REQUIRE(!whole_pdu.assemble(make_bhs(0x05, 0, 0), {}, data, {true, true}));
    REQUIRE(!scattered.assemble_scattered(make_bhs(0x05, 0, 0), {}, pieces, {true, true}));
    CHECK(scattered.data().empty());
    std::vector<std::span<const std::byte>> list{scattered.header()};
    list.insert(list.end(), std::begin(pieces), std::end(pieces));
    list.push_back(scattered.trailer());
    CHECK(flatten(list) == flatten(whole_pdu));
    CHECK(scattered.wire_size() == whole_pdu.wire_size());
}

TEST_CASE("writer: invalid lengths", "[framing]")
{
    outgoing_pdu pdu;
    const bytes odd_ahs(6);
    CHECK(pdu.assemble(make_bhs(0x01, 0, 0), odd_ahs, {}, {}) == errc::ahs_length_inconsistent);
    const bytes huge_ahs(max_ahs_size + 4);
    CHECK(pdu.assemble(make_bhs(0x01, 0, 0), huge_ahs, {}, {}) == errc::ahs_length_inconsistent);
    CHECK(pdu.wire_size() == 0);
    // 16 pieces of 1 MiB are one byte over the 24-bit DataSegmentLength.
    const bytes mib(1 << 20);
    std::vector<std::span<const std::byte>> pieces(16, std::span<const std::byte>(mib));
    CHECK(pdu.assemble_scattered(make_bhs(0x05, 0, 0), {}, pieces, {}) == errc::data_segment_too_long);
    pieces.back() = pieces.back().first(mib.size() - 1);
    REQUIRE(!pdu.assemble_scattered(make_bhs(0x05, 0, 0), {}, pieces, {}));
    CHECK(pdu.data_segment_length() == max_data_segment_length);
    bhs_bytes framed{};
    std::copy_n(pdu.header().begin(), 48, framed.begin());
    CHECK(raw_data_segment_length(framed) == max_data_segment_length);
}

TEST_CASE("writer -> reader round trip", "[framing]")
{
    for (bool hd : {false, true}) {
        for (bool dd : {false, true}) {
            INFO("hd=" << hd << " dd=" << dd);
            bytes stream;
            std::vector<received> expected;
            bytes ahs(12, std::byte{0});
            store16(ahs.data(), 9);
            ahs[2] = std::byte{1};
            std::vector<bytes> payloads;
            for (std::size_t len : {0u, 1u, 2u, 7u, 8u, 513u, 8192u})
                payloads.push_back(pattern(len, static_cast<std::uint8_t>(len)));
            for (std::size_t i = 0; i < payloads.size(); ++i) {
                const bool with_ahs = i % 2 == 1;
                const auto bhs =
                    make_bhs(0x01, with_ahs ? ahs.size() : 0, payloads[i].size(), static_cast<std::uint32_t>(i));
                outgoing_pdu pdu;
                REQUIRE(!pdu.assemble(make_bhs(0x01, 0, 0, static_cast<std::uint32_t>(i)),
                                      with_ahs ? std::span<const std::byte>(ahs) : std::span<const std::byte>{},
                                      payloads[i], {hd, dd}));
                const auto w = flatten(pdu);
                stream.insert(stream.end(), w.begin(), w.end());
                expected.push_back({bhs, with_ahs ? ahs : bytes{}, payloads[i], true});
            }
            bytes dest(8192);
            pdu_reader reader(reader_config{8192, hd, dd});
            auto res = run_reader(reader, stream, random_splits(42, 1500),
                                  [&](pdu_reader& r) { REQUIRE(!r.set_data_destination(dest)); });
            CHECK(!res.error);
            REQUIRE(res.pdus.size() == expected.size());
            for (std::size_t i = 0; i < expected.size(); ++i) {
                // Empty data segments never reach header_ready, so no destination.
                if (expected[i].data.empty())
                    expected[i].in_destination = false;
                CHECK(res.pdus[i] == expected[i]);
            }
        }
    }
}
