#include "bridge/lun_map.hpp"

#include "scsi/report_luns.hpp"

#include <algorithm>

namespace ivs::bridge {

lun_map::lun_map(lun_geometry geometry) : geo_(geometry)
{
    geo_.targets = std::clamp(geo_.targets, 0, 65536);
    geo_.luns_per_target = std::clamp(geo_.luns_per_target, 1, 256);
    table_.resize(static_cast<std::size_t>(geo_.targets) * static_cast<std::size_t>(geo_.luns_per_target));
}

bool lun_map::target_free(int target) const noexcept
{
    for (int l = 0; l < geo_.luns_per_target; ++l)
        if (table_[index(target, l)].used)
            return false;
    return true;
}

std::error_code lun_map::add(owner_id owner, std::span<const std::uint64_t> remote_luns, std::vector<slot>& out)
{
    out.clear();
    if (owner == nullptr)
        return make_error_code(std::errc::invalid_argument);
    for (const auto& e : table_)
        if (e.used && e.owner == owner)
            return make_error_code(std::errc::invalid_argument);
    std::vector<std::uint64_t> distinct;
    for (auto l : remote_luns)
        if (std::find(distinct.begin(), distinct.end(), l) == distinct.end())
            distinct.push_back(l);
    const std::size_t per = static_cast<std::size_t>(geo_.luns_per_target);
    const std::size_t need = (distinct.size() + per - 1) / per;
    std::vector<int> free_targets;
    for (int t = 0; t < geo_.targets && free_targets.size() < need; ++t)
        if (target_free(t))
            free_targets.push_back(t);
    if (free_targets.size() < need)
        return make_error_code(std::errc::no_space_on_device);
    for (std::size_t i = 0; i < distinct.size(); ++i) {
        const slot s{free_targets[i / per], static_cast<int>(i % per)};
        table_[index(s.target, s.lun)] = entry{owner, distinct[i], true};
        out.push_back(s);
    }
    return {};
}

std::vector<slot> lun_map::remove(owner_id owner)
{
    std::vector<slot> freed;
    for (int t = 0; t < geo_.targets; ++t)
        for (int l = 0; l < geo_.luns_per_target; ++l) {
            auto& e = table_[index(t, l)];
            if (e.used && e.owner == owner) {
                e = entry{};
                freed.push_back({t, l});
            }
        }
    return freed;
}

std::optional<lun_map::mapping> lun_map::at(int target, int lun) const noexcept
{
    if (target < 0 || target >= geo_.targets || lun < 0 || lun >= geo_.luns_per_target)
        return std::nullopt;
    const auto& e = table_[index(target, lun)];
    if (!e.used)
        return std::nullopt;
    return mapping{e.owner, e.remote_lun};
}

std::optional<lun_map::mapping> lun_map::first_on_target(int target) const noexcept
{
    for (int l = 0; l < geo_.luns_per_target; ++l)
        if (auto m = at(target, l))
            return m;
    return std::nullopt;
}

std::optional<slot> lun_map::find(owner_id owner, std::uint64_t remote_lun) const noexcept
{
    for (int t = 0; t < geo_.targets; ++t)
        for (int l = 0; l < geo_.luns_per_target; ++l) {
            const auto& e = table_[index(t, l)];
            if (e.used && e.owner == owner && e.remote_lun == remote_lun)
                return slot{t, l};
        }
    return std::nullopt;
}

std::vector<std::pair<slot, lun_map::mapping>> lun_map::slots(owner_id owner) const
{
    std::vector<std::pair<slot, mapping>> out;
    for (int t = 0; t < geo_.targets; ++t)
        for (int l = 0; l < geo_.luns_per_target; ++l) {
            const auto& e = table_[index(t, l)];
            if (e.used && (owner == nullptr || e.owner == owner))
                out.push_back({slot{t, l}, mapping{e.owner, e.remote_lun}});
        }
    return out;
}

void lun_map::rewrite_report_luns(int target, std::span<const std::byte> remote, std::size_t allocation_length,
                                  std::vector<std::byte>& out) const
{
    // Which local LUNs of this target the remote list names.
    std::vector<bool> listed(static_cast<std::size_t>(geo_.luns_per_target), false);
    const auto entries = scsi::report_luns_entries(remote);
    if (entries && target >= 0 && target < geo_.targets) {
        for (std::uint64_t entry : *entries) {
            auto lun = scsi::decode_lun_entry(entry);
            if (!lun)
                continue;
            for (int l = 0; l < geo_.luns_per_target; ++l) {
                const auto& e = table_[index(target, l)];
                if (e.used && e.remote_lun == *lun)
                    listed[static_cast<std::size_t>(l)] = true;
            }
        }
    }
    std::vector<std::uint8_t> local;
    for (int l = 0; l < geo_.luns_per_target; ++l)
        if (listed[static_cast<std::size_t>(l)])
            local.push_back(static_cast<std::uint8_t>(l));
    out = scsi::make_report_luns(local, allocation_length);
}

} // namespace ivs::bridge
