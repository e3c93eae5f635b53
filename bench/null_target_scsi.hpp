// bench/null_target: the null LUN. SCSI command emulation without storage:
// READs return zeros, WRITEs are discarded. No I/O here: execute() says what
// the command transfers and how it ends; the connection moves the bytes.
#pragma once

#include "scsi/sense.hpp"
#include "scsi/status.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace ivs::bench {

// Fixed-format sense data (SPC-4 §4.5.3) as it goes on the wire.
constexpr std::size_t fixed_sense_size = std::tuple_size_v<scsi::fixed_sense>;
using sense_bytes = std::array<std::byte, fixed_sense_size>;

struct lun_geometry {
    std::uint64_t blocks = 0;
    std::uint32_t block_size = 512;
    std::string serial; // VPD 0x80 and the 0x83 designator (ASCII)
};

// What one command does.
struct scsi_outcome {
    std::uint8_t status = scsi::status::good;
    sense_bytes sense{};             // meaningful with check_condition
    std::span<const std::byte> data; // Data-In held by the null_lun (valid until the next execute)
    std::uint64_t zero_length = 0;   // Data-In of this many zero bytes (READ)
    std::uint64_t write_length = 0;  // Data-Out the command expects (WRITE)
    bool reads_zeros() const noexcept { return zero_length != 0; }
    std::uint64_t data_in_length() const noexcept { return data.empty() ? zero_length : data.size(); }
};

class null_lun {
public:
    explicit null_lun(lun_geometry g);

    // Executes `cdb` (at least 16 bytes, as decoded from the BHS); `lun_exists`
    // is false for any LUN but 0, where only INQUIRY and REPORT LUNS work.
    scsi_outcome execute(std::span<const std::byte> cdb, bool lun_exists);

    const lun_geometry& geometry() const noexcept { return geo_; }

private:
    scsi_outcome inquiry(std::span<const std::byte> cdb, bool lun_exists);
    scsi_outcome mode_sense(std::span<const std::byte> cdb, bool ten);
    scsi_outcome read_write(std::uint64_t lba, std::uint64_t count, bool write);
    scsi_outcome reply(std::size_t length, std::size_t allocation_length);

    lun_geometry geo_;
    std::array<std::byte, 512> buf_{};
};

// CHECK CONDITION with fixed sense data (key, ASC, ASCQ).
scsi_outcome check_condition(std::uint8_t key, std::uint8_t asc, std::uint8_t ascq = 0) noexcept;

} // namespace ivs::bench
