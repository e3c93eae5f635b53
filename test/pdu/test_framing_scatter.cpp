// pdu_reader under scatter reads, as iscsi/connection does them: the rest of a
// data segment straight into its destination (direct_read_target /
// commit_direct), its padding, data digest and the next header through feed()
// (RFC 7143 §11.2 framing, §13.1 digests).
#include "test/support/framing_support.hpp"

#include "pdu/error.hpp"

#include <catch2/catch.hpp>

#include <cstring>
#include <tuple>

using namespace ivs::pdu;
using namespace ivs::pdu::test;
using event = pdu_reader::event;

namespace {

constexpr std::uint8_t op_data_in = 0x25;
constexpr std::uint8_t op_nop_in = 0x20;

reader_config cfg(bool hd, bool dd, std::uint32_t limit = 262144) { return reader_config{limit, hd, dd}; }

struct scatter_stats {
    std::size_t direct = 0; // data bytes that landed through commit_direct
    std::size_t fed = 0;    // bytes that went through feed()
    std::size_t reads = 0;
};

// The connection's read loop against an in-memory stream: each "socket read"
// gets at most next_chunk() bytes; data segments of at least direct_min bytes
// (and, while such segments stream in, any pending data) are read into their
// destination plus a tail of trailer + lookahead bytes; after a directly read
// segment a plain read takes only bytes_needed() + lookahead. Destinations
// come from per-PDU buffers owned by `sinks`.
run_result run_scatter(pdu_reader& reader, std::span<const std::byte> stream,
                       const std::function<std::size_t()>& next_chunk, std::vector<bytes>& sinks, scatter_stats& stats,
                       std::size_t direct_min = 16384, std::size_t lookahead = 256)
{
    run_result res;
    bytes rx(256 * 1024);
    bool large = false;
    std::size_t pos = 0;
    auto record = [&](pdu_reader::feed_result r) {
        if (r.ev == event::failed)
            res.error = reader.error();
        if (r.ev == event::header_ready) {
            large = reader.data_segment_length() >= direct_min;
            sinks.emplace_back(reader.data_segment_length());
            REQUIRE(!reader.set_data_destination(sinks.back()));
        }
        if (r.ev == event::pdu_ready) {
            auto a = reader.ahs();
            auto d = reader.data();
            res.pdus.push_back(
                {reader.bhs(), bytes(a.begin(), a.end()), bytes(d.begin(), d.end()), reader.data_in_destination()});
        }
        return r.ev != event::failed;
    };
    while (pos < stream.size()) {
        const std::size_t avail = std::min(next_chunk(), stream.size() - pos);
        ++stats.reads;
        std::size_t buffered = 0;
        auto direct = reader.direct_read_target();
        if (!direct.empty() && (direct.size() >= direct_min || large)) {
            const std::size_t tail = std::min(rx.size(), reader.trailer_bytes() + lookahead);
            const std::size_t n = std::min(avail, direct.size() + tail);
            const std::size_t in_direct = std::min(n, direct.size());
            std::memcpy(direct.data(), stream.data() + pos, in_direct);
            std::memcpy(rx.data(), stream.data() + pos + in_direct, n - in_direct);
            pos += n;
            stats.direct += in_direct;
            res.consumed += in_direct;
            if (!record(reader.commit_direct(in_direct)))
                return res;
            buffered = n - in_direct;
        } else {
            const std::size_t want = large ? std::min(rx.size(), reader.bytes_needed() + lookahead) : rx.size();
            buffered = std::min(avail, want);
            std::memcpy(rx.data(), stream.data() + pos, buffered);
            pos += buffered;
        }
        std::size_t at = 0;
        while (at < buffered) {
            auto r = reader.feed(std::span<const std::byte>(rx.data() + at, buffered - at));
            at += r.consumed;
            stats.fed += r.consumed;
            res.consumed += r.consumed;
            if (!record(r))
                return res;
        }
    }
    return res;
}

// The socket first holds only the header, then everything: the data segment
// is read directly.
std::function<std::size_t()> header_then_all()
{
    auto calls = std::make_shared<int>(0);
    return [calls] { return (*calls)++ == 0 ? std::size_t{52} : std::size_t(-1); };
}

struct digest_case {
    bool hd;
    bool dd;
};

} // namespace

TEST_CASE("scatter: trailer_bytes is the padding and data digest after the data", "[framing][scatter]")
{
    for (bool dd : {false, true}) {
        for (std::size_t len : {1u, 2u, 3u, 4u, 5u, 20001u, 65536u}) {
            INFO("dd=" << dd << " len=" << len);
            const auto wire = wire_pdu(make_bhs(op_data_in, 0, len), {}, pattern(len), false, dd);
            pdu_reader reader(cfg(false, dd));
            CHECK(reader.trailer_bytes() == 0); // header phase
            REQUIRE(reader.feed(std::span(wire).first(48)).ev == event::header_ready);
            const std::size_t trailer = (padded4(len) - len) + (dd ? 4 : 0);
            CHECK(reader.trailer_bytes() == trailer);
            auto target = reader.direct_read_target();
            REQUIRE(target.size() == len);
            CHECK(reader.trailer_bytes() == trailer);
            // The rule the connection's scatter read relies on: data + trailer ends the PDU.
            CHECK(reader.bytes_needed() == target.size() + reader.trailer_bytes());
            std::memcpy(target.data(), wire.data() + 48, len);
            const auto r = reader.commit_direct(len);
            CHECK(reader.trailer_bytes() == 0); // past the data segment
            if (trailer == 0) {
                CHECK(r.ev == event::pdu_ready);
            } else {
                CHECK(r.ev == event::need_more);
                CHECK(reader.bytes_needed() == trailer);
                CHECK(reader.feed(std::span(wire).subspan(48 + len)).ev == event::pdu_ready);
            }
            CHECK(wire.size() == 48 + len + trailer);
        }
    }
}

TEST_CASE("scatter: large data segments land directly, small PDUs many per read", "[framing][scatter]")
{
    for (auto [hd, dd] :
         {digest_case{false, false}, digest_case{true, false}, digest_case{false, true}, digest_case{true, true}}) {
        INFO("hd=" << hd << " dd=" << dd);
        bytes stream;
        std::vector<received> expected;
        std::size_t large_bytes = 0;
        std::size_t n_large = 0;
        std::uint8_t seed = 1;
        // Data-In bursts of 64 KiB (with a status-only PDU now and then), then
        // small PDUs, then large again with odd lengths (padding).
        const std::size_t lengths[] = {65536, 65536, 0, 65536, 65536, 65536, 4096, 4096,  0,     4096,
                                       512,   0,     3, 70001, 65535, 16384, 0,    16383, 131072};
        for (std::size_t len : lengths) {
            const auto bhs = make_bhs(len == 0 ? op_nop_in : op_data_in, 0, len, seed);
            const auto data = pattern(len, seed++);
            const auto w = wire_pdu(bhs, {}, data, hd, dd);
            stream.insert(stream.end(), w.begin(), w.end());
            expected.push_back({bhs, {}, data, len != 0});
            if (len >= 16384) {
                large_bytes += len;
                ++n_large;
            }
        }
        for (auto [name, chunk, max_chunk] :
             {std::tuple{"socket holds everything", whole(), std::size_t{262144}},
              std::tuple{"random partial reads", random_splits(7, 9000), std::size_t{9000}}}) {
            INFO(name);
            pdu_reader reader(cfg(hd, dd));
            std::vector<bytes> sinks;
            scatter_stats stats;
            auto res = run_scatter(reader, stream, chunk, sinks, stats);
            REQUIRE(!res.error);
            CHECK(res.consumed == stream.size());
            REQUIRE(res.pdus.size() == expected.size());
            // Data landed in the sinks (pdu.data is the reader's view of them).
            CHECK(res.pdus == expected);
            // Of the large segments, only what the first read after small
            // PDUs took (twice here: at the start and after the small ones)
            // and a lookahead's worth per PDU was copied through feed().
            INFO("direct " << stats.direct << " fed " << stats.fed << " reads " << stats.reads);
            CHECK(stats.direct + 2 * max_chunk + n_large * 256 >= large_bytes);
            CHECK(stats.direct + stats.fed == stream.size());
            if (max_chunk == 262144) {
                // About one read per large PDU, and the small PDUs still come
                // many per read (not one read per small PDU).
                CHECK(stats.reads <= n_large + 4);
            }
        }
    }
}

TEST_CASE("scatter: the data digest covers directly read data", "[framing][scatter]")
{
    const std::size_t len = 65537; // 3 bytes of padding
    const auto data = pattern(len, 9);
    const auto good = wire_pdu(make_bhs(op_data_in, 0, len), {}, data, true, true);
    const std::size_t data_at = 52;

    SECTION("intact")
    {
        pdu_reader reader(cfg(true, true));
        std::vector<bytes> sinks;
        scatter_stats stats;
        auto res = run_scatter(reader, good, header_then_all(), sinks, stats);
        REQUIRE(!res.error);
        REQUIRE(res.pdus.size() == 1);
        CHECK(stats.direct == len);
        CHECK(sinks.at(0) == data);
    }
    SECTION("a flipped bit in the directly read data, the padding or the digest is caught")
    {
        for (std::size_t at : {data_at, data_at + len / 2, data_at + len - 1, data_at + len, data_at + len + 2,
                               data_at + len + 3, good.size() - 1}) {
            INFO("corrupt byte " << at);
            auto bad = good;
            bad[at] ^= std::byte{0x10};
            pdu_reader reader(cfg(true, true));
            std::vector<bytes> sinks;
            scatter_stats stats;
            auto res = run_scatter(reader, bad, header_then_all(), sinks, stats);
            CHECK(stats.direct == len);
            CHECK(res.error == make_error_code(errc::data_digest_mismatch));
            CHECK(res.pdus.empty());
            CHECK(reader.failed());
        }
    }
}

TEST_CASE("scatter: a PDU split at every byte across the fed and direct paths", "[framing][scatter]")
{
    for (auto [hd, dd] : {digest_case{false, false}, digest_case{true, true}, digest_case{false, true}}) {
        INFO("hd=" << hd << " dd=" << dd);
        const std::size_t len = 37; // 3 bytes of padding
        const auto data = pattern(len, 5);
        const auto first = wire_pdu(make_bhs(op_data_in, 0, len, 1), {}, data, hd, dd);
        const auto second = wire_pdu(make_bhs(op_nop_in, 0, 0, 2), {}, {}, hd, dd);
        bytes stream = first;
        stream.insert(stream.end(), second.begin(), second.end());
        const std::size_t hdr = 48 + (hd ? 4 : 0);
        // k bytes through feed() first (the header at least), then the rest
        // of the data in one or two direct reads split at j, then all the
        // remaining bytes (trailer and the next PDU) through feed().
        for (std::size_t k = hdr; k <= hdr + len; ++k) {
            for (std::size_t j = k; j <= hdr + len; ++j) {
                INFO("k=" << k << " j=" << j);
                pdu_reader reader(cfg(hd, dd));
                bytes sink(len);
                auto r = reader.feed(std::span(stream).first(hdr));
                REQUIRE(r.ev == event::header_ready);
                REQUIRE(!reader.set_data_destination(sink));
                r = reader.feed(std::span(stream).subspan(hdr, k - hdr));
                REQUIRE(r.consumed == k - hdr);
                std::size_t pos = k;
                for (std::size_t end : {j, hdr + len}) {
                    auto target = reader.direct_read_target();
                    REQUIRE(target.size() == hdr + len - pos);
                    if (end > pos)
                        std::memcpy(target.data(), stream.data() + pos, end - pos);
                    r = reader.commit_direct(end - pos);
                    REQUIRE(r.ev != event::failed);
                    pos = end;
                }
                CHECK(reader.direct_read_target().empty());
                CHECK(reader.bytes_needed() == (padded4(len) - len) + (dd ? 4u : 0u));
                r = reader.feed(std::span(stream).subspan(pos));
                REQUIRE(r.ev == event::pdu_ready);
                CHECK(sink == data);
                CHECK(reader.data_in_destination());
                pos += r.consumed;
                CHECK(pos == first.size());
                r = reader.feed(std::span(stream).subspan(pos));
                REQUIRE(r.ev == event::pdu_ready);
                CHECK(reader.bhs() == make_bhs(op_nop_in, 0, 0, 2));
                CHECK(pos + r.consumed == stream.size());
            }
        }
    }
}
