#include "scsi/sense.hpp"

#include <algorithm>
#include <cstdint>

namespace ivs::scsi {
namespace {

std::uint8_t at(std::span<const std::byte> s, std::size_t i) noexcept
{
    return i < s.size() ? std::to_integer<std::uint8_t>(s[i]) : 0;
}

fixed_sense from_fixed(std::span<const std::byte> s) noexcept
{
    fixed_sense out{};
    const std::size_t n = std::min(s.size(), out.size());
    for (std::size_t i = 0; i < n; ++i)
        out[i] = std::to_integer<std::uint8_t>(s[i]);
    // ADDITIONAL SENSE LENGTH (byte 7) describes bytes 8.. of what we carry.
    const std::size_t present = n > 8 ? n - 8 : 0;
    out[7] = static_cast<std::uint8_t>(std::min<std::size_t>({out[7], present, 10}));
    if (n < 8)
        out[7] = 0;
    return out;
}

fixed_sense from_descriptor(std::span<const std::byte> s) noexcept
{
    const bool deferred = (at(s, 0) & 0x7f) == 0x73;
    fixed_sense out{};
    out[0] = deferred ? 0x71 : 0x70;
    out[2] = at(s, 1) & 0x0f;
    out[7] = 10;
    out[12] = at(s, 2);
    out[13] = at(s, 3);
    // Descriptors start at byte 8; byte 7 is their total length.
    const std::size_t end = std::min<std::size_t>(s.size(), 8 + std::size_t{at(s, 7)});
    std::size_t pos = 8;
    while (pos + 2 <= end) {
        const std::uint8_t type = at(s, pos);
        const std::size_t len = at(s, pos + 1);
        if (pos + 2 + len > end)
            break; // truncated descriptor
        const auto d = s.subspan(pos, 2 + len);
        switch (type) {
        case 0x00: // information: VALID, reserved, 8-byte INFORMATION
            if (len >= 0x0a) {
                bool fits = true;
                for (std::size_t i = 4; i < 8; ++i)
                    fits = fits && at(d, i) == 0;
                if (fits) {
                    out[0] = static_cast<std::uint8_t>(out[0] | ((at(d, 2) & 0x80) ? 0x80 : 0));
                    for (std::size_t i = 0; i < 4; ++i)
                        out[3 + i] = at(d, 8 + i);
                }
            }
            break;
        case 0x01: // command-specific information: 8 bytes, low 4 kept
            if (len >= 0x0a)
                for (std::size_t i = 0; i < 4; ++i)
                    out[8 + i] = at(d, 8 + i);
            break;
        case 0x02: // sense-key specific: SKSV + 3 bytes at 4..6
            if (len >= 0x06)
                for (std::size_t i = 0; i < 3; ++i)
                    out[15 + i] = at(d, 4 + i);
            break;
        case 0x03: // field replaceable unit
            if (len >= 0x02)
                out[14] = at(d, 3);
            break;
        case 0x04: // stream commands: FILEMARK, EOM, ILI (byte 3 bits 7..5)
            if (len >= 0x02)
                out[2] = static_cast<std::uint8_t>(out[2] | (at(d, 3) & 0xe0));
            break;
        case 0x05: // block commands: ILI (byte 3 bit 5)
            if (len >= 0x02)
                out[2] = static_cast<std::uint8_t>(out[2] | (at(d, 3) & 0x20));
            break;
        default: break;
        }
        pos += 2 + len;
    }
    return out;
}

} // namespace

std::optional<fixed_sense> convert_sense(std::span<const std::byte> sense) noexcept
{
    switch (at(sense, 0) & 0x7f) {
    case 0x70:
    case 0x71:
        if (sense.size() < 3)
            return std::nullopt;
        return from_fixed(sense);
    case 0x72:
    case 0x73:
        if (sense.size() < 2)
            return std::nullopt;
        return from_descriptor(sense);
    default: return std::nullopt;
    }
}

std::optional<std::uint8_t> sense_key(std::span<const std::byte> sense) noexcept
{
    switch (at(sense, 0) & 0x7f) {
    case 0x70:
    case 0x71:
        if (sense.size() < 3)
            return std::nullopt;
        return static_cast<std::uint8_t>(at(sense, 2) & 0x0f);
    case 0x72:
    case 0x73:
        if (sense.size() < 2)
            return std::nullopt;
        return static_cast<std::uint8_t>(at(sense, 1) & 0x0f);
    default: return std::nullopt;
    }
}

} // namespace ivs::scsi
