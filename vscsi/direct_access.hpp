// An optional capability of a vscsi_device beyond the kernel's ioctls:
// direct access to a midlayer that runs in the daemon's own process (the
// embedded vscsi). vscsi_device::direct() returns it, or nullptr where the
// midlayer is the kernel's (/dev/vscsi0): the daemon then copies with
// data_read / data_write and answers with t2i, as the contract says.
//
// Zero copy: the midlayer's own buffer of a dequeued command, which the
// daemon may touch only until it calls t2i for the tag (the midlayer may
// free or reuse it as soon as the command completes, early RESET included),
// and the accounting of the bytes the daemon moved there itself.
#pragma once

#include "scsi/sense.hpp"
#include "vscsi/vscsi_device.hpp"

#include <cstddef>
#include <span>
#include <system_error>

namespace ivs::vscsi {

class direct_access {
public:
    // READ: the midlayer's buffer of a dequeued READ, datalen bytes, or an
    // empty span (unknown tag, not a READ, no data). data_read_placed: the
    // daemon has put the next n bytes there itself; accounted exactly like
    // data_read (same EFAULT / EINVAL / ENOMEM, same residual), no copy.
    virtual std::span<std::byte> data_read_buffer(int tag) = 0;
    virtual std::error_code data_read_placed(int tag, std::size_t n) = 0;

    // WRITE, the same way round: the midlayer's data of a dequeued WRITE, or
    // an empty span; data_write_taken accounts the next n bytes the daemon
    // took from it like data_write (same errors, same residual).
    virtual std::span<const std::byte> data_write_buffer(int tag) = 0;
    virtual std::error_code data_write_taken(int tag, std::size_t n) = 0;

    // t2i from a daemon that calls i2t until EAGAIN right after it, before
    // it waits on the readiness fd again: commands the midlayer queues from
    // inside this completion on the daemon's own thread need not wake the fd
    // (other threads still wake it).
    virtual std::error_code t2i_then_dequeue(int tag, vscsi_status status, const scsi::fixed_sense& sense) = 0;

protected:
    direct_access() = default;
    direct_access(const direct_access&) = default;
    direct_access& operator=(const direct_access&) = default;
    ~direct_access() = default;
};

} // namespace ivs::vscsi
