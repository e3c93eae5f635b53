// libFuzzer target for pdu_reader (RFC 7143 §11.2 framing).
//
// Input layout: 7 parameter bytes, then the byte stream.
//   [0]    flags: 1 header digest, 2 data digest, 4 caller destinations,
//          8 direct (zero-copy) reads, 16 toggle digests after each PDU,
//          32 sometimes offer a destination one byte short
//   [1..3] MaxRecvDataSegmentLength (24 bits, capped at 2 MiB)
//   [4..5] seed of the chunk-size sequence, [6] largest chunk - 1
// Every complete PDU is re-framed by outgoing_pdu and read back by a second
// reader, which must yield the same header and data.
#include "pdu/opcode.hpp"
#include "pdu/reader.hpp"
#include "pdu/writer.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

using namespace ivs::pdu;
using event = pdu_reader::event;

namespace {

void check(bool ok)
{
    if (!ok)
        std::abort();
}

struct chunker {
    std::uint32_t state;
    std::size_t max;
    std::uint32_t next_random()
    {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        return state;
    }
    std::size_t next() { return 1 + next_random() % max; }
};

void round_trip(const pdu_reader& reader, const reader_config& cfg)
{
    outgoing_pdu out;
    check(!out.assemble(reader.bhs(), reader.ahs(), reader.data(), {cfg.header_digest, cfg.data_digest}));
    pdu_reader again(cfg);
    bool done = false;
    for (auto buf : out.buffers()) {
        while (!buf.empty()) {
            check(!done);
            const auto r = again.feed(buf);
            check(r.ev != event::failed);
            buf = buf.subspan(r.consumed);
            done = r.ev == event::pdu_ready;
        }
    }
    check(done);
    const auto a = again.data(), b = reader.data();
    check(again.bhs() == reader.bhs());
    check(std::equal(a.begin(), a.end(), b.begin(), b.end()));
    check(std::ranges::equal(again.ahs(), reader.ahs()));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size < 7)
        return 0;
    const std::uint8_t flags = data[0];
    reader_config cfg;
    cfg.header_digest = flags & 1;
    cfg.data_digest = flags & 2;
    cfg.max_recv_data_segment_length =
        std::min<std::uint32_t>((std::uint32_t{data[1]} << 16) | (data[2] << 8) | data[3], 2u << 20);
    chunker chunks{(std::uint32_t{data[4]} << 8 | data[5]) | 1u, std::size_t{data[6]} + 1};
    const bool use_destination = flags & 4;
    const bool direct = flags & 8;
    const bool toggle = flags & 16;
    const bool short_destination = flags & 32;

    const auto* bytes = reinterpret_cast<const std::byte*>(data + 7);
    std::span<const std::byte> stream(bytes, size - 7);
    pdu_reader reader(cfg);
    std::vector<std::byte> destination;
    std::size_t pdus = 0;

    while (!stream.empty()) {
        auto chunk = stream.first(std::min(chunks.next(), stream.size()));
        stream = stream.subspan(chunk.size());
        while (!chunk.empty()) {
            pdu_reader::feed_result r;
            bool fed = false;
            auto target = direct ? reader.direct_read_target() : std::span<std::byte>{};
            if (!target.empty()) {
                const std::size_t n = std::min(target.size(), chunk.size());
                std::memcpy(target.data(), chunk.data(), n);
                r = reader.commit_direct(n);
                check(r.consumed == n);
            } else {
                r = reader.feed(chunk);
                fed = true;
            }
            check(r.consumed <= chunk.size());
            chunk = chunk.subspan(r.consumed);

            switch (r.ev) {
            case event::failed:
                check(reader.failed() && static_cast<bool>(reader.error()));
                check(reader.feed(chunk).consumed == 0);
                return 0;
            case event::header_ready: {
                const std::uint32_t dsl = reader.data_segment_length();
                check(dsl != 0 && dsl <= cfg.max_recv_data_segment_length);
                check(dsl == raw_data_segment_length(reader.bhs()));
                if (use_destination) {
                    const bool short_one = short_destination && (chunks.next_random() & 3) == 0;
                    destination.resize(short_one ? dsl - 1 : dsl);
                    const auto ec = reader.set_data_destination(destination);
                    check(static_cast<bool>(ec) == short_one);
                    if (ec)
                        return 0;
                }
                break;
            }
            case event::pdu_ready:
                ++pdus;
                check(reader.data().size() == reader.data_segment_length());
                check(reader.ahs().size() == raw_total_ahs_bytes(reader.bhs()));
                check(is_known_opcode(raw_opcode(reader.bhs())));
                if (reader.data_in_destination())
                    check(reader.data().data() == destination.data());
                round_trip(reader, cfg);
                if (toggle) {
                    cfg.header_digest = !cfg.header_digest;
                    cfg.data_digest = !cfg.data_digest;
                    reader.configure(cfg);
                }
                break;
            case event::need_more: check(!fed || chunk.empty()); break;
            }
        }
    }
    return 0;
}
