#include "iscsi/codes.hpp"

#include <cstdio>

namespace ivs::iscsi {

std::string_view reject_reason_name(std::uint8_t reason) noexcept
{
    switch (static_cast<reject_reason>(reason)) {
    case reject_reason::data_digest_error: return "data digest error";
    case reject_reason::snack_reject: return "SNACK reject";
    case reject_reason::protocol_error: return "protocol error";
    case reject_reason::command_not_supported: return "command not supported";
    case reject_reason::immediate_command_reject: return "too many immediate commands";
    case reject_reason::task_in_progress: return "task in progress";
    case reject_reason::invalid_data_ack: return "invalid data ack";
    case reject_reason::invalid_pdu_field: return "invalid PDU field";
    case reject_reason::long_op_reject: return "long operation reject (out of resources)";
    case reject_reason::negotiation_reset: return "negotiation reset (deprecated)";
    case reject_reason::waiting_for_logout: return "waiting for logout";
    }
    return "reserved";
}

std::string_view logout_response_name(std::uint8_t response) noexcept
{
    switch (static_cast<logout_response>(response)) {
    case logout_response::closed: return "connection or session closed";
    case logout_response::cid_not_found: return "CID not found";
    case logout_response::recovery_not_supported: return "connection recovery not supported";
    case logout_response::cleanup_failed: return "cleanup failed";
    }
    return "reserved";
}

std::string_view async_event_name(std::uint8_t event) noexcept
{
    switch (static_cast<async_event>(event)) {
    case async_event::scsi_event: return "SCSI asynchronous event";
    case async_event::logout_requested: return "target requests logout";
    case async_event::connection_drop: return "target will drop the connection";
    case async_event::session_drop: return "target will drop all connections of the session";
    case async_event::negotiation_requested: return "target requests parameter negotiation";
    case async_event::vendor_specific: return "vendor-specific event";
    }
    return "reserved";
}

std::string reject_reason_message(std::uint8_t reason)
{
    char code[8];
    std::snprintf(code, sizeof code, "0x%02x", static_cast<unsigned>(reason));
    return "reject: " + std::string(reject_reason_name(reason)) + " (" + code + ")";
}

} // namespace ivs::iscsi
