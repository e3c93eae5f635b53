// The vscsi_device of OpenBSD's kernel: /dev/vscsi0 and the ioctls of the
// system's <dev/vscsivar.h>. Compiled on OpenBSD only; as thin as possible.
#pragma once

#include "vscsi/vscsi_device.hpp"

#include <memory>
#include <system_error>

namespace ivs::vscsi {

class openbsd_vscsi final : public vscsi_device {
public:
    // Opens the device (O_RDWR). EBUSY if another process has it open.
    static std::error_code open(const char* path, std::unique_ptr<vscsi_device>& out);
    // Takes `fd`, a /dev/vscsiN opened O_RDWR by someone else (serve opens
    // it as root, then runs the device as an unprivileged user).
    static std::unique_ptr<vscsi_device> adopt(int fd);
    ~openbsd_vscsi() override; // the last close

    [[nodiscard]] int readiness_fd() const override { return fd_; }
    std::error_code i2t(vscsi_i2t& out) override;
    std::error_code data_read(int tag, std::span<const std::byte> data) override;
    std::error_code data_write(int tag, std::span<std::byte> data) override;
    std::error_code t2i(int tag, vscsi_status status, const scsi::fixed_sense& sense) override;
    using vscsi_device::t2i;
    std::error_code request_probe(int target, int lun) override;
    std::error_code request_detach(int target, int lun) override;

private:
    explicit openbsd_vscsi(int fd) : fd_(fd) {}
    int fd_;
};

} // namespace ivs::vscsi
