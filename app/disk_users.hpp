// Who else uses serve's disks, looked up by the privileged parent (the
// worker, chrooted and unprivileged, can see neither the mount table's
// devices nor /sys): on OpenBSD the sd(4) disk the kernel attached at a
// vscsi slot and its mounted partitions; on Linux the loop devices backed by
// an export file and where they are mounted. serve refuses to detach a disk
// in use (app/daemon.cpp); on Linux the FUSE export's own count of open
// handles decides, and this only says who holds them.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace ivs::app {

struct disk_use_query {
    int target = 0; // the vscsi slot
    int lun = 0;
    std::string export_file; // the FUSE export's file; empty: not exported
};

struct disk_use {
    bool in_use = false; // mounted (OpenBSD) or backing a loop device (Linux)
    std::string what;    // e.g. "sd3 (sd3a mounted on /mnt)", "/dev/loop2 (mounted on /mnt)"
};

// One answer per query, in order.
using disk_users_fn = std::function<std::vector<disk_use>(const std::vector<disk_use_query>&)>;

// The lookup on this system, for the vscsi device `device` (OpenBSD: its
// unit names the scsibus whose disks are looked at; default /dev/vscsi0).
std::vector<disk_use> find_disk_users(const std::vector<disk_use_query>& queries, const std::string& device);

} // namespace ivs::app
