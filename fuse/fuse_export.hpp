// The FUSE export (Linux, libfuse3's low-level API): a directory with one
// regular file per attached disk ("lun<N>", N the remote LUN), sized
// block_count * block_size. File reads and writes become READ/WRITE commands
// through the embedded vscsi's midlayer side, fsync and flush become
// SYNCHRONIZE CACHE(10). Requests are answered asynchronously: a worker
// reads a request from /dev/fuse, submits its commands and reads the next;
// the thread that completes the commands (the daemon's) sends the reply. No
// thread waits for a command, so the kernel's queue depth reaches the
// session. Unaligned writes are read-modify-written under a range lock, so
// concurrent partial-block updates are never lost. The files cannot grow or
// shrink.
//
// Caching: with direct_io (the default) every handle bypasses the page
// cache (FOPEN_DIRECT_IO), as a raw block device would. Without it reads
// are cached, writes go through to the disk before they return (no
// writeback cache), every open drops what was cached, and an O_DIRECT open
// bypasses the cache, coherent with it (the kernel flushes and invalidates
// the range around a direct transfer).
//
// Usage: construct, add_disk() (before or after start()), start() mounts and
// serves on its own threads, stop() (or the destructor) unmounts and joins.
// A mount still in use (an open file, a loop device over a file) is detached
// lazily and its FUSE connection aborted, so stop() always returns; a
// request whose commands are still in flight is answered (into the aborted
// connection) when they complete.
//
// A mountpoint of the form "/dev/fd/N" is libfuse's convention for a
// /dev/fuse descriptor N that someone with the right to mount has already
// mounted (a privilege-separated program): start() serves it without
// mounting, and stop() does not unmount; the one who mounted it unmounts
// first, which ends the connection, and stop() then joins and closes N.
#pragma once

#include "log/log.hpp"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>

namespace ivs::vscsi {
class embedded_vscsi;
}

namespace ivs::fuse {

enum class fuse_export_errc {
    already_started = 1, // start() twice
    not_a_directory,     // the mountpoint is missing or not a directory
    session_failed,      // fuse_session_new() refused the options
    mount_failed,        // fuse_session_mount() failed (no /dev/fuse, no permission, ...)
    invalid_name,        // empty, '/', ".", "..", or over 255 bytes
    name_exists,         // add_disk() with a name already exported
    no_such_disk,        // remove_disk() of a name not exported
    invalid_geometry,    // block size 0 or over the maximum transfer, no blocks, size overflow
};

[[nodiscard]] const std::error_category& fuse_export_category() noexcept;
[[nodiscard]] std::error_code make_error_code(fuse_export_errc e) noexcept;

struct fuse_export_options {
    // FOPEN_DIRECT_IO: every read/write reaches the disk (no page cache), as
    // a block device would behave. Off: reads are cached by the kernel
    // (writes still go through at once; no writeback cache).
    bool direct_io = true;
    // Threads reading /dev/fuse (none waits for a command). 0: none; the
    // owner waits for loop_fd() to be readable and calls pump() on the
    // thread that completes the commands (the daemon's), which saves a
    // thread hop per request.
    unsigned workers = 2;
    bool clone_fd = true;            // one /dev/fuse channel per worker
    std::size_t max_write = 1 << 20; // largest read/write request (max_pages); 4 KiB..1 MiB
    unsigned max_background = 128;   // asynchronous requests the kernel keeps in flight
    std::string fsname = "iscsi-vscsi";
    // Mount, unmount and their fallbacks; written from any thread.
    log::sink log;
};

// "lun<N>": the file name for remote LUN N.
[[nodiscard]] std::string fuse_disk_file_name(std::uint64_t remote_lun);

class fuse_export {
public:
    fuse_export(vscsi::embedded_vscsi& dev, std::filesystem::path mountpoint, fuse_export_options options = {});
    ~fuse_export(); // stop()
    fuse_export(const fuse_export&) = delete;
    fuse_export& operator=(const fuse_export&) = delete;

    // Export vscsi target/lun as `name` (thread-safe, any time). The file has
    // block_count * block_size bytes; I/O uses whole blocks of block_size.
    std::error_code add_disk(const std::string& name, int target, int lun, std::uint32_t block_size,
                             std::uint64_t block_count);
    // The file disappears; I/O through handles still open fails with EIO.
    std::error_code remove_disk(const std::string& name);

    // Mount and serve on options.workers threads of its own (or through
    // pump()). Needs root or fusermount3 rights.
    std::error_code start();
    // Unmount (lazily, aborting the connection, when busy) and join. Safe to
    // call twice; not from inside a FUSE request.
    void stop();

    // Without worker threads (options.workers == 0), between start() and
    // stop(): the non-blocking descriptor to wait on (-1 otherwise), and
    // reading and answering what is there, at most `limit` requests, on one
    // thread at a time: `more` when it stopped at the limit, `ended` once
    // the connection is gone. pump() must not run any more once stop() is
    // called.
    [[nodiscard]] int loop_fd() const;
    enum class pump_result { drained, more, ended };
    pump_result pump(std::size_t limit = 64);

    // How many handles of the exported file `name` are open (an open(2), a
    // loop device over the file); 0 when `name` is not exported.
    [[nodiscard]] std::size_t open_handles(const std::string& name) const;

    [[nodiscard]] bool running() const noexcept;
    [[nodiscard]] const std::filesystem::path& mountpoint() const noexcept;
    // Requests whose commands are in flight (answered when they complete).
    [[nodiscard]] long requests_in_flight() const;

    struct impl; // fuse_export.cpp (the FUSE callbacks reach it too)

private:
    std::unique_ptr<impl> impl_;
};

} // namespace ivs::fuse

template <>
struct std::is_error_code_enum<ivs::fuse::fuse_export_errc> : std::true_type {};
