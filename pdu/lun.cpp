// LUN field encoding, single-level peripheral and flat space addressing (SAM-5 §4.7).
#include "pdu/lun.hpp"

#include "pdu/error.hpp"

#include <stdexcept>

namespace ivs::pdu {

std::uint64_t encode_lun(std::uint16_t lun)
{
    return encode_lun(lun, lun <= max_peripheral_lun ? lun_addressing::peripheral : lun_addressing::flat);
}

std::uint64_t encode_lun(std::uint16_t lun, lun_addressing method)
{
    // The first level sits in bytes 0..1, i.e. the top 16 bits of the field.
    switch (method) {
    case lun_addressing::peripheral:
        if (lun > max_peripheral_lun)
            throw std::invalid_argument("LUN too large for peripheral device addressing");
        return std::uint64_t{lun} << 48; // byte0 = 0: method 0, bus 0
    case lun_addressing::flat:
        if (lun > max_flat_lun)
            throw std::invalid_argument("LUN too large for flat space addressing");
        return (std::uint64_t{0x4000u | lun}) << 48;
    }
    throw std::invalid_argument("unknown LUN addressing method");
}

std::error_code decode_lun(std::uint64_t raw, std::uint16_t& lun) noexcept
{
    // Bytes 2..7 carry further levels; a single-level LUN has them zero.
    if ((raw & 0x0000ffffffffffffull) != 0)
        return errc::lun_unsupported;
    const auto first = static_cast<std::uint16_t>(raw >> 48);
    const unsigned method = first >> 14;
    if (method == 0) {
        if ((first >> 8) != 0) // bus identifier: not a plain peripheral LUN
            return errc::lun_unsupported;
        lun = first & 0xff;
        return {};
    }
    if (method == 1) {
        lun = first & 0x3fff;
        return {};
    }
    return errc::lun_unsupported; // logical unit or extended addressing
}

} // namespace ivs::pdu
