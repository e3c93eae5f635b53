// Command descriptor blocks (SPC-4 §4.2, SBC-3 §5) for the commands the
// project issues itself. I/O-free.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace ivs::scsi {

inline constexpr std::size_t max_cdb_length = 16;

struct cdb {
    std::array<std::uint8_t, max_cdb_length> bytes{}; // length bytes valid, rest zero
    std::size_t length = 0;

    [[nodiscard]] std::span<const std::uint8_t> view() const noexcept { return {bytes.data(), length}; }
    [[nodiscard]] std::span<const std::byte> as_bytes() const noexcept
    {
        return std::as_bytes(std::span<const std::uint8_t>(bytes.data(), length));
    }
};

// TEST UNIT READY (SPC-4 §6.47).
[[nodiscard]] cdb test_unit_ready() noexcept;
// INQUIRY, standard data (SPC-4 §6.6), at most allocation_length bytes.
[[nodiscard]] cdb inquiry(std::uint16_t allocation_length) noexcept;
// REPORT LUNS, SELECT REPORT 0 (SPC-4 §6.33).
[[nodiscard]] cdb report_luns(std::uint32_t allocation_length) noexcept;
// READ CAPACITY(10) (SBC-3 §5.15) and READ CAPACITY(16) (SBC-3 §5.16).
[[nodiscard]] cdb read_capacity_10() noexcept;
[[nodiscard]] cdb read_capacity_16(std::uint32_t allocation_length) noexcept;
// SYNCHRONIZE CACHE(10) of the whole medium (SBC-3 §5.22).
[[nodiscard]] cdb synchronize_cache_10() noexcept;
// READ(10)/WRITE(10) when lba + blocks fits in 32 bits and blocks in 16
// bits, READ(16)/WRITE(16) otherwise (SBC-3 §5.11, §5.13, §5.32, §5.34).
[[nodiscard]] cdb read_write(bool write, std::uint64_t lba, std::uint32_t blocks) noexcept;

// Rewrites the ALLOCATION LENGTH of a REPORT LUNS CDB (bytes 6..9); false
// when the CDB is too short to hold it.
bool set_report_luns_allocation_length(std::span<std::byte> cdb, std::uint32_t allocation_length) noexcept;

} // namespace ivs::scsi
