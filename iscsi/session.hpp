// An iSCSI session in the full feature phase (RFC 7143 §3.4, §4.2): the API
// the bridge and the command line use. Single-threaded: every call and every
// callback happens on the io_context's thread. No Asio in this header.
#pragma once

#include "iscsi/buffer_lease.hpp"
#include "iscsi/clock.hpp"
#include "iscsi/params.hpp"
#include "log/log.hpp"
#include "pdu/initiator_pdus.hpp"
#include "pdu/target_pdus.hpp"
#include "pdu/text.hpp"

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <system_error>

namespace boost::asio {
class io_context;
}

namespace ivs::iscsi {

struct portal {
    std::string host; // name, IPv4 or IPv6 literal (no brackets)
    std::string port = "3260";
};

// "host", "host:port", "[v6]", "[v6]:port", "v6" (no port). False when malformed.
bool parse_portal(std::string_view text, portal& out);
std::string format_portal(const portal& p);

struct session_config {
    portal target_portal;
    // The local address every connection of the session (the first, one
    // after a redirect, one of recovery) is bound to before it connects: an
    // IPv4 or IPv6 literal (iscsi.conf(5)'s initiatoraddr). Empty: the
    // system chooses. Only the target's addresses of its family are tried;
    // failing to bind fails the connect, naming the address.
    std::string local_address;
    login_config login;
    std::chrono::milliseconds connect_timeout{10000};
    std::chrono::milliseconds login_timeout{15000};
    std::chrono::milliseconds logout_timeout{5000};
    // ERL 0 recovery (RFC 7143 §6.3.5): reconnect and reissue outstanding
    // commands; give up and fail them after this long.
    bool recover = true;
    std::chrono::milliseconds replacement_timeout{120000};
    // A command alone outstanding when its connection fails is reissued at
    // most this many times; the next such failure ends it with
    // reissue_limit (the caller may retry it). A failure with several
    // outstanding charges none of them, not even one a bad PDU named: they
    // are reissued one at a time until each has completed or failed alone.
    unsigned max_reissues = 3;
    unsigned max_redirects = 8;
    // NOP-Out keepalive (§11.18): ping after this long without receiving
    // anything; the connection is dead when nothing at all arrives for
    // nop_timeout after the ping. Zero disables.
    std::chrono::milliseconds nop_interval{5000};
    std::chrono::milliseconds nop_timeout{5000};
    // A SCSI command without progress (its first send, a Data-In that
    // landed, an R2T, its status; a reissue is none) for this long ends: at
    // once with command_timeout when it is not on a live connection (waiting
    // for a reconnect or for the CmdSN window; not while the window waits
    // for a command being aborted), else by ABORT TASK, then LOGICAL UNIT
    // RESET, then dropping the connection and failing it with
    // command_timeout (§4.2.3, §7.11). So a command the target breaks every
    // time fails within this long. Zero disables.
    std::chrono::milliseconds command_timeout{60000};
    // A task management function (ours or the caller's) unanswered this
    // long completes with timeout and the escalation above moves on; a Text
    // Request or a caller's ping unanswered for command_timeout likewise.
    std::chrono::milliseconds tmf_timeout{10000};
    // Replaces TCP: returns a connected stream socket's fd for the portal, or
    // -1 with errno set (tests hand in one end of a socketpair).
    std::function<int(const portal&)> connector;
    // Time and timers; empty: the steady clock with timers on the session's
    // io_context. Tests hand in a clock they advance themselves.
    std::shared_ptr<iscsi::clock> clock;
    // Where the session's log lines go (warnings: a target misbehaving, a
    // connection lost; debug: every state transition).
    log::sink log;
};

enum class data_direction : std::uint8_t { none, read, write };

// A SCSI command as the caller hands it over. The buffers belong to the
// caller and must stay valid until the completion runs.
struct scsi_request {
    std::uint64_t lun = 0; // remote LUN number
    std::array<std::byte, pdu::max_cdb_size> cdb{};
    std::uint16_t cdb_length = 0;
    data_direction direction = data_direction::none;
    std::span<std::byte> read_buffer;        // direction read: Data-In lands here
    std::span<const std::byte> write_buffer; // direction write: data sent from here (without a lease)
    std::uint32_t expected_length = 0;       // Expected Data Transfer Length
    pdu::task_attribute attribute = pdu::task_attribute::simple;
    // Optional zero copy (iscsi/buffer_lease.hpp): READ segments may land
    // where the lease says instead of read_buffer, which still bounds each
    // of them, and the lease hears of every segment that landed; a WRITE
    // sends from the lease's data_out(). The caller may take that memory
    // back (withdraw) before the completion. Valid until the completion runs.
    buffer_lease* lease = nullptr;

    void set_cdb(std::span<const std::byte> bytes);
};

struct scsi_result {
    // Set: no SCSI status (transport or session failure). Decide by
    // iscsi::session_condition (session_error.hpp), e.g. retryable.
    std::error_code error;
    std::uint8_t response = 0; // iSCSI response (§11.4.3); 0 = command completed
    std::uint8_t status = 0;   // SCSI status (GOOD 0x00, CHECK CONDITION 0x02, ...)
    std::uint16_t sense_length = 0;
    std::array<std::byte, 252> sense{};
    bool residual_overflow = false;
    bool residual_underflow = false;
    std::uint32_t residual = 0;
    std::uint32_t data_in_bytes = 0; // bytes of Data-In received

    // The sense bytes as the target sent them (§11.4.7.2); iscsi/ does not
    // read them (bridge/sense.hpp does).
    std::span<const std::byte> sense_data() const noexcept { return {sense.data(), sense_length}; }
    // Completed by the target with status GOOD.
    bool good() const noexcept { return !error && response == 0 && status == 0; }
};

using scsi_completion = std::function<void(const scsi_result&)>;

// An event the target announced (Asynchronous Message, §11.9) that the caller
// acts on: SCSI async events (e.g. sense 3F/0E REPORTED LUNS DATA HAS CHANGED)
// and session state changes.
struct session_event {
    enum class kind { scsi_async_event, reconnecting, reconnected, failed } what;
    std::uint64_t lun = 0;
    std::span<const std::byte> sense; // scsi_async_event only; valid during the handler
    std::error_code error;            // reconnecting/failed: why
};

struct session_counters {
    std::uint64_t commands = 0;
    std::uint64_t bytes_read = 0;
    std::uint64_t bytes_written = 0;
    std::uint64_t reissued = 0;
    std::uint64_t reconnects = 0;
};

class session {
public:
    session(boost::asio::io_context& io, session_config config);
    ~session();
    session(const session&) = delete;
    session& operator=(const session&) = delete;

    // Connects and logs in (following redirects); `done` reports the outcome.
    void start(std::function<void(std::error_code, const std::string& message)> done);

    // Queues a command; it is sent as soon as the CmdSN window allows
    // (§4.2.2.1). Exactly one completion per call, whatever happens.
    void submit(const scsi_request& request, scsi_completion done);

    // Task management (§11.5). abort_task refers to an earlier submit's tag as
    // given by last_task_tag() right after that submit.
    using tmf_completion = std::function<void(std::error_code, pdu::tmf_response)>;
    void abort_task(std::uint32_t task_tag, tmf_completion done);
    void lun_reset(std::uint64_t lun, tmf_completion done);
    std::uint32_t last_task_tag() const noexcept;

    // NOP-Out ping (§11.18) answered by a NOP-In.
    void ping(std::function<void(std::error_code)> done);

    // SendTargets=All (§13.3, Appendix C) on a discovery or normal session;
    // the answer may span several Text Responses (C bit, TTT continuation).
    void send_targets(std::function<void(std::error_code, const pdu::text_list&)> done);

    // Logs out (close the session, §11.14) and closes the connection; pending
    // commands complete with session_closed.
    void logout(std::function<void(std::error_code)> done);

    void on_event(std::function<void(const session_event&)> handler);

    bool logged_in() const noexcept;
    const session_params& params() const noexcept;
    std::uint16_t tsih() const noexcept;
    const session_counters& counters() const noexcept;
    std::size_t tasks_in_flight() const noexcept;

    class impl;

private:
    std::shared_ptr<impl> impl_;
};

} // namespace ivs::iscsi
