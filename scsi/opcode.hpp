// SCSI operation codes (SPC-4 §6, SBC-3 §5): byte 0 of a CDB.
#pragma once

#include <cstdint>

namespace ivs::scsi::op {

inline constexpr std::uint8_t test_unit_ready = 0x00;
inline constexpr std::uint8_t read_6 = 0x08;
inline constexpr std::uint8_t write_6 = 0x0a;
inline constexpr std::uint8_t inquiry = 0x12;
inline constexpr std::uint8_t mode_sense_6 = 0x1a;
inline constexpr std::uint8_t start_stop_unit = 0x1b;
inline constexpr std::uint8_t read_capacity_10 = 0x25;
inline constexpr std::uint8_t read_10 = 0x28;
inline constexpr std::uint8_t write_10 = 0x2a;
inline constexpr std::uint8_t synchronize_cache_10 = 0x35;
inline constexpr std::uint8_t mode_sense_10 = 0x5a;
inline constexpr std::uint8_t read_16 = 0x88;
inline constexpr std::uint8_t write_16 = 0x8a;
inline constexpr std::uint8_t synchronize_cache_16 = 0x91;
inline constexpr std::uint8_t service_action_in_16 = 0x9e;
inline constexpr std::uint8_t report_luns = 0xa0;
inline constexpr std::uint8_t read_12 = 0xa8;
inline constexpr std::uint8_t write_12 = 0xaa;

// SERVICE ACTION IN(16) service actions (byte 1, bits 4..0).
inline constexpr std::uint8_t sa_read_capacity_16 = 0x10;

} // namespace ivs::scsi::op
