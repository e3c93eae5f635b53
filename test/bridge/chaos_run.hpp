// One chaos run: a seeded workload of READs and WRITEs (several in flight)
// from the midlayer side of an embedded vscsi, through the bridge and an
// iscsi::session, to the chaos target, which breaks one exchange; then the
// invariants: a READ returns exactly the target's bytes or an error, a WRITE
// answered DONE is stored, every dequeued vscsi tag gets exactly one T2I, the
// session still works after the fault, and everything ends in bounded time.
#pragma once

#include "test/support/chaos_faults.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ivs::test::chaos {

struct run_options {
    std::uint64_t seed = 0;
    bool persistent = false;        // the victim broken every time it arrives
    std::optional<fault_kind> kind; // instead of the seed's own kind
    bool verbose = false;           // keep the journal (target trace, initiator log)
    // Bounds. No vscsi completion for progress_limit on the run's clock
    // (its timers' time, moved on whenever nothing else can move) is a hang,
    // or a livelock when the session kept reconnecting meanwhile. A command
    // the target never answers ends within command_timeout (60 s) and two
    // task management steps (10 s each), and the midlayer issues it again
    // after a RESET three times: 4 x 80 s, and some room. run_limit is
    // wall-clock time, a guard against a loop that never lets the run's
    // clock move.
    std::chrono::milliseconds progress_limit{360000};
    std::chrono::milliseconds run_limit{20000};
    // More logins in a run: a reconnect loop (livelock). A broken command may
    // cost a few reissues, each of its midlayer retries too.
    unsigned max_logins = 100;
};

struct run_result {
    std::uint64_t seed = 0;
    bool persistent = false;
    fault_kind kind{};
    struct failure {
        std::string symptom;
        std::string detail;
    };
    std::vector<failure> failures; // in the order they were seen
    std::string plan;              // the run's parameters, one line
    unsigned logins = 0, fired = 0, commands = 0, errors = 0;
    std::chrono::milliseconds took{0};
    std::vector<std::string> journal; // verbose only
    bool ok() const noexcept { return failures.empty(); }
};

run_result run_one(const run_options& o);

// What the crash handler prints: the run under way (set by run_one).
struct current_run_info {
    std::uint64_t seed = 0;
    bool persistent = false;
    const char* kind = "";
    bool active = false;
};
extern current_run_info current_run;

} // namespace ivs::test::chaos
