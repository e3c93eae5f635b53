// Long-option command-line parsing for the iscsi-vscsi subcommands:
// `--name value`, `--name=value`, flags, repeatable options, positionals,
// `--` ending options. Errors are one-line messages for the user.
#pragma once

#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ivs::config {

struct option_spec {
    std::string_view name; // without the leading "--"
    bool takes_value = true;
    bool repeatable = false;
    std::string_view value_name = {}; // for --help: "IQN", "FILE", ...
    std::string_view help = {};
};

struct parsed_options {
    std::map<std::string, std::vector<std::string>, std::less<>> values; // flags hold one empty string
    std::vector<std::string> positionals;

    bool has(std::string_view name) const { return values.find(name) != values.end(); }
    // The value of a single-valued option, or `fallback`.
    std::string get(std::string_view name, std::string_view fallback = {}) const;
    const std::vector<std::string>& all(std::string_view name) const;
};

// Parses args (without the program and subcommand names). Returns false and
// sets `error` ("unknown option --foo", "option --lun needs a value", ...).
bool parse_options(std::span<const std::string> args, std::span<const option_spec> specs, parsed_options& out,
                   std::string& error);

// "  --name VALUE   help" lines, aligned.
std::string format_options_help(std::span<const option_spec> specs);

// Strict unsigned decimal in [min, max]; false when malformed.
bool parse_unsigned(std::string_view text, unsigned long long min, unsigned long long max, unsigned long long& out);

} // namespace ivs::config
