// REPORT LUNS parameter data (SPC-4 §6.33): an 8-byte header whose first
// four bytes are the LUN LIST LENGTH, then one 8-byte LUN per entry
// (SAM-5 §4.7). I/O-free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace ivs::scsi {

// The raw 8-byte entries (big-endian) present in `data`: at most LUN LIST
// LENGTH / 8 of them and only whole entries within `data`. nullopt when
// `data` is shorter than the header.
[[nodiscard]] std::optional<std::vector<std::uint64_t>> report_luns_entries(std::span<const std::byte> data);

// The LUN number of an entry in single-level peripheral or flat space
// addressing (SAM-5 §4.7); nullopt for any other addressing.
[[nodiscard]] std::optional<std::uint64_t> decode_lun_entry(std::uint64_t entry) noexcept;

// The LUN numbers of the entries that decode, in the target's order.
// nullopt when `data` is shorter than the header.
[[nodiscard]] std::optional<std::vector<std::uint64_t>> parse_report_luns(std::span<const std::byte> data);

// Parameter data listing `luns` (each below 256) in peripheral device
// addressing. The LUN LIST LENGTH counts them all; the result holds at most
// `allocation_length` bytes (SPC-4 §4.2.5.6).
[[nodiscard]] std::vector<std::byte> make_report_luns(std::span<const std::uint8_t> luns,
                                                      std::size_t allocation_length);

} // namespace ivs::scsi
