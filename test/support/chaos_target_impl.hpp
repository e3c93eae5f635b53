// Internals of the chaos target shared by chaos_target.cpp (connections,
// CmdSN ordering, sending), chaos_login.cpp, chaos_control.cpp (task
// management, NOP, Text, Logout, the PDUs faults add) and chaos_scsi.cpp
// (SCSI commands, Data-In, R2T and Data-Out).
#pragma once

#include "test/support/chaos_target.hpp"
#include "pdu/serial.hpp"
#include "pdu/text.hpp"
#include "test/support/scripted_target.hpp"

#include <deque>

namespace ivs::test::chaos {

struct chaos_task {
    std::uint32_t itt = 0;
    std::uint32_t cmd_sn = 0;
    pdu::scsi_command cmd;
    command_key key;
    bool victim = false;  // the fault applies to this execution
    bool counted = false; // holds a place in the window (chaos_connection::active)
    bool stalled = false; // never answered (until task management ends it)
    // WRITE
    std::vector<std::byte> data; // EDTL bytes
    std::uint32_t needed = 0;    // bytes the target collects (EDTL, less for an honest underflow)
    std::uint32_t received = 0;
    std::uint32_t unsolicited_end = 0;  // immediate data + unsolicited Data-Out end here
    std::uint32_t unsolicited_next = 0; // next unsolicited offset
    std::uint32_t unsolicited_sn = 0;   // next unsolicited DataSN
    std::uint32_t next_r2t_offset = 0;
    std::uint32_t next_r2t_sn = 0;
    unsigned r2ts_sent = 0;
    struct burst {
        std::uint32_t ttt, offset, length, got, next_sn;
    };
    std::vector<burst> bursts; // outstanding R2Ts
    bool r2t_fault_done = false;
    bool data_rejected = false; // a Data-Out was rejected: the rest is dropped
    bool status_sent = false;   // GOOD went out before the data (write_status_early)
};

struct chaos_connection {
    std::unique_ptr<scripted_target> link;
    bool logging_in = true;
    bool login_started = false;
    pdu::login_request login_first{}; // ITT, ISID, CmdSN of the whole login
    pdu::text_reassembler login_text; // the initiator's text, across C=1 pieces
    bool sent_tpgt = false;
    bool closed = false;
    bool black_hole = false; // reads and drops everything, sends nothing
    bool faulted = false;    // a fault fired here: the initiator's answers are not judged
    bool close_after_flush = false;
    std::uint32_t initiator_mrdsl = 8192;
    std::uint32_t accept_max = 0; // highest MaxCmdSN advertised
    std::uint32_t sent_max = 0;   // MaxCmdSN of the last PDU sent
    std::uint32_t active = 0;     // delivered SCSI commands not answered yet
    std::uint32_t next_ttt = 0x100;
    std::vector<received_pdu> held;            // non-immediate PDUs waiting for their CmdSN turn
    std::map<std::uint32_t, chaos_task> tasks; // by ITT
    std::vector<std::uint32_t> ready;          // delivered, to execute at the end of the turn
    std::deque<out_pdu> outq;
    bool logout_expected = false;          // AsyncEvent 1 queued
    bool renegotiation_expected = false;   // AsyncEvent 4 queued
    std::optional<std::uint32_t> ping_ttt; // a target ping (NOP-In with this TTT) queued
    bool asked = false;                    // ... and sent
    unsigned turns_since_asked = 0;        // turns with traffic from the initiator since
    bool logout_received = false;
    unsigned index = 0;
};

struct chaos_target::impl {
    impl(std::uint32_t run_, const target_params& p, std::uint64_t seed, unsigned luns, std::uint64_t lun_blocks);

    std::uint32_t run;
    target_params params;
    rng random;
    std::uint64_t lun_blocks;
    // The LUNs' bytes; a block holds its initial contents (generation 0)
    // from the first time it is looked at. Filling, even zeroing, them all up
    // front costs more than most runs.
    struct lun_store {
        std::unique_ptr<std::byte[]> bytes; // uninitialised until ready
        std::vector<bool> ready;
    };
    mutable std::vector<lun_store> luns;
    std::vector<std::unique_ptr<chaos_connection>> conns;
    std::map<command_key, execution> executions;
    std::vector<finding> findings;
    std::function<void(const std::string&)> trace;
    bool tracing = false;

    // the fault
    std::optional<fault_kind> kind;
    bool persistent = false;
    rng fault_random{0};
    std::optional<command_key> victim;
    unsigned fired = 0;

    // chaos_target.cpp: a turn, CmdSN order, sending, findings
    bool step(chaos_connection& c);
    void handle(chaos_connection& c, received_pdu p);
    void deliver_in_order(chaos_connection& c);
    bool deliver(chaos_connection& c, const received_pdu& p); // false: CmdSN not counted
    void close(chaos_connection& c, const std::string& why);
    bool flush(chaos_connection& c);
    void enqueue(chaos_connection& c, out_pdu p);
    // The initiator broke the protocol: a finding unless a fault fired on the
    // connection already; a real target drops the connection (drop).
    void violation(chaos_connection& c, const std::string& what, bool drop = true);
    // The initiator ignored what an async event asked of it: always a finding.
    void obligation(chaos_connection& c, const std::string& what);
    std::uint32_t window_max(const chaos_connection& c) const;
    // A PDU with ExpCmdSN, MaxCmdSN and StatSN filled in (the next StatSN,
    // taken when `status`), ready to send.
    template <class T>
    out_pdu make(chaos_connection& c, T& p, bool status, std::vector<std::byte> data = {})
    {
        const std::uint32_t max = window_max(c);
        c.link->fixed_max_cmd_sn = max;
        c.link->stamp(p, status);
        if (pdu::sn_gt(max, c.accept_max))
            c.accept_max = max;
        out_pdu o;
        p.encode(o.bhs);
        o.set_data(std::move(data));
        return o;
    }
    // The initiator has not answered an async event's request or a ping: a
    // finding, and the drop a real target does (Parameter3 expired). False
    // when nothing is pending.
    bool check_answers(chaos_connection& c);
    static bool awaits_answer(const chaos_connection& c)
    {
        return c.logout_expected || c.renegotiation_expected || c.ping_ttt;
    }
    void fire(chaos_connection& c, const char* where);
    void log(const chaos_connection& c, const std::string& line);
    std::optional<std::uint32_t> other_read_itt(const chaos_connection& c, std::uint32_t not_this) const;
    // `bytes` from block `lba` on (whole blocks made ready).
    std::span<std::byte> lun_range(std::uint16_t lun, std::uint64_t lba, std::uint32_t bytes) const;

    // chaos_login.cpp
    void on_login(chaos_connection& c, const received_pdu& p);
    pdu::text_list operational_keys() const;

    // chaos_control.cpp: task management, NOP, Text, Logout, added PDUs
    void on_tmf(chaos_connection& c, const received_pdu& p);
    void remove_task(chaos_connection& c, std::uint32_t itt);
    void on_nop_out(chaos_connection& c, const received_pdu& p);
    void on_text(chaos_connection& c, const received_pdu& p);
    void on_logout(chaos_connection& c, const received_pdu& p);
    void inject(chaos_connection& c, const chaos_task& t); // command-phase faults that add PDUs
    void send_reject(chaos_connection& c, std::uint8_t reason, std::span<const std::byte> rejected);

    // chaos_scsi.cpp
    bool deliver_command(chaos_connection& c, const received_pdu& p);
    void execute(chaos_connection& c, chaos_task& t);
    void execute_read(chaos_connection& c, chaos_task& t);
    void start_write(chaos_connection& c, chaos_task& t, const received_pdu& p);
    void issue_r2ts(chaos_connection& c, chaos_task& t);
    void on_data_out(chaos_connection& c, const received_pdu& p);
    void finish_write(chaos_connection& c, chaos_task& t);
    void respond(chaos_connection& c, chaos_task& t, std::uint8_t status, std::span<const std::byte> sense = {},
                 std::uint8_t response = 0);
    void respond_data(chaos_connection& c, chaos_task& t, std::span<const std::byte> data);
    bool execute_ready(chaos_connection& c);
};

} // namespace ivs::test::chaos
