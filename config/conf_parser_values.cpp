// Values of iscsi-vscsi.conf(5): strings, numbers, lists, yes/no, iSCSI
// names, addresses, CHAP identities, digests.
#include "config/conf_parser.hpp"

#include "config/conf_values.hpp"

#include <algorithm>
#include <cstdint>
#include <utility>

namespace ivs::config {

namespace {

std::string_view trim(std::string_view s)
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

constexpr std::size_t max_list_items = 16384;

} // namespace

// --- values ----------------------------------------------------------------------------

bool conf_parser::take_string(source& s, std::string_view what, std::string_view noun, std::string& out)
{
    if (!conf_token_is_value(s.tok)) {
        if (at_line_end(s))
            error(s, s.tok.line, std::string(what) + ": missing " + std::string(noun));
        else
            unexpected(s, noun);
        return false;
    }
    out = std::move(s.tok.text);
    advance(s);
    return true;
}

bool conf_parser::take_number(source& s, std::string_view what, std::uint64_t min, std::uint64_t max,
                              std::uint64_t& out)
{
    const unsigned line = s.tok.line;
    std::string text;
    if (!take_string(s, what, "number", text))
        return false;
    std::uint64_t value = 0;
    const bool digits =
        !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!parse_conf_number(text, value)) {
        if (digits)
            error(s, line,
                  std::string(what) + ": " + text + " is out of range " + std::to_string(min) + ".." +
                      std::to_string(max));
        else
            error(s, line, std::string(what) + ": \"" + text + "\" is not a number");
        return false;
    }
    if (value < min || value > max) {
        error(s, line,
              std::string(what) + ": " + text + " is out of range " + std::to_string(min) + ".." + std::to_string(max));
        return false;
    }
    out = value;
    return true;
}

bool conf_parser::take_signed(source& s, std::string_view what, std::int64_t& out)
{
    const unsigned line = s.tok.line;
    std::string text;
    if (!take_string(s, what, "number", text))
        return false;
    if (!parse_conf_signed(text, out)) {
        error(s, line,
              std::string(what) + ": \"" + text + "\" is not a number from " + std::to_string(INT64_MIN) + " to " +
                  std::to_string(INT64_MAX));
        return false;
    }
    return true;
}

// ITEM[,ITEM...]: words separated by commas, or quoted strings holding commas.
bool conf_parser::take_list(source& s, std::string_view what, std::vector<std::string>& items)
{
    items.clear();
    for (;;) {
        if (!conf_token_is_value(s.tok)) {
            if (at_line_end(s))
                error(s, s.tok.line, std::string(what) + ": missing value");
            else
                unexpected(s, "a value");
            return false;
        }
        const unsigned line = s.tok.line;
        std::string_view text = s.tok.text;
        const bool quoted = s.tok.kind == conf_token_kind::quoted;
        for (;;) {
            const std::size_t comma = quoted ? text.find(',') : std::string_view::npos;
            const std::string_view item = trim(text.substr(0, comma));
            if (item.empty()) {
                error(s, line, std::string(what) + ": empty item in list");
                return false;
            }
            if (items.size() >= max_list_items) {
                error(s, line, std::string(what) + ": list too long");
                return false;
            }
            items.emplace_back(item);
            if (comma == std::string_view::npos)
                break;
            text.remove_prefix(comma + 1);
        }
        advance(s);
        if (s.tok.kind != conf_token_kind::comma)
            return true;
        advance(s);
    }
}

bool conf_parser::take_yes_no(source& s, std::string_view what, bool& out)
{
    const unsigned line = s.tok.line;
    std::string text;
    if (!take_string(s, what, "yes or no", text))
        return false;
    if (equals_ignore_case(text, "yes"))
        out = true;
    else if (equals_ignore_case(text, "no"))
        out = false;
    else {
        error(s, line, std::string(what) + ": \"" + text + "\" is neither yes nor no");
        return false;
    }
    return true;
}

bool conf_parser::take_iscsi_name(source& s, std::string_view what, std::string& out)
{
    const unsigned line = s.tok.line;
    std::string text;
    if (!take_string(s, what, "iSCSI name", text))
        return false;
    if (const std::string why = check_iscsi_name(text); !why.empty()) {
        error(s, line, std::string(what) + ": \"" + text + "\": " + why);
        return false;
    }
    out = std::move(text);
    return true;
}

// ADDR [inet | inet6] [port N], options in any order (iscsi.conf(5)).
bool conf_parser::take_address(source& s, std::string_view what, std::uint16_t default_port, conf_address& out)
{
    const unsigned line = s.tok.line;
    conf_address a;
    a.port = default_port;
    if (!take_string(s, what, "address", a.host))
        return false;
    if (a.host.size() > 2 && a.host.front() == '[' && a.host.back() == ']')
        a.host = a.host.substr(1, a.host.size() - 2);
    if (a.host.empty() || a.host.find_first_of(" \t[]") != std::string::npos) {
        error(s, line, std::string(what) + ": \"" + a.host + "\" is not a host name or address");
        return false;
    }
    bool port_set = false;
    bool family_set = false;
    while (s.tok.kind == conf_token_kind::word) {
        const std::string kw = s.tok.text;
        const unsigned kw_line = s.tok.line;
        if (kw == "port") {
            if (port_set) {
                error(s, kw_line, std::string(what) + ": port given twice");
                return false;
            }
            advance(s);
            std::uint64_t port = 0;
            if (conf_token_is_value(s.tok) && (s.tok.text == "iscsi" || s.tok.text == "iscsi-target")) {
                port = default_iscsi_port; // the service names of port 3260 (iscsid(8) uses "iscsi")
                advance(s);
            } else if (!take_number(s, "port", 1, 65535, port)) {
                return false;
            }
            a.port = static_cast<std::uint16_t>(port);
            port_set = true;
        } else if (kw == "inet" || kw == "inet4" || kw == "inet6") {
            if (family_set) {
                error(s, kw_line, std::string(what) + ": address family given twice");
                return false;
            }
            a.family = kw == "inet6" ? address_family::inet6 : address_family::inet;
            family_set = true;
            advance(s);
        } else {
            break;
        }
    }
    if (a.host == "*") // iscsictl(8): the wildcard address (AI_PASSIVE)
        a.host = a.family == address_family::inet6 ? "::" : "0.0.0.0";
    out = std::move(a);
    return true;
}

// user NAME secret-file PATH
bool conf_parser::take_chap(source& s, std::string_view what, conf_chap& out)
{
    const std::string usage = std::string(what) + ": expected \"user NAME secret-file PATH\"";
    if (s.tok.kind != conf_token_kind::word || s.tok.text != "user") {
        if (s.tok.kind != conf_token_kind::error)
            error(s, s.tok.line, usage);
        return false;
    }
    advance(s);
    conf_chap c;
    if (!take_string(s, what, "user name", c.user))
        return false;
    if (c.user.empty()) {
        error(s, s.tok.line, std::string(what) + ": empty user name");
        return false;
    }
    if (s.tok.kind != conf_token_kind::word || s.tok.text != "secret-file") {
        if (s.tok.kind != conf_token_kind::error)
            error(s, s.tok.line, usage);
        return false;
    }
    advance(s);
    std::string path;
    if (!take_string(s, what, "secret file", path))
        return false;
    if (path.empty()) {
        error(s, s.tok.line, std::string(what) + ": empty secret file name");
        return false;
    }
    c.secret_file = resolve(s, path);
    out = std::move(c);
    return true;
}

// none | crc32c | crc32c,none | none,crc32c (§13.1)
bool conf_parser::take_digest(source& s, std::string_view what, conf_digest& out)
{
    const unsigned line = s.tok.line;
    std::vector<std::string> items;
    if (!take_list(s, what, items))
        return false;
    std::vector<bool> crc;
    for (const std::string& item : items) {
        if (equals_ignore_case(item, "none"))
            crc.push_back(false);
        else if (equals_ignore_case(item, "crc32c"))
            crc.push_back(true);
        else {
            error(s, line, std::string(what) + ": unknown digest \"" + item + "\" (none or crc32c)");
            return false;
        }
    }
    if (crc.size() > 2 || (crc.size() == 2 && crc[0] == crc[1])) {
        error(s, line, std::string(what) + ": a digest is listed twice");
        return false;
    }
    if (crc.size() == 1)
        out = crc[0] ? conf_digest::crc32c : conf_digest::none;
    else
        out = crc[0] ? conf_digest::crc32c_or_none : conf_digest::none_or_crc32c;
    return true;
}

} // namespace ivs::config
