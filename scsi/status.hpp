// SCSI status codes (SAM-5 §5.3), as a SCSI Response carries them
// (RFC 7143 §11.4.2).
#pragma once

#include <cstdint>

namespace ivs::scsi::status {

inline constexpr std::uint8_t good = 0x00;
inline constexpr std::uint8_t check_condition = 0x02;
inline constexpr std::uint8_t condition_met = 0x04;
inline constexpr std::uint8_t busy = 0x08;
inline constexpr std::uint8_t reservation_conflict = 0x18;
inline constexpr std::uint8_t task_set_full = 0x28;
inline constexpr std::uint8_t aca_active = 0x30;
inline constexpr std::uint8_t task_aborted = 0x40;

} // namespace ivs::scsi::status
