// Basic Header Segment fields shared by every PDU, and the AHS layout
// (RFC 7143 §11.2.1, §11.2.2). Used by the typed codecs in initiator_pdus /
// target_pdus; the framing reader may use the raw accessors as well.
#pragma once

#include "pdu/bytes.hpp"
#include "pdu/opcode.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <system_error>

namespace ivs::pdu {

// Byte 0: bit 0x40 is the immediate-delivery bit (initiator PDUs only).
constexpr std::uint8_t immediate_bit = 0x40;
// Byte 1: bit 0x80 is F (final) in most PDUs, fixed to 1 in the others.
constexpr std::uint8_t final_bit = 0x80;

constexpr bool raw_immediate(const bhs_bytes& b) noexcept
{
    return (std::to_integer<std::uint8_t>(b[0]) & immediate_bit) != 0;
}
constexpr std::uint8_t raw_flags(const bhs_bytes& b) noexcept { return std::to_integer<std::uint8_t>(b[1]); }
constexpr bool raw_final(const bhs_bytes& b) noexcept { return (raw_flags(b) & final_bit) != 0; }
inline std::uint32_t raw_initiator_task_tag(const bhs_bytes& b) noexcept { return load32(b.data() + 16); }

// Clears `out` and writes byte 0 (opcode, I bit), byte 1 (flags), TotalAHSLength
// (ahs_bytes / 4; a multiple of 4, at most max_ahs_size) and DataSegmentLength
// (at most max_data_segment_length). The encoders call this first.
void start_bhs(bhs_bytes& out, opcode op, bool immediate, std::uint8_t flags, std::size_t ahs_bytes,
               std::uint32_t data_segment_length) noexcept;

// errc::opcode_mismatch unless the BHS opcode is `op`.
std::error_code expect_opcode(const bhs_bytes& b, opcode op) noexcept;

// AHS types (RFC 7143 §11.2.2.1): the low six bits are the AHS code.
enum class ahs_type : std::uint8_t {
    extended_cdb = 1,
    bidi_read_expected_data_transfer_length = 2,
};
constexpr std::uint8_t ahs_code_mask = 0x3f;
constexpr std::uint8_t ahs_first_vendor_code = 60; // 60..63: non-iSCSI extensions

// One AHS: AHSLength (2 bytes), AHSType (1 byte), then AHSLength bytes of
// AHS-specific content (starting with the AHS-specific byte), padded to 4.
struct ahs_entry {
    std::uint8_t code = 0;               // AHSType & ahs_code_mask
    std::span<const std::byte> specific; // AHSLength bytes after AHSType
};

constexpr std::size_t ahs_header_size = 3;
constexpr std::size_t ahs_entry_size(std::size_t ahs_length) noexcept { return padded4(ahs_header_size + ahs_length); }

// Takes the next AHS off the front of `rest`. errc::ahs_length_inconsistent
// when the entry does not fit in `rest`. Does not judge the type.
std::error_code next_ahs(std::span<const std::byte>& rest, ahs_entry& out) noexcept;

// Whole-AHS check for PDUs that carry no AHS of their own: the bytes must be
// exactly TotalAHSLength * 4 long and split into well-formed entries. Entries
// are then ignored (RFC 7143 defines AHS types only for SCSI Command).
std::error_code check_ahs(const bhs_bytes& b, std::span<const std::byte> ahs) noexcept;

} // namespace ivs::pdu
