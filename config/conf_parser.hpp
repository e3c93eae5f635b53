// The recursive-descent parser of iscsi-vscsi.conf(5). Statements: macro
// definitions, include, isid, initiatorname, initiatoraddr, target blocks. Errors are
// collected as "file:line: reason" and parsing resumes at the next line.
// Includes come through a conf_reader, so the parser does no I/O itself.
#pragma once

#include "config/conf.hpp"
#include "config/conf_lexer.hpp"

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ivs::config {

inline bool conf_token_is_value(const conf_token& t)
{
    return t.kind == conf_token_kind::word || t.kind == conf_token_kind::quoted;
}

class conf_parser {
public:
    conf_parser(const conf_reader& read, conf& out);

    // Parses one file's text (and, recursively, what it includes).
    void parse_file(std::string_view text, const std::filesystem::path& name);

    const std::vector<std::string>& errors() const { return errors_; }
    const std::vector<std::string>& warnings() const { return warnings_; }

private:
    struct source {
        conf_lexer lexer;
        std::string name;          // for messages
        std::filesystem::path dir; // base of relative paths
        conf_token tok;            // current token
    };

    // Per-block bookkeeping: the line each keyword (or keyword group) was set.
    struct block_state {
        std::map<std::string, unsigned, std::less<>> seen;
        bool options_failed = false;
    };

    // token helpers
    void advance(source& s);
    bool at_line_end(const source& s) const;
    void skip_line(source& s, bool stop_at_rbrace);
    void error(const source& s, unsigned line, const std::string& reason);
    void warning(const source& s, unsigned line, const std::string& reason);
    void unexpected(const source& s, std::string_view expected);
    bool too_many_errors() const { return errors_.size() >= max_reported_errors; }
    bool expect_line_end(source& s);
    // A global set at most once: false, with an error naming where it was set, if it was.
    bool first_setting(const source& s, unsigned line, std::string_view keyword,
                       const std::optional<conf_location>& set_at);

    // values; each reports its own error and returns false
    bool take_string(source& s, std::string_view what, std::string_view noun, std::string& out);
    bool take_number(source& s, std::string_view what, std::uint64_t min, std::uint64_t max, std::uint64_t& out);
    bool take_signed(source& s, std::string_view what, std::int64_t& out);
    bool take_list(source& s, std::string_view what, std::vector<std::string>& items);
    bool take_yes_no(source& s, std::string_view what, bool& out);
    bool take_iscsi_name(source& s, std::string_view what, std::string& out);
    bool take_address(source& s, std::string_view what, std::uint16_t default_port, conf_address& out);
    bool take_initiator_addr(source& s, unsigned line, conf_address& out);
    bool take_chap(source& s, std::string_view what, conf_chap& out);
    bool take_digest(source& s, std::string_view what, conf_digest& out);
    std::filesystem::path resolve(const source& s, std::string_view path) const;

    // statements
    bool statement(source& s);
    bool macro_definition(source& s, const std::string& name, bool quoted, unsigned line);
    bool include(source& s, unsigned line);
    bool isid(source& s, unsigned line);
    bool initiator_name(source& s, unsigned line);
    bool initiator_addr(source& s, unsigned line);
    bool target(source& s, unsigned line);
    bool target_option(source& s, conf_target& t, block_state& b);
    bool option_value(source& s, conf_target& t, const std::string& kw, unsigned line);
    bool mark_once(const source& s, block_state& b, std::string_view key, std::string_view keyword, unsigned line);
    void mark_repeatable(const source& s, block_state& b, std::string_view key, std::string_view keyword,
                         unsigned line);
    void check_target(const source& s, const conf_target& t, const block_state& b);

    const conf_reader& read_;
    conf& out_;
    std::vector<std::string> errors_;
    std::vector<std::string> warnings_;
    std::map<std::string, std::string, std::less<>> macros_;
    std::vector<std::string> include_stack_; // normalized paths being read
    std::optional<conf_location> initiator_name_at_;
    std::optional<conf_location> initiator_addr_at_;
    std::optional<conf_location> isid_at_;
    unsigned files_read_ = 0;
};

} // namespace ivs::config
