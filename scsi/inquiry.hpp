// Standard INQUIRY data (SPC-4 §6.6.2): peripheral device types and the
// answer for a LUN that is not there. I/O-free.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace ivs::scsi {

// PERIPHERAL DEVICE TYPE (byte 0, bits 4..0; SPC-4 §6.6.2 table 144).
namespace device_type {
inline constexpr std::uint8_t direct_access = 0x00;
inline constexpr std::uint8_t sequential_access = 0x01;
inline constexpr std::uint8_t printer = 0x02;
inline constexpr std::uint8_t processor = 0x03;
inline constexpr std::uint8_t write_once = 0x04;
inline constexpr std::uint8_t cd_dvd = 0x05;
inline constexpr std::uint8_t scanner = 0x06;
inline constexpr std::uint8_t optical_memory = 0x07;
inline constexpr std::uint8_t medium_changer = 0x08;
inline constexpr std::uint8_t communications = 0x09;
inline constexpr std::uint8_t storage_array_controller = 0x0c;
inline constexpr std::uint8_t enclosure_services = 0x0d;
inline constexpr std::uint8_t simplified_direct_access = 0x0e;
inline constexpr std::uint8_t unknown = 0x1f;
} // namespace device_type

// Byte 0 for "not capable of supporting a device here": PERIPHERAL
// QUALIFIER 3, type 0x1f.
inline constexpr std::uint8_t no_logical_unit = 0x7f;

// Standard INQUIRY data (36 bytes) for a LUN that is not there: qualifier
// 3, type 0x1f, SPC-3, response data format 2.
[[nodiscard]] constexpr std::array<std::byte, 36> no_logical_unit_inquiry() noexcept
{
    std::array<std::byte, 36> d{};
    d[0] = std::byte{no_logical_unit};
    d[2] = std::byte{0x05}; // VERSION: SPC-3
    d[3] = std::byte{0x02}; // RESPONSE DATA FORMAT
    d[4] = std::byte{31};   // ADDITIONAL LENGTH
    return d;
}

} // namespace ivs::scsi
