// Errors of the session layer (connections, full feature phase, RFC 7143 §7,
// §10), and the conditions callers decide by: compare an error with a
// session_condition (ec == session_condition::retryable), never with the
// concrete session_errc values, which may grow.
#pragma once

#include <system_error>

namespace ivs::iscsi {

enum class session_errc {
    ok = 0,
    connect_failed = 1,
    connection_closed, // the peer closed the TCP connection
    login_timeout,
    logout_timeout,
    not_logged_in,     // a command submitted before login or after logout
    session_closed,    // the session was shut down; the command did not run
    session_failed,    // the session is gone and recovery gave up (replacement timeout)
    protocol_error,    // the target broke RFC 7143 (details in the log)
    unknown_task,      // a PDU for an Initiator Task Tag we do not know
    data_out_of_order, // Data-In offset or DataSN not the next expected
    data_overflow,     // Data-In beyond the task's buffer
    r2t_out_of_range,  // R2T beyond the expected data transfer length
    r2t_out_of_order,  // R2TSN not the next expected
    stat_sn_gap,       // a status PDU skipped a StatSN
    rejected,          // the target rejected the PDU (Reject)
    task_aborted,      // ABORT TASK / LUN RESET ended the task
    too_many_tasks,    // no free Initiator Task Tag
    bad_command,       // a malformed request from the caller (CDB size, buffers)
    timeout,
    redirect_loop,
    transfer_mismatch, // a status that does not match the data transferred (§11.4.5, §11.7.4)
    reissue_limit,     // the connection failed too often while the command was outstanding
    command_timeout,   // no progress within session_config::command_timeout
};

const std::error_category& session_category() noexcept;

inline std::error_code make_error_code(session_errc e) noexcept { return {static_cast<int>(e), session_category()}; }

// What an error from a session (a command's scsi_result::error, a ping's,
// a task management function's) means to its caller. An error may match
// several: a protocol error is target_error and transport_lost.
enum class session_condition {
    // The command did not complete but may well if submitted again: it was
    // aborted, rejected, reissued too often, or no task tag was free.
    retryable = 1,
    // The connection to the target went away (closed, reset, timed out,
    // dropped for a protocol error); without recovery nothing was reissued.
    transport_lost,
    // The target broke RFC 7143 for this command or connection (a lying
    // status, data out of order, a malformed PDU).
    target_error,
    // No progress within session_config::command_timeout.
    timed_out,
    // The session is closed, failed or not logged in: nothing runs until
    // it is back (or a new one is made).
    session_gone,
    // The caller's request is malformed (CDB size, buffers).
    bad_request,
};

const std::error_category& session_condition_category() noexcept;

inline std::error_condition make_error_condition(session_condition c) noexcept
{
    return {static_cast<int>(c), session_condition_category()};
}

} // namespace ivs::iscsi

template <>
struct std::is_error_code_enum<ivs::iscsi::session_errc> : std::true_type {};
template <>
struct std::is_error_condition_enum<ivs::iscsi::session_condition> : std::true_type {};
