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
    case '{': case '}': case '(': case ')': case '!': case '=': case '#': case ',':
    case '"': case '\'':
        return true;
    default:
        return false;
    }
}

conf_lexer::conf_lexer(std::string_view text, conf_macro_lookup macros)
    : text_(text), macros_(std::move(macros))
{
}

int conf_lexer::peek(std::size_t ahead) const
{
    if (pos_ + ahead >= text_.size())
        return -1;
    return static_cast<unsigned char>(text_[pos_ + ahead]);
}

// Blanks and backslash-newline continuations.
void conf_lexer::skip_blanks()
{
    for (;;) {
        const int c = peek();
        if (is_blank(c)) {
            ++pos_;
        } else if (c == '\\' && peek(1) == '\n') {
            pos_ += 2;
            ++line_;
        } else if (c == '\\' && peek(1) == '\r' && peek(2) == '\n') {
            pos_ += 3;
            ++line_;
        } else {
            return;
        }
    }
}

// Up to (not including) the newline that ends the logical line; a comment
// continued with a backslash goes on, as in iscsi.conf(5).
void conf_lexer::skip_to_line_end()
{
    for (;;) {
        const int c = peek();
        if (c < 0 || c == '\n')
            return;
        if (c == '\\' && (peek(1) == '\n' || (peek(1) == '\r' && peek(2) == '\n'))) {
            pos_ += peek(1) == '\n' ? 2 : 3;
            ++line_;
            continue;
        }
        ++pos_;
    }
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
        const int c = peek();
        if (c < 0)
            return {conf_token_kind::end, {}, line_};
        if (c == '#') {
            skip_to_line_end();
            continue;
        }
        if (c == '\n') {
            ++pos_;
            return {conf_token_kind::newline, {}, line_++};
        }
        switch (c) {
        case '"': case '\'':
            ++pos_;
            return lex_quoted(static_cast<char>(c));
        case '{': ++pos_; return {conf_token_kind::lbrace, "{", line_};
        case '}': ++pos_; return {conf_token_kind::rbrace, "}", line_};
        case '=': ++pos_; return {conf_token_kind::equals, "=", line_};
        case ',': ++pos_; return {conf_token_kind::comma, ",", line_};
        default: break;
        }
        if (c == '$' && macros_) {
            ++pos_;
            const std::size_t start = pos_;
            while (is_macro_char(peek()))
                ++pos_;
            const std::string name(text_.substr(start, pos_ - start));
            if (name.empty())
                return fail("missing macro name after '$'");
            std::string value;
            if (!macros_(name, value))
                return fail("macro \"" + name + "\" is not defined");
            // The value's tokens stand where $name was; no further expansion.
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
            pending_.assign(tokens.rbegin(), tokens.rend());
            if (!pending_.empty())
                return next();
            continue; // an empty value expands to nothing
        }
        if (c == '\\')
            return fail("unexpected backslash");
        if (conf_word_delimiter(static_cast<char>(c)) || is_control(c))
            return fail("unexpected " + describe(c));
        return lex_word();
    }
}

conf_token conf_lexer::lex_word()
{
    conf_token t{conf_token_kind::word, {}, line_};
    for (;;) {
        const int c = peek();
        if (c < 0 || c == '\n' || is_blank(c) || conf_word_delimiter(static_cast<char>(c)))
            break;
        if (c == '\\') {
            if (peek(1) == '\n' || (peek(1) == '\r' && peek(2) == '\n')) {
                pos_ += peek(1) == '\n' ? 2 : 3; // continuation inside a word joins it
                ++line_;
                continue;
            }
            return fail("unexpected backslash");
        }
        if (is_control(c))
            return fail("unexpected " + describe(c));
        if (t.text.size() >= max_conf_token_length)
            return fail("word too long");
        t.text.push_back(static_cast<char>(c));
        ++pos_;
    }
    return t;
}

// After the opening quote. \<quote> is the quote, backslash-newline
// continues the string, any other backslash is kept.
conf_token conf_lexer::lex_quoted(char quote)
{
    conf_token t{conf_token_kind::quoted, {}, line_};
    for (;;) {
        const int c = peek();
        if (c < 0 || c == '\n' || (c == '\r' && peek(1) == '\n'))
            return fail("unterminated quoted string");
        ++pos_;
        if (c == quote)
            return t;
        char out = static_cast<char>(c);
        if (c == '\\') {
            const int n = peek();
            if (n == quote) {
                ++pos_;
                out = quote;
            } else if (n == '\n' || (n == '\r' && peek(1) == '\n')) {
                pos_ += n == '\n' ? 1 : 2;
                ++line_;
                continue;
            }
        } else if (is_control(c) && c != '\t') {
            return fail("unexpected " + describe(c) + " in quoted string");
        }
        if (t.text.size() >= max_conf_token_length)
            return fail("string too long");
        t.text.push_back(out);
    }
}

} // namespace ivs::config
