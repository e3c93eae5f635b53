// lun_map: LUNs added to and removed from a mapped owner (a rescan).
#include "bridge/lun_map.hpp"

#include <algorithm>

namespace ivs::bridge {

std::error_code lun_map::add_more(owner_id owner, std::span<const std::uint64_t> remote_luns, std::vector<slot>& out)
{
    out.clear();
    if (owner == nullptr)
        return make_error_code(std::errc::invalid_argument);
    std::vector<std::uint64_t> fresh;
    for (auto l : remote_luns)
        if (!find(owner, l) && std::find(fresh.begin(), fresh.end(), l) == fresh.end())
            fresh.push_back(l);
    // Targets the owner holds alone, then free ones, in target order.
    std::vector<int> own, free_targets;
    for (int t = 0; t < geo_.targets; ++t) {
        bool mine = false, others = false;
        for (int l = 0; l < geo_.luns_per_target; ++l) {
            const auto& e = table_[index(t, l)];
            if (e.used)
                (e.owner == owner ? mine : others) = true;
        }
        if (mine && !others)
            own.push_back(t);
        else if (!mine && !others)
            free_targets.push_back(t);
    }
    std::vector<slot> places;
    for (int t : own)
        for (int l = 0; l < geo_.luns_per_target && places.size() < fresh.size(); ++l)
            if (!table_[index(t, l)].used)
                places.push_back({t, l});
    for (int t : free_targets)
        for (int l = 0; l < geo_.luns_per_target && places.size() < fresh.size(); ++l)
            places.push_back({t, l});
    if (places.size() < fresh.size())
        return make_error_code(std::errc::no_space_on_device);
    for (std::size_t i = 0; i < fresh.size(); ++i) {
        table_[index(places[i].target, places[i].lun)] = entry{owner, fresh[i], true};
        out.push_back(places[i]);
    }
    return {};
}

std::vector<slot> lun_map::remove_luns(owner_id owner, std::span<const std::uint64_t> remote_luns)
{
    std::vector<slot> freed;
    for (auto l : remote_luns)
        if (auto s = find(owner, l)) {
            table_[index(s->target, s->lun)] = entry{};
            freed.push_back(*s);
        }
    return freed;
}

} // namespace ivs::bridge
