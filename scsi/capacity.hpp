// READ CAPACITY parameter data (SBC-3 §5.15, §5.16). I/O-free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace ivs::scsi {

struct read_capacity_data {
    std::uint64_t last_lba = 0;     // RETURNED LOGICAL BLOCK ADDRESS
    std::uint32_t block_length = 0; // LOGICAL BLOCK LENGTH IN BYTES
};

// READ CAPACITY(10): 8 bytes, the last LBA in 32 bits (0xffffffff: ask
// READ CAPACITY(16)). nullopt when shorter.
[[nodiscard]] std::optional<read_capacity_data> parse_read_capacity_10(std::span<const std::byte> data) noexcept;
// READ CAPACITY(16): the first 12 bytes matter here. nullopt when shorter.
[[nodiscard]] std::optional<read_capacity_data> parse_read_capacity_16(std::span<const std::byte> data) noexcept;

} // namespace ivs::scsi
