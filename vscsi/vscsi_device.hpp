// The vscsi(4) device seen from the daemon (the "target" side), identical on
// OpenBSD (/dev/vscsi0, vscsi/openbsd_vscsi.hpp) and elsewhere (the embedded
// userland kernel half, vscsi/embedded_vscsi.hpp). See docs/vscsi-contract.md.
//
// Names follow vscsi(4), i.e. the target's point of view (the naming trap):
//  - data_read:  the daemon SUPPLIES the data of a SCSI READ (device copies in);
//  - data_write: the daemon FETCHES the data of a SCSI WRITE (device copies out).
//
// Errors are errno values in std::generic_category(), exactly those of the
// kernel: EAGAIN, EFAULT, ENOMEM, EINVAL (and open's EBUSY).
#pragma once

#include "scsi/sense.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <system_error>

namespace ivs::vscsi {

class direct_access;

// Data direction of a command (VSCSI_DIR_NONE/READ/WRITE).
enum class vscsi_dir : int { none = 0, read = 1, write = 2 };

// Completion status given to t2i (VSCSI_STAT_*; today's values, not the
// 2008 manual page's). Any other value is treated like err by the kernel.
enum class vscsi_status : int { done = 0, sense = 1, reset = 2, err = 3 };

// Geometry limits of the interface (CDB at most 16 bytes).
inline constexpr std::size_t vscsi_max_cdb = 16;

// One dequeued command (struct vscsi_ioc_i2t, own C++ types).
struct vscsi_i2t {
    int tag = 0;
    int target = 0;
    int lun = 0;
    std::array<std::uint8_t, vscsi_max_cdb> cmd{}; // cmdlen bytes valid, rest zero
    std::size_t cmdlen = 0;
    std::size_t datalen = 0;
    vscsi_dir direction = vscsi_dir::none;
};

// The opened device. Destroying the object is the (last) close: every waiting
// and in-progress command completes with RESET and every device is detached.
// All calls are made from one thread (the daemon's event loop).
class vscsi_device {
public:
    vscsi_device() = default;
    vscsi_device(const vscsi_device&) = delete;
    vscsi_device& operator=(const vscsi_device&) = delete;
    virtual ~vscsi_device() = default;

    // An fd that polls readable (level-triggered) exactly while commands wait
    // to be dequeued. No count is given: call i2t until it returns EAGAIN.
    // Owned by the device; never read, write or close it.
    [[nodiscard]] virtual int readiness_fd() const = 0;

    // VSCSI_I2T: moves the oldest waiting command to the in-progress list.
    // EAGAIN (std::errc::resource_unavailable_try_again) when none waits.
    virtual std::error_code i2t(vscsi_i2t& out) = 0;

    // VSCSI_DATA_READ: supply the next data.size() bytes of a SCSI READ.
    // VSCSI_DATA_WRITE: fetch the next data.size() bytes of a SCSI WRITE.
    // Each call continues where the previous one for the tag stopped; a short
    // total is legal (the residual becomes datalen - bytes moved).
    // EFAULT: unknown tag (never dequeued, or already completed);
    // EINVAL: wrong direction, or a command without data;
    // ENOMEM: more bytes than remain (nothing is copied).
    virtual std::error_code data_read(int tag, std::span<const std::byte> data) = 0;
    virtual std::error_code data_write(int tag, std::span<std::byte> data) = 0;

    // VSCSI_T2I: completes the command. `sense` is used with
    // vscsi_status::sense only. EFAULT: unknown tag.
    virtual std::error_code t2i(int tag, vscsi_status status, const scsi::fixed_sense& sense) = 0;
    std::error_code t2i(int tag, vscsi_status status) { return t2i(tag, status, scsi::fixed_sense{}); }

    // VSCSI_REQPROBE / VSCSI_REQDETACH: queue a midlayer probe or detach of
    // target/lun (-1 = all) and return at once; failures are never reported.
    virtual std::error_code request_probe(int target, int lun) = 0;
    virtual std::error_code request_detach(int target, int lun) = 0;

    // Beyond the ioctls (vscsi/direct_access.hpp): the midlayer's buffers
    // and a cheaper T2I when the midlayer runs in this process; nullptr (the
    // default) on /dev/vscsi0.
    [[nodiscard]] virtual direct_access* direct() noexcept { return nullptr; }
};

} // namespace ivs::vscsi
