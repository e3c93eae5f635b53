// A SCSI command as the midlayer (the kernel side that issues commands) hands
// it to the embedded vscsi, and its completion. Used by the embedded device,
// its probe, the READ/WRITE split helper, tests, and later the FUSE export.
#pragma once

#include "scsi/cdb.hpp"
#include "vscsi/vscsi_device.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>

namespace ivs::vscsi {

struct scsi_command {
    int target = 0;
    int lun = 0;
    std::array<std::uint8_t, vscsi_max_cdb> cdb{};
    std::size_t cdblen = 0; // 1..16
    vscsi_dir dir = vscsi_dir::none;
    std::span<std::byte> data_in;        // dir == read: filled through data_read
    std::span<const std::byte> data_out; // dir == write: fetched through data_write
    // Re-issued (new tag) at most this many times when the midlayer's retry
    // rules say so (vscsi/retry_rules.hpp); 0: every completion as it comes.
    int retries = 0;

    void set_cdb(const scsi::cdb& c) noexcept
    {
        cdb = c.bytes;
        cdblen = c.length;
    }

    // The transfer length the daemon sees as datalen.
    [[nodiscard]] std::size_t datalen() const noexcept
    {
        return dir == vscsi_dir::read ? data_in.size() : dir == vscsi_dir::write ? data_out.size() : 0;
    }
};

struct scsi_completion {
    vscsi_status status = vscsi_status::err;
    scsi::fixed_sense sense{}; // valid with vscsi_status::sense
    std::size_t residual = 0;  // datalen - bytes moved
};

// Called exactly once per accepted command, from the thread that completes it
// (the daemon thread in t2i, or the closing thread). Keep it short; it runs
// without any lock of the device held, so it may submit further commands.
using scsi_completion_handler = std::function<void(const scsi_completion&)>;

// Blocking form of a command submission (used by the probe).
using scsi_executor = std::function<scsi_completion(const scsi_command&)>;

} // namespace ivs::vscsi
