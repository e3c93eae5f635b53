#include "iscsi/codes.hpp"

#include "pdu/target_pdus.hpp"

#include <cstdio>

namespace ivs::iscsi {

std::string_view reject_reason_name(std::uint8_t reason) noexcept
{
    namespace r = pdu::reject_reason;
    switch (reason) {
    case r::data_digest_error: return "data digest error";
    case r::snack_reject: return "SNACK reject";
    case r::protocol_error: return "protocol error";
    case r::command_not_supported: return "command not supported";
    case r::immediate_command_reject: return "too many immediate commands";
    case r::task_in_progress: return "task in progress";
    case r::invalid_data_ack: return "invalid data ack";
    case r::invalid_pdu_field: return "invalid PDU field";
    case r::long_operation_reject: return "long operation reject (out of resources)";
    case r::negotiation_reset: return "negotiation reset (deprecated)";
    case r::waiting_for_logout: return "waiting for logout";
    }
    return "reserved";
}

std::string_view logout_response_name(std::uint8_t response) noexcept
{
    using c = pdu::logout_response_code;
    switch (static_cast<c>(response)) {
    case c::closed_successfully: return "connection or session closed";
    case c::cid_not_found: return "CID not found";
    case c::recovery_not_supported: return "connection recovery not supported";
    case c::cleanup_failed: return "cleanup failed";
    }
    return "reserved";
}

std::string_view async_event_name(std::uint8_t event) noexcept
{
    using e = pdu::async_event;
    switch (static_cast<e>(event)) {
    case e::scsi_async_event: return "SCSI asynchronous event";
    case e::logout_requested: return "target requests logout";
    case e::connection_drop: return "target will drop the connection";
    case e::all_connections_drop: return "target will drop all connections of the session";
    case e::negotiation_requested: return "target requests parameter negotiation";
    case e::vendor_specific: return "vendor-specific event";
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
