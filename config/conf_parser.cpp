// Statements of iscsi-vscsi.conf(5) and the parser's entry point; values
// are in conf_parser_values.cpp, target blocks in conf_target_options.cpp.
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

} // namespace

conf_parser::conf_parser(const conf_reader& read, conf& out) : read_(read), out_(out) {}

// --- tokens and errors -----------------------------------------------------------------

void conf_parser::error(const source& s, unsigned line, const std::string& reason)
{
    if (too_many_errors())
        return;
    errors_.push_back(s.name + ":" + std::to_string(line) + ": " + reason);
}

void conf_parser::warning(const source& s, unsigned line, const std::string& reason)
{
    if (warnings_.size() < max_reported_errors)
        warnings_.push_back(s.name + ":" + std::to_string(line) + ": " + reason);
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
             name.string(),
             name.parent_path(),
             {}};
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
    if (!conf_token_is_value(s.tok)) {
        unexpected(s, "a keyword");
        return false;
    }
    const bool quoted = s.tok.kind == conf_token_kind::quoted;
    const std::string word = s.tok.text;
    const unsigned line = s.tok.line;
    advance(s);
    if (s.tok.kind == conf_token_kind::equals)
        return macro_definition(s, word, quoted, line);
    if (quoted) { // a quoted string is never a keyword, only a macro name
        error(s, line, "unexpected \"" + word + "\", expected a keyword");
        return false;
    }
    if (word == "include")
        return include(s, line);
    if (word == "isid")
        return isid(s, line);
    if (word == "initiatorname")
        return initiator_name(s, line);
    if (word == "initiatoraddr")
        return initiator_addr(s, line);
    if (word == "target")
        return target(s, line);
    error(s, line, "unknown keyword \"" + word + "\"");
    return false;
}

// NAME = VALUE...: the values joined by blanks; commas kept as written.
// NAME is any word but OpenBSD's keywords, or a quoted string (iscsictl(8)).
bool conf_parser::macro_definition(source& s, const std::string& name, bool quoted, unsigned line)
{
    if (!is_valid_macro_name(name)) {
        error(s, line, "invalid macro name \"" + name + "\": it contains a blank");
        return false;
    }
    if (!quoted && is_conf_reserved_word(name)) {
        error(s, line, "\"" + name + "\" is a reserved word, not a macro name");
        return false;
    }
    advance(s); // '='
    std::string value;
    bool any = false;
    bool after_comma = true;
    while (conf_token_is_value(s.tok) || s.tok.kind == conf_token_kind::comma) {
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
    // As iscsictl(8) opens it: a relative path is taken from the current
    // directory, not from the including file's.
    const std::filesystem::path file{path};
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
        std::string reason = "include: cannot read \"" + file.string() + "\": " + why;
        if (file.is_relative())
            reason += " (a relative path is taken from the current directory, as iscsictl(8) does)";
        error(s, line, reason);
        return false;
    }
    parse_file(text, file);
    return true;
}

// isid (oui | en | rand) BASE QUALIFIER (iscsi.conf(5); RFC 7143 §11.12.5).
// Read as iscsictl(8) reads it: signed numbers, masked (see conf_isid); a
// later isid replaces an earlier one.
bool conf_parser::isid(source& s, unsigned line)
{
    const unsigned type_line = s.tok.line;
    std::string type;
    if (!take_string(s, "isid", "type (oui, en or rand)", type))
        return false;
    conf_isid v;
    if (equals_ignore_case(type, "oui")) {
        v.format = isid_format::oui;
    } else if (equals_ignore_case(type, "en")) {
        v.format = isid_format::en;
    } else if (equals_ignore_case(type, "rand")) {
        v.format = isid_format::rand;
    } else {
        error(s, type_line, "isid: unknown type \"" + type + "\" (oui, en or rand)");
        return false;
    }
    if (!take_signed(s, "isid base", v.base) || !take_signed(s, "isid qualifier", v.qualifier))
        return false;
    if (isid_at_)
        warning(s, line, "isid: replaces the isid set at " + to_string(*isid_at_));
    if (isid_ignored_bits(v))
        warning(s, line,
                v.format == isid_format::oui
                    ? "isid oui: only bits 8-29 of the base (the OUI) and bits 0-23 of the "
                      "qualifier are used; the others are ignored, as by iscsictl(8)"
                    : "isid " + type +
                          ": only the low 24 bits of the base and the low 16 bits "
                          "of the qualifier are used; the others are ignored, as by iscsictl(8)");
    out_.isid = v;
    isid_at_ = conf_location{s.name, line};
    return true;
}

bool conf_parser::first_setting(const source& s, unsigned line, std::string_view keyword,
                                const std::optional<conf_location>& set_at)
{
    if (!set_at)
        return true;
    error(s, line, std::string(keyword) + ": already set at " + to_string(*set_at));
    return false;
}

// Global initiatorname (an extension; iscsid(8) takes it per target only).
bool conf_parser::initiator_name(source& s, unsigned line)
{
    if (!first_setting(s, line, "initiatorname", initiator_name_at_))
        return false;
    if (!take_iscsi_name(s, "initiatorname", out_.initiator_name))
        return false;
    initiator_name_at_ = conf_location{s.name, line};
    return true;
}

// Global initiatoraddr (an extension; iscsid(8) takes it per target only):
// the local address of every target that does not set its own.
bool conf_parser::initiator_addr(source& s, unsigned line)
{
    if (!first_setting(s, line, "initiatoraddr", initiator_addr_at_))
        return false;
    conf_address a;
    if (!take_initiator_addr(s, line, a))
        return false;
    out_.initiator_addr = std::move(a);
    initiator_addr_at_ = conf_location{s.name, line};
    return true;
}

// --- entry points ----------------------------------------------------------------------

std::error_code parse_conf(std::string_view text, std::string_view filename, const conf_reader& read, conf& out,
                           std::string& error)
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
        result.warnings = parser.warnings();
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
