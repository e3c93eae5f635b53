#include "bridge/lun_rescan.hpp"

#include "bridge/bridge.hpp"
#include "bridge/remote_luns.hpp"
#include "scsi/sense.hpp"

#include <algorithm>

namespace ivs::bridge {

namespace {

bool contains(std::span<const std::uint64_t> v, std::uint64_t x) { return std::find(v.begin(), v.end(), x) != v.end(); }

} // namespace

lun_diff diff_luns(std::span<const std::uint64_t> mapped, std::span<const std::uint64_t> reported,
                   std::span<const std::uint64_t> wanted)
{
    lun_diff d;
    for (auto l : reported)
        if (!contains(mapped, l) && (wanted.empty() || contains(wanted, l)) && !contains(d.added, l))
            d.added.push_back(l);
    for (auto l : mapped)
        if ((!contains(reported, l) || (!wanted.empty() && !contains(wanted, l))) && !contains(d.removed, l))
            d.removed.push_back(l);
    return d;
}

bool reported_luns_changed(std::span<const std::byte> sense) noexcept
{
    const auto fixed = scsi::convert_sense(sense);
    return fixed && (*fixed)[12] == scsi::asc::reported_luns_data_changed && (*fixed)[13] == 0x0e;
}

void rescan_luns(bridge& b, iscsi::session& s, std::vector<std::uint64_t> wanted,
                 std::function<void(std::error_code, lun_changes)> done)
{
    report_remote_luns(s, [&b, &s, wanted = std::move(wanted),
                           done = std::move(done)](std::error_code ec, std::vector<std::uint64_t> reported) {
        if (ec)
            return done(ec, {});
        std::vector<std::uint64_t> mapped;
        for (const auto& [where, m] : b.map().slots(&s))
            mapped.push_back(m.remote_lun);
        const lun_diff d = diff_luns(mapped, reported, wanted);
        lun_changes out;
        for (auto l : d.removed)
            if (auto where = b.map().find(&s, l))
                out.removed.emplace_back(l, *where);
        b.remove_luns(s, d.removed);
        std::vector<slot> slots;
        if (auto e = b.add_luns(s, d.added, slots))
            return done(e, std::move(out));
        for (std::size_t i = 0; i < slots.size() && i < d.added.size(); ++i)
            out.added.emplace_back(d.added[i], slots[i]);
        done({}, std::move(out));
    });
}

} // namespace ivs::bridge
