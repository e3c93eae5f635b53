#include "app/privsep_drop.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#if defined(__linux__)
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#endif
#if defined(__OpenBSD__)
#include <sys/sysctl.h>
#include <stdlib.h>
#endif

namespace ivs::app {

namespace {

std::string sys_error(const std::string& what) { return what + ": " + std::strerror(errno); }

#if defined(__linux__)
// The effective and permitted capability sets are empty (capget(2)).
bool capabilities_empty()
{
    __user_cap_header_struct h{};
    h.version = _LINUX_CAPABILITY_VERSION_3;
    h.pid = 0;
    __user_cap_data_struct d[2]{};
    if (::syscall(SYS_capget, &h, d) != 0)
        return false;
    return d[0].effective == 0 && d[1].effective == 0 && d[0].permitted == 0 && d[1].permitted == 0;
}
#endif

} // namespace

bool find_sandbox_user(const std::string& name, bool given, sandbox_user& out, std::string& warning, std::string& error)
{
    const passwd* pw = ::getpwnam(name.c_str());
#if defined(__linux__)
    if (pw == nullptr && !given) {
        pw = ::getpwnam("nobody");
        if (pw != nullptr)
            warning = "user " + name +
                      " does not exist: the worker runs as nobody, which other daemons may "
                      "share (create " +
                      name + ", or name a user with -u)";
    }
#else
    (void)given;
    (void)warning;
#endif
    if (pw == nullptr) {
        error = "unknown user " + name +
                " (the unprivileged user serve's worker runs as; create it, "
                "or name another with -u)";
        return false;
    }
    if (pw->pw_uid == 0) {
        error = "user " + std::string(pw->pw_name) + " is root: the worker must run as an unprivileged user";
        return false;
    }
    out.name = pw->pw_name;
    out.uid = pw->pw_uid;
    out.gid = pw->pw_gid;
    return true;
}

bool prepare_sandbox_root(const sandbox_user& u, std::string& error)
{
    struct stat st {};
    bool found = ::stat(u.root.c_str(), &st) == 0;
#if defined(__linux__)
    if (!found && errno == ENOENT && ::mkdir(u.root.c_str(), 0755) == 0)
        found = ::stat(u.root.c_str(), &st) == 0;
#endif
    if (!found) {
        error = sys_error(u.root.string());
        return false;
    }
    if (!S_ISDIR(st.st_mode) || st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        error = u.root.string() + ": the worker's root must be a directory owned by root that nobody else can "
                                  "write";
        return false;
    }
    return true;
}

bool enter_sandbox(const sandbox_user& u, std::string& error)
{
#if defined(__linux__)
    // While CAP_SETPCAP is still ours: no capability can come back later.
    for (int cap = 0; cap <= 63; ++cap)
        if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) {
            error = sys_error("prctl(PR_CAPBSET_DROP)");
            return false;
        }
#endif
    if (::chroot(u.root.c_str()) != 0) {
        error = sys_error("chroot " + u.root.string());
        return false;
    }
    if (::chdir("/") != 0) {
        error = sys_error("chdir /");
        return false;
    }
    const gid_t gid = u.gid;
    if (::setgroups(1, &gid) != 0 || ::setresgid(gid, gid, gid) != 0 || ::setresuid(u.uid, u.uid, u.uid) != 0) {
        error = sys_error("cannot drop privileges to " + u.name);
        return false;
    }
    if (::setuid(0) == 0 || ::seteuid(0) == 0) {
        error = "root could be had back after dropping privileges";
        return false;
    }
#if defined(__linux__)
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        error = sys_error("prctl(PR_SET_NO_NEW_PRIVS)");
        return false;
    }
    if (!capabilities_empty()) {
        error = "capabilities left after dropping privileges";
        return false;
    }
#endif
#if defined(__OpenBSD__)
    // Nothing of the (empty) tree is needed: the device and the sockets are
    // open. No pledge(2): no promise allows the vscsi(4) ioctls.
    if (::unveil("/", "") != 0 || ::unveil(nullptr, nullptr) != 0) {
        error = sys_error("unveil");
        return false;
    }
#endif
    return true;
}

bool ignore_broadcast_kill(std::string& error)
{
#if defined(__OpenBSD__)
    int mib[3] = {CTL_KERN, KERN_PROC_NOBROADCASTKILL, static_cast<int>(::getpid())};
    int on = 1;
    if (::sysctl(mib, 3, nullptr, nullptr, &on, sizeof on) != 0) {
        error = sys_error("sysctl kern.proc_nobroadcastkill");
        return false;
    }
#else
    (void)error;
#endif
    return true;
}

void set_process_title(const char* title)
{
#if defined(__OpenBSD__)
    ::setproctitle("%s", title);
#elif defined(__linux__)
    ::prctl(PR_SET_NAME, title, 0, 0, 0);
#else
    (void)title;
#endif
}

} // namespace ivs::app
