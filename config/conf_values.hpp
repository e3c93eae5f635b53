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

// The keywords of OpenBSD's iscsi.conf(5): an unquoted word that is one of
// them cannot name a macro.
std::span<const std::string_view> conf_reserved_words() noexcept;
bool is_conf_reserved_word(std::string_view word) noexcept;

// Macro names as iscsictl(8) takes them: no blank after the first
// character. Only letters, digits and underscores can be used in `$name`.
bool is_valid_macro_name(std::string_view name) noexcept;

// A signed decimal number (iscsictl(8)'s NUMBER), or hexadecimal after
// "0x"; false when malformed or outside the 64-bit signed range.
bool parse_conf_signed(std::string_view text, std::int64_t& out) noexcept;

bool equals_ignore_case(std::string_view a, std::string_view b) noexcept;

// What `text` is as an address: an IPv4 literal (a dotted quad), an IPv6
// literal (optionally with a %scope), or neither.
enum class address_literal : std::uint8_t { none, ipv4, ipv6 };
address_literal classify_address_literal(std::string_view text) noexcept;

// Empty when `host` is a plausible host name (letters, digits, '-' and
// dotted labels; not all digits and dots, which is a malformed IPv4
// address, and no ':', a malformed IPv6 one); otherwise the reason.
std::string check_host_name(std::string_view host);

} // namespace ivs::config
