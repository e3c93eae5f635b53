// Splitting a block READ/WRITE into commands of at most the maximum transfer
// (MAXPHYS), as the kernel splits a transfer with minphys() before sd(4)
// turns each piece into a READ/WRITE(10) or (16) CDB.
#pragma once

#include "vscsi/scsi_command.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <system_error>
#include <vector>

namespace ivs::vscsi {

// The commands for `blocks` blocks at `lba`: each at most max_transfer bytes
// (a whole number of blocks; its CDB from scsi::read_write), data spans
// pointing into `in` (READ) or `out` (WRITE); the one span that is not empty gives the direction and must be
// blocks * block_size long. EINVAL: block_size 0 or over max_transfer, a
// buffer that is not a whole number of blocks, both or no buffers, or an LBA
// range past 2^64.
std::error_code split_rw(int target, int lun, std::uint64_t lba, std::uint32_t block_size, std::span<std::byte> in,
                         std::span<const std::byte> out, std::size_t max_transfer, std::vector<scsi_command>& cmds);

} // namespace ivs::vscsi
