#include "iscsi/session_error.hpp"

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

} // namespace

const std::error_category& session_category() noexcept
{
    static const category instance;
    return instance;
}

} // namespace ivs::iscsi
