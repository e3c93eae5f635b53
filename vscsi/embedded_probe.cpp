// The embedded vscsi's midlayer probe and detach (OpenBSD scsiconf.c and
// sd(4) behaviour), run on a worker thread on VSCSI_REQPROBE/REQDETACH.
// Its commands go through the same queue the daemon serves; failures are
// only logged, never reported to the daemon.
#include "vscsi/embedded_vscsi.hpp"

#include <algorithm>

namespace ivs::vscsi {

scsi_executor embedded_vscsi::executor()
{
    return [this](const scsi_command& cmd) {
        scsi_completion out;
        if (execute(cmd, out)) {
            out = scsi_completion{};
            out.status = vscsi_status::err; // device closed: like a dead bus
            out.residual = cmd.datalen();
        }
        return out;
    };
}

void embedded_vscsi::probe_worker()
{
    std::unique_lock lk(m_);
    for (;;) {
        events_cv_.wait(lk, [this] { return stopping_ || !events_.empty(); });
        if (stopping_)
            return;
        const devevent ev = events_.front();
        events_.pop_front();
        worker_busy_ = true;
        lk.unlock();
        run_devevent(ev);
        lk.lock();
        worker_busy_ = false;
        if (events_.empty())
            idle_cv_.notify_all();
    }
}

void embedded_vscsi::run_devevent(const devevent& ev)
{
    // As scsi_probe()/scsi_detach(): target -1 only together with lun -1.
    if (ev.target < -1 || ev.target >= config_.targets || ev.lun < -1 || ev.lun >= config_.luns)
        return;
    if (ev.target == -1 && ev.lun != -1)
        return;
    const int tmin = ev.target == -1 ? 0 : ev.target;
    const int tmax = ev.target == -1 ? config_.targets - 1 : ev.target;
    for (int t = tmin; t <= tmax; ++t) {
        if (ev.probe) {
            if (ev.lun == -1)
                probe_target(t);
            else
                (void)probe_one(t, ev.lun, nullptr, nullptr);
        } else {
            for (int l = 0; l < config_.luns; ++l)
                if (ev.lun == -1 || ev.lun == l)
                    detach_one(t, l);
        }
    }
}

bool embedded_vscsi::attached_locked(int target, int lun) const
{
    for (const auto& d : disks_)
        if (d.target == target && d.lun == lun)
            return true;
    return false;
}

void embedded_vscsi::probe_target(int target)
{
    // LUN 0 first; without a device attached there, the target is skipped.
    inquiry_data inq0;
    (void)probe_one(target, 0, nullptr, &inq0);
    {
        std::lock_guard lk(m_);
        if (!attached_locked(target, 0))
            return;
    }
    // SPC devices report their LUNs; older ones are scanned 0..luns-1 and the
    // scan stops at a LUN that answers like LUN 0 (no LUN distinction).
    std::vector<int> luns;
    bool dumbscan = true;
    if (inq0.version >= 3) {
        if (auto rl = report_luns(executor(), target, config_.probe)) {
            dumbscan = false;
            for (int l : *rl)
                if (l < config_.luns)
                    luns.push_back(l);
        }
    }
    if (dumbscan)
        for (int l = 0; l < config_.luns; ++l)
            luns.push_back(l);
    for (int l : luns) {
        if (probe_one(target, l, dumbscan ? &inq0 : nullptr, nullptr) == probe_outcome::stop && dumbscan)
            return;
    }
}

embedded_vscsi::probe_outcome embedded_vscsi::probe_one(int target, int lun, const inquiry_data* lun0,
                                                        inquiry_data* inq_out)
{
    {
        std::lock_guard lk(m_);
        for (const auto& d : disks_) {
            if (d.target == target && d.lun == lun) {
                if (inq_out) {
                    inq_out->type = d.device_type;
                    inq_out->version = d.scsi_version;
                    inq_out->removable = d.removable;
                    inq_out->vendor = d.vendor;
                    inq_out->product = d.product;
                    inq_out->revision = d.revision;
                }
                return probe_outcome::attached;
            }
        }
    }
    const scsi_executor exec = executor();
    if (lun == 0)
        (void)test_unit_ready(exec, target, lun, config_.probe); // clear pending conditions

    auto inq = probe_inquiry(exec, target, lun, config_.probe);
    if (!inq)
        return lun == 0 ? probe_outcome::stop : probe_outcome::absent;
    if (inq_out)
        *inq_out = *inq;
    // Qualifier 1 (not connected), 2 (reserved), 3 (no LUN): nothing there.
    if (inq->qualifier >= 1 && inq->qualifier <= 3)
        return probe_outcome::absent;
    if (inq->type == 0x1f)
        return probe_outcome::absent;
    if (lun0 && lun != 0 && inq->type == lun0->type && inq->version == lun0->version &&
        inq->removable == lun0->removable && inq->vendor == lun0->vendor && inq->product == lun0->product &&
        inq->revision == lun0->revision)
        return probe_outcome::stop;

    const std::string bus = "scsibus" + std::to_string(config_.scsibus);
    if (!sd_drives(*inq)) {
        // No driver for it (e.g. a 0x0c storage controller LUN).
        log(attach_line(bus, target, lun, *inq) + " not configured");
        return probe_outcome::absent;
    }
    (void)test_unit_ready(exec, target, lun, config_.probe);

    attached_disk disk;
    {
        // sd units: the lowest free number, as autoconf assigns them.
        std::lock_guard lk(m_);
        for (int unit = 0;; ++unit) {
            const std::string name = "sd" + std::to_string(unit);
            bool used = false;
            for (const auto& d : disks_)
                used = used || d.name == name;
            if (!used) {
                disk.name = name;
                break;
            }
        }
    }
    disk.target = target;
    disk.lun = lun;
    disk.vendor = inq->vendor;
    disk.product = inq->product;
    disk.revision = inq->revision;
    disk.removable = inq->removable;
    disk.device_type = inq->type;
    disk.scsi_version = inq->version;
    log(attach_line(disk.name + " at " + bus, target, lun, *inq));

    if (auto cap = read_capacity(exec, target, lun, inq->version, config_.probe)) {
        disk.block_size = cap->block_size;
        disk.block_count = cap->block_count;
        log(sd_size_line(disk.name, *cap));
    } else {
        log(disk.name + ": drive offline");
    }
    {
        std::lock_guard lk(m_);
        disks_.push_back(disk);
    }
    if (config_.disk_event)
        config_.disk_event(disk, true);
    return probe_outcome::attached;
}

void embedded_vscsi::detach_one(int target, int lun)
{
    attached_disk gone;
    {
        std::lock_guard lk(m_);
        auto it = std::find_if(disks_.begin(), disks_.end(),
                               [&](const attached_disk& d) { return d.target == target && d.lun == lun; });
        if (it == disks_.end())
            return;
        gone = *it;
        disks_.erase(it);
    }
    log(gone.name + " detached");
    if (config_.disk_event)
        config_.disk_event(gone, false);
}

} // namespace ivs::vscsi
