// Names of the small code tables of RFC 7143 for log lines and messages:
// Reject reasons (§11.17.1), Logout Response codes (§11.15.1) and AsyncEvent
// codes (§11.9.1). The codes themselves are pdu/target_pdus.hpp's.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ivs::iscsi {

// Names such as "protocol error"; for an undefined code, "reserved".
std::string_view reject_reason_name(std::uint8_t reason) noexcept;
std::string_view logout_response_name(std::uint8_t response) noexcept;
std::string_view async_event_name(std::uint8_t event) noexcept;

// "reject: protocol error (0x04)"
std::string reject_reason_message(std::uint8_t reason);

} // namespace ivs::iscsi
