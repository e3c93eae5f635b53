// Value checks of iscsi-vscsi.conf(5): numbers, iSCSI names, keywords.
// No I/O.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace ivs::config {

// Unsigned decimal, or hexadecimal after "0x". false when malformed or
// above UINT64_MAX.
bool parse_conf_number(std::string_view text, std::uint64_t& out) noexcept;

// Empty when `name` is a plausible iSCSI name (RFC 7143 §4.2.7: "iqn."
// date and naming authority, "eui." 16 hex digits, "naa." 16 or 32 hex
// digits, at most 223 bytes); otherwise the reason.
std::string check_iscsi_name(std::string_view name);

// Every keyword of the grammar: these cannot be macro names.
std::span<const std::string_view> conf_reserved_words() noexcept;
bool is_conf_reserved_word(std::string_view word) noexcept;

// Macro names: letters, digits and underscores (iscsi.conf(5)).
bool is_valid_macro_name(std::string_view name) noexcept;

bool equals_ignore_case(std::string_view a, std::string_view b) noexcept;

} // namespace ivs::config
