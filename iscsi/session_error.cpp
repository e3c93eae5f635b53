#include "iscsi/session_error.hpp"

#include "pdu/error.hpp"

#include <string>

namespace ivs::iscsi {
namespace {

class category final : public std::error_category {
public:
    const char* name() const noexcept override { return "iscsi-session"; }
    std::string message(int ev) const override
    {
        switch (static_cast<session_errc>(ev)) {
        case session_errc::ok: return "success";
        case session_errc::connect_failed: return "cannot connect to the target portal";
        case session_errc::connection_closed: return "connection closed by the target";
        case session_errc::login_timeout: return "login timed out";
        case session_errc::logout_timeout: return "logout timed out";
        case session_errc::not_logged_in: return "session not logged in";
        case session_errc::session_closed: return "session closed";
        case session_errc::session_failed: return "session failed and could not be recovered";
        case session_errc::protocol_error: return "target protocol error";
        case session_errc::unknown_task: return "PDU for an unknown initiator task tag";
        case session_errc::data_out_of_order: return "Data-In out of order";
        case session_errc::data_overflow: return "Data-In beyond the expected data length";
        case session_errc::r2t_out_of_range: return "R2T beyond the expected data length";
        case session_errc::r2t_out_of_order: return "R2T out of order";
        case session_errc::stat_sn_gap: return "status sequence number gap";
        case session_errc::rejected: return "rejected by the target";
        case session_errc::task_aborted: return "task aborted";
        case session_errc::too_many_tasks: return "too many tasks in flight";
        case session_errc::bad_command: return "malformed command";
        case session_errc::timeout: return "timed out";
        case session_errc::redirect_loop: return "too many login redirects";
        case session_errc::transfer_mismatch: return "status does not match the data transferred";
        case session_errc::reissue_limit: return "command reissued too often: its connection keeps failing";
        case session_errc::command_timeout: return "command made no progress within the command timeout";
        }
        return "unknown iscsi-session error";
    }
};

bool session_errc_is(session_errc e, session_condition c) noexcept
{
    using E = session_errc;
    using C = session_condition;
    switch (e) {
    case E::rejected:
    case E::task_aborted:
    case E::too_many_tasks:
    case E::reissue_limit: return c == C::retryable;
    case E::connect_failed:
    case E::connection_closed:
    case E::timeout:
    case E::login_timeout:
    case E::logout_timeout: return c == C::transport_lost;
    case E::protocol_error:
    case E::unknown_task:
    case E::data_out_of_order:
    case E::data_overflow:
    case E::r2t_out_of_range:
    case E::r2t_out_of_order:
    case E::stat_sn_gap:
    case E::transfer_mismatch: return c == C::target_error || c == C::transport_lost;
    case E::command_timeout: return c == C::timed_out;
    case E::not_logged_in:
    case E::session_closed:
    case E::session_failed:
    case E::redirect_loop: return c == C::session_gone;
    case E::bad_command: return c == C::bad_request;
    case E::ok: return false;
    }
    return false;
}

class condition_category final : public std::error_category {
public:
    const char* name() const noexcept override { return "iscsi-session-condition"; }
    std::string message(int ev) const override
    {
        switch (static_cast<session_condition>(ev)) {
        case session_condition::retryable: return "the command may succeed if submitted again";
        case session_condition::transport_lost: return "the connection to the target was lost";
        case session_condition::target_error: return "the target broke the iSCSI protocol";
        case session_condition::timed_out: return "the command made no progress in time";
        case session_condition::session_gone: return "the session is not available";
        case session_condition::bad_request: return "malformed request";
        }
        return "unknown iscsi-session condition";
    }
    bool equivalent(const std::error_code& ec, int condition) const noexcept override
    {
        const auto c = static_cast<session_condition>(condition);
        if (ec.category() == session_category())
            return session_errc_is(static_cast<session_errc>(ec.value()), c);
        // A malformed PDU (framing, digests) ended the connection.
        if (ec.category() == pdu::pdu_category())
            return ec && (c == session_condition::target_error || c == session_condition::transport_lost);
        // Socket errors.
        if (ec.category() == std::system_category() || ec.category() == std::generic_category())
            return ec && c == session_condition::transport_lost;
        return false;
    }
};

} // namespace

const std::error_category& session_category() noexcept
{
    static const category instance;
    return instance;
}

const std::error_category& session_condition_category() noexcept
{
    static const condition_category instance;
    return instance;
}

} // namespace ivs::iscsi
