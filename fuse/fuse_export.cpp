// The FUSE export: libfuse3's high-level API over a flat directory of disks,
// served by fuse_loop_mt on a thread of its own.
#define FUSE_USE_VERSION 312
#include "fuse/fuse_export.hpp"

#include "vscsi/embedded_vscsi.hpp"
#include "fuse/fuse_disk.hpp"

#include <fuse.h>

#include <fcntl.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_set>
#include <vector>

extern char** environ;

namespace ivs::fuse {

namespace {

// What an open file handle (fi->fh) holds: the disk stays alive while open.
struct open_file {
    std::shared_ptr<fuse_disk> disk;
};

class fuse_export_category_impl : public std::error_category {
public:
    const char* name() const noexcept override { return "fuse_export"; }
    std::string message(int ev) const override {
        switch (static_cast<fuse_export_errc>(ev)) {
        case fuse_export_errc::already_started: return "FUSE export already started";
        case fuse_export_errc::not_a_directory: return "FUSE mountpoint is not an existing directory";
        case fuse_export_errc::session_failed: return "cannot create the FUSE session";
        case fuse_export_errc::mount_failed: return "cannot mount the FUSE file system (/dev/fuse, permissions)";
        case fuse_export_errc::invalid_name: return "invalid file name for an exported disk";
        case fuse_export_errc::name_exists: return "a disk with that file name is already exported";
        case fuse_export_errc::no_such_disk: return "no exported disk has that file name";
        case fuse_export_errc::invalid_geometry: return "invalid block size or block count for an exported disk";
        }
        return "unknown fuse_export error";
    }
};

} // namespace

const std::error_category& fuse_export_category() noexcept {
    static const fuse_export_category_impl cat;
    return cat;
}

std::error_code make_error_code(fuse_export_errc e) noexcept {
    return {static_cast<int>(e), fuse_export_category()};
}

std::string fuse_disk_file_name(std::uint64_t remote_lun) {
    return "lun" + std::to_string(remote_lun);
}

struct fuse_export::impl {
    vscsi::embedded_vscsi& dev;
    std::filesystem::path mountpoint;
    fuse_export_options options;
    const std::time_t created = std::time(nullptr);

    mutable std::mutex disks_m;
    std::map<std::string, std::shared_ptr<fuse_disk>> disks;
    // Handles of open files; an aborted connection never releases them.
    std::unordered_set<open_file*> handles;

    std::mutex life_m;              // start/stop and the fuse handle
    ::fuse* f = nullptr;
    std::thread loop;
    std::atomic<bool> running{false};
    dev_t conn_dev = 0;             // the mount's device: its fusectl connection id
    bool premounted = false;        // "/dev/fd/N": mounted and unmounted by the caller

    impl(vscsi::embedded_vscsi& d, std::filesystem::path mp, fuse_export_options o)
        : dev(d), mountpoint(std::move(mp)), options(std::move(o)) {}

    void log(const std::string& s) const { options.log.info(s); }
    void warn(const std::string& s) const { options.log.warning(s); }
    std::shared_ptr<fuse_disk> find(const char* path) const {
        if (path == nullptr || path[0] != '/')
            return nullptr;
        std::lock_guard lk(disks_m);
        auto it = disks.find(path + 1);
        return it == disks.end() ? nullptr : it->second;
    }
    void unmount_and_join();
    void abort_connection();
};

namespace {

fuse_export::impl& self() {
    return *static_cast<fuse_export::impl*>(fuse_get_context()->private_data);
}

std::shared_ptr<fuse_disk> disk_of(const char* path, const fuse_file_info* fi) {
    if (fi != nullptr && fi->fh != 0)
        return reinterpret_cast<open_file*>(fi->fh)->disk;
    return self().find(path);
}

void* op_init(fuse_conn_info* conn, fuse_config* cfg) {
    auto& s = self();
    cfg->direct_io = s.options.direct_io ? 1 : 0;
    cfg->kernel_cache = 0;
    cfg->hard_remove = 1;
    cfg->use_ino = 0;
    cfg->entry_timeout = 1.0;
    cfg->attr_timeout = 1.0;
    cfg->negative_timeout = 0.0;
    if (s.options.max_write != 0)
        conn->max_write = static_cast<unsigned>(s.options.max_write);
    // O_TRUNC comes with open(), which ignores it as a block device node
    // does (dd without conv=notrunc works); truncate() to another size is
    // still refused.
    if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
        conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
    return &s;
}

void fill_disk_stat(const fuse_export::impl& s, const fuse_disk& d, struct stat* st) {
    st->st_mode = S_IFREG | 0600;
    st->st_nlink = 1;
    st->st_uid = ::geteuid();
    st->st_gid = ::getegid();
    st->st_size = static_cast<off_t>(d.size());
    const std::uint32_t bs = d.block_size();
    st->st_blksize = (bs < 4096 && 4096 % bs == 0) ? 4096 : static_cast<blksize_t>(bs);
    st->st_blocks = static_cast<blkcnt_t>(d.size() / 512);
    st->st_atime = st->st_mtime = st->st_ctime = s.created;
}

int op_getattr(const char* path, struct stat* st, fuse_file_info* fi) {
    std::memset(st, 0, sizeof *st);
    if (std::strcmp(path, "/") == 0) {
        st->st_mode = S_IFDIR | 0755;
        st->st_nlink = 2;
        st->st_uid = ::geteuid();
        st->st_gid = ::getegid();
        st->st_atime = st->st_mtime = st->st_ctime = self().created;
        return 0;
    }
    auto d = disk_of(path, fi);
    if (!d)
        return -ENOENT;
    fill_disk_stat(self(), *d, st);
    return 0;
}

int op_readdir(const char* path, void* buf, fuse_fill_dir_t filler, off_t, fuse_file_info*,
               fuse_readdir_flags) {
    if (std::strcmp(path, "/") != 0)
        return -ENOTDIR;
    auto& s = self();
    filler(buf, ".", nullptr, 0, fuse_fill_dir_flags{});
    filler(buf, "..", nullptr, 0, fuse_fill_dir_flags{});
    std::lock_guard lk(s.disks_m);
    for (const auto& [name, d] : s.disks)
        filler(buf, name.c_str(), nullptr, 0, fuse_fill_dir_flags{});
    return 0;
}

int op_open(const char* path, fuse_file_info* fi) {
    auto d = self().find(path);
    if (!d)
        return -ENOENT;
    auto h = std::make_unique<open_file>(open_file{std::move(d)});
    auto& s = self();
    std::lock_guard lk(s.disks_m);
    s.handles.insert(h.get());
    fi->fh = reinterpret_cast<std::uint64_t>(h.release());
    return 0;
}

int op_release(const char*, fuse_file_info* fi) {
    auto* h = reinterpret_cast<open_file*>(fi->fh);
    auto& s = self();
    {
        std::lock_guard lk(s.disks_m);
        s.handles.erase(h);
    }
    delete h;
    fi->fh = 0;
    return 0;
}

int op_read(const char* path, char* buf, size_t size, off_t off, fuse_file_info* fi) {
    auto d = disk_of(path, fi);
    if (!d)
        return -ENOENT;
    if (off < 0)
        return -EINVAL;
    return static_cast<int>(d->read({reinterpret_cast<std::byte*>(buf), size},
                                    static_cast<std::uint64_t>(off)));
}

int op_write(const char* path, const char* buf, size_t size, off_t off, fuse_file_info* fi) {
    auto d = disk_of(path, fi);
    if (!d)
        return -ENOENT;
    if (off < 0)
        return -EINVAL;
    return static_cast<int>(d->write({reinterpret_cast<const std::byte*>(buf), size},
                                     static_cast<std::uint64_t>(off)));
}

int op_flush(const char* path, fuse_file_info* fi) {
    auto d = disk_of(path, fi);
    return d ? d->sync(true) : -ENOENT;
}

int op_fsync(const char* path, int, fuse_file_info* fi) {
    auto d = disk_of(path, fi);
    return d ? d->sync(false) : -ENOENT;
}

int op_truncate(const char* path, off_t size, fuse_file_info* fi) {
    auto d = disk_of(path, fi);
    if (!d)
        return -ENOENT;
    if (size < 0)
        return -EINVAL;
    const auto want = static_cast<std::uint64_t>(size);
    if (want == d->size())
        return 0;
    return want > d->size() ? -EFBIG : -EPERM;  // a disk has a fixed size
}

int op_statfs(const char*, struct statvfs* st) {
    auto& s = self();
    std::memset(st, 0, sizeof *st);
    std::uint64_t bytes = 0, files = 0;
    {
        std::lock_guard lk(s.disks_m);
        for (const auto& [name, d] : s.disks)
            bytes += d->size();
        files = s.disks.size();
    }
    st->f_bsize = st->f_frsize = 4096;
    st->f_blocks = (bytes + 4095) / 4096;
    st->f_files = files;
    st->f_namemax = 255;
    return 0;
}

fuse_operations make_operations() {
    fuse_operations ops{};
    ops.init = op_init;
    ops.getattr = op_getattr;
    ops.readdir = op_readdir;
    ops.open = op_open;
    ops.release = op_release;
    ops.read = op_read;
    ops.write = op_write;
    ops.flush = op_flush;
    ops.fsync = op_fsync;
    ops.truncate = op_truncate;
    ops.statfs = op_statfs;
    return ops;
}

const fuse_operations operations = make_operations();

// fusermount3 -u -z for an unprivileged mount; false if it did not succeed.
bool run_fusermount_lazy(const std::string& mp) {
    const char* argv[] = {"fusermount3", "-u", "-z", "-q", mp.c_str(), nullptr};
    pid_t pid = 0;
    if (::posix_spawnp(&pid, "fusermount3", nullptr, nullptr, const_cast<char* const*>(argv),
                       environ) != 0)
        return false;
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// libfuse's "/dev/fd/N" (fuse_session_mount takes descriptor N as mounted).
bool is_premounted(const std::filesystem::path& mp) {
    const std::string s = mp.string();
    constexpr std::string_view prefix = "/dev/fd/";
    return s.size() > prefix.size() && s.compare(0, prefix.size(), prefix) == 0 &&
           s.find_first_not_of("0123456789", prefix.size()) == std::string::npos;
}

bool write_abort(const std::filesystem::path& connections, dev_t dev) {
    // The connection's directory is named after the kernel dev_t (major << 20 | minor).
    const auto id = (static_cast<unsigned long>(major(dev)) << 20) | minor(dev);
    std::ofstream out(connections / std::to_string(id) / "abort");
    if (!out)
        return false;
    out << "1\n";
    out.flush();
    return static_cast<bool>(out);
}

} // namespace

// A lazily detached mount that files still use keeps its connection alive;
// writing to fusectl's abort ends it (the loop threads see ENODEV).
void fuse_export::impl::abort_connection() {
    if (write_abort("/sys/fs/fuse/connections", conn_dev))
        return;
    // fusectl is not mounted there: mount a private instance for a moment.
    char tmpl[] = "/tmp/ivs-fusectl-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr)
        return;
    if (::mount("fusectl", tmpl, "fusectl", 0, nullptr) == 0) {
        if (!write_abort(tmpl, conn_dev))
            warn("fuse: cannot abort the connection of " + mountpoint.string());
        ::umount2(tmpl, 0);
    } else {
        warn("fuse: cannot mount fusectl to abort the connection of " + mountpoint.string());
    }
    ::rmdir(tmpl);
}

void fuse_export::impl::unmount_and_join() {
    const std::string mp = mountpoint.string();
    bool detached = false;
    // premounted: who mounted it has unmounted it, the loop is ending.
    if (!premounted && ::umount2(mp.c_str(), UMOUNT_NOFOLLOW) != 0) {
        const int e = errno;
        if (e == EBUSY) {
            if (::umount2(mp.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
                detached = true;
            warn("fuse: " + mp + " busy, detached lazily and aborted its connection");
        } else if (e == EPERM) {
            detached = run_fusermount_lazy(mp);
        }
        // EINVAL: no longer mounted (unmounted from outside); the loop has ended.
    }
    if (detached)
        abort_connection();
    loop.join();
    // The connection is gone, so this only closes the session fd.
    fuse_unmount(f);
    fuse_destroy(f);
    f = nullptr;
    std::lock_guard lk(disks_m);
    for (open_file* h : handles)
        delete h;
    handles.clear();
    running = false;
    log("fuse: unmounted " + mp);
}

fuse_export::fuse_export(vscsi::embedded_vscsi& dev, std::filesystem::path mountpoint,
                         fuse_export_options options)
    : impl_(std::make_unique<impl>(dev, std::move(mountpoint), std::move(options))) {}

fuse_export::~fuse_export() { stop(); }

bool fuse_export::running() const noexcept { return impl_->running.load(); }

std::size_t fuse_export::open_handles(const std::string& name) const {
    std::lock_guard lk(impl_->disks_m);
    auto it = impl_->disks.find(name);
    if (it == impl_->disks.end())
        return 0;
    std::size_t n = 0;
    for (const open_file* h : impl_->handles)
        n += h->disk == it->second ? 1 : 0;
    return n;
}

const std::filesystem::path& fuse_export::mountpoint() const noexcept { return impl_->mountpoint; }

std::error_code fuse_export::add_disk(const std::string& name, int target, int lun,
                                      std::uint32_t block_size, std::uint64_t block_count) {
    if (name.empty() || name.size() > 255 || name == "." || name == ".." ||
        name.find('/') != std::string::npos || name.find('\0') != std::string::npos)
        return fuse_export_errc::invalid_name;
    if (block_size == 0 || block_size > impl_->dev.config().max_transfer || block_count == 0 ||
        block_count > static_cast<std::uint64_t>(INT64_MAX) / block_size)
        return fuse_export_errc::invalid_geometry;
    auto d = std::make_shared<fuse_disk>(impl_->dev, target, lun, block_size, block_count);
    std::lock_guard lk(impl_->disks_m);
    if (!impl_->disks.emplace(name, std::move(d)).second)
        return fuse_export_errc::name_exists;
    return {};
}

std::error_code fuse_export::remove_disk(const std::string& name) {
    std::shared_ptr<fuse_disk> d;
    {
        std::lock_guard lk(impl_->disks_m);
        auto it = impl_->disks.find(name);
        if (it == impl_->disks.end())
            return fuse_export_errc::no_such_disk;
        d = std::move(it->second);
        impl_->disks.erase(it);
    }
    d->mark_removed();
    std::lock_guard lk(impl_->life_m);
    if (impl_->f != nullptr)
        fuse_invalidate_path(impl_->f, ("/" + name).c_str());  // drop cached lookups
    return {};
}

std::error_code fuse_export::start() {
    auto& s = *impl_;
    std::lock_guard lk(s.life_m);
    if (s.f != nullptr)
        return fuse_export_errc::already_started;
    s.premounted = is_premounted(s.mountpoint);
    std::error_code fs_ec;
    if (!s.premounted) {
        if (!std::filesystem::is_directory(s.mountpoint, fs_ec))
            return fuse_export_errc::not_a_directory;
        s.mountpoint = std::filesystem::absolute(s.mountpoint, fs_ec).lexically_normal();
        if (!s.mountpoint.has_filename() && s.mountpoint.has_relative_path())
            s.mountpoint = s.mountpoint.parent_path();  // drop a trailing '/'
    }

    const std::string opts = "-ofsname=" + s.options.fsname + ",subtype=iscsi-vscsi,default_permissions";
    std::vector<std::string> args_s{"iscsi-vscsi", opts};
    std::vector<char*> argv;
    for (auto& a : args_s)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    fuse_args args = FUSE_ARGS_INIT(static_cast<int>(args_s.size()), argv.data());
    s.f = fuse_new(&args, &operations, sizeof operations, &s);
    fuse_opt_free_args(&args);
    if (s.f == nullptr)
        return fuse_export_errc::session_failed;
    if (fuse_mount(s.f, s.mountpoint.c_str()) != 0) {
        fuse_destroy(s.f);
        s.f = nullptr;
        return fuse_export_errc::mount_failed;
    }
    s.running = true;
    const unsigned threads = s.options.max_threads == 0 ? 1 : s.options.max_threads;
    s.loop = std::thread([&s, threads] {
        fuse_loop_config* cfg = fuse_loop_cfg_create();
        fuse_loop_cfg_set_max_threads(cfg, threads);
        fuse_loop_cfg_set_idle_threads(cfg, threads);
        fuse_loop_cfg_set_clone_fd(cfg, 0);
        fuse_loop_mt(s.f, cfg);
        fuse_loop_cfg_destroy(cfg);
    });
    // The mount's device number names its fusectl connection (for stop()).
    // This stat is the first request the loop serves.
    struct stat st {};
    if (!s.premounted && ::stat(s.mountpoint.c_str(), &st) == 0)
        s.conn_dev = st.st_dev;
    s.log("fuse: mounted " + s.mountpoint.string());
    return {};
}

void fuse_export::stop() {
    auto& s = *impl_;
    std::lock_guard lk(s.life_m);
    if (s.f == nullptr)
        return;
    s.unmount_and_join();
}

} // namespace ivs::fuse
