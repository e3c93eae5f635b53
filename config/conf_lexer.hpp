// Tokens of iscsi-vscsi.conf(5), read as OpenBSD's iscsictl(8) reads
// iscsi.conf(5): '#' comments, backslash-newline continuation, a backslash
// outside quotes standing for the character after it, "..." and '...'
// strings (which may span lines), unquoted words, the punctuation { } = ,
// and newlines. `$name` at the start of a token outside quotes is replaced
// by the tokens of the macro's value. No I/O.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace ivs::config {

enum class conf_token_kind { word, quoted, lbrace, rbrace, equals, comma, newline, end, error };

struct conf_token {
    conf_token_kind kind = conf_token_kind::end;
    std::string text; // word or quoted contents; the reason for `error`
    unsigned line = 0;
};

inline constexpr std::size_t max_conf_token_length = 8192;

// Looks up a macro; returns false when it is not defined.
using conf_macro_lookup = std::function<bool(std::string_view name, std::string& value)>;

class conf_lexer {
public:
    // `macros` may be empty: then `$` starts an ordinary word (used to lex a
    // macro's own value, which OpenBSD does not expand again).
    conf_lexer(std::string_view text, conf_macro_lookup macros);

    // The next token; `end` forever once the text is exhausted. After an
    // `error` token, lexing resumes at the next line.
    conf_token next();

    unsigned line() const { return line_; }

private:
    // One character outside quotes: `c` (-1 at the end) takes `length`
    // bytes of the text, including the continuations and the escaping
    // backslash before it, which end `lines` lines.
    struct outside_char {
        int c;
        std::size_t length;
        unsigned lines;
    };
    outside_char look() const;
    void take(const outside_char& oc);

    conf_token lex_one();
    conf_token lex_quoted(char quote);
    conf_token lex_word();
    conf_token expand_macro();
    conf_token fail(std::string reason);
    void skip_blanks();
    void skip_to_line_end();
    int peek_raw(std::size_t ahead = 0) const;

    std::string_view text_;
    std::size_t pos_ = 0;
    unsigned line_ = 1;
    conf_macro_lookup macros_;
    std::vector<conf_token> pending_; // expanded macro tokens, in reverse order
};

// Characters that end an unquoted word (besides blanks and newlines), as in
// iscsictl(8): quotes inside a word are part of it.
bool conf_word_delimiter(char c) noexcept;

} // namespace ivs::config
