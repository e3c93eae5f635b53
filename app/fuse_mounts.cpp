#include "app/fuse_mounts.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__linux__)
#include <sys/mount.h>
#endif

namespace ivs::app {

#if defined(__linux__)

namespace {

std::string sys_error(const std::string& what) { return what + ": " + std::strerror(errno); }

// mountinfo escapes blanks, tabs, newlines and backslashes as \ooo.
std::string unescape(const std::string& s)
{
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 3 < s.size()) {
            const auto octal = s.substr(i + 1, 3);
            if (octal.find_first_not_of("01234567") == std::string::npos) {
                out.push_back(static_cast<char>(std::stoi(octal, nullptr, 8)));
                i += 3;
                continue;
            }
        }
        out.push_back(s[i]);
    }
    return out;
}

// The fusectl connection number of the FUSE mount at `dir` (its device:
// major << 20 | minor), from /proc/self/mountinfo; stat(2) of the mount
// would wait for the worker's answer, which may never come.
bool connection_of(const std::filesystem::path& dir, unsigned long& id)
{
    std::ifstream in("/proc/self/mountinfo");
    std::string line;
    bool found = false;
    while (std::getline(in, line)) {
        std::istringstream f(line);
        std::string mount_id, parent, dev, root, point;
        if (!(f >> mount_id >> parent >> dev >> root >> point) || unescape(point) != dir.string())
            continue;
        const auto colon = dev.find(':');
        if (colon == std::string::npos)
            continue;
        id = (std::stoul(dev.substr(0, colon)) << 20) | std::stoul(dev.substr(colon + 1));
        found = true; // the last one is the topmost
    }
    return found;
}

bool write_abort(const std::filesystem::path& connections, unsigned long id)
{
    std::ofstream out(connections / std::to_string(id) / "abort");
    return out && (out << "1\n") && out.flush();
}

// Ends a lazily detached mount's connection (fusectl's abort): the worker's
// loop sees ENODEV and the files still open get ENOTCONN.
void abort_connection(unsigned long id, const log::sink& log)
{
    if (write_abort("/sys/fs/fuse/connections", id))
        return;
    char tmpl[] = "/tmp/ivs-fusectl-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr)
        return;
    if (::mount("fusectl", tmpl, "fusectl", 0, nullptr) == 0) {
        if (!write_abort(tmpl, id))
            log.warning("fuse: cannot abort FUSE connection " + std::to_string(id));
        ::umount2(tmpl, 0);
    } else {
        log.warning("fuse: cannot mount fusectl to abort FUSE connection " + std::to_string(id));
    }
    ::rmdir(tmpl);
}

} // namespace

std::error_code fuse_mounts::mount(const std::filesystem::path& dir, unique_fd& fuse_fd, std::string& why)
{
    if (mounted(dir)) {
        why = dir.string() + " is mounted already";
        return make_error_code(std::errc::device_or_resource_busy);
    }
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        why = dir.string() + ": not an existing directory";
        return make_error_code(std::errc::not_a_directory);
    }
    unique_fd fd(::open("/dev/fuse", O_RDWR | O_CLOEXEC));
    if (!fd) {
        const auto ec = std::error_code(errno, std::generic_category());
        why = sys_error("/dev/fuse");
        return ec;
    }
    char mode[16];
    std::snprintf(mode, sizeof mode, "%o", static_cast<unsigned>(st.st_mode & S_IFMT));
    const std::string options = "fd=" + std::to_string(fd.get()) + ",rootmode=" + mode +
                                ",user_id=" + std::to_string(::getuid()) + ",group_id=" + std::to_string(::getgid()) +
                                ",default_permissions";
    if (::mount("iscsi-vscsi", dir.c_str(), "fuse.iscsi-vscsi", MS_NOSUID | MS_NODEV, options.c_str()) != 0) {
        const auto ec = std::error_code(errno, std::generic_category());
        why = sys_error("mount " + dir.string());
        return ec;
    }
    mounts_.insert(dir);
    fuse_fd = std::move(fd);
    return {};
}

std::error_code fuse_mounts::unmount(const std::filesystem::path& dir, std::string& why)
{
    if (!mounted(dir)) {
        why = dir.string() + " is not one of the FUSE mounts made for the worker";
        return make_error_code(std::errc::invalid_argument);
    }
    unsigned long id = 0;
    const bool have_id = connection_of(dir, id);
    if (::umount2(dir.c_str(), UMOUNT_NOFOLLOW) != 0) {
        if (errno == EINVAL) { // not mounted any more (unmounted from outside)
            mounts_.erase(dir);
            return {};
        }
        if (errno != EBUSY || ::umount2(dir.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) != 0) {
            const auto ec = std::error_code(errno, std::generic_category());
            why = sys_error("umount " + dir.string());
            return ec;
        }
        log_.warning("fuse: " + dir.string() + " busy, detached lazily and its connection aborted");
        if (have_id)
            abort_connection(id, log_);
    }
    mounts_.erase(dir);
    return {};
}

void fuse_mounts::unmount_all()
{
    while (!mounts_.empty()) {
        const auto dir = *mounts_.begin();
        std::string why;
        if (unmount(dir, why))
            log_.warning("fuse: " + why);
        mounts_.erase(dir);
    }
}

#else

std::error_code fuse_mounts::mount(const std::filesystem::path&, unique_fd&, std::string& why)
{
    why = "this system has no FUSE export";
    return make_error_code(std::errc::operation_not_supported);
}

std::error_code fuse_mounts::unmount(const std::filesystem::path& dir, std::string& why)
{
    why = dir.string() + " is not one of the FUSE mounts made for the worker";
    return make_error_code(std::errc::invalid_argument);
}

void fuse_mounts::unmount_all() {}

#endif

} // namespace ivs::app
