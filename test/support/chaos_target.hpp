// The chaos target: an iSCSI target with RAM-backed LUNs that behaves like a
// real one (CmdSN ordering and window, StatSN, Data-In within the negotiated
// limits, R2Ts per MaxBurstLength and MaxOutstandingR2T, task management,
// NOP, Text, Logout, relogin after any drop) except for one fault of the
// catalog (chaos_faults.hpp), fired on one victim command: once (transient)
// or every time the command arrives (persistent).
//
// It runs turn by turn with the initiator on the test's thread: step() reads
// what has arrived on every connection and answers it (logins included); the
// caller runs the io_context in between. No other thread takes part, so a run
// depends on its seed, not on thread timing, up to the session's own timers.
//
// What the target itself sees go wrong is recorded as findings: bytes a
// WRITE carried that are not that command's blocks, and the initiator
// breaking the protocol (on a connection no fault touched yet, or ignoring
// what an async event asked for).
#pragma once

#include "test/support/chaos_faults.hpp"

#include <compare>
#include <functional>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace ivs::test::chaos {

// What the target negotiates and how it answers (drawn from the seed).
struct target_params {
    std::uint32_t mrdsl = 8192; // its MaxRecvDataSegmentLength declaration
    std::uint32_t max_burst = 262144;
    std::uint32_t first_burst = 65536;
    bool immediate_data = true;
    bool initial_r2t = true;
    std::uint32_t max_outstanding_r2t = 1;
    std::uint32_t window = 32;            // commands it queues (MaxCmdSN - ExpCmdSN + 1 when idle)
    std::uint32_t data_in_segment = 8192; // its Data-In segment size (at most the initiator's limit)
    bool collapse_status = true;          // status in the last Data-In (§11.7.3)
    bool reorder = true;                  // completes commands delivered together in a seeded order
    std::uint32_t first_stat_sn = 0x2000;
};

// A command's identity as the midlayer issued it (the target sees it in the CDB).
struct command_key {
    std::uint16_t lun = 0;
    char op = 'N'; // 'R' READ, 'W' WRITE, 'N' no data
    std::uint64_t lba = 0;
    std::uint32_t blocks = 0;
    auto operator<=>(const command_key&) const = default;
    std::string describe() const;
};

// The target's latest execution of a command.
struct execution {
    std::uint32_t declared_residual = 0; // the underflow residual it declared (0: none)
    std::uint32_t stored_bytes = 0;      // WRITE: bytes it stored
    bool lied = false;                   // it sent GOOD before the data arrived
    unsigned count = 0;
};

struct finding {
    std::string symptom; // "protocol", "wrong-bytes-written"
    std::string detail;
};

class chaos_target {
public:
    chaos_target(std::uint32_t run, const target_params& params, std::uint64_t seed, unsigned luns,
                 std::uint64_t lun_blocks);
    ~chaos_target();
    chaos_target(const chaos_target&) = delete;
    chaos_target& operator=(const chaos_target&) = delete;

    // For session_config::connector: a new connection; its login is answered
    // in the target's turns and closes every older connection (ERL 0
    // session reinstatement: their tasks are gone).
    int connect();
    // One turn of every connection; true when anything was read or sent.
    bool step();
    // Neither side moves: the target does what a real one does after a while
    // (reopens a window it closed, drops a connection whose initiator ignored
    // an async event); true when it did something.
    bool on_quiescent();

    // The fault of the run and its victim.
    void plan_fault(fault_kind k, bool persistent, std::uint64_t detail_seed);
    void arm(const command_key& victim);
    void disarm();
    unsigned fired() const noexcept;

    std::span<const std::byte> lun_bytes(std::uint16_t lun, std::uint64_t lba, std::uint32_t blocks) const;
    const execution* executed(const command_key& k) const;
    void forget(const command_key& k);

    const std::vector<finding>& findings() const noexcept;
    unsigned logins() const noexcept;
    // One line per PDU in and out, and what the target decides, to `sink`
    // (empty: no trace). For replays.
    void set_trace(std::function<void(const std::string&)> sink);

    struct impl;

private:
    std::unique_ptr<impl> impl_;
};

} // namespace ivs::test::chaos
