// Byte-range I/O of one exported disk over whole-block SCSI commands,
// asynchronous: each step is submitted from the completion of the one
// before it.
#include "fuse/fuse_disk.hpp"

#include "scsi/cdb.hpp"
#include "scsi/sense.hpp"
#include "vscsi/retry_rules.hpp"
#include "vscsi/embedded_vscsi.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ivs::fuse {

// ---- block_range_lock -------------------------------------------------------

namespace {
bool overlaps(std::uint64_t a_first, std::uint64_t a_last, std::uint64_t b_first, std::uint64_t b_last)
{
    return a_first <= b_last && b_first <= a_last;
}
} // namespace

// True when a held range, or a waiter queued before `stop`, overlaps w.
bool block_range_lock::blocked_locked(const waiter& w, const waiter* stop) const
{
    for (const auto& [f, l] : held_)
        if (overlaps(w.first, w.last, f, l))
            return true;
    for (const waiter* q = head_; q != nullptr && q != stop; q = q->next)
        if (overlaps(w.first, w.last, q->first, q->last))
            return true;
    return false;
}

void block_range_lock::acquire(waiter& w)
{
    {
        std::lock_guard lk(m_);
        w.next = nullptr;
        if (blocked_locked(w, nullptr)) {
            (tail_ ? tail_->next : head_) = &w;
            tail_ = &w;
            return;
        }
        held_.emplace_back(w.first, w.last);
    }
    w.granted(w);
}

void block_range_lock::release(const waiter& w)
{
    waiter* grant = nullptr; // granted here, in queue order
    waiter** grant_tail = &grant;
    {
        std::lock_guard lk(m_);
        auto it = std::find(held_.begin(), held_.end(), std::pair{w.first, w.last});
        if (it != held_.end()) {
            *it = held_.back();
            held_.pop_back();
        }
        waiter* prev = nullptr;
        for (waiter* q = head_; q != nullptr;) {
            waiter* next = q->next;
            if (!blocked_locked(*q, q)) {
                (prev ? prev->next : head_) = next;
                if (tail_ == q)
                    tail_ = prev;
                held_.emplace_back(q->first, q->last);
                q->next = nullptr;
                *grant_tail = q;
                grant_tail = &q->next;
            } else {
                prev = q;
            }
            q = next;
        }
    }
    while (grant != nullptr) {
        waiter* next = grant->next; // read first: granted() may reuse the node
        grant->granted(*grant);
        grant = next;
    }
}

std::size_t block_range_lock::held() const
{
    std::lock_guard lk(m_);
    return held_.size();
}

std::size_t block_range_lock::waiting() const
{
    std::lock_guard lk(m_);
    std::size_t n = 0;
    for (const waiter* q = head_; q != nullptr; q = q->next)
        ++n;
    return n;
}

// ---- fuse_disk -------------------------------------------------------------

int completion_errno(const vscsi::scsi_completion& c) noexcept { return -vscsi::completion_error(c); }

fuse_disk::fuse_disk(vscsi::embedded_vscsi& dev, int target, int lun, std::uint32_t block_size,
                     std::uint64_t block_count)
    : dev_(dev), target_(target), lun_(lun), block_size_(block_size), size_(block_count * block_size)
{}

std::size_t fuse_disk::read_buffer_size(std::uint64_t offset, std::size_t length) const noexcept
{
    if (offset >= size_ || length == 0)
        return 0;
    const std::uint64_t n = std::min<std::uint64_t>(length, size_ - offset);
    const std::uint64_t first = offset / block_size_;
    const std::uint64_t last = (offset + n - 1) / block_size_;
    return static_cast<std::size_t>((last - first + 1) * block_size_);
}

void fuse_disk::issue(disk_command& c)
{
    // One pointer captured: fits std::function's inline storage.
    auto done = [cp = &c](const vscsi::scsi_completion& comp) { cp->op->disk->completed(*cp, comp); };
    std::error_code ec;
    if (c.sync) {
        vscsi::scsi_command cmd;
        cmd.target = target_;
        cmd.lun = lun_;
        cmd.set_cdb(scsi::synchronize_cache_10()); // LBA 0, 0 blocks: the whole medium
        cmd.dir = vscsi::vscsi_dir::none;
        cmd.retries = dev_.config().retry.retries; // sd's bound, as for READ/WRITE
        ec = dev_.submit(cmd, std::move(done));
    } else if (!c.in.empty()) {
        ec = dev_.submit_read(target_, lun_, c.lba, block_size_, c.in, std::move(done));
    } else {
        ec = dev_.submit_write(target_, lun_, c.lba, block_size_, c.out, std::move(done));
    }
    if (ec)
        c.then(c, -EIO); // device closed (ENXIO) or refused: nothing was queued
}

void fuse_disk::completed(disk_command& c, const vscsi::scsi_completion& comp)
{
    if (c.sync && comp.status == vscsi::vscsi_status::sense &&
        scsi::sense_key(comp.sense) == scsi::key::illegal_request)
        return c.then(c, 0); // no cache to synchronize
    // The midlayer has retried what its rules retry (vscsi/retry_rules.hpp).
    c.then(c, completion_errno(comp));
}

namespace {
void start_command(disk_command& c, disk_op& op, std::uint64_t lba, std::span<std::byte> in,
                   std::span<const std::byte> out, bool sync, void (*then)(disk_command&, int))
{
    c.op = &op;
    c.lba = lba;
    c.in = in;
    c.out = out;
    c.sync = sync;
    c.then = then;
}
} // namespace

void fuse_disk::read(disk_op& op, std::uint64_t offset, std::size_t length, std::span<std::byte> blocks)
{
    op.disk = this;
    op.head = 0;
    op.length = 0;
    op.blocks = blocks.first(0);
    if (removed())
        return op.done(op, -EIO);
    const std::size_t need = read_buffer_size(offset, length);
    if (need == 0)
        return op.done(op, 0);
    if (blocks.size() < need)
        return op.done(op, -EINVAL);
    op.length = static_cast<std::size_t>(std::min<std::uint64_t>(length, size_ - offset));
    op.first = offset / block_size_;
    op.head = static_cast<std::size_t>(offset - op.first * block_size_);
    op.blocks = blocks.first(need);
    start_command(op.cmd[0], op, op.first, op.blocks, {}, false, read_done);
    issue(op.cmd[0]);
}

void fuse_disk::read_done(disk_command& c, int r)
{
    disk_op& op = *c.op;
    op.done(op, r < 0 ? r : static_cast<long>(op.length));
}

void fuse_disk::write(disk_op& op, std::uint64_t offset, std::span<const std::byte> data)
{
    op.disk = this;
    if (removed())
        return op.done(op, -EIO);
    if (data.empty())
        return op.done(op, 0);
    if (offset >= size_)
        return op.done(op, -ENOSPC); // the file cannot grow
    op.length = static_cast<std::size_t>(std::min<std::uint64_t>(data.size(), size_ - offset));
    op.data = data.first(op.length);
    op.first = offset / block_size_;
    op.last = (offset + op.length - 1) / block_size_;
    op.head = static_cast<std::size_t>(offset - op.first * block_size_);
    op.range.first = op.first;
    op.range.last = op.last;
    op.range.granted = write_granted;
    op.range.context = &op;
    writers_.acquire(op.range);
}

void fuse_disk::write_granted(block_range_lock::waiter& w)
{
    disk_op& op = *static_cast<disk_op*>(w.context);
    fuse_disk& d = *op.disk;
    const std::size_t bs = d.block_size_;
    const std::size_t tail = (op.head + op.length) % bs;
    if (op.head == 0 && tail == 0) {
        start_command(op.cmd[0], op, op.first, {}, op.data, false, write_done);
        return d.issue(op.cmd[0]);
    }
    // Read-modify-write: the partial first and last blocks come from the
    // disk, concurrently, then the whole blocks go back.
    op.bounce.resize(static_cast<std::size_t>(op.last - op.first + 1) * bs);
    const std::span<std::byte> whole(op.bounce);
    const bool read_first = op.head != 0 || (op.first == op.last && tail != 0);
    const bool read_last = tail != 0 && op.last != op.first;
    op.failure.store(0);
    op.pending.store((read_first ? 1 : 0) + (read_last ? 1 : 0));
    if (read_first)
        start_command(op.cmd[0], op, op.first, whole.first(bs), {}, false, rmw_read_done);
    if (read_last)
        start_command(op.cmd[1], op, op.last, whole.last(bs), {}, false, rmw_read_done);
    // cmd[1] is set up before cmd[0] is issued: cmd[0] may complete at once.
    if (read_first)
        d.issue(op.cmd[0]);
    if (read_last)
        d.issue(op.cmd[1]);
}

void fuse_disk::rmw_read_done(disk_command& c, int r)
{
    disk_op& op = *c.op;
    if (r < 0) {
        int none = 0;
        op.failure.compare_exchange_strong(none, r);
    }
    if (op.pending.fetch_sub(1, std::memory_order_acq_rel) != 1)
        return;
    if (const int f = op.failure.load(); f < 0)
        return op.disk->finish_write(op, f);
    std::memcpy(op.bounce.data() + op.head, op.data.data(), op.length);
    start_command(op.cmd[0], op, op.first, {}, op.bounce, false, write_done);
    op.disk->issue(op.cmd[0]);
}

void fuse_disk::write_done(disk_command& c, int r) { c.op->disk->finish_write(*c.op, r); }

void fuse_disk::finish_write(disk_op& op, int r)
{
    if (r == 0)
        written_.store(true);
    writers_.release(op.range); // before done: done may free op
    op.done(op, r < 0 ? r : static_cast<long>(op.length));
}

void fuse_disk::sync(disk_op& op, bool only_if_written)
{
    op.disk = this;
    if (removed())
        return op.done(op, -EIO);
    // Cleared before the command: a write completing meanwhile sets it again.
    if (!written_.exchange(false) && only_if_written)
        return op.done(op, 0);
    start_command(op.cmd[0], op, 0, {}, {}, true, sync_done);
    issue(op.cmd[0]);
}

void fuse_disk::sync_done(disk_command& c, int r)
{
    disk_op& op = *c.op;
    if (r < 0)
        op.disk->written_.store(true); // still to be flushed
    op.done(op, r);
}

} // namespace ivs::fuse
