// Names of the small code tables of RFC 7143 for messages and logs: Reject reasons
// (§11.17.1), Logout Response codes (§11.15.1) and AsyncEvent codes (§11.9.1).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ivs::iscsi {

// RFC 7143 §11.17.1
enum class reject_reason : std::uint8_t {
    data_digest_error = 0x02,
    snack_reject = 0x03,
    protocol_error = 0x04,
    command_not_supported = 0x05,
    immediate_command_reject = 0x06,
    task_in_progress = 0x07,
    invalid_data_ack = 0x08,
    invalid_pdu_field = 0x09,
    long_op_reject = 0x0a,
    negotiation_reset = 0x0b,  // deprecated, MUST NOT be sent
    waiting_for_logout = 0x0c,
};

// RFC 7143 §11.15.1
enum class logout_response : std::uint8_t {
    closed = 0,
    cid_not_found = 1,
    recovery_not_supported = 2,
    cleanup_failed = 3,
};

// RFC 7143 §11.9.1
enum class async_event : std::uint8_t {
    scsi_event = 0,
    logout_requested = 1,
    connection_drop = 2,
    session_drop = 3,
    negotiation_requested = 4,
    vendor_specific = 255,
};

// Names such as "protocol error"; for an undefined code, "reserved".
std::string_view reject_reason_name(std::uint8_t reason) noexcept;
std::string_view logout_response_name(std::uint8_t response) noexcept;
std::string_view async_event_name(std::uint8_t event) noexcept;

// "reject: protocol error (0x04)"
std::string reject_reason_message(std::uint8_t reason);

} // namespace ivs::iscsi
