// The FUSE export's life cycle: the disks it shows, mounting with libfuse's
// low-level session (its I/O through fuse/fuse_channel.hpp), unmounting.
#include "fuse/fuse_export_impl.hpp"

#include "vscsi/embedded_vscsi.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <vector>

extern char** environ;

namespace ivs::fuse {

namespace {

class fuse_export_category_impl : public std::error_category {
public:
    const char* name() const noexcept override { return "fuse_export"; }
    std::string message(int ev) const override
    {
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

const std::error_category& fuse_export_category() noexcept
{
    static const fuse_export_category_impl cat;
    return cat;
}

std::error_code make_error_code(fuse_export_errc e) noexcept { return {static_cast<int>(e), fuse_export_category()}; }

std::string fuse_disk_file_name(std::uint64_t remote_lun) { return "lun" + std::to_string(remote_lun); }

namespace {

// The device number of the file system mounted at `mp` (the last mount
// there), from /proc/self/mountinfo; 0 when not found.
dev_t mount_device(const std::string& mp)
{
    std::ifstream in("/proc/self/mountinfo");
    std::string line;
    dev_t found = 0;
    while (std::getline(in, line)) {
        // ID PARENT MAJOR:MINOR ROOT MOUNTPOINT ...; the mount point has
        // octal escapes (\040 for a space).
        std::istringstream fields(line);
        std::string id, parent, numbers, root, escaped;
        if (!(fields >> id >> parent >> numbers >> root >> escaped))
            continue;
        std::string point;
        for (std::size_t i = 0; i < escaped.size(); ++i) {
            auto octal = [&](std::size_t k) { return escaped[k] >= '0' && escaped[k] <= '7'; };
            if (escaped[i] == '\\' && escaped.size() - i > 3 && octal(i + 1) && octal(i + 2) && octal(i + 3)) {
                point += static_cast<char>((escaped[i + 1] - '0') * 64 + (escaped[i + 2] - '0') * 8 +
                                           (escaped[i + 3] - '0'));
                i += 3;
            } else {
                point += escaped[i];
            }
        }
        unsigned major = 0, minor = 0;
        if (point == mp && std::sscanf(numbers.c_str(), "%u:%u", &major, &minor) == 2)
            found = makedev(major, minor);
    }
    return found;
}

// libfuse's "/dev/fd/N" (fuse_session_mount takes descriptor N as mounted).
bool is_premounted(const std::filesystem::path& mp)
{
    const std::string s = mp.string();
    constexpr std::string_view prefix = "/dev/fd/";
    return s.size() > prefix.size() && s.compare(0, prefix.size(), prefix) == 0 &&
           s.find_first_not_of("0123456789", prefix.size()) == std::string::npos;
}

// fusermount3 -u -z for an unprivileged mount; false if it did not succeed.
bool run_fusermount_lazy(const std::string& mp)
{
    const char* argv[] = {"fusermount3", "-u", "-z", "-q", mp.c_str(), nullptr};
    pid_t pid = 0;
    if (::posix_spawnp(&pid, "fusermount3", nullptr, nullptr, const_cast<char* const*>(argv), environ) != 0)
        return false;
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

bool write_abort(const std::filesystem::path& connections, dev_t dev)
{
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
// writing to fusectl's abort ends it (the workers see ENODEV).
void fuse_export::impl::abort_connection()
{
    if (write_abort("/sys/fs/fuse/connections", conn_dev))
        return;
    // fusectl is not mounted there: mount a private instance for a moment.
    char tmpl[] = "/tmp/ivs-fusectl-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr)
        return;
    if (::mount("fusectl", tmpl, "fusectl", 0, nullptr) == 0) {
        if (!write_abort(tmpl, conn_dev))
            options.log.warning("fuse: cannot abort the connection of " + mountpoint.string());
        ::umount2(tmpl, 0);
    } else {
        options.log.warning("fuse: cannot mount fusectl to abort the connection of " + mountpoint.string());
    }
    ::rmdir(tmpl);
}

void fuse_export::impl::unmount_and_join()
{
    const std::string mp = mountpoint.string();
    bool detached = false;
    // premounted: who mounted it has unmounted it, the connection is ending.
    if (!premounted && ::umount2(mp.c_str(), UMOUNT_NOFOLLOW) != 0) {
        const int e = errno;
        if (e == EBUSY) {
            if (::umount2(mp.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
                detached = true;
            options.log.warning("fuse: " + mp + " busy, detached lazily and aborted its connection");
        } else if (e == EPERM) {
            detached = run_fusermount_lazy(mp);
        }
        // EINVAL: no longer mounted (unmounted from outside); the workers have seen ENODEV.
    }
    if (detached)
        abort_connection();
    ch->join_workers();
    {
        // No worker runs: nothing uses a handle any more (requests in
        // flight hold their disk, not the handle).
        std::lock_guard lk(disks_m);
        for (open_file* h : handles)
            delete h;
        handles.clear();
    }
    // The session and its descriptors end with the last request in flight.
    if (const long n = ch->requests_in_flight(); n > 0)
        options.log.notice("fuse: " + std::to_string(n) + " requests to " + mp +
                           " still in flight; answered when their commands complete");
    channel* c = ch;
    ch = nullptr;
    se = nullptr;
    c->unref();
    running = false;
    options.log.info("fuse: unmounted " + mp);
}

fuse_export::fuse_export(vscsi::embedded_vscsi& dev, std::filesystem::path mountpoint, fuse_export_options options)
    : impl_(std::make_unique<impl>(dev, std::move(mountpoint), std::move(options)))
{}

fuse_export::~fuse_export() { stop(); }

bool fuse_export::running() const noexcept { return impl_->running.load(); }

std::size_t fuse_export::open_handles(const std::string& name) const
{
    std::lock_guard lk(impl_->disks_m);
    auto it = impl_->by_name.find(name);
    if (it == impl_->by_name.end())
        return 0;
    std::size_t n = 0;
    for (const open_file* h : impl_->handles)
        n += h->disk == it->second.disk ? 1 : 0;
    return n;
}

const std::filesystem::path& fuse_export::mountpoint() const noexcept { return impl_->mountpoint; }

long fuse_export::requests_in_flight() const
{
    std::lock_guard lk(impl_->life_m);
    return impl_->ch != nullptr ? impl_->ch->requests_in_flight() : 0;
}

std::error_code fuse_export::add_disk(const std::string& name, int target, int lun, std::uint32_t block_size,
                                      std::uint64_t block_count)
{
    if (name.empty() || name.size() > 255 || name == "." || name == ".." || name.find('/') != std::string::npos ||
        name.find('\0') != std::string::npos)
        return fuse_export_errc::invalid_name;
    if (block_size == 0 || block_size > impl_->dev.config().max_transfer || block_count == 0 ||
        block_count > static_cast<std::uint64_t>(INT64_MAX) / block_size)
        return fuse_export_errc::invalid_geometry;
    auto d = std::make_shared<fuse_disk>(impl_->dev, target, lun, block_size, block_count);
    auto& s = *impl_;
    std::lock_guard lk(s.disks_m);
    if (s.by_name.count(name) != 0)
        return fuse_export_errc::name_exists;
    const fuse_ino_t ino = s.next_ino++;
    s.by_ino.emplace(ino, d);
    s.by_name.emplace(name, impl::entry{ino, std::move(d)});
    return {};
}

std::error_code fuse_export::remove_disk(const std::string& name)
{
    auto& s = *impl_;
    std::shared_ptr<fuse_disk> d;
    {
        std::lock_guard lk(s.disks_m);
        auto it = s.by_name.find(name);
        if (it == s.by_name.end())
            return fuse_export_errc::no_such_disk;
        d = std::move(it->second.disk);
        s.by_ino.erase(it->second.ino);
        s.by_name.erase(it);
    }
    d->mark_removed();
    std::lock_guard lk(s.life_m);
    if (s.se != nullptr) // drop the kernel's cached lookup of the name
        fuse_lowlevel_notify_inval_entry(s.se, FUSE_ROOT_ID, name.c_str(), name.size());
    return {};
}

std::error_code fuse_export::start()
{
    auto& s = *impl_;
    std::lock_guard lk(s.life_m);
    if (s.se != nullptr)
        return fuse_export_errc::already_started;
    s.premounted = is_premounted(s.mountpoint);
    std::error_code fs_ec;
    if (!s.premounted) {
        if (!std::filesystem::is_directory(s.mountpoint, fs_ec))
            return fuse_export_errc::not_a_directory;
        s.mountpoint = std::filesystem::absolute(s.mountpoint, fs_ec).lexically_normal();
        if (!s.mountpoint.has_filename() && s.mountpoint.has_relative_path())
            s.mountpoint = s.mountpoint.parent_path(); // drop a trailing '/'
    }

    const std::string opts = "-ofsname=" + s.options.fsname + ",subtype=iscsi-vscsi,default_permissions";
    std::vector<std::string> args_s{"iscsi-vscsi", opts};
    std::vector<char*> argv;
    for (auto& a : args_s)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    fuse_args args = FUSE_ARGS_INIT(static_cast<int>(args_s.size()), argv.data());
    fuse_session* se = fuse_session_new(&args, &export_operations(), sizeof(fuse_lowlevel_ops), &s);
    fuse_opt_free_args(&args);
    if (se == nullptr)
        return fuse_export_errc::session_failed;
    if (fuse_session_mount(se, s.mountpoint.c_str()) != 0) {
        fuse_session_destroy(se);
        return fuse_export_errc::mount_failed;
    }
    // Our reads and writes of /dev/fuse (fuse/fuse_channel.hpp), on the
    // descriptor the mount opened.
    if (fuse_session_custom_io(se, &channel_io(), fuse_session_fd(se)) != 0) {
        fuse_session_unmount(se);
        fuse_session_destroy(se);
        return fuse_export_errc::session_failed;
    }
    // Requests up to max_write, read into buffers with room for the request
    // headers and, for a read, the partial blocks around the range.
    const std::size_t max_write = std::clamp<std::size_t>(s.options.max_write, 4096, 1 << 20);
    s.options.max_write = max_write;
    channel_options co;
    co.workers = s.options.workers;
    const unsigned workers = co.workers;
    co.clone_fd = s.options.clone_fd;
    co.buffer_size = max_write + 8192;
    co.idle_requests = s.options.max_background + 2 * std::max(1u, co.workers);
    co.log = s.options.log;
    s.se = se;
    s.ch = new channel(se, std::move(co));
    s.ch->start_workers();
    s.running = true;
    // The mount's device number names its fusectl connection (for stop()).
    // With workers this stat is the first request they serve after INIT;
    // without, nobody serves it yet, and the mount table tells.
    // Premounted: stop() neither unmounts nor aborts (the mounter does).
    if (!s.premounted && workers > 0) {
        struct stat st {};
        if (::stat(s.mountpoint.c_str(), &st) == 0)
            s.conn_dev = st.st_dev;
    } else if (!s.premounted) {
        s.conn_dev = mount_device(s.mountpoint.string());
    }
    s.options.log.info("fuse: mounted " + s.mountpoint.string());
    return {};
}

int fuse_export::loop_fd() const
{
    std::lock_guard lk(impl_->life_m);
    return impl_->ch != nullptr ? impl_->ch->loop_fd() : -1;
}

fuse_export::pump_result fuse_export::pump(std::size_t limit)
{
    // Not under life_m: stop() is not called while the owner pumps.
    channel* c = impl_->ch;
    if (c == nullptr)
        return pump_result::ended;
    switch (c->pump(limit)) {
    case channel::pump_result::drained: return pump_result::drained;
    case channel::pump_result::more: return pump_result::more;
    case channel::pump_result::ended: break;
    }
    return pump_result::ended;
}

void fuse_export::stop()
{
    auto& s = *impl_;
    std::lock_guard lk(s.life_m);
    if (s.se == nullptr)
        return;
    s.unmount_and_join();
}

} // namespace ivs::fuse
