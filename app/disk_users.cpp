#include "app/disk_users.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include <fcntl.h>
#include <unistd.h>

#if defined(__OpenBSD__)
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/scsiio.h>
#else
#include <filesystem>
#endif

namespace ivs::app {

#if defined(__OpenBSD__)

namespace {

// The scsibus the kernel attached at vscsi unit `unit`: the last
// "scsibusN at vscsiU" line of the boot messages rc(8) keeps (the message
// buffer survives a warm reboot, so earlier boots may be there too).
int vscsi_bus(int unit)
{
    std::ifstream in("/var/run/dmesg.boot");
    const std::string at = " at vscsi" + std::to_string(unit);
    std::string line;
    int bus = -1;
    while (std::getline(in, line)) {
        if (line.rfind("scsibus", 0) != 0)
            continue;
        const auto pos = line.find(at);
        if (pos == std::string::npos)
            continue;
        const auto rest = line.substr(pos + at.size());
        if (!rest.empty() && rest[0] != ':' && rest[0] != ' ')
            continue; // vscsi10 is not vscsi1
        bus = std::atoi(line.c_str() + 7);
    }
    return bus;
}

int unit_of(const std::string& device)
{
    const std::string d = device.empty() ? "/dev/vscsi0" : device;
    const auto digits = d.find_last_not_of("0123456789");
    return digits + 1 < d.size() ? std::atoi(d.c_str() + digits + 1) : 0;
}

struct mounted_disk {
    std::string mounts; // "sd3a on /mnt, sd3d on /home"
    struct scsi_addr addr {};
    bool identified = false;
};

} // namespace

std::vector<disk_use> find_disk_users(const std::vector<disk_use_query>& queries, const std::string& device)
{
    std::vector<disk_use> out(queries.size());
    // The sd(4) disks with a mounted partition, and where.
    std::map<std::string, mounted_disk> disks;
    const int n = ::getfsstat(nullptr, 0, MNT_NOWAIT);
    if (n > 0) {
        std::vector<struct statfs> fs(static_cast<std::size_t>(n) + 8);
        const int got = ::getfsstat(fs.data(), fs.size() * sizeof(struct statfs), MNT_NOWAIT);
        for (int i = 0; i < got; ++i) {
            const std::string from = fs[static_cast<std::size_t>(i)].f_mntfromname;
            if (from.rfind("/dev/sd", 0) != 0 || from.size() < 9)
                continue;
            const std::string part = from.substr(5);                  // "sd3a"
            const std::string disk = part.substr(0, part.size() - 1); // "sd3"
            auto& d = disks[disk];
            if (!d.mounts.empty())
                d.mounts += ", ";
            d.mounts += part + " on " + fs[static_cast<std::size_t>(i)].f_mntonname;
        }
    }
    // Which scsibus, target and LUN each is (its raw partition answers).
    for (auto& [name, d] : disks) {
        const std::string raw = "/dev/r" + name + "c";
        const int fd = ::open(raw.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        d.identified = ::ioctl(fd, SCIOCIDENTIFY, &d.addr) == 0;
        ::close(fd);
    }
    const int bus = vscsi_bus(unit_of(device));
    for (std::size_t i = 0; i < queries.size(); ++i) {
        for (const auto& [name, d] : disks) {
            if (!d.identified || d.addr.target != queries[i].target || d.addr.lun != queries[i].lun ||
                (bus >= 0 && d.addr.scbus != bus))
                continue;
            out[i].in_use = true;
            out[i].what += (out[i].what.empty() ? "" : "; ") + name + " (" + d.mounts + ")";
            if (bus < 0)
                out[i].what += " at scsibus" + std::to_string(d.addr.scbus) +
                               " (which scsibus is the vscsi device's is not in /var/run/dmesg.boot)";
        }
    }
    return out;
}

#else

namespace {

std::string read_line(const std::string& path)
{
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    return line;
}

// "major:minor" of each mount point, from /proc/self/mountinfo.
std::multimap<std::string, std::string> mounts_by_device()
{
    std::multimap<std::string, std::string> out;
    std::ifstream in("/proc/self/mountinfo");
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream f(line);
        std::string id, parent, dev, root, point;
        if (f >> id >> parent >> dev >> root >> point)
            out.emplace(dev, point);
    }
    return out;
}

} // namespace

std::vector<disk_use> find_disk_users(const std::vector<disk_use_query>& queries, const std::string&)
{
    std::vector<disk_use> out(queries.size());
    namespace fs = std::filesystem;
    std::error_code ec;
    const auto mounts = mounts_by_device();
    for (const auto& e : fs::directory_iterator("/sys/block", ec)) {
        const std::string name = e.path().filename().string();
        if (name.rfind("loop", 0) != 0)
            continue;
        const std::string backing = read_line((e.path() / "loop" / "backing_file").string());
        if (backing.empty())
            continue;
        for (std::size_t i = 0; i < queries.size(); ++i) {
            if (queries[i].export_file.empty() || backing != queries[i].export_file)
                continue;
            // The loop device, its partitions, and what holds them.
            std::string where;
            std::vector<fs::path> devs{e.path()};
            for (const auto& p : fs::directory_iterator(e.path(), ec))
                if (p.path().filename().string().rfind(name + "p", 0) == 0)
                    devs.push_back(p.path());
            for (const auto& d : devs) {
                const auto [lo, hi] = mounts.equal_range(read_line((d / "dev").string()));
                for (auto it = lo; it != hi; ++it)
                    where +=
                        (where.empty() ? "" : ", ") + ("/dev/" + d.filename().string() + " mounted on " + it->second);
                for (const auto& h : fs::directory_iterator(d / "holders", ec))
                    where += (where.empty() ? "" : ", ") + ("held by " + h.path().filename().string());
            }
            out[i].in_use = true;
            out[i].what += (out[i].what.empty() ? "" : "; ") +
                           ("/dev/" + name + " backs it" + (where.empty() ? "" : " (" + where + ")"));
        }
    }
    return out;
}

#endif

} // namespace ivs::app
