// iSCSI opcodes (RFC 7143 §11.2.1.2) and fixed framing sizes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace ivs::pdu {

enum class opcode : std::uint8_t {
    // initiator -> target
    nop_out = 0x00,
    scsi_command = 0x01,
    task_mgmt_request = 0x02,
    login_request = 0x03,
    text_request = 0x04,
    data_out = 0x05,
    logout_request = 0x06,
    snack_request = 0x10,
    // target -> initiator
    nop_in = 0x20,
    scsi_response = 0x21,
    task_mgmt_response = 0x22,
    login_response = 0x23,
    text_response = 0x24,
    data_in = 0x25,
    logout_response = 0x26,
    r2t = 0x31,
    async_message = 0x32,
    reject = 0x3f,
};

constexpr std::size_t bhs_size = 48;                        // Basic Header Segment
constexpr std::size_t max_ahs_size = 255 * 4;               // TotalAHSLength is in 4-byte words
constexpr std::size_t digest_size = 4;                      // CRC32C
constexpr std::uint32_t max_data_segment_length = 0xffffff; // 24-bit field
constexpr std::uint32_t reserved_tag = 0xffffffffu;

using bhs_bytes = std::array<std::byte, bhs_size>;

constexpr bool is_known_opcode(std::uint8_t op) noexcept
{
    switch (op) {
    case 0x00:
    case 0x01:
    case 0x02:
    case 0x03:
    case 0x04:
    case 0x05:
    case 0x06:
    case 0x10:
    case 0x20:
    case 0x21:
    case 0x22:
    case 0x23:
    case 0x24:
    case 0x25:
    case 0x26:
    case 0x31:
    case 0x32:
    case 0x3f: return true;
    default: return false;
    }
}

constexpr bool is_target_opcode(std::uint8_t op) noexcept { return is_known_opcode(op) && (op & 0x20); }

// Raw framing fields every BHS has at the same place (RFC 7143 §11.2.1).
constexpr std::uint8_t raw_opcode(const bhs_bytes& b) noexcept { return std::to_integer<std::uint8_t>(b[0]) & 0x3f; }
constexpr std::size_t raw_total_ahs_bytes(const bhs_bytes& b) noexcept
{
    return std::size_t{std::to_integer<std::uint8_t>(b[4])} * 4;
}
constexpr std::uint32_t raw_data_segment_length(const bhs_bytes& b) noexcept
{
    return (std::uint32_t{std::to_integer<std::uint8_t>(b[5])} << 16) |
           (std::uint32_t{std::to_integer<std::uint8_t>(b[6])} << 8) |
           std::uint32_t{std::to_integer<std::uint8_t>(b[7])};
}

} // namespace ivs::pdu
