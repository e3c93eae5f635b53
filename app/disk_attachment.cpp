#include "app/disk_attachment.hpp"

#include "bridge/lun_rescan.hpp"
#include "bridge/remote_luns.hpp"

#include <algorithm>
#include <utility>

namespace ivs::app {

namespace {

std::string seconds(std::chrono::milliseconds d) { return std::to_string((d.count() + 999) / 1000) + " s"; }

} // namespace

disk_attachment::disk_attachment(host& h, disk_attachment_options options)
    : host_(h), options_(std::move(options)), state_(std::make_shared<std::string>("not attached"))
{}

disk_attachment::~disk_attachment() { detach(); }

void disk_attachment::info(const std::string& line) const { host_.log().info(options_.log_prefix + line); }
void disk_attachment::warn(const std::string& line) const { host_.log().warning(options_.log_prefix + line); }

bool disk_attachment::attach(std::string& error)
{
    if (attached_)
        return true;
    if (login(error) && find_luns(error) && map(error) && probe(error) && export_disks(error)) {
        attached_ = true;
        return true;
    }
    detach();
    return false;
}

// Log in; from then on the session recovers on its own (§6.3.5) and tells
// its state through events.
bool disk_attachment::login(std::string& error)
{
    auto [ec, message] = host_.io().call<std::pair<std::error_code, std::string>>([&](auto done) {
        // The session's lines (warnings, every transition) go where the
        // program's do: standard error under attach, syslog under serve.
        auto config = options_.session;
        config.log = host_.log();
        session_ = std::make_unique<iscsi::session>(host_.io().context(), std::move(config));
        *state_ = "logging in";
        session_->on_event([state = state_, lun_change = options_.on_lun_change](const iscsi::session_event& e) {
            using k = iscsi::session_event::kind;
            // The target's LUN inventory changed (SPC-4 3F/0E): the owner rescans.
            if (e.what == k::scsi_async_event && lun_change && bridge::reported_luns_changed(e.sense))
                lun_change();
            *state = e.what == k::reconnecting  ? "reconnecting"
                     : e.what == k::reconnected ? "logged in"
                     : e.what == k::failed      ? "failed"
                                                : *state;
        });
        session_->start([done, state = state_](std::error_code e, const std::string& m) {
            *state = e ? "login failed" : "logged in";
            done({e, m});
        });
    });
    if (ec) {
        error = message.empty() ? ec.message() : message;
        return false;
    }
    logged_in_ = true;
    const auto params = host_.io().call<iscsi::session_params>([&](auto done) { done(session_->params()); });
    info("logged in to " + options_.session.login.target_name + " at " +
         iscsi::format_portal(options_.session.target_portal) + " (header digest " +
         (params.header_digest ? "CRC32C" : "None") + ", data digest " + (params.data_digest ? "CRC32C" : "None") +
         ")");
    return true;
}

bool disk_attachment::find_luns(std::string& error)
{
    std::vector<std::uint64_t> luns = options_.luns;
    if (luns.empty()) {
        auto [ec, reported] = host_.io().call<std::pair<std::error_code, std::vector<std::uint64_t>>>([&](auto done) {
            bridge::report_remote_luns(*session_, [done](std::error_code e, std::vector<std::uint64_t> l) {
                done({e, std::move(l)});
            });
        });
        if (ec) {
            error = "REPORT LUNS failed: " + ec.message();
            return false;
        }
        luns = std::move(reported);
    }
    if (luns.empty()) {
        error = "the target reports no LUNs";
        return false;
    }
    // Each LUN once, in the order given (as the bridge maps them).
    luns_.clear();
    for (auto l : luns) {
        if (std::any_of(luns_.begin(), luns_.end(), [&](const attached_lun& a) { return a.remote == l; }))
            continue;
        attached_lun a;
        a.remote = l;
        luns_.push_back(a);
    }
    return true;
}

bool disk_attachment::map(std::string& error)
{
    std::vector<std::uint64_t> remote;
    for (const auto& l : luns_)
        remote.push_back(l.remote);
    std::vector<bridge::slot> slots;
    auto ec = host_.io().call<std::error_code>([&](auto done) {
        auto e = host_.bridge().add_session(*session_, remote, slots);
        // A UNIT ATTENTION 3F/0E on one of its commands: the same rescan as
        // the AsyncEvent's (login()).
        if (!e && options_.on_lun_change)
            host_.bridge().on_lun_change(*session_, options_.on_lun_change);
        done(e);
    });
    if (ec || slots.size() != luns_.size()) {
        error = "cannot map " + std::to_string(remote.size()) + " LUNs: " + ec.message();
        return false;
    }
    mapped_ = true;
    for (std::size_t i = 0; i < slots.size(); ++i)
        luns_[i].where = slots[i];
    return true;
}

bool disk_attachment::probe(std::string& error)
{
    std::vector<bridge::slot> slots;
    for (const auto& l : luns_)
        slots.push_back(l.where);
    probed_ = true;
    const auto disks = host_.probe(slots, options_.probe_timeout);
    if (!disks) {
        error = "probing did not finish within " + seconds(options_.probe_timeout);
        return false;
    }
    for (const auto& d : *disks)
        for (auto& l : luns_)
            if (l.where == bridge::slot{d.target, d.lun}) {
                l.device = d.name;
                l.block_size = d.block_size;
                l.block_count = d.block_count;
            }
    if (!host_.has_midlayer()) {
        // The kernel probes and attaches on its own.
        for (const auto& l : luns_)
            info("LUN " + std::to_string(l.remote) + " -> vscsi targ " + std::to_string(l.where.target) + " lun " +
                 std::to_string(l.where.lun));
        return true;
    }
    if (options_.require_disk && disks->empty()) {
        error = "no disk attached (no direct-access LUN among " + std::to_string(luns_.size()) + ")";
        return false;
    }
    return true;
}

bool disk_attachment::export_disks(std::string& error)
{
    if (options_.export_dir.empty()) {
        for (const auto& l : luns_)
            if (!l.device.empty())
                info(l.device + " is LUN " + std::to_string(l.remote));
        return true;
    }
    std::string why;
    if (auto ec = host_.mount(options_.export_dir, why)) {
        error = "cannot mount " + options_.export_dir.string() + ": " + (why.empty() ? ec.message() : why);
        return false;
    }
    mounted_ = true;
    for (auto& l : luns_)
        if (!export_one(l, error))
            return false;
    return true;
}

// One disk into the mounted export directory; false only when that fails
// the attach (export_all).
bool disk_attachment::export_one(attached_lun& l, std::string& error)
{
    if (l.device.empty() || l.block_count == 0)
        return true;
    std::string name;
    if (auto ec = host_.export_disk(options_.export_dir, options_.export_prefix, l.remote, l.where, l.block_size,
                                    l.block_count, name)) {
        const std::string why = "cannot export " + l.device + ": " + ec.message();
        if (options_.export_all) {
            error = why;
            return false;
        }
        warn(why);
        return true;
    }
    l.export_name = name;
    info(l.device + " (LUN " + std::to_string(l.remote) + ") exported as " + (options_.export_dir / name).string());
    return true;
}

std::error_code disk_attachment::flush()
{
    if (!mapped_ || !session_)
        return {};
    return host_.io().call_for([&](auto done) { host_.bridge().sync_cache(*session_, done); }, options_.flush_timeout);
}

void disk_attachment::detach()
{
    const bool was_logged_in = logged_in_;
    if (mounted_) {
        for (auto& l : luns_) {
            if (l.export_name.empty())
                continue;
            host_.unexport_disk(options_.export_dir, l.export_name);
            l.export_name.clear();
        }
        host_.unmount(options_.export_dir);
        mounted_ = false;
    }
    // Whatever was written through the disks reaches the medium before
    // they go (SBC-3 §5.22); an attach that failed wrote nothing.
    if (attached_) {
        if (auto ec = flush())
            warn("SYNCHRONIZE CACHE failed: " + ec.message());
        attached_ = false;
    }
    if (probed_) {
        std::vector<bridge::slot> slots;
        for (const auto& l : luns_)
            slots.push_back(l.where);
        if (!host_.detach(slots, options_.detach_timeout))
            warn("detaching the disks did not finish within " + seconds(options_.detach_timeout));
        probed_ = false;
    }
    if (mapped_) {
        host_.io().call<bool>([&](auto done) {
            host_.bridge().remove_session(*session_);
            done(true);
        });
        mapped_ = false;
    }
    if (logged_in_) {
        if (auto ec = host_.io().call_for([&](auto done) { session_->logout(done); }, options_.logout_timeout))
            warn("logout: " + ec.message());
        logged_in_ = false;
    }
    if (session_) {
        host_.io().call<bool>([&](auto done) {
            session_.reset();
            if (was_logged_in)
                *state_ = "detached";
            done(true);
        });
    }
    luns_.clear();
}

} // namespace ivs::app
