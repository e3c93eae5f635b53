// Byte-range I/O of one exported disk over whole-block SCSI commands.
#include "fuse/fuse_disk.hpp"

#include "scsi/cdb.hpp"
#include "scsi/sense.hpp"
#include "vscsi/embedded_vscsi.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ivs::fuse {

void block_range_lock::lock(std::uint64_t first, std::uint64_t last) {
    std::unique_lock lk(m_);
    cv_.wait(lk, [&] {
        return std::none_of(held_.begin(), held_.end(), [&](const auto& r) {
            return first <= r.second && r.first <= last;
        });
    });
    held_.emplace_back(first, last);
}

void block_range_lock::unlock(std::uint64_t first, std::uint64_t last) {
    {
        std::lock_guard lk(m_);
        auto it = std::find(held_.begin(), held_.end(), std::pair{first, last});
        if (it != held_.end())
            held_.erase(it);
    }
    cv_.notify_all();
}

namespace {
struct range_guard {
    block_range_lock& l;
    std::uint64_t first, last;
    range_guard(block_range_lock& lock, std::uint64_t f, std::uint64_t la)
        : l(lock), first(f), last(la) { l.lock(first, last); }
    ~range_guard() { l.unlock(first, last); }
    range_guard(const range_guard&) = delete;
    range_guard& operator=(const range_guard&) = delete;
};
} // namespace

int completion_errno(const vscsi::scsi_completion& c, bool& retry) noexcept {
    retry = false;
    switch (c.status) {
    case vscsi::vscsi_status::done:
        // A short transfer leaves part of the buffer undefined.
        return c.residual == 0 ? 0 : -EIO;
    case vscsi::vscsi_status::reset:
        retry = true;
        return -EIO;
    case vscsi::vscsi_status::sense:
        retry = scsi::sense_key(c.sense) == scsi::key::unit_attention;
        return -EIO;
    default:
        return -EIO;
    }
}

fuse_disk::fuse_disk(vscsi::embedded_vscsi& dev, int target, int lun, std::uint32_t block_size,
                     std::uint64_t block_count)
    : dev_(dev), target_(target), lun_(lun), block_size_(block_size),
      size_(block_count * block_size) {}

int fuse_disk::read_blocks(std::uint64_t lba, std::span<std::byte> buf) {
    for (int attempt = 0;; ++attempt) {
        vscsi::scsi_completion c;
        if (dev_.read(target_, lun_, lba, block_size_, buf, c))
            return -EIO;  // device closed (ENXIO) or refused
        bool retry = false;
        const int r = completion_errno(c, retry);
        if (r == 0 || !retry || attempt == 1)
            return r;
    }
}

int fuse_disk::write_blocks(std::uint64_t lba, std::span<const std::byte> buf) {
    for (int attempt = 0;; ++attempt) {
        vscsi::scsi_completion c;
        if (dev_.write(target_, lun_, lba, block_size_, buf, c))
            return -EIO;
        bool retry = false;
        const int r = completion_errno(c, retry);
        if (r == 0 || !retry || attempt == 1)
            return r;
    }
}

long fuse_disk::read(std::span<std::byte> out, std::uint64_t offset) {
    if (removed())
        return -EIO;
    if (offset >= size_ || out.empty())
        return 0;
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), size_ - offset));
    const std::uint64_t bs = block_size_;
    if (offset % bs == 0 && n % bs == 0) {
        const int r = read_blocks(offset / bs, out.first(n));
        return r < 0 ? r : static_cast<long>(n);
    }
    const std::uint64_t first = offset / bs;
    const std::uint64_t last = (offset + n - 1) / bs;
    std::vector<std::byte> buf(static_cast<std::size_t>((last - first + 1) * bs));
    if (const int r = read_blocks(first, buf); r < 0)
        return r;
    std::memcpy(out.data(), buf.data() + (offset - first * bs), n);
    return static_cast<long>(n);
}

long fuse_disk::write(std::span<const std::byte> data, std::uint64_t offset) {
    if (removed())
        return -EIO;
    if (data.empty())
        return 0;
    if (offset >= size_)
        return -ENOSPC;  // the file cannot grow
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(data.size(), size_ - offset));
    const std::uint64_t bs = block_size_;
    const std::uint64_t first = offset / bs;
    const std::uint64_t last = (offset + n - 1) / bs;
    const std::size_t head = static_cast<std::size_t>(offset - first * bs);
    const std::size_t tail = static_cast<std::size_t>((offset + n) % bs);

    // Every write holds its blocks: a read-modify-write must not interleave
    // with another write of the same blocks, or one update would be lost.
    range_guard guard(writers_, first, last);
    int r = 0;
    if (head == 0 && tail == 0) {
        r = write_blocks(first, data.first(n));
    } else {
        std::vector<std::byte> buf(static_cast<std::size_t>((last - first + 1) * bs));
        const std::span<std::byte> whole(buf);
        if (head != 0 || (first == last && tail != 0))
            r = read_blocks(first, whole.first(bs));
        if (r == 0 && tail != 0 && (last != first))
            r = read_blocks(last, whole.last(bs));
        if (r == 0) {
            std::memcpy(buf.data() + head, data.data(), n);
            r = write_blocks(first, whole);
        }
    }
    if (r < 0)
        return r;
    written_.store(true);
    return static_cast<long>(n);
}

int fuse_disk::sync(bool only_if_written) {
    if (removed())
        return -EIO;
    // Cleared before the command: a write completing meanwhile sets it again.
    if (!written_.exchange(false) && only_if_written)
        return 0;
    vscsi::scsi_command cmd;
    cmd.target = target_;
    cmd.lun = lun_;
    cmd.set_cdb(scsi::synchronize_cache_10());  // LBA 0, 0 blocks: the whole medium
    cmd.dir = vscsi::vscsi_dir::none;
    int r = -EIO;
    for (int attempt = 0; attempt < 2; ++attempt) {
        vscsi::scsi_completion c;
        if (dev_.execute(cmd, c))
            break;
        if (c.status == vscsi::vscsi_status::sense && scsi::sense_key(c.sense) == scsi::key::illegal_request) {
            r = 0;  // no cache to synchronize
            break;
        }
        bool retry = false;
        r = completion_errno(c, retry);
        if (r == 0 || !retry)
            break;
    }
    if (r < 0)
        written_.store(true);
    return r;
}

} // namespace ivs::fuse
