// Text key=value data segments (RFC 7143 §6.1): parsing, serialization,
// multi-PDU reassembly (C bit) and the value encodings of §6.1.1.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "pdu/error.hpp"

namespace ivs::pdu {

struct text_pair {
    std::string key;
    std::string value;
    bool operator==(const text_pair&) const = default;
};
using text_list = std::vector<text_pair>;

// A per-key exception to the default value length bound.
struct value_limit {
    std::string_view key;
    std::size_t max;
};

// RFC 7143 §6.1: key names at most 63 bytes, values at most 255 bytes unless
// a key says otherwise. CHAP_C/CHAP_R are large-binary-values (§12.1.3):
// allow their encoded form up to 8192 bytes.
inline constexpr std::size_t max_key_length = 63;
inline constexpr std::size_t default_max_value_length = 255;
inline constexpr std::size_t long_value_length = 8192;
inline constexpr value_limit default_long_values[] = {
    {"CHAP_C", long_value_length},
    {"CHAP_R", long_value_length},
};
// Keys a SendTargets response repeats, once per target and portal (§13.3, Appendix C).
inline constexpr std::string_view sendtargets_repeatable_keys[] = {"TargetName", "TargetAddress"};

// Bounds on a whole logical text data segment (LTDS): §6.1 requires at least
// 8192 bytes; login keeps a modest bound, discovery answers may be long.
inline constexpr std::size_t login_text_limit = 64 * 1024;
inline constexpr std::size_t discovery_text_limit = 1024 * 1024;

struct text_limits {
    std::size_t max_value = default_max_value_length;
    std::span<const value_limit> long_values = default_long_values;
    // Keys allowed to occur more than once; any other repeated key is duplicate_key.
    std::span<const std::string_view> repeatable = {};
    std::size_t max_total = login_text_limit;
};

// Limits for a SendTargets discovery answer.
inline text_limits discovery_limits()
{
    text_limits l;
    l.repeatable = sendtargets_repeatable_keys;
    l.max_total = discovery_text_limit;
    return l;
}

// Key name syntax (§6.1 standard-label, X- and X# extension keys), length 1..63.
// The first character may be any letter: §13.24's iSCSIProtocolLevel starts
// lowercase. Returns {} or key_syntax / key_too_long.
std::error_code check_key(std::string_view key) noexcept;

// Value bound for `key` under `limits`.
std::size_t max_value_length(std::string_view key, const text_limits& limits) noexcept;

// Parses one LTDS: "key=value\0" pairs in order. Empty records (a lone NUL, as
// some targets pad with) are skipped. Errors: missing_nul, key_syntax,
// key_too_long, value_too_long, duplicate_key, text_too_long.
std::error_code parse_text(std::span<const std::byte> data, text_list& out, const text_limits& limits = {});

// Appends "key=value\0" after checking the key, the value length and that the
// value holds no NUL; `out` never grows past limits.max_total (text_too_long).
std::error_code append_pair(std::vector<std::byte>& out, std::string_view key, std::string_view value,
                            const text_limits& limits = {});

// Serializes all pairs (appending to `out`), with the same checks plus duplicates.
std::error_code serialize_text(const text_list& pairs, std::vector<std::byte>& out, const text_limits& limits = {});

// duplicate_key when a key not in `repeatable` occurs twice.
std::error_code check_duplicates(const text_list& pairs, std::span<const std::string_view> repeatable = {});

// First pair with `key`, or nullptr.
const text_pair* find_pair(const text_list& pairs, std::string_view key) noexcept;

// Collects data segments of Login/Text PDUs while C=1 (§6.1: they form one
// LTDS) and parses when the final piece (C=0) arrives. The total bound is
// checked before the buffer grows. An error is sticky until reset(); after a
// complete LTDS the next add() starts a new one.
class text_reassembler {
public:
    explicit text_reassembler(text_limits limits = {}) : limits_(limits) {}

    std::error_code add(std::span<const std::byte> segment, bool continue_bit);
    bool complete() const noexcept { return complete_; }
    std::size_t buffered() const noexcept { return buffer_.size(); }
    const text_list& pairs() const noexcept { return pairs_; }
    text_list take_pairs();
    void reset() noexcept;

private:
    text_limits limits_;
    std::vector<std::byte> buffer_;
    text_list pairs_;
    std::error_code error_;
    bool complete_ = false;
};

// ---- values (§6.1.1, §6.2) ----

// Answers that are not values of the key's type (§6.2).
inline constexpr std::string_view value_not_understood = "NotUnderstood";
inline constexpr std::string_view value_irrelevant = "Irrelevant";
inline constexpr std::string_view value_reject = "Reject";
inline constexpr std::string_view value_none = "None";
inline constexpr std::string_view value_yes = "Yes";
inline constexpr std::string_view value_no = "No";

// NotUnderstood, Irrelevant or Reject ("None" is an ordinary list value).
bool is_special_answer(std::string_view value) noexcept;

// Yes/No. value_syntax otherwise.
std::error_code parse_bool(std::string_view value, bool& out) noexcept;
constexpr std::string_view bool_value(bool b) noexcept { return b ? value_yes : value_no; }

// numerical-value (< 2^64): decimal-constant, "0x"/"0X" hex or "0b"/"0B" base64.
// value_syntax or number_out_of_range.
std::error_code parse_number(std::string_view value, std::uint64_t& out) noexcept;
// Also requires min <= n <= max (number_out_of_range).
std::error_code parse_number(std::string_view value, std::uint64_t min, std::uint64_t max, std::uint64_t& out) noexcept;
// numeric-range "a~b" with a <= b.
std::error_code parse_range(std::string_view value, std::uint64_t& lo, std::uint64_t& hi) noexcept;
std::string format_number(std::uint64_t n);

// binary-value / large-numerical-value: "0x" hex (odd digit count implies a
// leading zero nibble) or "0b" base64 (RFC 4648, padding optional). The decoded
// size is bounded by `max_bytes` before allocation (value_too_long).
std::error_code parse_binary(std::string_view value, std::vector<std::byte>& out,
                             std::size_t max_bytes = long_value_length);
std::string encode_hex(std::span<const std::byte> bytes);    // "0x" + lowercase hex
std::string encode_base64(std::span<const std::byte> bytes); // "0b" + padded base64

// list-of-values: comma-separated, no empty items (value_syntax).
std::error_code parse_list(std::string_view value, std::vector<std::string_view>& out);
std::string join_list(std::span<const std::string_view> items);

} // namespace ivs::pdu
