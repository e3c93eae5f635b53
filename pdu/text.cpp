// Text key=value data segments (RFC 7143 §6.1): parse, serialize, reassemble.
#include "pdu/text.hpp"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstring>

namespace ivs::pdu {
namespace {

constexpr bool is_upper(char c) noexcept { return c >= 'A' && c <= 'Z'; }

// standard-label characters (§6.1): letters, digits, dot, minus, plus, at, underscore.
constexpr bool is_label_char(char c) noexcept
{
    return (c >= 'a' && c <= 'z') || is_upper(c) || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+' ||
           c == '@' || c == '_';
}

std::string_view as_chars(std::span<const std::byte> bytes) noexcept
{
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

bool contains(std::span<const std::string_view> set, std::string_view key) noexcept
{
    return std::find(set.begin(), set.end(), key) != set.end();
}

} // namespace

std::error_code check_key(std::string_view key) noexcept
{
    if (key.empty())
        return errc::key_syntax;
    if (key.size() > max_key_length)
        return errc::key_too_long;
    // §6.1 asks for a capital first letter, yet §13.24 defines iSCSIProtocolLevel:
    // accept any letter.
    if (!is_upper(key[0]) && !(key[0] >= 'a' && key[0] <= 'z'))
        return errc::key_syntax;
    std::size_t i = 1;
    // X# keys (IANA-registered extensions) carry '#' after the X; X- keys
    // are plain standard labels. Both need a name after the prefix.
    if (key[0] == 'X' && key.size() >= 2 && (key[1] == '#' || key[1] == '-')) {
        if (key.size() == 2)
            return errc::key_syntax;
        i = 2;
    }
    for (; i < key.size(); ++i)
        if (!is_label_char(key[i]))
            return errc::key_syntax;
    return {};
}

std::size_t max_value_length(std::string_view key, const text_limits& limits) noexcept
{
    for (const auto& l : limits.long_values)
        if (l.key == key)
            return l.max;
    return limits.max_value;
}

std::error_code check_duplicates(const text_list& pairs, std::span<const std::string_view> repeatable)
{
    // Sort the keys instead of comparing all pairs: a 1 MiB text holds many.
    std::vector<std::string_view> keys;
    keys.reserve(pairs.size());
    for (const auto& p : pairs)
        if (!contains(repeatable, p.key))
            keys.push_back(p.key);
    std::sort(keys.begin(), keys.end());
    if (std::adjacent_find(keys.begin(), keys.end()) != keys.end())
        return errc::duplicate_key;
    return {};
}

std::error_code parse_text(std::span<const std::byte> data, text_list& out, const text_limits& limits)
{
    out.clear();
    if (data.size() > limits.max_total)
        return errc::text_too_long;
    const std::string_view text = as_chars(data);
    std::size_t pos = 0;
    while (pos < text.size()) {
        const std::size_t nul = text.find('\0', pos);
        if (nul == std::string_view::npos) {
            out.clear();
            return errc::missing_nul; // §6.1: every pair, the last too, ends with NUL
        }
        const std::string_view record = text.substr(pos, nul - pos);
        pos = nul + 1;
        if (record.empty())
            continue; // padding NULs
        const std::size_t eq = record.find('=');
        const std::string_view key = record.substr(0, eq);
        std::error_code ec = check_key(key);
        if (!ec && eq == std::string_view::npos)
            ec = errc::key_syntax;
        if (ec) {
            out.clear();
            return ec;
        }
        const std::string_view value = record.substr(eq + 1);
        if (value.size() > max_value_length(key, limits)) {
            out.clear();
            return errc::value_too_long;
        }
        out.push_back({std::string(key), std::string(value)});
    }
    if (auto ec = check_duplicates(out, limits.repeatable)) {
        out.clear();
        return ec;
    }
    return {};
}

std::error_code append_pair(std::vector<std::byte>& out, std::string_view key, std::string_view value,
                            const text_limits& limits)
{
    if (auto ec = check_key(key))
        return ec;
    if (value.find('\0') != std::string_view::npos)
        return errc::value_syntax;
    if (value.size() > max_value_length(key, limits))
        return errc::value_too_long;
    const std::size_t need = key.size() + value.size() + 2;
    if (out.size() > limits.max_total || need > limits.max_total - out.size())
        return errc::text_too_long;
    const std::size_t at = out.size();
    out.resize(at + need);
    std::byte* p = out.data() + at;
    std::memcpy(p, key.data(), key.size());
    p[key.size()] = std::byte{'='};
    if (!value.empty())
        std::memcpy(p + key.size() + 1, value.data(), value.size());
    p[need - 1] = std::byte{0};
    return {};
}

std::error_code serialize_text(const text_list& pairs, std::vector<std::byte>& out, const text_limits& limits)
{
    if (auto ec = check_duplicates(pairs, limits.repeatable))
        return ec;
    const std::size_t start = out.size();
    for (const auto& p : pairs) {
        if (auto ec = append_pair(out, p.key, p.value, limits)) {
            out.resize(start);
            return ec;
        }
    }
    return {};
}

const text_pair* find_pair(const text_list& pairs, std::string_view key) noexcept
{
    for (const auto& p : pairs)
        if (p.key == key)
            return &p;
    return nullptr;
}

// ---- reassembly (§6.1: PDUs with C=1 and the final C=0 one form one LTDS) ----

std::error_code text_reassembler::add(std::span<const std::byte> segment, bool continue_bit)
{
    if (error_)
        return error_;
    if (complete_) {
        complete_ = false;
        pairs_.clear();
    }
    // Check the bound before growing the buffer.
    if (segment.size() > limits_.max_total - buffer_.size()) {
        error_ = errc::text_too_long;
        std::vector<std::byte>().swap(buffer_);
        return error_;
    }
    buffer_.insert(buffer_.end(), segment.begin(), segment.end());
    if (continue_bit)
        return {};
    error_ = parse_text(buffer_, pairs_, limits_);
    std::vector<std::byte>().swap(buffer_);
    complete_ = !error_;
    return error_;
}

text_list text_reassembler::take_pairs()
{
    text_list out = std::move(pairs_);
    pairs_.clear();
    return out;
}

void text_reassembler::reset() noexcept
{
    buffer_.clear();
    pairs_.clear();
    error_.clear();
    complete_ = false;
}

// ---- values (§6.1.1) ----

namespace {

int hex_digit(char c) noexcept
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int base64_digit(char c) noexcept
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

constexpr char hex_chars[] = "0123456789abcdef";
constexpr char base64_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

bool has_prefix(std::string_view v, char lower) noexcept
{
    return v.size() >= 2 && v[0] == '0' && (v[1] == lower || v[1] == lower - 'a' + 'A');
}

std::error_code decode_hex(std::string_view digits, std::vector<std::byte>& out, std::size_t max_bytes)
{
    if (digits.empty())
        return errc::value_syntax;
    const std::size_t bytes = digits.size() / 2 + digits.size() % 2;
    if (bytes > max_bytes)
        return errc::value_too_long;
    for (char c : digits)
        if (hex_digit(c) < 0)
            return errc::value_syntax;
    out.clear();
    out.reserve(bytes);
    std::size_t i = 0;
    if (digits.size() % 2) // odd count: implied leading zero nibble
        out.push_back(std::byte(hex_digit(digits[i++])));
    for (; i < digits.size(); i += 2)
        out.push_back(std::byte(hex_digit(digits[i]) << 4 | hex_digit(digits[i + 1])));
    return {};
}

// RFC 4648 base64, '=' padding optional but only at the end and consistent.
std::error_code decode_base64(std::string_view text, std::vector<std::byte>& out, std::size_t max_bytes)
{
    std::size_t pad = 0;
    while (pad < 2 && pad < text.size() && text[text.size() - 1 - pad] == '=')
        ++pad;
    const std::string_view digits = text.substr(0, text.size() - pad);
    if (digits.empty() || digits.size() % 4 == 1)
        return errc::value_syntax;
    if (pad != 0 && (digits.size() + pad) % 4 != 0)
        return errc::value_syntax;
    const std::size_t bytes = digits.size() / 4 * 3 + (digits.size() % 4 == 0 ? 0 : digits.size() % 4 - 1);
    if (bytes > max_bytes)
        return errc::value_too_long;
    for (char c : digits)
        if (base64_digit(c) < 0)
            return errc::value_syntax;
    out.clear();
    out.reserve(bytes);
    std::uint32_t acc = 0;
    int bits = 0;
    for (char c : digits) {
        acc = (acc << 6) | static_cast<std::uint32_t>(base64_digit(c));
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(std::byte((acc >> bits) & 0xffu));
        }
    }
    return {};
}

} // namespace

bool is_special_answer(std::string_view value) noexcept
{
    return value == value_not_understood || value == value_irrelevant || value == value_reject;
}

std::error_code parse_bool(std::string_view value, bool& out) noexcept
{
    if (value == value_yes)
        out = true;
    else if (value == value_no)
        out = false;
    else
        return errc::value_syntax;
    return {};
}

std::error_code parse_number(std::string_view value, std::uint64_t& out) noexcept
{
    if (has_prefix(value, 'x') || has_prefix(value, 'b')) {
        // Decode into a small buffer: an encoding of more than 8 significant
        // bytes is out of range, whatever its length.
        std::vector<std::byte> bytes;
        const std::size_t encoded = value.size() - 2;
        auto ec = has_prefix(value, 'x') ? decode_hex(value.substr(2), bytes, encoded)
                                         : decode_base64(value.substr(2), bytes, encoded);
        if (ec)
            return ec;
        std::uint64_t n = 0;
        std::size_t significant = 0;
        for (std::byte b : bytes) {
            if (significant == 0 && b == std::byte{0})
                continue;
            if (++significant > 8)
                return errc::number_out_of_range;
            n = (n << 8) | std::to_integer<std::uint64_t>(b);
        }
        out = n;
        return {};
    }
    // decimal-constant: 0, or a non-zero digit followed by digits.
    if (value.empty() || (value[0] == '0' && value.size() > 1))
        return errc::value_syntax;
    std::uint64_t n = 0;
    for (char c : value) {
        if (c < '0' || c > '9')
            return errc::value_syntax;
        const auto d = static_cast<std::uint64_t>(c - '0');
        if (n > (UINT64_MAX - d) / 10)
            return errc::number_out_of_range;
        n = n * 10 + d;
    }
    out = n;
    return {};
}

std::error_code parse_number(std::string_view value, std::uint64_t min, std::uint64_t max, std::uint64_t& out) noexcept
{
    std::uint64_t n = 0;
    if (auto ec = parse_number(value, n))
        return ec;
    if (n < min || n > max)
        return errc::number_out_of_range;
    out = n;
    return {};
}

std::error_code parse_range(std::string_view value, std::uint64_t& lo, std::uint64_t& hi) noexcept
{
    const std::size_t tilde = value.find('~');
    if (tilde == std::string_view::npos)
        return errc::value_syntax;
    std::uint64_t a = 0, b = 0;
    if (auto ec = parse_number(value.substr(0, tilde), a))
        return ec;
    if (auto ec = parse_number(value.substr(tilde + 1), b))
        return ec;
    if (a > b)
        return errc::value_syntax;
    lo = a;
    hi = b;
    return {};
}

std::string format_number(std::uint64_t n) { return std::to_string(n); }

std::error_code parse_binary(std::string_view value, std::vector<std::byte>& out, std::size_t max_bytes)
{
    if (has_prefix(value, 'x'))
        return decode_hex(value.substr(2), out, max_bytes);
    if (has_prefix(value, 'b'))
        return decode_base64(value.substr(2), out, max_bytes);
    return errc::value_syntax;
}

std::string encode_hex(std::span<const std::byte> bytes)
{
    std::string s = "0x";
    s.reserve(2 + 2 * bytes.size());
    for (std::byte b : bytes) {
        const auto v = std::to_integer<unsigned>(b);
        s.push_back(hex_chars[v >> 4]);
        s.push_back(hex_chars[v & 0xfu]);
    }
    return s;
}

std::string encode_base64(std::span<const std::byte> bytes)
{
    std::string s = "0b";
    s.reserve(2 + (bytes.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3) {
        const std::uint32_t v = std::to_integer<std::uint32_t>(bytes[i]) << 16 |
                                std::to_integer<std::uint32_t>(bytes[i + 1]) << 8 |
                                std::to_integer<std::uint32_t>(bytes[i + 2]);
        for (int shift = 18; shift >= 0; shift -= 6)
            s.push_back(base64_chars[(v >> shift) & 0x3fu]);
    }
    const std::size_t rest = bytes.size() - i;
    if (rest > 0) {
        std::uint32_t v = std::to_integer<std::uint32_t>(bytes[i]) << 16;
        if (rest == 2)
            v |= std::to_integer<std::uint32_t>(bytes[i + 1]) << 8;
        s.push_back(base64_chars[(v >> 18) & 0x3fu]);
        s.push_back(base64_chars[(v >> 12) & 0x3fu]);
        s.push_back(rest == 2 ? base64_chars[(v >> 6) & 0x3fu] : '=');
        s.push_back('=');
    }
    return s;
}

std::error_code parse_list(std::string_view value, std::vector<std::string_view>& out)
{
    out.clear();
    std::size_t pos = 0;
    for (;;) {
        const std::size_t comma = value.find(',', pos);
        const std::size_t len = comma == std::string_view::npos ? std::string_view::npos : comma - pos;
        const std::string_view item = value.substr(pos, len);
        if (item.empty()) {
            out.clear();
            return errc::value_syntax;
        }
        out.push_back(item);
        if (comma == std::string_view::npos)
            return {};
        pos = comma + 1;
    }
}

std::string join_list(std::span<const std::string_view> items)
{
    std::string s;
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i)
            s.push_back(',');
        s.append(items[i]);
    }
    return s;
}

} // namespace ivs::pdu
