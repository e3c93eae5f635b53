// Common BHS writing and AHS walking (RFC 7143 §11.2).
#include "pdu/bhs.hpp"

#include "pdu/error.hpp"

#include <cassert>

namespace ivs::pdu {

void start_bhs(bhs_bytes& out, opcode op, bool immediate, std::uint8_t flags, std::size_t ahs_bytes,
               std::uint32_t data_segment_length) noexcept
{
    assert(ahs_bytes % 4 == 0 && ahs_bytes <= max_ahs_size);
    assert(data_segment_length <= max_data_segment_length);
    out.fill(std::byte{0});
    store8(out.data(), static_cast<std::uint8_t>(static_cast<std::uint8_t>(op) | (immediate ? immediate_bit : 0)));
    store8(out.data() + 1, flags);
    store8(out.data() + 4, static_cast<std::uint8_t>(ahs_bytes / 4));
    store24(out.data() + 5, data_segment_length & max_data_segment_length);
}

std::error_code expect_opcode(const bhs_bytes& b, opcode op) noexcept
{
    if (raw_opcode(b) != static_cast<std::uint8_t>(op))
        return errc::opcode_mismatch;
    return {};
}

std::error_code next_ahs(std::span<const std::byte>& rest, ahs_entry& out) noexcept
{
    if (rest.size() < ahs_header_size)
        return errc::ahs_length_inconsistent;
    const std::size_t length = load16(rest.data());
    const std::size_t size = ahs_entry_size(length);
    if (size > rest.size())
        return errc::ahs_length_inconsistent;
    out.code = load8(rest.data() + 2) & ahs_code_mask;
    out.specific = rest.subspan(ahs_header_size, length);
    rest = rest.subspan(size);
    return {};
}

std::error_code check_ahs(const bhs_bytes& b, std::span<const std::byte> ahs) noexcept
{
    if (ahs.size() != raw_total_ahs_bytes(b))
        return errc::ahs_length_inconsistent;
    ahs_entry entry;
    while (!ahs.empty()) {
        if (auto ec = next_ahs(ahs, entry))
            return ec;
    }
    return {};
}

} // namespace ivs::pdu
