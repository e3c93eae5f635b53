// What a chaos run does, drawn from its seed: the fault kind, the target's
// negotiated parameters and answering habits, the midlayer's workload (READs,
// WRITEs and TEST UNIT READYs of various sizes on two LUNs, several in
// flight) and the victim command, chosen so the fault has an exchange to act
// on (a READ answered in several Data-In PDUs, a WRITE that needs R2Ts, ...).
#pragma once

#include "test/support/chaos_faults.hpp"
#include "test/support/chaos_target.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ivs::test::chaos {

inline constexpr unsigned lun_count = 2;
// At most 5 other commands of at most 128 blocks are in flight on a LUN, so
// one of the at most 6 gaps they leave on 2048 blocks has room for 235.
inline constexpr std::uint64_t lun_blocks = 2048;
inline constexpr std::uint32_t max_transfer = 64 * 1024;

struct planned_command {
    char op = 'R'; // 'R', 'W', 'N' (TEST UNIT READY)
    std::uint16_t lun = 0;
    std::uint32_t blocks = 1;
    bool cdb16 = false;
};

struct plan {
    fault_kind kind{}; // the seed's own, or the one asked for
    target_params tp;
    std::vector<planned_command> main;
    std::size_t qd = 1;
    std::size_t victim = 0;
    std::uint64_t target_seed = 0, fault_seed = 0, lba_seed = 0;
};

// The kind a seed runs (the catalog round-robin, so every kind gets its share).
fault_kind kind_of_seed(std::uint64_t seed);
plan make_plan(std::uint64_t seed, std::optional<fault_kind> forced);
std::string describe(const plan& p);

} // namespace ivs::test::chaos
