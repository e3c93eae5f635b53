// disk_attachment::rescan: the target's LUNs read again and the disks
// brought in line with them, in the order attach and detach use: a gone LUN
// is unexported, then detached and unmapped (bridge::remove_luns answers
// what is still outstanding on it); a new one is mapped and probed
// (bridge::add_luns), then exported.
#include "app/disk_attachment.hpp"

#include "bridge/lun_rescan.hpp"
#include "vscsi/embedded_vscsi.hpp"

#include <algorithm>
#include <utility>

namespace ivs::app {

bool disk_attachment::rescan(std::string& summary)
{
    if (!attached_ || !session_) {
        summary = "not attached";
        return false;
    }
    // The gone LUNs' files go first, before their disks do; the map tells
    // which are gone, so ask it (on the io thread) after REPORT LUNS.
    auto [ec, changes] = host_.io().call<std::pair<std::error_code, bridge::lun_changes>>([&](auto done) {
        bridge::rescan_luns(host_.bridge(), *session_, options_.luns, [done](std::error_code e, bridge::lun_changes c) {
            done({e, std::move(c)});
        });
    });
    for (const auto& [remote, where] : changes.removed) {
        auto it = std::find_if(luns_.begin(), luns_.end(), [&](const attached_lun& l) { return l.remote == remote; });
        if (it == luns_.end())
            continue;
        if (!it->export_name.empty())
            host_.unexport_disk(options_.export_dir, it->export_name);
        info("LUN " + std::to_string(remote) + (it->device.empty() ? "" : " (" + it->device + ")") +
             " is gone from the target: detached");
        luns_.erase(it);
    }
    // The midlayer probes and detaches on its worker (VSCSI_REQPROBE /
    // REQDETACH went out from the bridge); wait for it here.
    vscsi::embedded_vscsi* midlayer = host_.midlayer();
    bool probed = true;
    if (midlayer && (!changes.added.empty() || !changes.removed.empty()))
        probed = midlayer->wait_probe_idle(options_.probe_timeout);
    const auto disks = midlayer ? midlayer->disks() : std::vector<vscsi::attached_disk>{};
    std::string error;
    for (const auto& [remote, where] : changes.added) {
        attached_lun l;
        l.remote = remote;
        l.where = where;
        for (const auto& d : disks)
            if (d.target == where.target && d.lun == where.lun) {
                l.device = d.name;
                l.block_size = d.block_size;
                l.block_count = d.block_count;
            }
        info("LUN " + std::to_string(remote) + " is new on the target -> vscsi targ " + std::to_string(where.target) +
             " lun " + std::to_string(where.lun) + (l.device.empty() ? "" : " (" + l.device + ")"));
        if (mounted_) {
            // Never fails the attachment that is already there: logged.
            const bool all = std::exchange(options_.export_all, false);
            (void)export_one(l, error);
            options_.export_all = all;
        }
        luns_.push_back(std::move(l));
    }
    summary =
        std::to_string(changes.added.size()) + " LUNs added, " + std::to_string(changes.removed.size()) + " removed";
    if (!probed)
        summary += "; probing did not finish in time";
    if (ec) {
        summary = "rescan failed: " + ec.message() + " (" + summary + ")";
        warn(summary);
        return false;
    }
    info("rescan: " + summary);
    return true;
}

} // namespace ivs::app
