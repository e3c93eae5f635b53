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

// 18 bytes of fixed-format sense data (SPC-4 §4.5.3: response code 0x70,
// segment, flags/key, information[4], additional length,
// command-specific[4], ASC, ASCQ, FRU, sense-key-specific[3]).
using fixed_sense = std::array<std::uint8_t, 18>;

// Build fixed-format sense data (response code 0x70, additional length 10).
[[nodiscard]] constexpr fixed_sense make_fixed_sense(std::uint8_t key, std::uint8_t asc,
                                                     std::uint8_t ascq) noexcept
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
    case 0x70: case 0x71: return static_cast<std::uint8_t>(s[2] & 0x0f);
    case 0x72: case 0x73: return static_cast<std::uint8_t>(s[1] & 0x0f);
    default: return 0;
    }
}

// Fixed format (SPC-4 §4.5.3, response codes 0x70 current / 0x71 deferred):
// the first 18 bytes are kept; shorter data is zero-filled and the
// ADDITIONAL SENSE LENGTH clipped to what is present (at most 10).
// Descriptor format (SPC-4 §4.5.2, 0x72 / 0x73): key, ASC and ASCQ from the
// header; the information (type 0x00), command-specific information (0x01)
// and sense-key-specific (0x02) descriptors fill the matching fixed fields
// (information only when it fits in 32 bits, setting VALID). The response
// code becomes 0x70 or 0x71 accordingly.
// nullopt when there is nothing usable: no data, an unknown response code,
// or data too short to hold the sense key.
[[nodiscard]] std::optional<fixed_sense> convert_sense(std::span<const std::byte> sense) noexcept;

} // namespace ivs::scsi
