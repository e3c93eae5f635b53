// How `serve`'s worker gives up root, the way OpenBSD's privilege-separated
// daemons do (iscsid(8), ntpd(8)): as root it opens what it needs, then
// chroots into an empty directory and becomes an unprivileged user for
// good. On Linux the same, plus no_new_privs and an empty capability
// bounding set, so that no capability is left or can be gained back.
#pragma once

#include <filesystem>
#include <string>

#include <sys/types.h>

namespace ivs::app {

// The user serve's worker runs as, by default.
inline constexpr const char* default_worker_user = "_iscsivscsi";
// Its root directory (chroot), as OpenBSD's daemons use.
inline constexpr const char* worker_root = "/var/empty";

struct sandbox_user {
    std::string name;
    uid_t uid = 0;
    gid_t gid = 0;
    std::filesystem::path root = worker_root;
};

// Looks `name` up (before any chroot). Without `given` (the default user)
// Linux falls back to "nobody" when _iscsivscsi does not exist and says so
// in `warning`; OpenBSD requires the user, as its daemons do. A user with
// uid 0 is refused.
bool find_sandbox_user(const std::string& name, bool given, sandbox_user& out, std::string& warning,
                       std::string& error);

// The chroot directory must be a directory owned by root that nobody else
// can write. On Linux a missing /var/empty is created (mode 0755).
bool prepare_sandbox_root(const sandbox_user& u, std::string& error);

// As root, before any thread starts: chroot and chdir("/"), the groups,
// gid and uid of `u` (real, effective and saved), then checks that root
// cannot be had back. Linux: the capability bounding set emptied first,
// no_new_privs, and the capability sets checked empty. OpenBSD: unveil
// hides the whole (empty) tree.
bool enter_sandbox(const sandbox_user& u, std::string& error);

// OpenBSD: KERN_PROC_NOBROADCASTKILL for this process, so that the SIGTERM
// halt(8) and reboot(8) send to every process passes it by and the kernel
// unmounts file systems through a live initiator (as iscsid(8) does).
// Needs root. Elsewhere: nothing to do.
bool ignore_broadcast_kill(std::string& error);

// What ps(1) shows for this process: setproctitle(3) on OpenBSD (so that
// rc.d(8)'s pgrep pattern matches the parent only); the thread name on
// Linux.
void set_process_title(const char* title);

} // namespace ivs::app
