// The FUSE export's state, shared by its life cycle (fuse_export.cpp) and
// its low-level operations (fuse_ops.cpp).
#pragma once

#include "fuse/fuse_channel.hpp"
#include "fuse/fuse_export.hpp"

#include <sys/types.h>

#include <atomic>
#include <ctime>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>

namespace ivs::fuse {

// What an open file handle (fi->fh) holds: the disk stays alive while open.
struct open_file {
    std::shared_ptr<fuse_disk> disk;
};

struct fuse_export::impl {
    vscsi::embedded_vscsi& dev;
    std::filesystem::path mountpoint;
    fuse_export_options options;
    const std::time_t created = std::time(nullptr);

    // The files: by name (the directory) and by inode number (never reused
    // while the export lives, so a stale inode never names another disk).
    struct entry {
        fuse_ino_t ino = 0;
        std::shared_ptr<fuse_disk> disk;
    };
    mutable std::mutex disks_m;
    std::map<std::string, entry> by_name;
    std::unordered_map<fuse_ino_t, std::shared_ptr<fuse_disk>> by_ino;
    fuse_ino_t next_ino = FUSE_ROOT_ID + 1;
    // Handles of open files; an aborted connection never releases them.
    std::unordered_set<open_file*> handles;

    mutable std::mutex life_m; // start/stop, se and ch
    fuse_session* se = nullptr;
    channel* ch = nullptr; // the export's reference while mounted
    std::atomic<bool> running{false};
    dev_t conn_dev = 0;      // the mount's device: its fusectl connection id
    bool premounted = false; // "/dev/fd/N": mounted and unmounted by the caller

    impl(vscsi::embedded_vscsi& d, std::filesystem::path mp, fuse_export_options o)
        : dev(d), mountpoint(std::move(mp)), options(std::move(o))
    {}

    [[nodiscard]] std::shared_ptr<fuse_disk> find(fuse_ino_t ino) const
    {
        std::lock_guard lk(disks_m);
        auto it = by_ino.find(ino);
        return it == by_ino.end() ? nullptr : it->second;
    }
    void fill_disk_stat(fuse_ino_t ino, const fuse_disk& d, struct stat& st) const;
    void fill_root_stat(struct stat& st) const;
    void unmount_and_join();
    void abort_connection();
};

// The low-level operations (fuse_ops.cpp); userdata is the impl.
[[nodiscard]] const fuse_lowlevel_ops& export_operations() noexcept;

} // namespace ivs::fuse
