// One exported disk of the FUSE export (fuse/fuse_export.hpp): byte-range
// reads and writes on a fixed-size file turned into whole-block READ/WRITE
// commands through the embedded vscsi, read-modify-write of partial blocks,
// SYNCHRONIZE CACHE(10). Asynchronous: each operation submits its commands
// and returns; its completion runs on the thread that completes the last
// command (the daemon's). No FUSE here: results are byte counts or -errno,
// as FUSE replies carry them.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <span>
#include <vector>

namespace ivs::vscsi {
class embedded_vscsi;
struct scsi_completion;
} // namespace ivs::vscsi

namespace ivs::fuse {

// Excludes operations on overlapping block ranges (first..last inclusive)
// from each other without blocking a thread: a waiter is granted once no
// held range and no earlier waiter overlaps it (overlapping requests keep
// their order); disjoint ranges proceed in parallel.
class block_range_lock {
public:
    struct waiter {
        std::uint64_t first = 0;
        std::uint64_t last = 0;
        void (*granted)(waiter&) = nullptr; // runs without the lock's mutex held
        void* context = nullptr;            // the owner's, for granted
        waiter* next = nullptr;             // the queue's link
    };

    // granted(w) runs before acquire returns when the range is free, else
    // later on the thread whose release() frees it.
    void acquire(waiter& w);
    // Releases a granted range; grants what now may run, in queue order.
    void release(const waiter& w);

    [[nodiscard]] std::size_t held() const;
    [[nodiscard]] std::size_t waiting() const;

private:
    [[nodiscard]] bool blocked_locked(const waiter& w, const waiter* stop) const;

    mutable std::mutex m_;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> held_;
    waiter* head_ = nullptr;
    waiter* tail_ = nullptr;
};

class fuse_disk;

// One SCSI command of an operation; the midlayer retries it by its rules
// (vscsi/retry_rules.hpp), its handler sees only the final completion.
struct disk_command {
    struct disk_op* op = nullptr;
    std::uint64_t lba = 0;
    std::span<std::byte> in;                           // READ into
    std::span<const std::byte> out;                    // WRITE from
    bool sync = false;                                 // SYNCHRONIZE CACHE(10) instead
    void (*then)(disk_command&, int result) = nullptr; // 0 or -errno
};

// An operation in flight. The caller owns it (usually inside its request),
// sets `done`, and keeps it alive until done runs; done runs exactly once,
// possibly before the starting call returns.
struct disk_op {
    void (*done)(disk_op&, long result) = nullptr; // bytes (>= 0) or -errno

    // Read result: `result` bytes start at read_data().
    [[nodiscard]] const std::byte* read_data() const noexcept { return blocks.data() + head; }

    // ---- fuse_disk's state ----
    fuse_disk* disk = nullptr;
    std::uint64_t first = 0; // blocks first..last
    std::uint64_t last = 0;
    std::size_t head = 0;            // offset of the first byte in block `first`
    std::size_t length = 0;          // bytes of the request (clamped to the disk)
    std::span<std::byte> blocks;     // read: the whole blocks
    std::span<const std::byte> data; // write: the caller's bytes
    std::vector<std::byte> bounce;   // read-modify-write: the whole blocks
    std::atomic<int> pending{0};     // commands of the current phase
    std::atomic<int> failure{0};     // first -errno of the current phase
    block_range_lock::waiter range;
    disk_command cmd[2];
};

class fuse_disk {
public:
    // block_size must be 1..max_transfer and block_count * block_size must
    // not overflow (checked by fuse_export::add_disk).
    fuse_disk(vscsi::embedded_vscsi& dev, int target, int lun, std::uint32_t block_size, std::uint64_t block_count);

    [[nodiscard]] std::uint64_t size() const noexcept { return size_; }
    [[nodiscard]] std::uint32_t block_size() const noexcept { return block_size_; }
    [[nodiscard]] int target() const noexcept { return target_; }
    [[nodiscard]] int lun() const noexcept { return lun_; }

    // Bytes a read of `length` bytes at `offset` needs in `blocks`: the whole
    // blocks it touches (0 at or past the end of the disk).
    [[nodiscard]] std::size_t read_buffer_size(std::uint64_t offset, std::size_t length) const noexcept;

    // Reads into `blocks` (at least read_buffer_size bytes); done gets the
    // bytes read (short or 0 past the end of the disk) or -EIO; the data
    // starts at op.read_data().
    void read(disk_op& op, std::uint64_t offset, std::size_t length, std::span<std::byte> blocks);
    // Writes `data` (kept alive by the caller until done); done gets the bytes
    // written (short when the end of the disk cuts the request), -ENOSPC at or
    // past the end, -EIO on a failed command. Every write holds its blocks
    // (block_range_lock), so a read-modify-write never interleaves with
    // another write of the same blocks.
    void write(disk_op& op, std::uint64_t offset, std::span<const std::byte> data);
    // SYNCHRONIZE CACHE(10) of the whole medium: done gets 0 or -EIO. With
    // only_if_written, nothing is sent unless a write completed since the
    // last successful sync (flush on close). A disk that does not implement
    // the command (ILLEGAL REQUEST) has nothing to flush.
    void sync(disk_op& op, bool only_if_written);

    // After removal every operation fails with -EIO.
    void mark_removed() noexcept { removed_.store(true); }
    [[nodiscard]] bool removed() const noexcept { return removed_.load(); }

    [[nodiscard]] const block_range_lock& writers() const noexcept { return writers_; }

private:
    void issue(disk_command& c);
    void completed(disk_command& c, const vscsi::scsi_completion& comp);
    static void read_done(disk_command& c, int r);
    static void write_granted(block_range_lock::waiter& w);
    static void rmw_read_done(disk_command& c, int r);
    static void write_done(disk_command& c, int r);
    static void sync_done(disk_command& c, int r);
    void finish_write(disk_op& op, int r);

    vscsi::embedded_vscsi& dev_;
    const int target_;
    const int lun_;
    const std::uint32_t block_size_;
    const std::uint64_t size_;
    block_range_lock writers_;
    std::atomic<bool> written_{false};
    std::atomic<bool> removed_{false};
};

// The FUSE answer of a completion the midlayer no longer retries: 0, or a
// negative errno from the retry rules (vscsi/retry_rules.hpp).
int completion_errno(const vscsi::scsi_completion& c) noexcept;

} // namespace ivs::fuse
