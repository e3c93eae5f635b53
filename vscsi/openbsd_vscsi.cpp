// /dev/vscsi0 through the system's <dev/vscsivar.h> (OpenBSD only). Structs
// and request numbers come from the system header, never redefined here.
#include "vscsi/openbsd_vscsi.hpp"

#include <sys/types.h>
#include <sys/ioctl.h>
#include <scsi/scsi_all.h>
#include <dev/vscsivar.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <tuple>
#include <fcntl.h>
#include <unistd.h>

namespace ivs::vscsi {
namespace {

// vscsi_device.hpp spells the interface's values in its own types; they must
// be the system's (docs/vscsi-contract.md: today's VSCSI_STAT_ERR is 3, not
// the 2008 manual page's 2).
static_assert(static_cast<int>(vscsi_status::done) == VSCSI_STAT_DONE);
static_assert(static_cast<int>(vscsi_status::sense) == VSCSI_STAT_SENSE);
static_assert(static_cast<int>(vscsi_status::reset) == VSCSI_STAT_RESET);
static_assert(static_cast<int>(vscsi_status::err) == VSCSI_STAT_ERR);
static_assert(static_cast<int>(vscsi_dir::none) == VSCSI_DIR_NONE);
static_assert(static_cast<int>(vscsi_dir::read) == VSCSI_DIR_READ);
static_assert(static_cast<int>(vscsi_dir::write) == VSCSI_DIR_WRITE);
// The fixed-format sense and the CDB fit the kernel's structs exactly.
static_assert(sizeof(vscsi_ioc_t2i{}.sense) == std::tuple_size_v<scsi::fixed_sense>);
static_assert(sizeof(vscsi_ioc_i2t{}.cmd) == vscsi_max_cdb);

std::error_code last_error() { return {errno, std::generic_category()}; }

int do_ioctl(int fd, unsigned long req, void* arg)
{
    int r;
    do
        r = ::ioctl(fd, req, arg);
    while (r == -1 && errno == EINTR);
    return r;
}

} // namespace

std::error_code openbsd_vscsi::open(const char* path, std::unique_ptr<vscsi_device>& out)
{
    const int fd = ::open(path, O_RDWR | O_CLOEXEC);
    if (fd == -1)
        return last_error(); // EBUSY: another opener
    out.reset(new openbsd_vscsi(fd));
    return {};
}

std::unique_ptr<vscsi_device> openbsd_vscsi::adopt(int fd)
{
    return std::unique_ptr<vscsi_device>(new openbsd_vscsi(fd));
}

openbsd_vscsi::~openbsd_vscsi() { ::close(fd_); }

std::error_code openbsd_vscsi::i2t(vscsi_i2t& out)
{
    struct vscsi_ioc_i2t ioc;
    std::memset(&ioc, 0, sizeof ioc);
    if (do_ioctl(fd_, VSCSI_I2T, &ioc) == -1)
        return last_error();
    out = vscsi_i2t{};
    out.tag = ioc.tag;
    out.target = static_cast<int>(ioc.target);
    out.lun = static_cast<int>(ioc.lun);
    out.cmdlen = std::min<std::size_t>(ioc.cmdlen, std::min(sizeof ioc.cmd, out.cmd.size()));
    std::memcpy(out.cmd.data(), &ioc.cmd, out.cmdlen);
    out.datalen = ioc.datalen;
    switch (ioc.direction) {
    case VSCSI_DIR_READ: out.direction = vscsi_dir::read; break;
    case VSCSI_DIR_WRITE: out.direction = vscsi_dir::write; break;
    default: out.direction = vscsi_dir::none; break;
    }
    return {};
}

std::error_code openbsd_vscsi::data_read(int tag, std::span<const std::byte> data)
{
    struct vscsi_ioc_data d;
    std::memset(&d, 0, sizeof d);
    d.tag = tag;
    d.data = const_cast<std::byte*>(data.data()); // the kernel only copies in
    d.datalen = data.size();
    if (do_ioctl(fd_, VSCSI_DATA_READ, &d) == -1)
        return last_error();
    return {};
}

std::error_code openbsd_vscsi::data_write(int tag, std::span<std::byte> data)
{
    struct vscsi_ioc_data d;
    std::memset(&d, 0, sizeof d);
    d.tag = tag;
    d.data = data.data();
    d.datalen = data.size();
    if (do_ioctl(fd_, VSCSI_DATA_WRITE, &d) == -1)
        return last_error();
    return {};
}

std::error_code openbsd_vscsi::t2i(int tag, vscsi_status status, const scsi::fixed_sense& sense)
{
    struct vscsi_ioc_t2i t;
    std::memset(&t, 0, sizeof t);
    t.tag = tag;
    t.status = static_cast<int>(status);
    std::memcpy(&t.sense, sense.data(), std::min(sizeof t.sense, sense.size()));
    if (do_ioctl(fd_, VSCSI_T2I, &t) == -1)
        return last_error();
    return {};
}

std::error_code openbsd_vscsi::request_probe(int target, int lun)
{
    struct vscsi_ioc_devevent de;
    std::memset(&de, 0, sizeof de);
    de.target = target;
    de.lun = lun;
    if (do_ioctl(fd_, VSCSI_REQPROBE, &de) == -1)
        return last_error();
    return {};
}

std::error_code openbsd_vscsi::request_detach(int target, int lun)
{
    struct vscsi_ioc_devevent de;
    std::memset(&de, 0, sizeof de);
    de.target = target;
    de.lun = lun;
    if (do_ioctl(fd_, VSCSI_REQDETACH, &de) == -1)
        return last_error();
    return {};
}

} // namespace ivs::vscsi
