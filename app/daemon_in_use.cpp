// serve_daemon: which disks of a target are in use. A disk is in use when
// its export file has open handles (the FUSE export counts them: a loop
// device over the file holds one) or when the system says it is used
// (serve's parent: an sd(4) partition mounted on OpenBSD; on Linux, who
// holds the export file). A handle opened between this check and the
// unexport is not seen: the check is for the administrator's mistakes, not a
// lock.
#include "app/daemon_impl.hpp"

namespace ivs::app {

std::vector<std::string> serve_daemon::impl::disks_in_use(const attached_target& t)
{
    struct entry {
        const disk_attachment* session;
        const attached_lun* lun;
    };
    std::vector<entry> which;
    std::vector<disk_use_query> queries;
    for (const auto& s : t.sessions) {
        if (!s->attached())
            continue;
        for (const auto& l : s->luns()) {
            which.push_back({s.get(), &l});
            queries.push_back(
                {l.where.target, l.where.lun,
                 l.export_name.empty() ? std::string() : (s->options().export_dir / l.export_name).string()});
        }
    }
    std::vector<disk_use> users(queries.size());
    if (options.disk_users && !queries.empty()) {
        auto answer = options.disk_users(queries);
        if (answer.size() == queries.size())
            users = std::move(answer);
        else
            warn("target " + t.conf.name + ": cannot tell who else uses its disks");
    }
    std::vector<std::string> lines;
    for (std::size_t i = 0; i < which.size(); ++i) {
        const auto& s = *which[i].session;
        const auto& l = *which[i].lun;
        const std::size_t open =
            l.export_name.empty() ? 0 : machine.open_handles(s.options().export_dir, l.export_name);
        if (open == 0 && !users[i].in_use)
            continue;
        std::string line = "target " + t.conf.name + ": disk LUN " + std::to_string(l.remote);
        if (!l.device.empty())
            line += " (" + l.device + ")";
        if (!l.export_name.empty())
            line += ", " + (s.options().export_dir / l.export_name).string() + ",";
        line += " is in use: ";
        if (open > 0)
            line += std::to_string(open) + (open == 1 ? " open handle" : " open handles") + " on the export file";
        if (!users[i].what.empty())
            line += (open > 0 ? "; " : "") + users[i].what;
        lines.push_back(std::move(line));
    }
    return lines;
}

} // namespace ivs::app
