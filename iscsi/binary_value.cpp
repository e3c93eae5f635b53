#include "iscsi/binary_value.hpp"

namespace ivs::iscsi {
namespace {

constexpr char hex_digits[] = "0123456789abcdef";
constexpr char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int hex_nibble(char c) noexcept
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int b64_sextet(char c) noexcept
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

binary_value_status decode_hex(std::string_view digits, std::size_t max_bytes,
                               std::vector<std::uint8_t>& out)
{
    const std::size_t bytes = (digits.size() + 1) / 2;
    if (bytes > max_bytes) return binary_value_status::too_long;
    out.clear();
    out.reserve(bytes);
    std::size_t i = 0;
    if (digits.size() % 2 != 0) {  // implied leading zero nibble
        const int lo = hex_nibble(digits[0]);
        if (lo < 0) return binary_value_status::bad_digit;
        out.push_back(static_cast<std::uint8_t>(lo));
        i = 1;
    }
    for (; i < digits.size(); i += 2) {
        const int hi = hex_nibble(digits[i]);
        const int lo = hex_nibble(digits[i + 1]);
        if (hi < 0 || lo < 0) return binary_value_status::bad_digit;
        out.push_back(static_cast<std::uint8_t>((hi << 4) | lo));
    }
    return binary_value_status::ok;
}

binary_value_status decode_base64(std::string_view text, std::size_t max_bytes,
                                  std::vector<std::uint8_t>& out)
{
    // Strip up to two '=' of padding; the rest must be alphabet characters.
    std::size_t pad = 0;
    while (!text.empty() && text.back() == '=' && pad < 2) {
        text.remove_suffix(1);
        ++pad;
    }
    if (text.empty()) return binary_value_status::empty;
    const std::size_t rem = text.size() % 4;
    if (rem == 1) return binary_value_status::bad_digit;           // no whole byte in 6 bits
    if (pad != 0 && rem + pad != 4) return binary_value_status::bad_digit;  // padding mismatch
    const std::size_t bytes = text.size() / 4 * 3 + (rem == 0 ? 0 : rem - 1);
    if (bytes > max_bytes) return binary_value_status::too_long;
    out.clear();
    out.reserve(bytes);
    std::uint32_t acc = 0;
    int bits = 0;
    for (const char c : text) {
        const int v = b64_sextet(c);
        if (v < 0) return binary_value_status::bad_digit;  // also catches '=' in the middle
        acc = (acc << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<std::uint8_t>(acc >> bits));
            acc &= (1u << bits) - 1;
        }
    }
    // Leftover bits must be zero (canonical encoding, RFC 4648 §3.5).
    if (acc != 0) return binary_value_status::bad_digit;
    return binary_value_status::ok;
}

} // namespace

binary_value_status decode_binary_value(std::string_view text, std::size_t max_bytes,
                                        std::vector<std::uint8_t>& out)
{
    if (text.size() < 2 || text[0] != '0') return binary_value_status::bad_prefix;
    const char kind = text[1];
    text.remove_prefix(2);
    if (kind == 'x' || kind == 'X') {
        if (text.empty()) return binary_value_status::empty;
        return decode_hex(text, max_bytes, out);
    }
    if (kind == 'b' || kind == 'B') {
        if (text.empty()) return binary_value_status::empty;
        return decode_base64(text, max_bytes, out);
    }
    return binary_value_status::bad_prefix;
}

std::string encode_hex_value(std::span<const std::uint8_t> bytes)
{
    std::string s;
    s.reserve(2 + 2 * bytes.size());
    s += "0x";
    for (const std::uint8_t b : bytes) {
        s += hex_digits[b >> 4];
        s += hex_digits[b & 0x0f];
    }
    return s;
}

std::string encode_base64_value(std::span<const std::uint8_t> bytes)
{
    std::string s;
    s.reserve(2 + (bytes.size() + 2) / 3 * 4);
    s += "0b";
    std::size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3) {
        const std::uint32_t v = (std::uint32_t{bytes[i]} << 16) | (std::uint32_t{bytes[i + 1]} << 8) | bytes[i + 2];
        s += b64_alphabet[(v >> 18) & 63];
        s += b64_alphabet[(v >> 12) & 63];
        s += b64_alphabet[(v >> 6) & 63];
        s += b64_alphabet[v & 63];
    }
    const std::size_t rest = bytes.size() - i;
    if (rest == 1) {
        const std::uint32_t v = std::uint32_t{bytes[i]} << 16;
        s += b64_alphabet[(v >> 18) & 63];
        s += b64_alphabet[(v >> 12) & 63];
        s += "==";
    } else if (rest == 2) {
        const std::uint32_t v = (std::uint32_t{bytes[i]} << 16) | (std::uint32_t{bytes[i + 1]} << 8);
        s += b64_alphabet[(v >> 18) & 63];
        s += b64_alphabet[(v >> 12) & 63];
        s += b64_alphabet[(v >> 6) & 63];
        s += '=';
    }
    return s;
}

} // namespace ivs::iscsi
