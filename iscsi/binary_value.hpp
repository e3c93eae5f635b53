// Binary values of text keys (RFC 7143 §6.1): "0x"/"0X" + hex digits or "0b"/"0B" + base64.
// Local to iscsi/ until pdu/ offers a shared decoder; used by CHAP for CHAP_C and CHAP_R.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ivs::iscsi {

enum class binary_value_status {
    ok,
    bad_prefix,     // neither 0x/0X nor 0b/0B
    empty,          // prefix without digits
    bad_digit,      // a character outside the alphabet, or misplaced '=' padding
    too_long,       // decoded length over the caller's bound
};

// Decodes `text` into `out` (replaced). An odd number of hex digits implies a leading zero
// nibble. Base64 (RFC 4648) padding is optional. The encoded length is checked against
// `max_bytes` before anything is allocated.
binary_value_status decode_binary_value(std::string_view text, std::size_t max_bytes,
                                        std::vector<std::uint8_t>& out);

// "0x" followed by two lowercase hex digits per byte.
std::string encode_hex_value(std::span<const std::uint8_t> bytes);

// "0b" followed by padded base64.
std::string encode_base64_value(std::span<const std::uint8_t> bytes);

} // namespace ivs::iscsi
