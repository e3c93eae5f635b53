// A scripted fake iSCSI target for unit tests of the session layer: it owns one
// end of a socketpair, runs a script (a function written in the test) on its
// own thread with blocking, time-limited I/O, and records every PDU the
// initiator sent. It produces what a real target rarely does on demand:
// split responses, redirects, rejects, async events, protocol violations.
//
//   scripted_target t;
//   cfg.connector = [&](const iscsi::portal&) { return t.take_initiator_fd(); };
//   t.run([](scripted_target& t) {
//       t.login();
//       auto cmd = t.expect(pdu::opcode::scsi_command);
//       t.send_status(cmd.itt(), 0x00);
//   });
//   h.run_until([&] { return t.finished(); });
//   CHECK(t.join() == "");            // "" or why the script failed
//
// Every read and write waits at most io_limit, so a failing test cannot hang.
// Sequence numbers follow RFC 7143 §4.2.2 as a real target keeps them: the
// target tracks ExpCmdSN from the commands it receives, offers MaxCmdSN =
// ExpCmdSN + window - 1 (or a fixed value), and numbers each status-bearing
// PDU with the next StatSN. A non-immediate command it rejects (any Reject a
// script sends carrying such a command's header) is not counted as received
// (§7.3): ExpCmdSN stays at that CmdSN, so the window stops moving, until the
// initiator plugs the hole with an ABORT TASK whose RefCmdSN names it
// (§11.5.1) or sends a command with that CmdSN again.
#pragma once

#include "pdu/initiator_pdus.hpp"
#include "pdu/opcode.hpp"
#include "pdu/reader.hpp"
#include "pdu/target_pdus.hpp"
#include "pdu/text.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace ivs::test {

// Thrown inside a script when the initiator does something the script did
// not expect; ends the script and becomes join()'s result.
struct script_failure : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// One PDU the initiator sent, copied out of the reader.
struct received_pdu {
    pdu::bhs_bytes bhs{};
    std::vector<std::byte> ahs;
    std::vector<std::byte> data;

    pdu::opcode op() const noexcept { return static_cast<pdu::opcode>(pdu::raw_opcode(bhs)); }
    bool immediate() const noexcept;
    bool final_bit() const noexcept;
    std::uint32_t itt() const noexcept;         // bytes 16..19
    std::uint32_t ttt() const noexcept;         // bytes 20..23 (NOP-Out, Text, Data-Out)
    std::uint32_t cmd_sn() const noexcept;      // bytes 24..27 (not Data-Out)
    std::uint32_t exp_stat_sn() const noexcept; // bytes 28..31
    bool carries_cmd_sn() const noexcept;       // every initiator PDU but Data-Out and SNACK
    std::string data_string() const { return {reinterpret_cast<const char*>(data.data()), data.size()}; }

    // Typed views; a malformed header throws script_failure.
    template <class T>
    T as() const
    {
        T out;
        if (auto ec = T::decode(bhs, out))
            throw script_failure("cannot decode " + describe() + ": " + ec.message());
        return out;
    }
    pdu::scsi_command command() const;
    pdu::text_list text() const; // the data segment as key=value pairs
    std::string describe() const;
};

// What login() answers (RFC 7143 §6.3, §13). Operational keys the initiator
// offers and `operational` does not list are echoed back, which is a valid
// answer under every result function.
struct login_script {
    std::uint16_t tsih = 0x0101;
    std::uint32_t first_stat_sn = 0x2000;
    // tgtd's usual answers and declarations.
    pdu::text_list operational = {
        {"HeaderDigest", "None"},     {"DataDigest", "None"},
        {"InitialR2T", "Yes"},        {"ImmediateData", "Yes"},
        {"MaxBurstLength", "262144"}, {"FirstBurstLength", "65536"},
        {"MaxOutstandingR2T", "1"},   {"ErrorRecoveryLevel", "0"},
        {"MaxConnections", "1"},      {"MaxRecvDataSegmentLength", "8192"}, // the target's declaration
    };
    // Above 0: the final operational answer goes out in pieces of at most this
    // many bytes with the C bit (§6.1), each after the initiator's empty request.
    std::size_t max_response_text = 0;
};

class scripted_target {
public:
    using script = std::function<void(scripted_target&)>;
    static constexpr std::chrono::milliseconds io_limit{5000};

    scripted_target(); // creates the socketpair
    ~scripted_target();
    scripted_target(const scripted_target&) = delete;
    scripted_target& operator=(const scripted_target&) = delete;

    // The initiator's end, for session_config::connector: handed out once;
    // later calls return -1 with errno ECONNREFUSED.
    int take_initiator_fd();
    bool fd_taken() const noexcept { return initiator_fd_taken_; }

    // Starts the script on the target thread.
    void run(script s);
    // The script returned or failed.
    bool finished() const noexcept { return finished_.load(); }
    // Waits for the thread (bounded by the I/O limits) and returns "" when the
    // script ran to its end, else why it failed.
    std::string join();

    // Everything received so far (any thread).
    std::vector<received_pdu> received() const;
    std::size_t received_count() const;

    // ---- inside a script ----

    // The next PDU from the initiator (io_limit); script_failure on EOF,
    // timeout, framing error, or a CmdSN outside the window.
    received_pdu next();
    // next(), failing unless it has opcode `op`.
    received_pdu expect(pdu::opcode op);
    // next() without failing: the next PDU if one completes within `wait`
    // (zero: only what has arrived already), else nullopt (also once the
    // initiator closed: peer_closed()). For scripts that poll.
    std::optional<received_pdu> try_next(std::chrono::milliseconds wait = std::chrono::milliseconds(0));
    // The initiator closed its end (seen while reading).
    bool peer_closed() const noexcept { return peer_closed_; }
    // false: next() and try_next() leave ExpCmdSN and the window to the
    // script, which orders commands by CmdSN itself as a real target does
    // (e.g. a rejected command's CmdSN stays a hole, §4.2.2.1); ExpStatSN is
    // still checked.
    bool count_cmd_sn = true;
    // Fails if a PDU arrives within `quiet` (or the connection closes).
    void expect_silence(std::chrono::milliseconds quiet);
    // Waits until the initiator closes the connection; fails on any PDU.
    void expect_closed();
    // Waits until the initiator closes the connection, dropping whatever
    // PDUs it still sends (those it queued before it saw the fault).
    void drain_until_closed();
    [[noreturn]] void fail(const std::string& why) { throw script_failure(why); }

    void send_raw(const pdu::bhs_bytes& bhs, std::span<const std::byte> data = {});
    // Bytes as they are, unframed (garbage, lying lengths).
    void send_bytes(std::span<const std::byte> bytes);
    template <class T>
    void send(const T& p, std::span<const std::byte> data = {})
    {
        pdu::bhs_bytes bhs;
        p.encode(bhs);
        send_raw(bhs, data);
    }
    // Closes the target's end (the initiator sees EOF).
    void close();

    // Sequence numbers (§4.2.2).
    std::uint32_t stat_sn = 0;    // the next StatSN to send
    std::uint32_t exp_cmd_sn = 1; // updated by next() from received commands
    std::uint32_t window = 32;    // MaxCmdSN = ExpCmdSN + window - 1
    std::optional<std::uint32_t> fixed_max_cmd_sn;
    std::uint32_t max_cmd_sn() const noexcept;
    // max_cmd_sn(), remembered as advertised: next() fails on a command
    // beyond the highest MaxCmdSN ever sent.
    std::uint32_t advertise_max_cmd_sn() noexcept;
    std::uint32_t take_stat_sn() noexcept { return stat_sn++; }
    // CmdSNs rejected and not plugged yet: ExpCmdSN is the lowest of them.
    std::size_t cmd_sn_holes() const noexcept { return holes_.size(); }
    std::uint32_t mrdsl = 8192; // the target's declared MaxRecvDataSegmentLength

    // Fills ExpCmdSN/MaxCmdSN and StatSN (the next one, consumed when `status`).
    // The MaxCmdSN counts as advertised once the PDU is sent.
    template <class T>
    void stamp(T& p, bool status)
    {
        p.stat_sn = status ? take_stat_sn() : stat_sn;
        p.exp_cmd_sn = exp_cmd_sn;
        p.max_cmd_sn = max_cmd_sn();
    }

    // ---- canned exchanges ----

    // Answers Login Requests until the full feature phase: the security stage
    // with AuthMethod=None, the operational stage with `ls`. Returns every
    // Login Request received. Checks ITT, ISID, CmdSN and ExpStatSN as it goes.
    std::vector<received_pdu> login(const login_script& ls = {});
    // Answers the next Login Request with an error or redirect status (class,
    // detail) and `keys` (e.g. TargetAddress); returns that request.
    received_pdu login_status(std::uint8_t status_class, std::uint8_t status_detail, const pdu::text_list& keys = {});
    // Expects a Logout Request, answers it, waits for the close.
    void logout();
    // For scripts that answer the login themselves: from now on the
    // initiator's PDUs are checked as in the full feature phase and its data
    // segments are bounded by `target_mrdsl` (our declaration, §13.12).
    void enter_full_feature(std::uint32_t target_mrdsl);
    // Answers the Logout Request `p`, waits for the close.
    void answer_logout(const received_pdu& p);
    // Expects a Task Management Function Request (§11.5) and answers it;
    // returns the request.
    pdu::task_mgmt_request answer_tmf(pdu::tmf_response response = pdu::tmf_response::function_complete);

    // SCSI Response (§11.4) to `itt`; `sense` becomes a SenseLength-prefixed segment.
    void send_status(std::uint32_t itt, std::uint8_t status, std::span<const std::byte> sense = {},
                     std::uint32_t underflow = 0);
    // One Data-In PDU (§11.7); with `status` the S and F bits carry status 0 and
    // `underflow` as the residual.
    void send_data_in(std::uint32_t itt, std::uint32_t data_sn, std::uint32_t offset, std::span<const std::byte> data,
                      bool status = false, std::uint32_t underflow = 0);
    // Only the header of a Data-In announcing `length` bytes (F set, S as
    // `status`); the case sends the segment, or part of it, with send_bytes.
    void send_data_in_header(std::uint32_t itt, std::uint32_t data_sn, std::uint32_t offset, std::uint32_t length,
                             bool status);
    void send_r2t(std::uint32_t itt, std::uint32_t ttt, std::uint32_t r2t_sn, std::uint32_t offset,
                  std::uint32_t length);
    // Receives the Data-Out PDUs of one sequence (up to the F bit) for `itt`
    // and `ttt`, checks DataSN from 0, contiguous offsets from `offset`, the
    // segment bound (mrdsl), and returns the data.
    std::vector<std::byte> collect_data_out(std::uint32_t itt, std::uint32_t ttt, std::uint32_t offset,
                                            std::uint32_t length);

private:
    void thread_main(script s);
    enum class read_result { got_pdu, timeout, closed };
    // Reads once (until `deadline`) and queues the PDUs that completed.
    read_result read_some(std::chrono::steady_clock::time_point deadline);
    void check_received(const received_pdu& p);
    received_pdu take_pending(); // the oldest queued PDU, checked
    std::chrono::milliseconds remaining(std::chrono::steady_clock::time_point deadline) const;

    int target_fd_ = -1;
    int initiator_fd_ = -1;
    bool initiator_fd_taken_ = false;
    bool peer_closed_ = false;
    bool in_full_feature_ = false;
    std::optional<std::uint32_t> advertised_max_;
    std::uint32_t next_cmd_sn_ = 1;                    // the CmdSN the next PDU on the connection carries
    std::vector<std::uint32_t> holes_;                 // rejected non-immediate CmdSNs (§7.3)
    void update_exp_cmd_sn();                          // ExpCmdSN: the lowest hole, else next_cmd_sn_
    void note_reject(std::span<const std::byte> data); // a Reject we send: its command is not counted

    pdu::pdu_reader reader_;
    std::deque<received_pdu> pending_;
    std::vector<std::byte> rx_;

    std::thread thread_;
    std::atomic<bool> finished_{false};
    std::string failure_;
    mutable std::mutex mutex_;
    std::vector<received_pdu> log_;
};

// Fixed-format sense data (SPC-4 §4.5.3): response code 0x70, key, ASC, ASCQ.
std::vector<std::byte> fixed_sense(std::uint8_t key, std::uint8_t asc, std::uint8_t ascq);
// A SenseLength-prefixed data segment (§11.4.7.2) holding `sense`.
std::vector<std::byte> sense_segment(std::span<const std::byte> sense);
std::vector<std::byte> text_bytes(const pdu::text_list& keys);

} // namespace ivs::test
