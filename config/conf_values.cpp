#include "config/conf_values.hpp"

#include "config/conf.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstdint>

namespace ivs::config {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool starts_with_ignore_case(std::string_view s, std::string_view prefix)
{
    return s.size() >= prefix.size() && equals_ignore_case(s.substr(0, prefix.size()), prefix);
}

bool all_hex(std::string_view s) { return std::all_of(s.begin(), s.end(), is_hex); }

// The keywords of iscsictl(8)'s grammar: a word that is one of them cannot
// name a macro. This program's extension keywords can (they appear only
// inside target blocks, where no macro is defined).
constexpr std::array<std::string_view, 16> reserved = {
    "address",       "disabled",      "discovery", "enabled", "include", "inet",   "inet4",      "inet6",
    "initiatoraddr", "initiatorname", "isid",      "normal",  "port",    "target", "targetaddr", "targetname",
};

class conf_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "iscsi-vscsi.conf"; }
    std::string message(int value) const override
    {
        switch (static_cast<conf_errc>(value)) {
        case conf_errc::syntax: return "configuration error";
        case conf_errc::read_failed: return "cannot read configuration file";
        case conf_errc::too_large: return "configuration file too large";
        case conf_errc::insecure_file: return "file writable by others, secret readable by others, or foreign owner";
        }
        return "unknown configuration error";
    }
};

} // namespace

const std::error_category& conf_category() noexcept
{
    static const conf_category_impl category;
    return category;
}

bool equals_ignore_case(std::string_view a, std::string_view b) noexcept
{
    if (a.size() != b.size())
        return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i]))
            return false;
    return true;
}

bool parse_conf_number(std::string_view text, std::uint64_t& out) noexcept
{
    unsigned base = 10;
    if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
        base = 16;
        text.remove_prefix(2);
    }
    if (text.empty())
        return false;
    std::uint64_t value = 0;
    for (char c : text) {
        unsigned digit;
        if (is_digit(c))
            digit = static_cast<unsigned>(c - '0');
        else if (base == 16 && is_hex(c))
            digit = static_cast<unsigned>(lower(c) - 'a' + 10);
        else
            return false;
        if (value > (UINT64_MAX - digit) / base)
            return false;
        value = value * base + digit;
    }
    out = value;
    return true;
}

std::string check_iscsi_name(std::string_view name)
{
    if (name.empty())
        return "empty iSCSI name";
    if (name.size() > 223) // RFC 7143 §4.2.7.1
        return "iSCSI name longer than 223 bytes";
    for (char c : name) {
        const auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u == 0x7f)
            return "iSCSI name contains a blank or control character";
    }
    if (starts_with_ignore_case(name, "iqn.")) {
        // iqn.YYYY-MM.reversed.domain[:anything] (§4.2.7.3)
        const std::string_view rest = name.substr(4);
        const bool dated = rest.size() >= 9 && is_digit(rest[0]) && is_digit(rest[1]) && is_digit(rest[2]) &&
                           is_digit(rest[3]) && rest[4] == '-' && is_digit(rest[5]) && is_digit(rest[6]) &&
                           rest[7] == '.';
        if (!dated)
            return "iqn. name without a yyyy-mm. date and naming authority";
        return {};
    }
    if (starts_with_ignore_case(name, "eui.")) {
        if (name.size() != 4 + 16 || !all_hex(name.substr(4)))
            return "eui. name without 16 hexadecimal digits";
        return {};
    }
    if (starts_with_ignore_case(name, "naa.")) {
        const std::string_view hex = name.substr(4);
        if ((hex.size() != 16 && hex.size() != 32) || !all_hex(hex))
            return "naa. name without 16 or 32 hexadecimal digits";
        return {};
    }
    return "not an iSCSI name (iqn., eui. or naa.)";
}

std::span<const std::string_view> conf_reserved_words() noexcept { return reserved; }

bool is_conf_reserved_word(std::string_view word) noexcept
{
    return std::find(reserved.begin(), reserved.end(), word) != reserved.end();
}

bool is_valid_macro_name(std::string_view name) noexcept
{
    // iscsictl(8) checks for blanks from the second character on; a name
    // that cannot be used in `$name` is still a valid definition there.
    for (std::size_t i = 1; i < name.size(); ++i) {
        const char c = name[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v')
            return false;
    }
    return true;
}

bool parse_conf_signed(std::string_view text, std::int64_t& out) noexcept
{
    const bool negative = !text.empty() && text.front() == '-';
    if (negative)
        text.remove_prefix(1);
    std::uint64_t magnitude = 0;
    if (!parse_conf_number(text, magnitude))
        return false;
    constexpr std::uint64_t max = static_cast<std::uint64_t>(INT64_MAX);
    if (magnitude > max + (negative ? 1 : 0))
        return false;
    out = negative ? static_cast<std::int64_t>(0 - magnitude) : static_cast<std::int64_t>(magnitude);
    return true;
}

namespace {

// iscsictl(8)'s masks: the bits of BASE and QUALIFIER that make the ISID.
constexpr std::uint64_t isid_base_mask(isid_format f) noexcept
{
    return f == isid_format::oui ? 0x3fffff00u : 0x00ffffffu;
}
constexpr std::uint64_t isid_qualifier_mask(isid_format f) noexcept
{
    return f == isid_format::oui ? 0xffffffu : 0xffffu;
}

} // namespace

// RFC 7143 §11.12.5: T(2) A(6) B(16) C(8) D(16), as iscsictl(8) builds it.
std::array<std::uint8_t, 6> isid_bytes(const conf_isid& isid) noexcept
{
    const auto base = static_cast<std::uint64_t>(isid.base);
    const auto qual = static_cast<std::uint64_t>(isid.qualifier);
    std::uint32_t word = 0;
    switch (isid.format) {
    case isid_format::oui:
        word = static_cast<std::uint32_t>((base & isid_base_mask(isid.format)) | ((qual >> 16) & 0xffu));
        break;
    case isid_format::en: word = 0x40000000u | static_cast<std::uint32_t>(base & isid_base_mask(isid.format)); break;
    case isid_format::rand: word = 0x80000000u | static_cast<std::uint32_t>(base & isid_base_mask(isid.format)); break;
    }
    const std::uint64_t v = (std::uint64_t{word} << 16) | (qual & 0xffffu);
    std::array<std::uint8_t, 6> out{};
    for (int i = 0; i < 6; ++i)
        out[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v >> (40 - 8 * i));
    return out;
}

bool isid_ignored_bits(const conf_isid& isid) noexcept
{
    return (static_cast<std::uint64_t>(isid.base) & ~isid_base_mask(isid.format)) != 0 ||
           (static_cast<std::uint64_t>(isid.qualifier) & ~isid_qualifier_mask(isid.format)) != 0;
}

address_literal classify_address_literal(std::string_view text) noexcept
{
    if (text.empty() || text.size() > 64)
        return address_literal::none;
    char buf[65] = {};
    std::copy(text.begin(), text.end(), buf);
    unsigned char addr[sizeof(in6_addr)];
    if (::inet_pton(AF_INET, buf, addr) == 1)
        return address_literal::ipv4;
    // fe80::1%em0: the scope names an interface (or is its index).
    const std::string_view v6 = text.substr(0, text.find('%'));
    if (v6.size() != text.size() && v6.size() + 1 == text.size())
        return address_literal::none; // an empty scope
    buf[v6.size()] = '\0';
    if (text.find(':') != std::string_view::npos && ::inet_pton(AF_INET6, buf, addr) == 1)
        return address_literal::ipv6;
    return address_literal::none;
}

std::string check_host_name(std::string_view host)
{
    if (host.empty())
        return "empty host name";
    if (host.find(':') != std::string_view::npos)
        return "not an IPv6 address";
    if (std::all_of(host.begin(), host.end(), [](char c) { return is_digit(c) || c == '.'; }))
        return "not an IPv4 address";
    if (host.size() > 253)
        return "host name longer than 253 characters";
    std::size_t label = 0;
    for (std::size_t i = 0; i <= host.size(); ++i) {
        if (i == host.size() || host[i] == '.') {
            if (label == 0 && i != host.size())
                return "empty label in host name";
            if (label > 63)
                return "host name label longer than 63 characters";
            label = 0;
            continue;
        }
        const char c = host[i];
        if (!is_digit(c) && !(lower(c) >= 'a' && lower(c) <= 'z') && c != '-' && c != '_')
            return std::string("character '") + c + "' in host name";
        ++label;
    }
    return {};
}

} // namespace ivs::config
