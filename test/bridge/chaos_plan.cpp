// A chaos run's plan from its seed (see chaos_plan.hpp).
#include "chaos_plan.hpp"

#include "test/support/chaos_blocks.hpp"

#include <algorithm>
#include <sstream>

namespace ivs::test::chaos {

namespace {

template <class T, std::size_t N>
T pick(rng& r, const T (&from)[N])
{
    return from[r.below(N)];
}

// Bytes a WRITE sends before any R2T (§4.2.5.2), as the session computes them.
std::uint32_t unsolicited(const target_params& tp, std::uint32_t bytes)
{
    const std::uint32_t first = std::min(bytes, tp.first_burst);
    const std::uint32_t immediate = tp.immediate_data ? std::min(first, tp.mrdsl) : 0;
    return tp.initial_r2t ? immediate : first;
}

bool fits(victim_need need, const planned_command& c, const target_params& tp)
{
    const std::uint32_t bytes = c.blocks * block_size;
    switch (need) {
    case victim_need::any: return c.op != 'N';
    case victim_need::read: return c.op == 'R';
    case victim_need::read_multi: return c.op == 'R' && bytes > std::min(tp.data_in_segment, tp.max_burst);
    case victim_need::write_r2t: return c.op == 'W' && bytes > unsolicited(tp, bytes);
    case victim_need::write_r2t_multi: return c.op == 'W' && bytes - unsolicited(tp, bytes) > tp.max_burst;
    }
    return false;
}

} // namespace

fault_kind kind_of_seed(std::uint64_t seed)
{
    const auto all = fault_catalog();
    return all[seed % all.size()].kind;
}

plan make_plan(std::uint64_t seed, std::optional<fault_kind> forced)
{
    plan p;
    rng r(seed * 0x9e3779b97f4a7c15ull + 0x243f6a8885a308d3ull);
    p.kind = forced ? *forced : kind_of_seed(seed);
    const victim_need need = info(p.kind).need;
    target_params& tp = p.tp;
    tp.mrdsl = pick(r, {4096u, 8192u, 65536u});
    tp.first_burst = pick(r, {4096u, 8192u, 16384u, 32768u});
    tp.max_burst = std::max(tp.first_burst, pick(r, {8192u, 16384u, 65536u, 262144u}));
    tp.immediate_data = r.chance(600);
    tp.initial_r2t = r.chance(500);
    tp.max_outstanding_r2t = 1 + r.below(4);
    tp.window = pick(r, {1u, 2u, 3u, 8u, 32u});
    tp.data_in_segment = pick(r, {4096u, 8192u, 16384u, 65536u});
    tp.collapse_status = r.chance(500);
    tp.reorder = r.chance(700);
    tp.first_stat_sn = pick(r, {0x2000u, 0xfffffff8u, static_cast<std::uint32_t>(r.next())});
    if (need == victim_need::write_r2t_multi) {
        tp.max_burst = 8192;
        tp.first_burst = std::min(tp.first_burst, 8192u);
    }
    if (need == victim_need::read_multi)
        tp.data_in_segment = std::min(tp.data_in_segment, 16384u);

    const std::size_t n = 10 + r.below(11);
    p.qd = 1 + r.below(6);
    for (std::size_t i = 0; i < n; ++i) {
        planned_command c;
        const std::uint32_t x = r.below(100);
        c.op = x < 45 ? 'R' : x < 90 ? 'W' : 'N';
        c.lun = static_cast<std::uint16_t>(r.below(lun_count));
        c.blocks = pick(r, {1u, 2u, 8u, 16u, 32u, 64u, 128u});
        c.cdb16 = r.chance(250);
        p.main.push_back(c);
    }
    std::vector<std::size_t> candidates;
    for (std::size_t i = 0; i < n; ++i)
        if (fits(need, p.main[i], tp))
            candidates.push_back(i);
    if (candidates.empty()) {
        p.victim = r.below(static_cast<std::uint32_t>(n));
        planned_command& v = p.main[p.victim];
        v.op = need == victim_need::write_r2t || need == victim_need::write_r2t_multi ? 'W' : 'R';
        v.blocks = max_transfer / block_size;
    } else {
        p.victim = candidates[r.below(static_cast<std::uint32_t>(candidates.size()))];
    }
    p.target_seed = r.next();
    p.fault_seed = r.next();
    p.lba_seed = r.next();
    return p;
}

std::string describe(const plan& p)
{
    const target_params& t = p.tp;
    std::ostringstream s;
    s << "target MRDSL " << t.mrdsl << " FirstBurst " << t.first_burst << " MaxBurst " << t.max_burst
      << " ImmediateData " << (t.immediate_data ? "Yes" : "No") << " InitialR2T " << (t.initial_r2t ? "Yes" : "No")
      << " MaxOutstandingR2T " << t.max_outstanding_r2t << " window " << t.window << " Data-In segment "
      << t.data_in_segment << (t.collapse_status ? " status in the last Data-In" : " separate status")
      << (t.reorder ? " reordering" : "") << " StatSN from " << t.first_stat_sn << "; " << p.main.size()
      << " commands, " << p.qd << " in flight; victim #" << p.victim;
    return s.str();
}

} // namespace ivs::test::chaos
