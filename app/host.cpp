#include "app/host.hpp"

#if defined(__OpenBSD__)
#include "vscsi/openbsd_vscsi.hpp"
#endif
#include "vscsi/embedded_vscsi.hpp"
#if IVS_HAVE_FUSE
#include "app/export_loop.hpp"
#include "fuse/fuse_export.hpp"
#endif

#include <cerrno>
#include <map>

#include <unistd.h>

namespace ivs::app {

namespace {

class host_category_impl : public std::error_category {
public:
    const char* name() const noexcept override { return "host"; }
    std::string message(int ev) const override
    {
        switch (static_cast<host_errc>(ev)) {
        case host_errc::no_fuse: return "this build has no FUSE export";
        case host_errc::no_midlayer: return "the kernel's vscsi has no disks to export from userland";
        }
        return "unknown host error";
    }
};

} // namespace

const std::error_category& host_category() noexcept
{
    static const host_category_impl c;
    return c;
}

std::error_code make_error_code(host_errc e) noexcept { return {static_cast<int>(e), host_category()}; }

struct host::impl {
    // The embedded vscsi: the midlayer half of the device (not on OpenBSD).
    std::optional<vscsi::embedded_vscsi> embedded;
    std::unique_ptr<vscsi::vscsi_device> device;
#if IVS_HAVE_FUSE
    struct export_entry {
        std::unique_ptr<fuse::fuse_export> mount;
        std::shared_ptr<export_loop> loop; // its requests, read on the io thread
        std::size_t users = 0;             // attachments exporting here
        bool mounted_by_other = false;     // options.mount_fuse mounted it
    };
    std::map<std::filesystem::path, export_entry> exports;
#endif
};

host::host(host_options options) : options_(std::move(options)), impl_(std::make_unique<impl>()) {}

host::~host() { close(); }

std::error_code host::open(std::string& error)
{
    if (opened_)
        return {};
    io_.start();
    std::error_code ec;
#if defined(__OpenBSD__)
    if (options_.device_fd >= 0) {
        impl_->device = vscsi::openbsd_vscsi::adopt(options_.device_fd);
        options_.device_fd = -1;
    } else {
        const std::string path = options_.device.empty() ? "/dev/vscsi0" : options_.device;
        ec = vscsi::openbsd_vscsi::open(path.c_str(), impl_->device);
    }
#else
    vscsi::embedded_vscsi_config cfg;
    cfg.max_transfer = options_.max_transfer;
    cfg.openings = options_.openings;
    cfg.log = options_.log;
    impl_->embedded.emplace(cfg);
    ec = impl_->embedded->open(impl_->device);
#endif
    if (ec) {
        error = "cannot open the vscsi device: " + ec.message();
        impl_->embedded.reset();
        io_.stop();
        return ec;
    }
    bridge::bridge_options bo;
    bo.max_transfer = options_.max_transfer;
    bo.log = options_.log;
    io_.call<bool>([&](auto done) {
        bridge_.emplace(io_.context(), *impl_->device, bo);
        bridge_->start();
        done(true);
    });
    opened_ = true;
    return {};
}

void host::close()
{
    if (!opened_ || closed_)
        return;
    closed_ = true;
#if IVS_HAVE_FUSE
    for (auto& entry : impl_->exports)
        stop_export(entry.first);
    impl_->exports.clear();
#endif
    // The bridge answers what is outstanding through the device, so it
    // stops first; the device closes next (the last close completes what
    // the midlayer still has with RESET); the bridge object goes on the
    // io thread, where its handlers run.
    io_.call<bool>([&](auto done) {
        bridge_->shutdown();
        done(true);
    });
    impl_->device.reset();
    io_.call<bool>([&](auto done) {
        bridge_.reset();
        done(true);
    });
    io_.stop();
    impl_->embedded.reset();
}

bool host::has_midlayer() const noexcept { return impl_->embedded.has_value(); }

vscsi::embedded_vscsi* host::midlayer() noexcept { return impl_->embedded ? &*impl_->embedded : nullptr; }

std::optional<std::vector<vscsi::attached_disk>> host::probe(std::span<const bridge::slot> slots,
                                                             std::chrono::milliseconds limit)
{
    for (const auto& s : slots) {
        impl_->device->request_probe(s.target, s.lun);
        ++probe_requests_;
    }
    if (!impl_->embedded)
        return std::vector<vscsi::attached_disk>{};
    if (!impl_->embedded->wait_probe_idle(limit))
        return std::nullopt;
    std::vector<vscsi::attached_disk> found;
    const auto disks = impl_->embedded->disks();
    for (const auto& s : slots)
        for (const auto& d : disks)
            if (d.target == s.target && d.lun == s.lun)
                found.push_back(d);
    return found;
}

bool host::detach(std::span<const bridge::slot> slots, std::chrono::milliseconds limit)
{
    for (const auto& s : slots) {
        impl_->device->request_detach(s.target, s.lun);
        ++detach_requests_;
    }
    return !impl_->embedded || impl_->embedded->wait_probe_idle(limit);
}

std::error_code host::mount(const std::filesystem::path& dir, std::string& why)
{
#if IVS_HAVE_FUSE
    if (!impl_->embedded)
        return host_errc::no_midlayer;
    auto& e = impl_->exports[dir];
    if (!e.mount) {
        fuse::fuse_export_options fo;
        fo.log = options_.log;
        fo.workers = 0; // the io thread reads the requests (export_loop)
        std::filesystem::path mountpoint = dir;
        int fuse_fd = -1;
        if (options_.mount_fuse) {
            // Mounted by someone else: served through /dev/fd/N (fuse_export.hpp).
            if (auto ec = options_.mount_fuse(dir, fuse_fd, why)) {
                impl_->exports.erase(dir);
                return ec;
            }
            mountpoint = "/dev/fd/" + std::to_string(fuse_fd);
            e.mounted_by_other = true;
        }
        e.mount = std::make_unique<fuse::fuse_export>(*impl_->embedded, mountpoint, fo);
        if (auto ec = e.mount->start()) {
            if (e.mounted_by_other) {
                options_.unmount_fuse(dir);
                ::close(fuse_fd); // start() failed before the session took it
            }
            impl_->exports.erase(dir);
            return ec;
        }
        const int err = io_.call<int>([&](auto done) {
            if (e.mount->loop_fd() >= 0)
                e.loop = export_loop::start(io_.context(), *e.mount);
            done(e.loop || e.mount->loop_fd() < 0 ? 0 : errno);
        });
        if (err != 0) {
            e.mount->stop();
            if (e.mounted_by_other)
                options_.unmount_fuse(dir);
            impl_->exports.erase(dir);
            return std::error_code(err, std::generic_category());
        }
    }
    ++e.users;
    return {};
#else
    (void)dir;
    (void)why;
    return host_errc::no_fuse;
#endif
}

#if IVS_HAVE_FUSE
void host::stop_export(const std::filesystem::path& dir)
{
    auto& e = impl_->exports.at(dir);
    // The io thread stops reading the requests first.
    if (e.loop)
        io_.call<bool>([&](auto done) {
            e.loop->cancel();
            done(true);
        });
    e.loop.reset();
    // Mounted by someone else: unmounted by them. If that fails the mount
    // stays until its descriptor closes (stop() below, once the requests in
    // flight are answered), which ends the connection.
    if (e.mounted_by_other && !options_.unmount_fuse(dir))
        options_.log.error("fuse: " + dir.string() +
                           " could not be unmounted; its connection ends when the "
                           "export stops");
    e.mount->stop();
}
#endif

void host::unmount(const std::filesystem::path& dir)
{
#if IVS_HAVE_FUSE
    auto it = impl_->exports.find(dir);
    if (it == impl_->exports.end() || --it->second.users > 0)
        return;
    stop_export(dir);
    impl_->exports.erase(it);
#else
    (void)dir;
#endif
}

std::error_code host::export_disk(const std::filesystem::path& dir, const std::string& prefix, std::uint64_t remote_lun,
                                  bridge::slot where, std::uint32_t block_size, std::uint64_t block_count,
                                  std::string& name)
{
#if IVS_HAVE_FUSE
    auto it = impl_->exports.find(dir);
    if (it == impl_->exports.end())
        return make_error_code(std::errc::not_connected);
    name = prefix + fuse::fuse_disk_file_name(remote_lun);
    return it->second.mount->add_disk(name, where.target, where.lun, block_size, block_count);
#else
    (void)dir;
    (void)prefix;
    (void)remote_lun;
    (void)where;
    (void)block_size;
    (void)block_count;
    (void)name;
    return host_errc::no_fuse;
#endif
}

std::size_t host::open_handles(const std::filesystem::path& dir, const std::string& name) const
{
#if IVS_HAVE_FUSE
    auto it = impl_->exports.find(dir);
    return it == impl_->exports.end() || !it->second.mount ? 0 : it->second.mount->open_handles(name);
#else
    (void)dir;
    (void)name;
    return 0;
#endif
}

void host::unexport_disk(const std::filesystem::path& dir, const std::string& name)
{
#if IVS_HAVE_FUSE
    auto it = impl_->exports.find(dir);
    if (it != impl_->exports.end())
        (void)it->second.mount->remove_disk(name);
#else
    (void)dir;
    (void)name;
#endif
}

} // namespace ivs::app
