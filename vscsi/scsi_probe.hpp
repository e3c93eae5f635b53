// The pieces of OpenBSD's SCSI midlayer probe (scsiconf/sd) that the embedded
// vscsi runs on VSCSI_REQPROBE: INQUIRY, TEST UNIT READY with unit-attention
// retries, REPORT LUNS for "all LUNs" on SPC devices, READ CAPACITY(16)/(10),
// and the dmesg-style attach lines. Commands go through a blocking executor
// (the embedded device's midlayer queue, served by the daemon).
#pragma once

#include "vscsi/scsi_command.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace ivs::vscsi {

struct probe_options {
    int command_retries = 3; // re-issue on RESET or UNIT ATTENTION (INQUIRY, READ CAPACITY)
    int tur_retries = 5;     // TEST UNIT READY attempts while UNIT ATTENTION / RESET
};

// Standard INQUIRY data, the fields the midlayer looks at (SPC-4 §6.4.2).
struct inquiry_data {
    std::uint8_t qualifier = 0; // byte 0 bits 7..5
    std::uint8_t type = 0;      // byte 0 bits 4..0 (0 direct, 0x0c storage array, 0x1f none)
    bool removable = false;     // byte 1 RMB
    std::uint8_t version = 0;   // byte 2 bits 2..0 (3 SPC, 4 SPC-2, 5 SPC-3, ...)
    std::string vendor;         // bytes 8..15, made visible like scsi_strvis()
    std::string product;        // bytes 16..31
    std::string revision;       // bytes 32..35
};

// A disk attached as sdN.
struct attached_disk {
    int target = 0;
    int lun = 0;
    std::string name; // "sd0", "sd1", ...
    std::string vendor, product, revision;
    bool removable = false;
    std::uint8_t device_type = 0;  // INQUIRY peripheral device type
    std::uint8_t scsi_version = 0; // INQUIRY version (bits 2..0)
    std::uint32_t block_size = 0;  // 0 with block_count 0: capacity unknown (drive offline)
    std::uint64_t block_count = 0;
};

struct capacity {
    std::uint32_t block_size = 0;
    std::uint64_t block_count = 0;
};

// Parses INQUIRY data; needs at least the first 5 bytes (missing text fields
// are empty). nullopt when shorter.
[[nodiscard]] std::optional<inquiry_data> parse_inquiry(std::span<const std::byte> data);

// Trim leading/trailing blanks and NULs, collapse inner runs to one space,
// quote '\' and show other non-printables as \ooo (like scsi_strvis()).
[[nodiscard]] std::string scsi_visible(std::span<const std::byte> field);

// Whether sd(4) drives this device: direct access (0), optical (7) and
// simplified direct access (0x0e). Other types (a 0x0c controller LUN,
// enclosures, ...) get no sd device.
[[nodiscard]] bool sd_drives(const inquiry_data& inq) noexcept;

// "<prefix> targ T lun L: <vendor, product, revision> SCSI3 0/direct fixed",
// prefix being "sd0 at scsibus0" or, for a device no driver takes, "scsibus0"
// (followed by " not configured" by the caller). SCSI<n> is the ANSI version
// below 3 and SCSI3 from SPC on.
[[nodiscard]] std::string attach_line(const std::string& prefix, int target, int lun, const inquiry_data& inq);
// "sd0: 256MB, 512 bytes/sector, 524288 sectors"
[[nodiscard]] std::string sd_size_line(const std::string& name, const capacity& cap);

// The midlayer's commands (blocking, through `exec`); nullopt on failure.
[[nodiscard]] std::optional<inquiry_data> probe_inquiry(const scsi_executor& exec, int target, int lun,
                                                        const probe_options& opt);
// TEST UNIT READY, retried on UNIT ATTENTION and RESET; other failures are
// ignored as the midlayer does (ILLEGAL REQUEST, NOT READY). True when ready.
bool test_unit_ready(const scsi_executor& exec, int target, int lun, const probe_options& opt);
// REPORT LUNS on LUN 0 (SPC devices): the single-level peripheral LUNs
// reported (addressing method 0, bus 0); nullopt if the command failed.
[[nodiscard]] std::optional<std::vector<int>> report_luns(const scsi_executor& exec, int target,
                                                          const probe_options& opt);
// sd's capacity: READ CAPACITY(16) first on SPC devices, READ CAPACITY(10)
// if it fails; READ CAPACITY(10) first on older ones and (16) when it says
// 0xffffffff.
[[nodiscard]] std::optional<capacity> read_capacity(const scsi_executor& exec, int target, int lun,
                                                    std::uint8_t version, const probe_options& opt);

} // namespace ivs::vscsi
