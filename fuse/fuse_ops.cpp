// The FUSE export's low-level operations: a flat directory (inode 1) of
// fixed-size files. READ, WRITE, FLUSH and FSYNC take the worker's receive
// buffer along as their request and return once their commands are
// submitted; request_done() answers them from the completing thread.
#include "fuse/fuse_export_impl.hpp"

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace ivs::fuse {

namespace {

constexpr double entry_timeout = 1.0;
constexpr double attr_timeout = 1.0;

fuse_export::impl& self(fuse_req_t req) { return *static_cast<fuse_export::impl*>(fuse_req_userdata(req)); }

open_file* handle_of(const fuse_file_info* fi)
{
    return fi != nullptr ? reinterpret_cast<open_file*>(fi->fh) : nullptr;
}

void op_init(void* userdata, fuse_conn_info* conn)
{
    auto& s = *static_cast<fuse_export::impl*>(userdata);
    // libfuse caps max_write at its buffer and derives max_pages from it, so
    // reads are as large as writes.
    conn->max_write = static_cast<unsigned>(s.options.max_write);
    conn->max_background = std::max(1u, s.options.max_background);
    conn->congestion_threshold = std::max(1u, conn->max_background * 3 / 4);
    // Data is copied through /dev/fuse: splicing would remove no copy on
    // this path (doc/performance.md, "Splice (not tried)"), and a writeback cache would
    // acknowledge writes the target has not seen.
    conn->want &= ~(FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE | FUSE_CAP_WRITEBACK_CACHE);
    // Asynchronous direct I/O (libaio, io_uring) keeps its queue depth.
    for (unsigned cap : {FUSE_CAP_ASYNC_DIO, FUSE_CAP_ASYNC_READ, FUSE_CAP_ATOMIC_O_TRUNC})
        if (conn->capable & cap)
            conn->want |= cap;
    // O_TRUNC comes with open(), which ignores it as a block device node
    // does (dd without conv=notrunc works); truncate() to another size is
    // still refused.
}

void op_lookup(fuse_req_t req, fuse_ino_t parent, const char* name)
{
    auto& s = self(req);
    if (parent != FUSE_ROOT_ID) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    fuse_entry_param e{};
    std::shared_ptr<fuse_disk> d;
    {
        std::lock_guard lk(s.disks_m);
        auto it = s.by_name.find(name);
        if (it != s.by_name.end()) {
            e.ino = it->second.ino;
            d = it->second.disk;
        }
    }
    if (!d) {
        fuse_reply_err(req, ENOENT); // not cached: a disk may appear any time
        return;
    }
    s.fill_disk_stat(e.ino, *d, e.attr);
    e.generation = 1;
    e.attr_timeout = attr_timeout;
    e.entry_timeout = entry_timeout;
    fuse_reply_entry(req, &e);
}

void op_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi)
{
    auto& s = self(req);
    struct stat st {};
    if (ino == FUSE_ROOT_ID) {
        s.fill_root_stat(st);
        fuse_reply_attr(req, &st, attr_timeout);
        return;
    }
    const open_file* h = handle_of(fi);
    auto d = h != nullptr ? h->disk : s.find(ino);
    if (!d) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    s.fill_disk_stat(ino, *d, st);
    fuse_reply_attr(req, &st, attr_timeout);
}

void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set, fuse_file_info* fi)
{
    auto& s = self(req);
    if (ino == FUSE_ROOT_ID) {
        fuse_reply_err(req, EPERM);
        return;
    }
    const open_file* h = handle_of(fi);
    auto d = h != nullptr ? h->disk : s.find(ino);
    if (!d) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    if (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
        fuse_reply_err(req, EPERM);
        return;
    }
    if (to_set & FUSE_SET_ATTR_SIZE) {
        if (attr->st_size < 0) {
            fuse_reply_err(req, EINVAL);
            return;
        }
        const auto want = static_cast<std::uint64_t>(attr->st_size);
        if (want != d->size()) {
            fuse_reply_err(req, want > d->size() ? EFBIG : EPERM); // a disk has a fixed size
            return;
        }
    }
    // Times are not kept (a device node's are not either).
    struct stat st {};
    s.fill_disk_stat(ino, *d, st);
    fuse_reply_attr(req, &st, attr_timeout);
}

void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info*)
{
    auto& s = self(req);
    if (ino != FUSE_ROOT_ID) {
        fuse_reply_err(req, ENOTDIR);
        return;
    }
    std::vector<std::pair<std::string, fuse_ino_t>> names{{".", FUSE_ROOT_ID}, {"..", FUSE_ROOT_ID}};
    {
        std::lock_guard lk(s.disks_m);
        for (const auto& [name, e] : s.by_name)
            names.emplace_back(name, e.ino);
    }
    std::vector<char> buf(size);
    std::size_t used = 0;
    for (std::size_t i = off < 0 ? names.size() : static_cast<std::size_t>(off); i < names.size(); ++i) {
        struct stat st {};
        st.st_ino = names[i].second;
        st.st_mode = i < 2 ? S_IFDIR : S_IFREG;
        const std::size_t len = fuse_add_direntry(req, buf.data() + used, size - used, names[i].first.c_str(), &st,
                                                  static_cast<off_t>(i + 1));
        if (len > size - used)
            break;
        used += len;
    }
    fuse_reply_buf(req, buf.data(), used);
}

void op_open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi)
{
    auto& s = self(req);
    if (ino == FUSE_ROOT_ID) {
        fuse_reply_err(req, EISDIR);
        return;
    }
    auto d = s.find(ino);
    if (!d) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    auto* h = new open_file{std::move(d)};
    {
        std::lock_guard lk(s.disks_m);
        s.handles.insert(h);
    }
    fi->fh = reinterpret_cast<std::uint64_t>(h);
    fi->direct_io = s.options.direct_io ? 1 : 0;
    fi->keep_cache = 0; // what another initiator wrote shows after the next open
    if (fuse_reply_open(req, fi) != 0) {
        // Interrupted: the kernel never releases this handle.
        std::lock_guard lk(s.disks_m);
        s.handles.erase(h);
        delete h;
    }
}

void op_release(fuse_req_t req, fuse_ino_t, fuse_file_info* fi)
{
    auto& s = self(req);
    auto* h = handle_of(fi);
    {
        std::lock_guard lk(s.disks_m);
        s.handles.erase(h);
    }
    delete h;
    fuse_reply_err(req, 0);
}

// The completion of a READ, WRITE, FLUSH or FSYNC: the reply, on the
// descriptor the request came from, then the request back to the pool.
void request_done(disk_op& op, long result)
{
    auto& r = static_cast<request&>(op);
    {
        reply_fd_scope replies(r.reply_fd);
        if (result < 0)
            fuse_reply_err(r.req, static_cast<int>(-result));
        else if (r.what == request::kind::read)
            fuse_reply_buf(r.req, reinterpret_cast<const char*>(r.read_data()), static_cast<std::size_t>(result));
        else if (r.what == request::kind::write)
            fuse_reply_write(r.req, static_cast<std::size_t>(result));
        else
            fuse_reply_err(r.req, 0);
    }
    r.owner->give(&r);
}

// The worker's receive buffer becomes the request of req.
request& start_request(fuse_req_t req, request::kind what, const open_file& h)
{
    request& r = *self(req).ch->take_current();
    r.req = req;
    r.what = what;
    r.disk_ref = h.disk;
    r.done = request_done;
    return r;
}

void op_read(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi)
{
    const open_file* h = handle_of(fi);
    if (h == nullptr || off < 0) {
        fuse_reply_err(req, h == nullptr ? EBADF : EINVAL);
        return;
    }
    request& r = start_request(req, request::kind::read, *h);
    const auto offset = static_cast<std::uint64_t>(off);
    std::span<std::byte> blocks(r.mem, r.cap);
    if (const std::size_t need = r.disk_ref->read_buffer_size(offset, size); need > r.cap) {
        r.big.resize(need); // blocks larger than the page cache's: rare
        blocks = r.big;
    }
    r.disk_ref->read(r, offset, size, blocks);
}

void op_write(fuse_req_t req, fuse_ino_t, const char* buf, size_t size, off_t off, fuse_file_info* fi)
{
    const open_file* h = handle_of(fi);
    if (h == nullptr || off < 0) {
        fuse_reply_err(req, h == nullptr ? EBADF : EINVAL);
        return;
    }
    request& r = start_request(req, request::kind::write, *h);
    std::span<const std::byte> data(reinterpret_cast<const std::byte*>(buf), size);
    const auto at = reinterpret_cast<std::uintptr_t>(buf), mem = reinterpret_cast<std::uintptr_t>(r.mem);
    if (at < mem || at - mem > r.cap || size > r.cap - (at - mem)) {
        // Not read into our buffer (libfuse's own): keep a copy.
        if (size > r.cap) {
            request_done(r, -EIO);
            return;
        }
        std::memcpy(r.mem, buf, size);
        data = {r.mem, size};
    }
    r.disk_ref->write(r, static_cast<std::uint64_t>(off), data);
}

void op_flush(fuse_req_t req, fuse_ino_t, fuse_file_info* fi)
{
    const open_file* h = handle_of(fi);
    if (h == nullptr) {
        fuse_reply_err(req, EBADF);
        return;
    }
    request& r = start_request(req, request::kind::sync, *h);
    r.disk_ref->sync(r, true);
}

void op_fsync(fuse_req_t req, fuse_ino_t, int, fuse_file_info* fi)
{
    const open_file* h = handle_of(fi);
    if (h == nullptr) {
        fuse_reply_err(req, EBADF);
        return;
    }
    request& r = start_request(req, request::kind::sync, *h);
    r.disk_ref->sync(r, false);
}

void op_statfs(fuse_req_t req, fuse_ino_t)
{
    auto& s = self(req);
    struct statvfs st {};
    std::uint64_t bytes = 0, files = 0;
    {
        std::lock_guard lk(s.disks_m);
        for (const auto& [name, e] : s.by_name)
            bytes += e.disk->size();
        files = s.by_name.size();
    }
    st.f_bsize = st.f_frsize = 4096;
    st.f_blocks = (bytes + 4095) / 4096;
    st.f_files = files;
    st.f_namemax = 255;
    fuse_reply_statfs(req, &st);
}

fuse_lowlevel_ops make_operations()
{
    fuse_lowlevel_ops ops{};
    ops.init = op_init;
    ops.lookup = op_lookup;
    ops.getattr = op_getattr;
    ops.setattr = op_setattr;
    ops.readdir = op_readdir;
    ops.open = op_open;
    ops.release = op_release;
    ops.read = op_read;
    ops.write = op_write;
    ops.flush = op_flush;
    ops.fsync = op_fsync;
    ops.statfs = op_statfs;
    return ops;
}

const fuse_lowlevel_ops operations = make_operations();

} // namespace

const fuse_lowlevel_ops& export_operations() noexcept { return operations; }

void fuse_export::impl::fill_disk_stat(fuse_ino_t ino, const fuse_disk& d, struct stat& st) const
{
    st = {};
    st.st_ino = ino;
    st.st_mode = S_IFREG | 0600;
    st.st_nlink = 1;
    st.st_uid = ::geteuid();
    st.st_gid = ::getegid();
    st.st_size = static_cast<off_t>(d.size());
    const std::uint32_t bs = d.block_size();
    st.st_blksize = (bs < 4096 && 4096 % bs == 0) ? 4096 : static_cast<blksize_t>(bs);
    st.st_blocks = static_cast<blkcnt_t>(d.size() / 512);
    st.st_atime = st.st_mtime = st.st_ctime = created;
}

void fuse_export::impl::fill_root_stat(struct stat& st) const
{
    st = {};
    st.st_ino = FUSE_ROOT_ID;
    st.st_mode = S_IFDIR | 0755;
    st.st_nlink = 2;
    st.st_uid = ::geteuid();
    st.st_gid = ::getegid();
    st.st_atime = st.st_mtime = st.st_ctime = created;
}

} // namespace ivs::fuse
