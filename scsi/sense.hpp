// Sense data from a target (the SCSI Response's sense segment, RFC 7143
// §11.4.7.2) converted to the 18 bytes of fixed-format sense vscsi(4) carries
// in VSCSI_T2I. I/O-free.
#pragma once

#include "vscsi/vscsi_device.hpp"

#include <cstddef>
#include <optional>
#include <span>

namespace ivs::bridge {

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
[[nodiscard]] std::optional<scsi_sense> convert_sense(std::span<const std::byte> sense) noexcept;

} // namespace ivs::bridge
