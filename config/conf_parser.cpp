// Statements and values of iscsi-vscsi.conf(5); the target block's options
// are in conf_target_options.cpp.
#include "config/conf_parser.hpp"

#include "config/conf_values.hpp"

#include <algorithm>
#include <exception>
#include <utility>

namespace ivs::config {

namespace {

std::string describe(const conf_token& t)
{
    switch (t.kind) {
    case conf_token_kind::word:
    case conf_token_kind::quoted: return "\"" + t.text + "\"";
    case conf_token_kind::lbrace: return "'{'";
    case conf_token_kind::rbrace: return "'}'";
    case conf_token_kind::equals: return "'='";
    case conf_token_kind::comma: return "','";
    case conf_token_kind::newline: return "end of line";
    case conf_token_kind::end: return "end of file";
    case conf_token_kind::error: return "error";
    }
    return "token";
}

bool is_value(const conf_token& t)
{
    return t.kind == conf_token_kind::word || t.kind == conf_token_kind::quoted;
}

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

conf_parser::conf_parser(const conf_reader& read, conf& out) : read_(read), out_(out) {}

// --- tokens and errors -----------------------------------------------------------------

void conf_parser::error(const source& s, unsigned line, const std::string& reason)
{
    if (too_many_errors())
        return;
    errors_.push_back(s.name + ":" + std::to_string(line) + ": " + reason);
}

// About the current token; a lexer error was already reported by advance().
void conf_parser::unexpected(const source& s, std::string_view expected)
{
    if (s.tok.kind == conf_token_kind::error)
        return;
    std::string reason = "unexpected " + describe(s.tok);
    if (!expected.empty())
        reason += ", expected " + std::string(expected);
    error(s, s.tok.line, reason);
}

void conf_parser::advance(source& s)
{
    s.tok = s.lexer.next();
    if (s.tok.kind == conf_token_kind::error)
        error(s, s.tok.line, s.tok.text);
}

bool conf_parser::at_line_end(const source& s) const
{
    return s.tok.kind == conf_token_kind::newline || s.tok.kind == conf_token_kind::end;
}

void conf_parser::skip_line(source& s, bool stop_at_rbrace)
{
    while (!at_line_end(s) && !(stop_at_rbrace && s.tok.kind == conf_token_kind::rbrace))
        advance(s);
}

bool conf_parser::expect_line_end(source& s)
{
    if (at_line_end(s))
        return true;
    unexpected(s, "end of line");
    return false;
}

std::filesystem::path conf_parser::resolve(const source& s, std::string_view path) const
{
    std::filesystem::path p{std::string(path)};
    if (p.is_absolute())
        return p;
    return s.dir / p;
}

// --- values ----------------------------------------------------------------------------

bool conf_parser::take_string(source& s, std::string_view what, std::string_view noun, std::string& out)
{
    if (!is_value(s.tok)) {
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
    const bool digits = !text.empty() && std::all_of(text.begin(), text.end(),
                                                     [](char c) { return c >= '0' && c <= '9'; });
    if (!parse_conf_number(text, value)) {
        if (digits)
            error(s, line, std::string(what) + ": " + text + " is out of range " + std::to_string(min) +
                               ".." + std::to_string(max));
        else
            error(s, line, std::string(what) + ": \"" + text + "\" is not a number");
        return false;
    }
    if (value < min || value > max) {
        error(s, line, std::string(what) + ": " + text + " is out of range " + std::to_string(min) +
                           ".." + std::to_string(max));
        return false;
    }
    out = value;
    return true;
}

// ITEM[,ITEM...]: words separated by commas, or quoted strings holding commas.
bool conf_parser::take_list(source& s, std::string_view what, std::vector<std::string>& items)
{
    items.clear();
    for (;;) {
        if (!is_value(s.tok)) {
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
bool conf_parser::take_address(source& s, std::string_view what, std::uint16_t default_port,
                               conf_address& out)
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
            if (s.tok.kind == conf_token_kind::word && s.tok.text == "iscsi") {
                port = default_iscsi_port; // the service name iscsid(8) uses
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

// --- statements ------------------------------------------------------------------------

void conf_parser::parse_file(std::string_view text, const std::filesystem::path& name)
{
    include_stack_.push_back(name.lexically_normal().string());
    ++files_read_;
    source s{conf_lexer(text,
                        [this](std::string_view macro, std::string& value) {
                            const auto it = macros_.find(macro);
                            if (it == macros_.end())
                                return false;
                            value = it->second;
                            return true;
                        }),
             name.string(), name.parent_path(), {}};
    advance(s);
    while (!too_many_errors() && s.tok.kind != conf_token_kind::end) {
        if (s.tok.kind == conf_token_kind::newline) {
            advance(s);
            continue;
        }
        if (!statement(s) || !expect_line_end(s))
            skip_line(s, false);
    }
    include_stack_.pop_back();
}

bool conf_parser::statement(source& s)
{
    if (s.tok.kind != conf_token_kind::word) {
        unexpected(s, "a keyword");
        return false;
    }
    const std::string word = s.tok.text;
    const unsigned line = s.tok.line;
    advance(s);
    if (s.tok.kind == conf_token_kind::equals)
        return macro_definition(s, word, line);
    if (word == "include")
        return include(s, line);
    if (word == "isid")
        return isid(s, line);
    if (word == "initiatorname")
        return initiator_name(s, line);
    if (word == "target")
        return target(s, line);
    error(s, line, "unknown keyword \"" + word + "\"");
    return false;
}

// NAME = VALUE...: the values joined by blanks; commas kept as written.
bool conf_parser::macro_definition(source& s, const std::string& name, unsigned line)
{
    if (!is_valid_macro_name(name)) {
        error(s, line, "invalid macro name \"" + name + "\"");
        return false;
    }
    if (is_conf_reserved_word(name)) {
        error(s, line, "\"" + name + "\" is a reserved word, not a macro name");
        return false;
    }
    advance(s); // '='
    std::string value;
    bool any = false;
    bool after_comma = true;
    while (is_value(s.tok) || s.tok.kind == conf_token_kind::comma) {
        if (s.tok.kind == conf_token_kind::comma) {
            value += ',';
            after_comma = true;
        } else {
            if (!after_comma)
                value += ' ';
            value += s.tok.text;
            after_comma = false;
        }
        any = true;
        if (value.size() > max_conf_token_length) {
            error(s, line, "macro \"" + name + "\": value too long");
            return false;
        }
        advance(s);
    }
    if (!any) {
        if (at_line_end(s))
            error(s, line, "macro \"" + name + "\": missing value");
        else
            unexpected(s, "a value");
        return false;
    }
    macros_[name] = std::move(value);
    return true;
}

bool conf_parser::include(source& s, unsigned line)
{
    std::string path;
    if (!take_string(s, "include", "file name", path) || !expect_line_end(s))
        return false;
    if (path.empty()) {
        error(s, line, "include: empty file name");
        return false;
    }
    const std::filesystem::path file = resolve(s, path);
    const std::string key = file.lexically_normal().string();
    if (std::find(include_stack_.begin(), include_stack_.end(), key) != include_stack_.end()) {
        error(s, line, "include loop: \"" + file.string() + "\" is already being read");
        return false;
    }
    if (include_stack_.size() >= max_include_depth) {
        error(s, line, "include: more than " + std::to_string(max_include_depth) + " nested files");
        return false;
    }
    if (files_read_ >= max_included_files) {
        error(s, line, "include: more than " + std::to_string(max_included_files) + " files");
        return false;
    }
    std::string text;
    std::string why;
    if (!read_) {
        error(s, line, "include: cannot read \"" + file.string() + "\": no file access");
        return false;
    }
    if (read_(file, text, why)) {
        error(s, line, "include: cannot read \"" + file.string() + "\": " + why);
        return false;
    }
    parse_file(text, file);
    return true;
}

// isid (oui | en | rand) BASE QUALIFIER (iscsi.conf(5); RFC 7143 §11.12.5)
bool conf_parser::isid(source& s, unsigned line)
{
    if (isid_at_) {
        error(s, line, "isid: already set at " + isid_at_->file + ":" + std::to_string(isid_at_->line));
        return false;
    }
    const unsigned type_line = s.tok.line;
    std::string type;
    if (!take_string(s, "isid", "type (oui, en or rand)", type))
        return false;
    conf_isid v;
    std::uint64_t base_max = 0xffffff, qual_max = 0xffff;
    if (equals_ignore_case(type, "oui")) {
        v.format = isid_format::oui;
        base_max = 0x3fffff;
        qual_max = 0xffffff;
    } else if (equals_ignore_case(type, "en")) {
        v.format = isid_format::en;
    } else if (equals_ignore_case(type, "rand")) {
        v.format = isid_format::rand;
    } else {
        error(s, type_line, "isid: unknown type \"" + type + "\" (oui, en or rand)");
        return false;
    }
    std::uint64_t base = 0, qual = 0;
    if (!take_number(s, "isid base", 0, base_max, base) ||
        !take_number(s, "isid qualifier", 0, qual_max, qual))
        return false;
    v.base = static_cast<std::uint32_t>(base);
    v.qualifier = static_cast<std::uint32_t>(qual);
    out_.isid = v;
    isid_at_ = conf_location{s.name, line};
    return true;
}

// Global initiatorname (an extension; iscsid(8) takes it per target only).
bool conf_parser::initiator_name(source& s, unsigned line)
{
    if (initiator_name_at_) {
        error(s, line, "initiatorname: already set at " + initiator_name_at_->file + ":" +
                           std::to_string(initiator_name_at_->line));
        return false;
    }
    if (!take_iscsi_name(s, "initiatorname", out_.initiator_name))
        return false;
    initiator_name_at_ = conf_location{s.name, line};
    return true;
}

// --- entry points ----------------------------------------------------------------------

std::error_code parse_conf(std::string_view text, std::string_view filename, const conf_reader& read,
                           conf& out, std::string& error)
{
    out = {};
    error.clear();
    try {
        conf result;
        conf_parser parser(read, result);
        parser.parse_file(text, std::filesystem::path(std::string(filename)));
        if (!parser.errors().empty()) {
            for (const std::string& line : parser.errors()) {
                if (!error.empty())
                    error += '\n';
                error += line;
            }
            return conf_errc::syntax;
        }
        out = std::move(result);
        return {};
    } catch (const std::exception& e) {
        out = {};
        error = std::string(filename) + ": " + e.what();
        return conf_errc::syntax;
    } catch (...) {
        out = {};
        error = std::string(filename) + ": unexpected failure";
        return conf_errc::syntax;
    }
}

} // namespace ivs::config
