// Sense data (SPC-4 §4.5): the 18 bytes of fixed-format sense vscsi(4)
// carries in VSCSI_T2I, and sense data from a target (the SCSI Response's
// sense segment, RFC 7143 §11.4.7.2) converted to them. I/O-free.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace ivs::scsi {

// Sense keys (SPC-4 §4.5.6).
namespace key {
inline constexpr std::uint8_t no_sense = 0x0;
inline constexpr std::uint8_t recovered_error = 0x1;
inline constexpr std::uint8_t not_ready = 0x2;
inline constexpr std::uint8_t medium_error = 0x3;
inline constexpr std::uint8_t hardware_error = 0x4;
inline constexpr std::uint8_t illegal_request = 0x5;
inline constexpr std::uint8_t unit_attention = 0x6;
inline constexpr std::uint8_t data_protect = 0x7;
inline constexpr std::uint8_t aborted_command = 0xb;
} // namespace key

// Additional sense codes (SPC-4 Annex D) used here; ASCQ 0 unless noted.
namespace asc {
inline constexpr std::uint8_t unrecovered_read_error = 0x11;
inline constexpr std::uint8_t invalid_command_operation_code = 0x20;
inline constexpr std::uint8_t lba_out_of_range = 0x21;
inline constexpr std::uint8_t invalid_field_in_cdb = 0x24;
inline constexpr std::uint8_t logical_unit_not_supported = 0x25;
inline constexpr std::uint8_t power_on_or_reset = 0x29;
inline constexpr std::uint8_t parameters_changed = 0x2a;
inline constexpr std::uint8_t reported_luns_data_changed = 0x3f; // ASCQ 0x0e
} // namespace asc

// 18 bytes of fixed-format sense data (SPC-4 §4.5.3: response code 0x70,
// segment, flags/key, information[4], additional length,
// command-specific[4], ASC, ASCQ, FRU, sense-key-specific[3]).
using fixed_sense = std::array<std::uint8_t, 18>;

// Build fixed-format sense data (response code 0x70, additional length 10).
[[nodiscard]] constexpr fixed_sense make_fixed_sense(std::uint8_t key, std::uint8_t asc, std::uint8_t ascq) noexcept
{
    fixed_sense s{};
    s[0] = 0x70;
    s[2] = static_cast<std::uint8_t>(key & 0x0f);
    s[7] = 10;
    s[12] = asc;
    s[13] = ascq;
    return s;
}

// The sense key of fixed (0x70/0x71) or descriptor (0x72/0x73) sense data;
// 0 (NO SENSE) for anything else.
[[nodiscard]] constexpr std::uint8_t sense_key(const fixed_sense& s) noexcept
{
    switch (s[0] & 0x7f) {
    case 0x70:
    case 0x71: return static_cast<std::uint8_t>(s[2] & 0x0f);
    case 0x72:
    case 0x73: return static_cast<std::uint8_t>(s[1] & 0x0f);
    default: return 0;
    }
}

// Fixed format (SPC-4 §4.5.3, response codes 0x70 current / 0x71 deferred):
// the first 18 bytes are kept; shorter data is zero-filled and the
// ADDITIONAL SENSE LENGTH clipped to what is present (at most 10).
// Descriptor format (SPC-4 §4.5.2, 0x72 / 0x73): key, ASC and ASCQ from the
// header; the information (type 0x00), command-specific information (0x01)
// and sense-key-specific (0x02) descriptors fill the matching fixed fields
// (information only when it fits in 32 bits, setting VALID), the field
// replaceable unit (0x03) its byte, the stream commands (0x04: FILEMARK, EOM,
// ILI) and block commands (0x05: ILI) descriptors the flags of byte 2. The
// response code becomes 0x70 or 0x71 accordingly.
// nullopt when there is nothing usable: no data, an unknown response code,
// or data too short to hold the sense key.
[[nodiscard]] std::optional<fixed_sense> convert_sense(std::span<const std::byte> sense) noexcept;

// The sense key of sense data as a target sent it (fixed or descriptor
// format); nullopt for no data, an unknown response code, or data too short
// to hold the key.
[[nodiscard]] std::optional<std::uint8_t> sense_key(std::span<const std::byte> sense) noexcept;

} // namespace ivs::scsi
