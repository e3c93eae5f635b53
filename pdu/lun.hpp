// The 8-byte LUN field (RFC 7143 §11.2.1.5 refers to SAM; addressing per SAM-5 §4.7).
// The PDU structs carry the raw 64-bit field; these helpers map it to a LUN number.
#pragma once

#include <cstdint>
#include <system_error>

namespace ivs::pdu {

// Single-level addressing methods understood here (top two bits of byte 0).
enum class lun_addressing : std::uint8_t {
    peripheral = 0, // byte0 = 0 (bus 0), byte1 = LUN; LUN < 256
    flat = 1,       // byte0 = 0x40 | LUN >> 8, byte1 = LUN & 0xff; LUN < 16384
};

constexpr std::uint16_t max_peripheral_lun = 255;
constexpr std::uint16_t max_flat_lun = 16383;

// Raw field for a LUN number: peripheral addressing below 256, flat space
// addressing up to 16383. Precondition: lun <= max_flat_lun (throws
// std::invalid_argument otherwise; the caller's programming error, not input).
std::uint64_t encode_lun(std::uint16_t lun);

// Raw field with an explicit addressing method. Same precondition; peripheral
// needs lun <= max_peripheral_lun.
std::uint64_t encode_lun(std::uint16_t lun, lun_addressing method);

// LUN number of a raw field in either single-level method. Other methods
// (logical unit, extended), a non-zero bus number, or a second level
// (bytes 2..7 non-zero) give errc::lun_unsupported and leave `lun` untouched.
std::error_code decode_lun(std::uint64_t raw, std::uint16_t& lun) noexcept;

} // namespace ivs::pdu
