#include "config/conf_lexer.hpp"

#include <cstdio>
#include <utility>

namespace ivs::config {

namespace {

bool is_blank(int c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }
bool is_macro_char(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}
bool is_control(int c) { return (c >= 0 && c < 0x20) || c == 0x7f; }

std::string describe(int c)
{
    char buf[32];
    if (c > 0x20 && c < 0x7f)
        std::snprintf(buf, sizeof buf, "'%c'", static_cast<char>(c));
    else
        std::snprintf(buf, sizeof buf, "byte 0x%02x", static_cast<unsigned>(c) & 0xffu);
    return buf;
}

} // namespace

bool conf_word_delimiter(char c) noexcept
{
    switch (c) {
    case '{':
    case '}':
    case '(':
    case ')':
    case '!':
    case '=':
    case '#':
    case ',': return true;
    default: return false;
    }
}

conf_lexer::conf_lexer(std::string_view text, conf_macro_lookup macros) : text_(text), macros_(std::move(macros)) {}

int conf_lexer::peek_raw(std::size_t ahead) const
{
    if (pos_ + ahead >= text_.size())
        return -1;
    return static_cast<unsigned char>(text_[pos_ + ahead]);
}

// Outside quotes a backslash before a newline (or CR LF) joins the lines,
// and a backslash before any other character stands for that character;
// a backslash that ends the text ends it.
conf_lexer::outside_char conf_lexer::look() const
{
    std::size_t p = pos_;
    unsigned lines = 0;
    const auto at = [this](std::size_t i) { return i < text_.size() ? static_cast<unsigned char>(text_[i]) : -1; };
    for (;;) {
        const int c = at(p);
        if (c != '\\')
            return {c, c < 0 ? p - pos_ : p + 1 - pos_, lines};
        if (at(p + 1) == '\n') {
            p += 2;
            ++lines;
        } else if (at(p + 1) == '\r' && at(p + 2) == '\n') {
            p += 3;
            ++lines;
        } else if (at(p + 1) < 0) {
            return {-1, p + 1 - pos_, lines};
        } else {
            return {at(p + 1), p + 2 - pos_, lines};
        }
    }
}

void conf_lexer::take(const outside_char& oc)
{
    pos_ += oc.length;
    line_ += oc.lines;
}

void conf_lexer::skip_blanks()
{
    for (outside_char oc = look(); is_blank(oc.c) || (oc.c < 0 && oc.length > 0); oc = look())
        take(oc);
}

// Up to (not including) the newline that ends the logical line; a comment
// continued with a backslash goes on, as in iscsi.conf(5).
void conf_lexer::skip_to_line_end()
{
    for (outside_char oc = look(); oc.c != '\n' && (oc.c >= 0 || oc.length > 0); oc = look())
        take(oc);
}

conf_token conf_lexer::fail(std::string reason)
{
    conf_token t{conf_token_kind::error, std::move(reason), line_};
    skip_to_line_end();
    return t;
}

conf_token conf_lexer::next()
{
    if (!pending_.empty()) {
        conf_token t = std::move(pending_.back());
        pending_.pop_back();
        return t;
    }
    return lex_one();
}

conf_token conf_lexer::lex_one()
{
    for (;;) {
        skip_blanks();
        const outside_char oc = look();
        const int c = oc.c;
        if (c < 0)
            return {conf_token_kind::end, {}, line_};
        if (c == '#') {
            skip_to_line_end();
            continue;
        }
        const unsigned line = line_ + oc.lines;
        switch (c) {
        case '\n': take(oc); return {conf_token_kind::newline, {}, line_++};
        case '"':
        case '\'': take(oc); return lex_quoted(static_cast<char>(c));
        case '{': take(oc); return {conf_token_kind::lbrace, "{", line};
        case '}': take(oc); return {conf_token_kind::rbrace, "}", line};
        case '=': take(oc); return {conf_token_kind::equals, "=", line};
        case ',': take(oc); return {conf_token_kind::comma, ",", line};
        default: break;
        }
        if (c == '$' && macros_) {
            take(oc);
            conf_token t = expand_macro();
            if (t.kind == conf_token_kind::end)
                continue; // an empty value expands to nothing
            return t;
        }
        if (conf_word_delimiter(static_cast<char>(c)) || is_control(c)) {
            take(oc);
            return fail("unexpected " + describe(c));
        }
        return lex_word();
    }
}

// After the '$': the value's tokens stand where $name was, not expanded again.
conf_token conf_lexer::expand_macro()
{
    std::string name;
    for (outside_char oc = look(); is_macro_char(oc.c); oc = look()) {
        if (name.size() >= max_conf_token_length)
            return fail("macro name too long");
        name.push_back(static_cast<char>(oc.c));
        take(oc);
    }
    std::string value;
    if (!macros_(name, value)) // iscsictl(8) expands even "$" alone if `"" = value` defined it
        return fail(name.empty() ? "missing macro name after '$'" : "macro \"" + name + "\" is not defined");
    conf_lexer sub(value, {});
    std::vector<conf_token> tokens;
    for (conf_token t = sub.next(); t.kind != conf_token_kind::end; t = sub.next()) {
        if (t.kind == conf_token_kind::error)
            return fail("in macro \"" + name + "\": " + t.text);
        if (t.kind == conf_token_kind::newline)
            continue;
        t.line = line_;
        tokens.push_back(std::move(t));
    }
    if (tokens.empty())
        return {conf_token_kind::end, {}, line_};
    pending_.assign(tokens.rbegin(), tokens.rend() - 1);
    return std::move(tokens.front());
}

conf_token conf_lexer::lex_word()
{
    conf_token t{conf_token_kind::word, {}, line_ + look().lines};
    for (;;) {
        const outside_char oc = look();
        const int c = oc.c;
        if (c < 0 || c == '\n' || is_blank(c) || conf_word_delimiter(static_cast<char>(c)))
            break;
        if (is_control(c)) {
            take(oc);
            return fail("unexpected " + describe(c));
        }
        if (t.text.size() >= max_conf_token_length)
            return fail("word too long");
        t.text.push_back(static_cast<char>(c));
        take(oc);
    }
    return t;
}

// After the opening quote. As in iscsictl(8): a newline inside the string
// is dropped (the string goes on), a backslash before the quote, a blank
// or a tab stands for it, a backslash before a newline joins the lines,
// any other backslash is kept.
conf_token conf_lexer::lex_quoted(char quote)
{
    const unsigned opened = line_;
    conf_token t{conf_token_kind::quoted, {}, line_};
    for (;;) {
        const int c = peek_raw();
        if (c < 0) // reported where the string opened
            return {conf_token_kind::error, "unterminated quoted string", opened};
        ++pos_;
        if (c == quote)
            return t;
        if (c == '\n') {
            ++line_;
            continue;
        }
        if (c == 0)
            return fail("unexpected byte 0x00 in quoted string");
        char out = static_cast<char>(c);
        if (c == '\\') {
            const int n = peek_raw();
            if (n == quote || n == ' ' || n == '\t') {
                ++pos_;
                out = static_cast<char>(n);
            } else if (n == '\n') {
                ++pos_;
                ++line_;
                continue;
            }
        }
        if (t.text.size() >= max_conf_token_length)
            return fail("string too long");
        t.text.push_back(out);
    }
}

} // namespace ivs::config
