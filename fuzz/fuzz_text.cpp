// libFuzzer target: text key=value reassembly and parsing (RFC 7143 §6.1),
// value decoders and the key negotiation rules (§6.2, §13).
//
// Input layout: byte 0 picks the limits, byte 1 the number of PDU pieces
// (1..8), the next bytes the piece lengths; the rest is the text.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "pdu/keys.hpp"
#include "pdu/text.hpp"

using namespace ivs::pdu;

namespace {

void check(bool ok)
{
    if (!ok)
        std::abort();
}

void exercise_value(const text_pair& p)
{
    std::uint64_t n = 0, lo = 0, hi = 0;
    (void)parse_number(p.value, n);
    (void)parse_range(p.value, lo, hi);
    bool b = false;
    (void)parse_bool(p.value, b);
    std::vector<std::string_view> items;
    if (!parse_list(p.value, items))
        check(join_list(items) == p.value);

    std::vector<std::byte> bin;
    if (!parse_binary(p.value, bin, 1024)) {
        // Both encodings decode back to the same bytes.
        std::vector<std::byte> again;
        check(!parse_binary(encode_hex(bin), again, 1024) && again == bin);
        check(!parse_binary(encode_base64(bin), again, 1024) && again == bin);
    }

    // Negotiation: as the peer's offer, and as an answer to the RFC default.
    std::optional<std::string> answer;
    (void)respond_to_offer(p.key, p.value, p.value, key_sender::target, answer);
    if (const key_def* k = find_key(p.key)) {
        (void)check_value(*k, p.value);
        negotiation_result r;
        if (!k->default_value.empty())
            (void)merge_answer(*k, k->default_value, p.value, r);
        (void)merge_answer(*k, p.value, p.value, r);
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size < 2)
        return 0;
    text_limits limits = (data[0] & 1) ? discovery_limits() : text_limits{};
    if (data[0] & 2)
        limits.max_total = 64 + data[0]; // small totals reach the limit paths
    const std::size_t pieces = 1 + (data[1] & 7);
    std::size_t at = 2;
    std::vector<std::size_t> lengths;
    for (std::size_t i = 0; i + 1 < pieces && at < size; ++i)
        lengths.push_back(data[at++]);
    const std::span<const std::byte> text(reinterpret_cast<const std::byte*>(data) + at, size - at);

    text_reassembler r(limits);
    std::size_t pos = 0;
    std::error_code ec;
    for (std::size_t len : lengths) {
        len = std::min(len, text.size() - pos);
        ec = r.add(text.subspan(pos, len), true);
        pos += len;
        if (ec)
            break;
    }
    if (!ec)
        ec = r.add(text.subspan(pos), false);

    // Reassembled or not, the one-shot parse agrees.
    text_list direct;
    const auto direct_ec = parse_text(text, direct, limits);
    check(direct_ec == ec);
    if (!ec) {
        check(r.complete());
        check(direct == r.pairs());
    }
    if (ec)
        return 0;

    // Serializing what was parsed gives text that parses to the same pairs.
    std::vector<std::byte> out;
    check(!serialize_text(r.pairs(), out, limits));
    text_list back;
    check(!parse_text(out, back, limits));
    check(back == r.pairs());

    for (const auto& p : r.pairs())
        exercise_value(p);
    return 0;
}
