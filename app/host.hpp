// What disks attach onto: the io thread that runs the sessions and the
// bridge, the vscsi device (OpenBSD's /dev/vscsiN, elsewhere the embedded
// userland one), the bridge serving it, and the FUSE exports by directory.
// The one place that knows which vscsi device and whether FUSE this build
// has. Public calls come from threads other than the io thread.
#pragma once

#include "app/io_thread.hpp"
#include "bridge/bridge.hpp"
#include "log/log.hpp"
#include "vscsi/scsi_probe.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <vector>

namespace ivs::vscsi {
class embedded_vscsi;
class vscsi_device;
} // namespace ivs::vscsi

namespace ivs::app {

struct host_options {
    std::string device; // OpenBSD: the vscsi device (default /dev/vscsi0)
    // OpenBSD: the vscsi device, already opened O_RDWR (serve opens it as
    // root before dropping privileges); the host takes it. -1: open `device`.
    int device_fd = -1;
    // FUSE mounts made by someone with the right to mount (serve's
    // privileged parent): mount_fuse mounts `dir` and gives the /dev/fuse
    // descriptor (the host takes it), or an error with `why`; unmount_fuse
    // unmounts it again, false when it could not. Empty: the export mounts
    // and unmounts itself.
    std::function<std::error_code(const std::filesystem::path& dir, int& fuse_fd, std::string& why)> mount_fuse;
    std::function<bool(const std::filesystem::path& dir)> unmount_fuse;
#if defined(__OpenBSD__)
    std::size_t max_transfer = 64 * 1024; // the largest command: the kernel's MAXPHYS
#else
    // The embedded vscsi is not held to OpenBSD's MAXPHYS and sd(4)'s 16
    // openings (embedded_vscsi_config keeps those for the vscsi contract's
    // tests): one command per FUSE request of up to 1 MiB (max_write), and
    // as many in flight per LUN as the export lets the kernel keep
    // (max_background). doc/performance.md has the measurements.
    std::size_t max_transfer = 1024 * 1024; // the largest command
#endif
    int openings = 128; // embedded vscsi: commands in flight per LUN
    log::sink log;      // the host's, the bridge's, the device's and FUSE's lines
};

class host {
public:
    explicit host(host_options options);
    ~host(); // close()
    host(const host&) = delete;
    host& operator=(const host&) = delete;

    // Starts the io thread, opens the vscsi device, starts the bridge.
    std::error_code open(std::string& error);
    // Stops the exports and the bridge (what is outstanding completes with
    // RESET), closes the device (the last close), stops the io thread.
    // Idempotent; the attachments on it must have been detached.
    void close();

    [[nodiscard]] io_thread& io() noexcept { return io_; }
    [[nodiscard]] bridge::bridge& bridge() noexcept { return *bridge_; }
    [[nodiscard]] const log::sink& log() const noexcept { return options_.log; }

    // True when the midlayer runs here (the embedded vscsi): probe() then
    // reports the disks it attached, and block I/O can be submitted.
    [[nodiscard]] bool has_midlayer() const noexcept;
    // The embedded vscsi (nullptr on OpenBSD, where the kernel has it).
    [[nodiscard]] vscsi::embedded_vscsi* midlayer() noexcept;

    // Asks the midlayer to probe `slots` and waits for it (at most `limit`).
    // The disks attached at those slots, in slot order; nullopt when the
    // probe did not finish in time. Without a midlayer here (OpenBSD's
    // kernel probes on its own): an empty list at once.
    std::optional<std::vector<vscsi::attached_disk>> probe(std::span<const bridge::slot> slots,
                                                           std::chrono::milliseconds limit);
    // Asks the midlayer to detach the disks at `slots` and waits (at most
    // `limit`); false when it did not finish in time.
    bool detach(std::span<const bridge::slot> slots, std::chrono::milliseconds limit);

    // FUSE: one mount per directory, shared by the attachments exporting
    // there. mount() mounts `dir` for one more user (at once for the first),
    // unmount() lets one go (the last one unmounts). Errors say why, e.g.
    // that this build has no FUSE.
    std::error_code mount(const std::filesystem::path& dir, std::string& why);
    void unmount(const std::filesystem::path& dir);
    // The disk of remote LUN `remote_lun` as file `prefix` + "lun<N>" in a
    // mounted `dir` (`name` gets the file name), and out of it again.
    std::error_code export_disk(const std::filesystem::path& dir, const std::string& prefix, std::uint64_t remote_lun,
                                bridge::slot where, std::uint32_t block_size, std::uint64_t block_count,
                                std::string& name);
    void unexport_disk(const std::filesystem::path& dir, const std::string& name);
    // How many handles of the exported file `name` in `dir` are open (an
    // open(2), a loop device over it); 0 when not exported.
    [[nodiscard]] std::size_t open_handles(const std::filesystem::path& dir, const std::string& name) const;

    // Probe and detach requests made to the device (show vscsi stats).
    [[nodiscard]] std::uint64_t probe_requests() const noexcept { return probe_requests_; }
    [[nodiscard]] std::uint64_t detach_requests() const noexcept { return detach_requests_; }

    struct impl;

private:
    // Stops the export of `dir` (unmounting through unmount_fuse first when
    // someone else mounted it). IVS_HAVE_FUSE builds only.
    void stop_export(const std::filesystem::path& dir);
    host_options options_;
    io_thread io_;
    std::unique_ptr<impl> impl_;
    std::optional<bridge::bridge> bridge_;
    bool opened_ = false;
    bool closed_ = false;
    std::atomic<std::uint64_t> probe_requests_{0};
    std::atomic<std::uint64_t> detach_requests_{0};
};

// The errors of host::export_disk beyond fuse_export's own.
enum class host_errc {
    no_fuse = 1, // this build has no FUSE export
    no_midlayer, // the kernel's vscsi: nothing to export from userland
};
[[nodiscard]] const std::error_category& host_category() noexcept;
[[nodiscard]] std::error_code make_error_code(host_errc e) noexcept;

} // namespace ivs::app

template <>
struct std::is_error_code_enum<ivs::app::host_errc> : std::true_type {};
