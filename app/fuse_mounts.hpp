// The FUSE mounts `serve`'s privileged parent makes for its worker (Linux):
// the worker may not mount, so the parent mounts an export directory on a
// fresh /dev/fuse descriptor and hands the descriptor over, and the worker
// serves it (fuse_export with "/dev/fd/N"). The parent also unmounts: when
// the worker asks, and whatever is left when the worker is gone. Elsewhere
// (OpenBSD has no FUSE export) every mount is refused.
#pragma once

#include "app/privsep_channel.hpp"
#include "log/log.hpp"

#include <filesystem>
#include <set>
#include <string>
#include <system_error>

namespace ivs::app {

class fuse_mounts {
public:
    explicit fuse_mounts(log::sink log) : log_(std::move(log)) {}

    // Mounts `dir` as fuse_export would for root (source "iscsi-vscsi",
    // type fuse.iscsi-vscsi, nosuid, nodev, default_permissions) and gives
    // the descriptor. Refuses a directory it has mounted already.
    std::error_code mount(const std::filesystem::path& dir, unique_fd& fuse_fd, std::string& why);
    // Unmounts `dir`, one it mounted; busy, it is detached lazily and its
    // connection aborted (as fuse_export does), so the worker's loop ends.
    std::error_code unmount(const std::filesystem::path& dir, std::string& why);
    // Everything still mounted (the worker is gone).
    void unmount_all();

    [[nodiscard]] bool mounted(const std::filesystem::path& dir) const { return mounts_.count(dir) != 0; }

private:
    log::sink log_;
    std::set<std::filesystem::path> mounts_;
};

} // namespace ivs::app
