// Sessions and their LUNs coming and going on the bridge (the lun_map and
// the device's probe and detach requests), the LUN-change handlers, and
// SYNCHRONIZE CACHE to every LUN of a session.
#include "bridge/bridge_impl.hpp"

#include "scsi/cdb.hpp"
#include "scsi/sense.hpp"
#include "scsi/status.hpp"

#include <algorithm>

namespace ivs::bridge {

using vscsi::vscsi_status;

bridge::impl::added_session* bridge::impl::added(const iscsi::session& s)
{
    for (auto& a : sessions)
        if (a.s == &s)
            return &a;
    return nullptr;
}

std::function<void()> bridge::impl::lun_change_handler(const iscsi::session* s) const
{
    for (const auto& a : sessions)
        if (a.s == s)
            return a.on_lun_change;
    return {};
}

std::error_code bridge::add_session(iscsi::session& s, const std::vector<std::uint64_t>& remote_luns,
                                    std::vector<slot>& out)
{
    auto ec = impl_->map.add(&s, remote_luns, out);
    if (!ec)
        impl_->sessions.push_back({&s, {}});
    return ec;
}

std::vector<slot> bridge::remove_session(iscsi::session& s)
{
    std::erase_if(impl_->sessions, [&](const auto& a) { return a.s == &s; });
    impl_->complete_all(&s, vscsi_status::reset);
    return impl_->map.remove(&s);
}

std::error_code bridge::add_luns(iscsi::session& s, const std::vector<std::uint64_t>& remote_luns,
                                 std::vector<slot>& out)
{
    out.clear();
    if (!impl_->added(s))
        return make_error_code(std::errc::invalid_argument);
    if (auto ec = impl_->map.add_more(&s, remote_luns, out))
        return ec;
    for (const auto& where : out)
        if (auto ec = impl_->dev.request_probe(where.target, where.lun))
            impl_->opt.log.warning("bridge: VSCSI_REQPROBE failed: " + ec.message());
    return {};
}

std::vector<slot> bridge::remove_luns(iscsi::session& s, const std::vector<std::uint64_t>& remote_luns)
{
    // Unmapped first: what the midlayer sends there from now on is answered
    // here (LOGICAL UNIT NOT SUPPORTED), the commands already out likewise.
    const std::vector<slot> gone = impl_->map.remove_luns(&s, remote_luns);
    impl_->complete_all(&s, vscsi_status::sense, &gone,
                        scsi::make_fixed_sense(scsi::key::illegal_request, scsi::asc::logical_unit_not_supported, 0));
    for (const auto& where : gone)
        if (auto ec = impl_->dev.request_detach(where.target, where.lun))
            impl_->opt.log.warning("bridge: VSCSI_REQDETACH failed: " + ec.message());
    return gone;
}

void bridge::on_lun_change(iscsi::session& s, std::function<void()> handler)
{
    if (auto* a = impl_->added(s))
        a->on_lun_change = std::move(handler);
}

void bridge::sync_cache(iscsi::session& s, std::function<void(std::error_code)> done)
{
    struct state {
        std::size_t pending = 0;
        std::error_code first;
        std::function<void(std::error_code)> done;
    };
    auto st = std::make_shared<state>();
    st->done = std::move(done);
    const auto all = impl_->map.slots(&s);
    st->pending = all.size() + 1; // +1 until every submit is made
    auto one = [st](std::error_code ec) {
        if (ec && !st->first)
            st->first = ec;
        if (--st->pending == 0 && st->done)
            st->done(st->first);
    };
    for (const auto& [where, m] : all) {
        (void)where;
        iscsi::scsi_request r;
        r.lun = m.remote_lun;
        r.set_cdb(scsi::synchronize_cache_10().as_bytes());
        s.submit(r, [one](const iscsi::scsi_result& res) {
            if (res.error)
                return one(res.error);
            // ILLEGAL REQUEST: a LUN without a cache to flush (tgtd's LUN 0
            // controller) has nothing to lose.
            const bool not_supported = res.status == scsi::status::check_condition &&
                                       scsi::sense_key(res.sense_data()) == scsi::key::illegal_request;
            one(res.good() || not_supported ? std::error_code{} : make_error_code(std::errc::io_error));
        });
    }
    one({});
}

} // namespace ivs::bridge
