// TargetAddress values (RFC 7143 §13.8) and SendTargets answers (§13.3, Appendix C).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "pdu/text.hpp"

namespace ivs::iscsi {

inline constexpr std::uint16_t default_iscsi_port = 3260;

// "domainname[:port][,portal-group-tag]"; IPv6 literals in brackets
// ("[fe80::1]:3260,1"). `host` is kept without brackets.
struct target_address {
    std::string host;
    std::uint16_t port = default_iscsi_port;
    std::optional<std::uint16_t> portal_group_tag;
    bool operator==(const target_address&) const = default;
};

// pdu::errc::value_syntax for an empty host, a bad bracket, a port outside
// 1..65535 or a tag outside 0..65535 (decimal only).
std::error_code parse_target_address(std::string_view text, target_address& out);
// "host:port", "[v6]:port".
std::string format_host_port(const target_address& a);

struct sendtargets_entry {
    std::string target_name;
    target_address address;
    bool operator==(const sendtargets_entry&) const = default;
};

// The reassembled SendTargets answer: each TargetName is followed by zero or
// more TargetAddress keys; a target without one is reachable at the address we
// are connected to (`connected`, usually with the login's TPGT). Entries are in
// answer order. Errors: value_syntax (TargetAddress before any TargetName, a bad
// address, an empty TargetName), key_not_allowed for other keys.
std::error_code parse_sendtargets(const pdu::text_list& answer, const target_address& connected,
                                  std::vector<sendtargets_entry>& out);

// "ADDR:PORT,TPGT IQN" ("[v6]:port,tpgt iqn"); without ",TPGT" when the tag is unknown.
std::string format_sendtargets_entry(const sendtargets_entry& e);

} // namespace ivs::iscsi
