#include "config/options.hpp"

#include <algorithm>
#include <charconv>
#include <optional>

namespace ivs::config {

std::string parsed_options::get(std::string_view name, std::string_view fallback) const
{
    auto it = values.find(name);
    if (it == values.end() || it->second.empty())
        return std::string(fallback);
    return it->second.back();
}

const std::vector<std::string>& parsed_options::all(std::string_view name) const
{
    static const std::vector<std::string> none;
    auto it = values.find(name);
    return it == values.end() ? none : it->second;
}

bool parse_options(std::span<const std::string> args, std::span<const option_spec> specs, parsed_options& out,
                   std::string& error)
{
    out = {};
    bool options_done = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& arg = args[i];
        if (options_done || arg.size() < 2 || arg.compare(0, 2, "--") != 0) {
            if (!options_done && arg.size() > 1 && arg[0] == '-' && arg != "-") {
                error = "unknown option " + arg;
                return false;
            }
            out.positionals.push_back(arg);
            continue;
        }
        if (arg == "--") {
            options_done = true;
            continue;
        }
        std::string_view body = std::string_view(arg).substr(2);
        std::string_view name = body;
        std::optional<std::string> inline_value;
        if (auto eq = body.find('='); eq != std::string_view::npos) {
            name = body.substr(0, eq);
            inline_value = std::string(body.substr(eq + 1));
        }
        auto spec = std::find_if(specs.begin(), specs.end(), [&](const option_spec& s) { return s.name == name; });
        if (spec == specs.end()) {
            error = "unknown option --" + std::string(name);
            return false;
        }
        std::string value;
        if (spec->takes_value) {
            if (inline_value) {
                value = *inline_value;
            } else if (i + 1 < args.size()) {
                value = args[++i];
            } else {
                error = "option --" + std::string(name) + " needs a value";
                return false;
            }
        } else if (inline_value) {
            error = "option --" + std::string(name) + " takes no value";
            return false;
        }
        auto& slot = out.values[std::string(name)];
        if (!slot.empty() && !spec->repeatable) {
            error = "option --" + std::string(name) + " given twice";
            return false;
        }
        slot.push_back(std::move(value));
    }
    return true;
}

std::string format_options_help(std::span<const option_spec> specs)
{
    std::vector<std::string> left;
    std::size_t width = 0;
    for (const auto& s : specs) {
        std::string l = "  --" + std::string(s.name);
        if (s.takes_value)
            l += " " + std::string(s.value_name.empty() ? "VALUE" : s.value_name);
        width = std::max(width, l.size());
        left.push_back(std::move(l));
    }
    std::string out;
    for (std::size_t i = 0; i < specs.size(); ++i) {
        out += left[i];
        out.append(width + 2 - left[i].size(), ' ');
        out += specs[i].help;
        if (specs[i].repeatable)
            out += " (repeatable)";
        out += '\n';
    }
    return out;
}

bool parse_unsigned(std::string_view text, unsigned long long min, unsigned long long max, unsigned long long& out)
{
    if (text.empty() || text.size() > 20)
        return false;
    unsigned long long v = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v, 10);
    if (ec != std::errc{} || ptr != text.data() + text.size() || v < min || v > max)
        return false;
    out = v;
    return true;
}

} // namespace ivs::config
