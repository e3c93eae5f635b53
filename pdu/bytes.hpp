// Explicit big-endian loads and stores on byte spans (network order, RFC 7143 §11).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace ivs::pdu {

inline std::uint8_t load8(const std::byte* p) noexcept { return std::to_integer<std::uint8_t>(p[0]); }

inline std::uint16_t load16(const std::byte* p) noexcept
{
    return static_cast<std::uint16_t>((load8(p) << 8) | load8(p + 1));
}

inline std::uint32_t load24(const std::byte* p) noexcept
{
    return (std::uint32_t{load8(p)} << 16) | (std::uint32_t{load8(p + 1)} << 8) | load8(p + 2);
}

inline std::uint32_t load32(const std::byte* p) noexcept
{
    return (std::uint32_t{load8(p)} << 24) | (std::uint32_t{load8(p + 1)} << 16) | (std::uint32_t{load8(p + 2)} << 8) |
           load8(p + 3);
}

inline std::uint64_t load48(const std::byte* p) noexcept { return (std::uint64_t{load16(p)} << 32) | load32(p + 2); }

inline std::uint64_t load64(const std::byte* p) noexcept { return (std::uint64_t{load32(p)} << 32) | load32(p + 4); }

inline void store8(std::byte* p, std::uint8_t v) noexcept { p[0] = std::byte{v}; }

inline void store16(std::byte* p, std::uint16_t v) noexcept
{
    p[0] = std::byte(v >> 8);
    p[1] = std::byte(v);
}

inline void store24(std::byte* p, std::uint32_t v) noexcept
{
    p[0] = std::byte(v >> 16);
    p[1] = std::byte(v >> 8);
    p[2] = std::byte(v);
}

inline void store32(std::byte* p, std::uint32_t v) noexcept
{
    store16(p, static_cast<std::uint16_t>(v >> 16));
    store16(p + 2, static_cast<std::uint16_t>(v));
}

inline void store48(std::byte* p, std::uint64_t v) noexcept
{
    store16(p, static_cast<std::uint16_t>(v >> 32));
    store32(p + 2, static_cast<std::uint32_t>(v));
}

inline void store64(std::byte* p, std::uint64_t v) noexcept
{
    store32(p, static_cast<std::uint32_t>(v >> 32));
    store32(p + 4, static_cast<std::uint32_t>(v));
}

// Little-endian 32-bit store/load: only for digests, which go on the wire
// least significant byte first (RFC 3720 appendix B.4).
inline void store32le(std::byte* p, std::uint32_t v) noexcept
{
    p[0] = std::byte(v);
    p[1] = std::byte(v >> 8);
    p[2] = std::byte(v >> 16);
    p[3] = std::byte(v >> 24);
}

inline std::uint32_t load32le(const std::byte* p) noexcept
{
    return load8(p) | (std::uint32_t{load8(p + 1)} << 8) | (std::uint32_t{load8(p + 2)} << 16) |
           (std::uint32_t{load8(p + 3)} << 24);
}

// Data segments are padded to a multiple of 4 bytes (RFC 7143 §11.2.3).
constexpr std::size_t padded4(std::size_t n) noexcept { return (n + 3) & ~std::size_t{3}; }

} // namespace ivs::pdu
