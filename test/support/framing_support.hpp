// Helpers for the framing tests: PDUs built byte by byte (independently of
// pdu/writer) and a driver that runs a byte stream through a pdu_reader.
#pragma once

#include "pdu/bytes.hpp"
#include "pdu/crc32c.hpp"
#include "pdu/opcode.hpp"
#include "pdu/reader.hpp"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <span>
#include <system_error>
#include <vector>

namespace ivs::pdu::test {

using bytes = std::vector<std::byte>;

inline bytes pattern(std::size_t n, std::uint8_t seed = 1)
{
    bytes b(n);
    for (std::size_t i = 0; i < n; ++i)
        b[i] = std::byte(static_cast<std::uint8_t>(seed + i * 7));
    return b;
}

inline bhs_bytes make_bhs(std::uint8_t op, std::size_t ahs_len, std::size_t dsl, std::uint32_t itt = 0x11223344)
{
    bhs_bytes b{};
    b[0] = std::byte{op};
    b[1] = std::byte{0x80};
    b[4] = std::byte(static_cast<std::uint8_t>(ahs_len / 4));
    store24(b.data() + 5, static_cast<std::uint32_t>(dsl));
    store32(b.data() + 16, itt);
    return b;
}

// A PDU as it appears on the wire (RFC 7143 §11.2), digests little-endian.
inline bytes wire_pdu(const bhs_bytes& bhs, const bytes& ahs, const bytes& data, bool hd, bool dd)
{
    bytes out(bhs.begin(), bhs.end());
    out.insert(out.end(), ahs.begin(), ahs.end());
    std::byte d[4];
    if (hd) {
        store32le(d, crc32c(out));
        out.insert(out.end(), d, d + 4);
    }
    const std::size_t data_start = out.size();
    out.insert(out.end(), data.begin(), data.end());
    out.resize(data_start + padded4(data.size()), std::byte{0});
    if (dd && !data.empty()) {
        store32le(d, crc32c({out.data() + data_start, out.size() - data_start}));
        out.insert(out.end(), d, d + 4);
    }
    return out;
}

struct received {
    bhs_bytes bhs;
    bytes ahs;
    bytes data;
    bool in_destination;
    friend bool operator==(const received&, const received&) = default;
};

struct run_result {
    std::vector<received> pdus;
    std::error_code error;
    std::size_t consumed = 0;
};

// Feed `stream` in chunks whose sizes come from next_chunk(); on header_ready
// call on_header (which may set a destination).
inline run_result run_reader(pdu_reader& reader, std::span<const std::byte> stream,
                             const std::function<std::size_t()>& next_chunk,
                             const std::function<void(pdu_reader&)>& on_header = {})
{
    run_result res;
    std::size_t pos = 0;
    while (pos < stream.size()) {
        std::size_t n = std::min(next_chunk(), stream.size() - pos);
        auto chunk = stream.subspan(pos, n);
        while (true) {
            auto r = reader.feed(chunk);
            chunk = chunk.subspan(r.consumed);
            pos += r.consumed;
            res.consumed += r.consumed;
            if (r.ev == pdu_reader::event::failed) {
                res.error = reader.error();
                return res;
            }
            if (r.ev == pdu_reader::event::header_ready && on_header) {
                on_header(reader);
                if (reader.failed()) {
                    res.error = reader.error();
                    return res;
                }
            }
            if (r.ev == pdu_reader::event::pdu_ready) {
                auto a = reader.ahs();
                auto d = reader.data();
                res.pdus.push_back(
                    {reader.bhs(), bytes(a.begin(), a.end()), bytes(d.begin(), d.end()), reader.data_in_destination()});
            }
            if (r.ev == pdu_reader::event::need_more)
                break;
        }
    }
    return res;
}

inline std::function<std::size_t()> whole()
{
    return [] { return std::size_t(-1); };
}
inline std::function<std::size_t()> bytewise()
{
    return [] { return std::size_t(1); };
}
inline std::function<std::size_t()> random_splits(unsigned seed, std::size_t max = 97)
{
    auto rng = std::make_shared<std::mt19937>(seed);
    return [rng, max] { return std::uniform_int_distribution<std::size_t>(1, max)(*rng); };
}

} // namespace ivs::pdu::test
