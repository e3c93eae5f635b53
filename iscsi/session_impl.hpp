// Internals of iscsi::session, shared by session.cpp (life cycle: connect,
// login, logout, recovery, driven by the transition table of
// session_state.hpp), session_io.cpp (full feature phase PDUs) and
// session_timers.cpp (keepalive and timeouts).
#pragma once

#include "iscsi/clock.hpp"
#include "iscsi/connection.hpp"
#include "iscsi/login.hpp"
#include "iscsi/session.hpp"
#include "iscsi/session_error.hpp"
#include "iscsi/session_state.hpp"
#include "iscsi/task_table.hpp"
#include "pdu/serial.hpp"
#include "pdu/text.hpp"

#include <deque>
#include <optional>
#include <random>
#include <variant>

namespace ivs::iscsi {

// ---- tasks by kind (RFC 7143 §11.2.1.8: one Initiator Task Tag each) ----

// A SCSI command (§11.3) and its data (§11.7, §11.8).
struct scsi_task {
    scsi_request request;
    scsi_completion done;
    scsi_result result;
    // Data-In (§11.7): with DataPDUInOrder=Yes every segment starts where
    // the previous one ended, so the bytes that landed are [0, received).
    std::uint32_t next_data_sn = 0;      // DataSN expected next (§11.7.5)
    std::uint32_t received = 0;          // bytes landed, the Buffer Offset expected next
    std::span<std::byte> landing;        // where the Data-In segment under way lands
    bool landing_lent = false;           // ... in memory the request's lease lent
    std::span<const std::byte> data_out; // WRITE: what Data-Out is sent from (write_buffer, or the lease's)
    std::uint32_t next_r2t_sn = 0;       // R2TSN expected next (§11.8.5)
    std::uint32_t r2t_bytes = 0;         // bytes R2Ts asked for so far
    std::uint32_t data_out_bytes = 0;    // bytes sent unsolicited or asked for by R2Ts
    std::uint32_t writes_pending = 0;    // PDUs queued that reference the caller's buffers
    bool response_ready = false;         // status arrived while writes were pending
    // Liveness (session_config::command_timeout, max_reissues).
    clock::time_point progress_at{};  // submitted, or the last Data-In, R2T; not a reissue
    std::uint8_t escalation = 0;      // 1 ABORT TASK sent, 2 LUN RESET sent (this connection)
    clock::time_point escalated_at{}; // when that TMF went out
    unsigned reissues = 0;            // times reissued after its connection failed
    bool went_out = false;            // sent once: its first send is progress, a reissue is none
    // Outstanding with others when a connection failed for no reason the
    // session could pin on one of them: reissued one at a time (see
    // connection_lost).
    bool suspect = false;
};

// A task management function (§11.5).
// Each non-SCSI task has a deadline; past it, the caller is told (timeout)
// and the task stays, without a caller, to absorb a late answer.
struct tmf_task {
    pdu::task_mgmt_request request{};
    session::tmf_completion done;
    bool ref_cmd_sn_known = false; // request.ref_cmd_sn set already (not looked up at send)
    clock::time_point deadline{};
};

// A NOP-Out ping (§11.18) answered by a NOP-In.
struct nop_task {
    std::function<void(std::error_code)> done;
    clock::time_point deadline{};
};

// A Text Request and the Text Responses answering it (§11.10, §11.11).
struct text_task {
    std::function<void(std::error_code, const pdu::text_list&)> done;
    std::vector<std::byte> request;
    pdu::text_reassembler answer{pdu::discovery_limits()};
    std::uint32_t continue_ttt = pdu::reserved_tag; // set: the next request asks for the rest (§11.10.4)
    clock::time_point deadline{};
};

// A Logout Request (§11.14).
struct logout_task {
    std::function<void(std::error_code)> done;
};

using task_work = std::variant<scsi_task, tmf_task, nop_task, text_task, logout_task>;

struct session_task {
    bool in_use = false;
    std::uint32_t itt = 0;
    std::uint32_t cmd_sn = 0;
    bool sent = false;      // the PDU went to the connection
    bool immediate = false; // I bit: does not take a CmdSN (§4.2.2.1)
    task_work work;

    template <class Kind>
    Kind* as() noexcept
    {
        return std::get_if<Kind>(&work);
    }
};

// The session's side of a buffer_lease: the command it is lent to. Set when
// the command is accepted, cleared before its completion runs.
struct lease_link {
    static void bind(buffer_lease& l, std::weak_ptr<void> session, std::uint32_t itt)
    {
        l.session_ = std::move(session);
        l.task_tag_ = itt;
    }
    static void unbind(buffer_lease& l) noexcept { l.session_.reset(); }
};

class session::impl final : public connection_receiver, public std::enable_shared_from_this<session::impl> {
public:
    impl(boost::asio::io_context& io, session_config config);

    // ---- life cycle (session.cpp) ----
    void start(std::function<void(std::error_code, const std::string&)> done);
    void logout(std::function<void(std::error_code)> done);
    void shutdown();
    // Looks up the move for `on`, logs it and sets the new state; false (and
    // nothing changes) when the event does not apply in this state.
    bool fire(session_event_input on, std::error_code why = {});
    bool can_reinstate() const noexcept { return config_.recover && ever_logged_in_; }
    void connect();
    void connected(std::shared_ptr<connection> conn);
    void connect_failed(std::error_code ec, const std::string& message);
    void login_failed(std::error_code ec, std::string message); // message by value: it may live in login_
    void after_login_failure(std::error_code ec, const std::string& message);
    void enter_full_feature();
    void connection_lost(std::error_code ec);
    void schedule_reconnect(std::chrono::milliseconds delay);
    void retry_later(); // a reconnect attempt failed: capped exponential backoff
    void replacement_timed_out();
    void drop_connection(std::error_code ec); // during login: close it, no callbacks
    void fail_all(std::error_code ec);
    void emit(session_event::kind what, std::error_code ec);
    void log_line(log::level level, std::string_view line) const;
    void log_warning(const char* what, std::error_code ec) const;

    // ---- keepalive and command timeouts (session_timers.cpp) ----
    void start_ticks();
    void reset_keepalive(); // a new connection: no ping pending, silence from now
    void on_timer_tick();
    void check_keepalive(clock::time_point now);
    void check_command_timeouts(clock::time_point now);
    void check_task_deadlines(clock::time_point now);
    void escalate(session_task& t, scsi_task& s);
    void progress(scsi_task& s) { s.progress_at = clock_->now(); }
    clock::time_point deadline_after(std::chrono::milliseconds d) const
    {
        return d.count() > 0 ? clock_->now() + d : clock::time_point::max();
    }

    // ---- full feature phase (session_io.cpp) ----
    void submit(const scsi_request& request, scsi_completion done);
    void submit_tmf(pdu::tmf_function fn, std::uint64_t lun, std::uint32_t ref_itt, tmf_completion done);
    void abort_task(std::uint32_t itt, tmf_completion done);
    void withdraw(std::uint32_t itt, buffer_lease& lease); // buffer_lease::withdraw
    // Data-Out [offset, offset + length) of `s`, or false (nothing sent, the
    // connection dropped) when the memory lent for it is too short.
    bool data_out_available(session_task& t, scsi_task& s, std::uint32_t offset, std::uint32_t length);
    void plug_cmd_sn_hole(std::uint32_t itt, std::uint32_t cmd_sn, std::uint64_t lun);
    void logout_requested(std::chrono::seconds within);
    void renegotiate();
    void ping(std::function<void(std::error_code)> done);
    void send_targets(std::function<void(std::error_code, const pdu::text_list&)> done);
    void send_logout(std::function<void(std::error_code)> done);
    bool can_send() const noexcept;
    void pump(); // sends waiting tasks while the window is open
    void send_task(session_task& t);
    void send_scsi(session_task& t, scsi_task& s);
    void send_data_out(session_task& t, scsi_task& s, std::uint32_t ttt, std::uint32_t offset, std::uint32_t length);
    void send_text(session_task& t, std::uint32_t ttt, std::span<const std::byte> data);
    void complete_scsi(session_task& t, scsi_task& s);
    void finish_task(session_task& t, std::error_code ec);
    // Drops the connection for a protocol error; `culprit` names the task
    // whose PDUs broke the protocol (reissued last; see connection_lost).
    void protocol_failure(std::error_code ec, const char* what, std::uint32_t culprit = pdu::reserved_tag);
    std::error_code check_data_in(const pdu::data_in& d, session_task*& t, scsi_task*& s, const char*& what);
    std::error_code check_transfer(const scsi_task& s, std::uint8_t status, bool underflow, bool overflow,
                                   std::uint32_t residual) const;
    // false: the numbers broke the protocol and the connection is dropped.
    [[nodiscard]] bool update_sn(std::uint32_t exp_cmd_sn, std::uint32_t max_cmd_sn);
    bool accept_stat_sn(std::uint32_t stat_sn);
    bool window_open() const noexcept;
    std::uint32_t next_cmd_sn(bool immediate);

    void on_login_response(const pdu::bhs_bytes& bhs, std::span<const std::byte> data);
    void on_scsi_response(const pdu::bhs_bytes& bhs, std::span<const std::byte> data);
    void on_data_in(const pdu::data_in& d, bool checked);
    void on_r2t(const pdu::bhs_bytes& bhs);
    void on_nop_in(const pdu::bhs_bytes& bhs, std::span<const std::byte> data);
    void on_text_response(const pdu::bhs_bytes& bhs, std::span<const std::byte> data);
    void on_tmf_response(const pdu::bhs_bytes& bhs);
    void on_logout_response(const pdu::bhs_bytes& bhs);
    void on_async_message(const pdu::bhs_bytes& bhs, std::span<const std::byte> data);
    void on_reject(const pdu::bhs_bytes& bhs, std::span<const std::byte> data);

    // connection_receiver
    destination data_destination(const pdu::bhs_bytes& bhs, std::uint32_t length) override;
    void on_pdu(const pdu::bhs_bytes& bhs, std::span<const std::byte> ahs, std::span<const std::byte> data) override;
    void on_sent(std::uint64_t cookie) override;
    void on_closed(std::error_code ec) override;

    boost::asio::io_context& io_;
    session_config config_;
    std::shared_ptr<clock> clock_;
    session_state state_ = session_state::idle;
    std::shared_ptr<connection> conn_;
    std::shared_ptr<impl> keep_alive_; // held while a connection runs
    one_shot_timer timer_;             // login timeout, reconnect delay, logout timeout
    one_shot_timer replacement_timer_;

    std::optional<login_machine> login_;
    portal current_portal_;
    portal home_portal_; // where recovery reconnects: the configured portal, or a permanent redirect's (§11.13.5)
    unsigned redirects_ = 0;
    bool ever_logged_in_ = false;
    bool md5_retried_ = false;         // the one login retry offering CHAP_A MD5 alone is used
    bool replacement_expired_ = false; // recovery gave up: new commands fail until a login succeeds
    session_params params_{};
    std::uint16_t tsih_ = 0;
    std::function<void(std::error_code, const std::string&)> start_done_;
    std::function<void(std::error_code)> logout_done_;
    std::function<void(const session_event&)> event_handler_;

    // sequence numbers (§4.2.2)
    pdu::serial32 cmd_sn_{1};
    pdu::serial32 exp_cmd_sn_{1};
    pdu::serial32 max_cmd_sn_{1};
    pdu::serial32 exp_stat_sn_{0};

    task_table<session_task> tasks_{4096};
    std::deque<std::uint32_t> waiting_; // ITTs waiting for the CmdSN window or a login
    std::uint32_t last_itt_ = pdu::reserved_tag;
    // The Data-In header data_destination() decoded, used by on_pdu() for
    // the same PDU (one decode per PDU).
    std::optional<pdu::data_in> rx_data_in_;
    // The task a PDU that broke the protocol on this connection named
    // (reserved tag: none, the connection just failed).
    std::uint32_t culprit_itt_ = pdu::reserved_tag;
    // Suspects wait to be reissued: one SCSI command outstanding at a time
    // until none is left (connection_lost, pump).
    bool isolating_ = false;
    bool isolation_holds(); // isolating_, ended when no suspect is left
    unsigned reconnect_attempt_ = 0;
    std::minstd_rand rng_{std::random_device{}()};
    std::chrono::milliseconds next_reconnect_delay_{0};
    session_counters counters_{};

    one_shot_timer tick_timer_; // from start() to shutdown, in every state
    std::uint64_t last_rx_bytes_ = 0;
    clock::time_point last_rx_time_{};
    bool nop_pending_ = false;
    clock::time_point nop_sent_{};
};

std::uint64_t task_cookie(std::uint32_t itt) noexcept;

} // namespace ivs::iscsi
