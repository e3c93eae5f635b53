// One exported disk of the FUSE export (fuse/fuse_export.hpp): byte-range
// reads and writes on a fixed-size file turned into whole-block READ/WRITE
// commands through the embedded vscsi, read-modify-write of partial blocks,
// SYNCHRONIZE CACHE(10). No FUSE here: results are byte counts or -errno, as
// the FUSE callbacks return them.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <span>
#include <vector>

namespace ivs::vscsi {
class embedded_vscsi;
struct scsi_completion;
}

namespace ivs::fuse {

// Excludes writers of overlapping block ranges (first..last inclusive) from
// each other; disjoint ranges proceed in parallel.
class block_range_lock {
public:
    void lock(std::uint64_t first, std::uint64_t last);
    void unlock(std::uint64_t first, std::uint64_t last);

private:
    std::mutex m_;
    std::condition_variable cv_;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> held_;
};

class fuse_disk {
public:
    // block_size must be 1..max_transfer and block_count * block_size must
    // not overflow (checked by fuse_export::add_disk).
    fuse_disk(vscsi::embedded_vscsi& dev, int target, int lun, std::uint32_t block_size,
              std::uint64_t block_count);

    [[nodiscard]] std::uint64_t size() const noexcept { return size_; }
    [[nodiscard]] std::uint32_t block_size() const noexcept { return block_size_; }
    [[nodiscard]] int target() const noexcept { return target_; }
    [[nodiscard]] int lun() const noexcept { return lun_; }

    // Bytes read (short or 0 past the end of the disk) or -EIO.
    long read(std::span<std::byte> out, std::uint64_t offset);
    // Bytes written (short when the end of the disk cuts the request),
    // -ENOSPC at or past the end, -EIO on a failed command.
    long write(std::span<const std::byte> data, std::uint64_t offset);
    // SYNCHRONIZE CACHE(10) of the whole medium: 0 or -EIO. With
    // only_if_written, nothing is sent unless a write completed since the
    // last successful sync (flush on close). A disk that does not implement
    // the command (ILLEGAL REQUEST) has nothing to flush.
    int sync(bool only_if_written);

    // After removal every call fails with -EIO.
    void mark_removed() noexcept { removed_.store(true); }
    [[nodiscard]] bool removed() const noexcept { return removed_.load(); }

private:
    // READ/WRITE of whole blocks; RESET and UNIT ATTENTION are retried once.
    int read_blocks(std::uint64_t lba, std::span<std::byte> buf);
    int write_blocks(std::uint64_t lba, std::span<const std::byte> buf);

    vscsi::embedded_vscsi& dev_;
    const int target_;
    const int lun_;
    const std::uint32_t block_size_;
    const std::uint64_t size_;
    block_range_lock writers_;
    std::atomic<bool> written_{false};
    std::atomic<bool> removed_{false};
};

// 0 for a completed command without residual, -EIO otherwise; `retry` is set
// when the command may be re-issued once (RESET, UNIT ATTENTION).
int completion_errno(const vscsi::scsi_completion& c, bool& retry) noexcept;

} // namespace ivs::fuse
