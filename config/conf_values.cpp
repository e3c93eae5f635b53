#include "config/conf_values.hpp"

#include "config/conf.hpp"

#include <algorithm>
#include <array>

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

constexpr std::array<std::string_view, 35> reserved = {
    "chap", "chap-algorithms", "command-timeout", "data-digest", "disabled", "discovery",
    "enabled", "export", "first-burst-length", "header-digest", "immediate-data", "include",
    "inet", "inet4", "inet6", "initial-r2t", "initiatoraddr", "initiatorname", "isid", "luns",
    "max-burst-length", "max-outstanding-r2t", "max-recv-data-segment-length", "mutual-chap",
    "nop-interval", "nop-timeout", "normal", "port", "replacement-timeout", "secret-file",
    "target", "targetaddr", "targetname", "user", "address",
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
        case conf_errc::insecure_file: return "file readable or writable by others, or foreign owner";
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
        const bool dated = rest.size() >= 9 && is_digit(rest[0]) && is_digit(rest[1]) &&
                           is_digit(rest[2]) && is_digit(rest[3]) && rest[4] == '-' &&
                           is_digit(rest[5]) && is_digit(rest[6]) && rest[7] == '.';
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
    if (name.empty())
        return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    });
}

// RFC 7143 §11.12.5: T(2) A(6) B(16) C(8) D(16).
std::array<std::uint8_t, 6> isid_bytes(const conf_isid& isid) noexcept
{
    std::uint64_t v = 0;
    switch (isid.format) {
    case isid_format::oui: // A+B: 22-bit OUI, C+D: 24-bit qualifier
        v = (std::uint64_t{0} << 46) | (std::uint64_t{isid.base & 0x3fffffu} << 24) |
            (isid.qualifier & 0xffffffu);
        break;
    case isid_format::en: // B+C: 24-bit enterprise number, D: qualifier
        v = (std::uint64_t{1} << 46) | (std::uint64_t{isid.base & 0xffffffu} << 16) |
            (isid.qualifier & 0xffffu);
        break;
    case isid_format::rand: // B+C: 24-bit random, D: qualifier
        v = (std::uint64_t{2} << 46) | (std::uint64_t{isid.base & 0xffffffu} << 16) |
            (isid.qualifier & 0xffffu);
        break;
    }
    std::array<std::uint8_t, 6> out{};
    for (int i = 0; i < 6; ++i)
        out[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v >> (40 - 8 * i));
    return out;
}

} // namespace ivs::config
