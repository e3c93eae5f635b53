// `target NAME { ... }` blocks of iscsi-vscsi.conf(5): OpenBSD's options
// (iscsi.conf(5)) and this program's extensions, with their RFC 7143 ranges.
#include "config/conf_parser.hpp"

#include "config/conf_values.hpp"

#include <algorithm>
#include <utility>

namespace ivs::config {

namespace {

struct number_option {
    std::string_view keyword;
    std::uint64_t min;
    std::uint64_t max;
    std::optional<std::uint32_t> conf_target::*field;
};

constexpr std::uint64_t max_data_length = 16777215; // 2^24 - 1, §13.12-§13.14

constexpr number_option number_options[] = {
    {"nop-interval", 0, 3600, &conf_target::nop_interval},
    {"nop-timeout", 1, 3600, &conf_target::nop_timeout},
    {"replacement-timeout", 0, 86400, &conf_target::replacement_timeout},
    {"command-timeout", 1, 86400, &conf_target::command_timeout},
    {"max-recv-data-segment-length", 512, max_data_length, &conf_target::max_recv_data_segment_length},
    {"max-burst-length", 512, max_data_length, &conf_target::max_burst_length},
    {"first-burst-length", 512, max_data_length, &conf_target::first_burst_length},
};

// OpenBSD's options that take values: given again, the last one counts, as
// with iscsictl(8) (with a warning).
constexpr std::string_view openbsd_keywords[] = {
    "targetaddr",
    "initiatoraddr",
    "targetname",
    "initiatorname",
};

// Options that take values; the extensions may appear once per block.
constexpr std::string_view option_keywords[] = {
    "targetaddr",
    "initiatoraddr",
    "targetname",
    "initiatorname",
    "chap",
    "mutual-chap",
    "chap-algorithms",
    "header-digest",
    "data-digest",
    "nop-interval",
    "nop-timeout",
    "replacement-timeout",
    "command-timeout",
    "max-recv-data-segment-length",
    "max-burst-length",
    "first-burst-length",
    "max-outstanding-r2t",
    "initial-r2t",
    "immediate-data",
    "luns",
    "export",
};

constexpr std::uint64_t max_lun = 16383; // flat space addressing (SAM), 14 bits

} // namespace

bool conf_parser::mark_once(const source& s, block_state& b, std::string_view key, std::string_view keyword,
                            unsigned line)
{
    const auto it = b.seen.find(key);
    if (it != b.seen.end()) {
        std::string reason = std::string(keyword) + ": ";
        if (key != keyword)
            reason += std::string(key) + " ";
        reason += "already set at line " + std::to_string(it->second);
        error(s, line, reason);
        return false;
    }
    b.seen.emplace(std::string(key), line);
    return true;
}

void conf_parser::mark_repeatable(const source& s, block_state& b, std::string_view key, std::string_view keyword,
                                  unsigned line)
{
    const auto it = b.seen.find(key);
    if (it != b.seen.end()) {
        warning(s, line,
                std::string(keyword) + ": replaces the setting of line " + std::to_string(it->second) +
                    " (iscsictl(8) keeps the last one too)");
        it->second = line;
        return;
    }
    b.seen.emplace(std::string(key), line);
}

// initiatoraddr ADDRESS [inet|inet6] [port PORT]: the local address every
// connection is bound to. A literal is checked here; a host name is resolved
// when serve loads the file, as iscsictl(8) resolves it when it reads it.
bool conf_parser::take_initiator_addr(source& s, unsigned line, conf_address& out)
{
    conf_address a;
    if (!take_address(s, "initiatoraddr", 0, a))
        return false;
    const address_literal kind = classify_address_literal(a.host);
    if (kind == address_literal::none) {
        if (const std::string why = check_host_name(a.host); !why.empty()) {
            error(s, line,
                  "initiatoraddr: \"" + a.host + "\" is not an IPv4 or IPv6 address or a host name (" + why + ")");
            return false;
        }
    } else if (a.family != address_family::any &&
               (kind == address_literal::ipv6) != (a.family == address_family::inet6)) {
        error(s, line,
              "initiatoraddr: " + a.host + " is not an " + (a.family == address_family::inet6 ? "inet6" : "inet") +
                  " address");
        return false;
    }
    if (a.port != 0)
        warning(s, line,
                "initiatoraddr: port " + std::to_string(a.port) +
                    " is not used: connections are bound to any local port");
    a.port = 0;
    out = std::move(a);
    return true;
}

bool conf_parser::target(source& s, unsigned line)
{
    conf_target t;
    t.where = conf_location{s.name, line};
    if (!take_string(s, "target", "name", t.name))
        return false;
    if (t.name.empty()) {
        error(s, line, "target: empty name");
        return false;
    }
    if (s.tok.kind != conf_token_kind::lbrace) {
        unexpected(s, "'{'");
        return false;
    }
    advance(s);
    block_state b;
    const std::size_t errors_before = errors_.size();
    for (;;) {
        if (too_many_errors())
            return false;
        if (s.tok.kind == conf_token_kind::newline) {
            advance(s);
            continue;
        }
        if (s.tok.kind == conf_token_kind::end) {
            error(s, line, "target \"" + t.name + "\": missing '}' before end of file");
            return false;
        }
        if (s.tok.kind == conf_token_kind::rbrace) {
            advance(s);
            break;
        }
        const bool ok = target_option(s, t, b);
        if (ok && s.tok.kind == conf_token_kind::rbrace)
            continue; // the last option may share the line with '}'
        if (!ok || !expect_line_end(s))
            skip_line(s, true);
    }
    // After a bad option, "missing ..." and similar would only be noise.
    b.options_failed = errors_.size() != errors_before;
    // A block named again replaces the earlier one, as when iscsid(8) is
    // handed both: the later configuration of the session counts.
    const auto same =
        std::find_if(out_.targets.begin(), out_.targets.end(), [&](const conf_target& o) { return o.name == t.name; });
    if (same != out_.targets.end()) {
        warning(s, line,
                "target \"" + t.name + "\": replaces the target of the same name at " + to_string(same->where) +
                    " (iscsid(8) keeps the last one too)");
        out_.targets.erase(same);
    }
    check_target(s, t, b);
    out_.targets.push_back(std::move(t));
    return true;
}

bool conf_parser::target_option(source& s, conf_target& t, block_state& b)
{
    if (s.tok.kind != conf_token_kind::word) {
        unexpected(s, "a target option");
        return false;
    }
    const std::string kw = s.tok.text;
    const unsigned line = s.tok.line;
    advance(s);

    if (kw == "enabled" || kw == "disabled") {
        t.enabled = kw == "enabled";
        mark_repeatable(s, b, "enabled|disabled", kw, line);
        return true;
    }
    if (kw == "normal" || kw == "discovery") {
        t.type = kw == "normal" ? conf_session_type::normal : conf_session_type::discovery;
        mark_repeatable(s, b, "normal|discovery", kw, line);
        return true;
    }
    if (std::find(std::begin(option_keywords), std::end(option_keywords), kw) == std::end(option_keywords)) {
        error(s, line, "unknown keyword \"" + kw + "\"");
        return false;
    }
    const bool openbsd =
        std::find(std::begin(openbsd_keywords), std::end(openbsd_keywords), kw) != std::end(openbsd_keywords);
    if (!openbsd && !mark_once(s, b, kw, kw, line))
        return false;
    if (!option_value(s, t, kw, line)) {
        if (!openbsd)
            b.seen.erase(kw); // a later, correct line is not a repetition
        return false;
    }
    if (openbsd)
        mark_repeatable(s, b, kw, kw, line);
    return true;
}

bool conf_parser::option_value(source& s, conf_target& t, const std::string& kw, unsigned line)
{
    // inet / inet6 restrict the host to one family where it is resolved
    // (serve's privileged parent, app/conf_bundle).
    if (kw == "targetaddr")
        return take_address(s, kw, default_iscsi_port, t.target_addr);
    if (kw == "initiatoraddr") {
        conf_address a;
        if (!take_initiator_addr(s, line, a))
            return false;
        t.initiator_addr = std::move(a);
        return true;
    }
    if (kw == "targetname")
        return take_iscsi_name(s, kw, t.target_name);
    if (kw == "initiatorname")
        return take_iscsi_name(s, kw, t.initiator_name);
    if (kw == "chap" || kw == "mutual-chap") {
        conf_chap c;
        if (!take_chap(s, kw, c))
            return false;
        (kw == "chap" ? t.chap : t.mutual_chap) = std::move(c);
        return true;
    }
    if (kw == "chap-algorithms") {
        std::vector<std::string> items;
        if (!take_list(s, kw, items))
            return false;
        for (const std::string& item : items) {
            conf_chap_algorithm a;
            if (equals_ignore_case(item, "md5"))
                a = conf_chap_algorithm::md5;
            else if (equals_ignore_case(item, "sha1"))
                a = conf_chap_algorithm::sha1;
            else if (equals_ignore_case(item, "sha256"))
                a = conf_chap_algorithm::sha256;
            else if (equals_ignore_case(item, "sha3-256"))
                a = conf_chap_algorithm::sha3_256;
            else {
                error(s, line, kw + ": unknown algorithm \"" + item + "\" (md5, sha1, sha256 or sha3-256)");
                return false;
            }
            if (std::find(t.chap_algorithms.begin(), t.chap_algorithms.end(), a) != t.chap_algorithms.end()) {
                error(s, line, kw + ": \"" + item + "\" is listed twice");
                return false;
            }
            t.chap_algorithms.push_back(a);
        }
        return true;
    }
    if (kw == "header-digest" || kw == "data-digest") {
        conf_digest d;
        if (!take_digest(s, kw, d))
            return false;
        (kw == "header-digest" ? t.header_digest : t.data_digest) = d;
        return true;
    }
    for (const number_option& o : number_options) {
        if (kw != o.keyword)
            continue;
        std::uint64_t v = 0;
        if (!take_number(s, kw, o.min, o.max, v))
            return false;
        t.*o.field = static_cast<std::uint32_t>(v);
        return true;
    }
    if (kw == "max-outstanding-r2t") { // §13.17: 1..65535
        std::uint64_t v = 0;
        if (!take_number(s, kw, 1, 65535, v))
            return false;
        t.max_outstanding_r2t = static_cast<std::uint16_t>(v);
        return true;
    }
    if (kw == "initial-r2t" || kw == "immediate-data") {
        bool v = false;
        if (!take_yes_no(s, kw, v))
            return false;
        (kw == "initial-r2t" ? t.initial_r2t : t.immediate_data) = v;
        return true;
    }
    if (kw == "luns") {
        std::vector<std::string> items;
        if (!take_list(s, kw, items))
            return false;
        std::vector<bool> seen(max_lun + 1);
        for (const std::string& item : items) {
            std::uint64_t lun = 0;
            if (!parse_conf_number(item, lun) || lun > max_lun) {
                error(s, line, kw + ": \"" + item + "\" is not a LUN (0.." + std::to_string(max_lun) + ")");
                return false;
            }
            if (seen[lun]) {
                error(s, line, kw + ": LUN " + item + " is listed twice");
                return false;
            }
            seen[lun] = true;
            t.luns.push_back(static_cast<std::uint16_t>(lun));
        }
        return true;
    }
    if (kw == "export") {
        std::string dir;
        if (!take_string(s, kw, "directory", dir))
            return false;
        if (dir.empty() || dir.front() != '/') {
            error(s, line, kw + ": \"" + dir + "\" is not an absolute path");
            return false;
        }
        std::filesystem::path p = std::filesystem::path(dir).lexically_normal();
        if (!p.has_filename() && p != p.root_path())
            p = p.parent_path(); // "/a/" and "/a" are one directory
        t.export_dir = std::move(p);
        return true;
    }
    error(s, line, "unknown keyword \"" + kw + "\""); // unreachable: option_keywords lists them all
    return false;
}

// Block-level rules, reported at the `target` line.
void conf_parser::check_target(const source& s, const conf_target& t, const block_state& b)
{
    const unsigned line = t.where.line;
    const std::string prefix = "target \"" + t.name + "\": ";
    for (const conf_target& other : out_.targets) {
        if (!t.export_dir.empty() && other.name != t.name && other.export_dir == t.export_dir)
            error(s, line,
                  prefix + "export directory \"" + t.export_dir.string() + "\" is also used by target \"" + other.name +
                      "\"");
    }
    if (b.options_failed)
        return;
    // iscsictl(8) takes a block without them, which cannot log in; an
    // enabled one is refused here rather than failing at every attempt.
    if (t.enabled && !b.seen.count("targetaddr"))
        error(s, line, prefix + "missing targetaddr");
    if (t.enabled && t.type == conf_session_type::normal && !b.seen.count("targetname"))
        error(s, line, prefix + "missing targetname");
    if (t.type == conf_session_type::discovery && b.seen.count("targetname"))
        warning(s, b.seen.find("targetname")->second,
                prefix + "targetname is not used by a discovery session (iscsid(8) does not send it either)");
    if (t.mutual_chap && !t.chap)
        error(s, line, prefix + "mutual-chap needs chap");
    if (!t.chap_algorithms.empty() && !t.chap)
        error(s, line, prefix + "chap-algorithms needs chap");
    if (t.first_burst_length && t.max_burst_length && *t.first_burst_length > *t.max_burst_length)
        error(s, line,
              prefix + "first-burst-length " + std::to_string(*t.first_burst_length) + " exceeds max-burst-length " +
                  std::to_string(*t.max_burst_length) + " (RFC 7143 section 13.14)");
}

} // namespace ivs::config
