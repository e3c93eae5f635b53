// TargetAddress values (RFC 7143 §13.8) and SendTargets answers (§13.3, Appendix C).
#include "iscsi/sendtargets.hpp"

#include <charconv>

#include "pdu/error.hpp"

namespace ivs::iscsi {
namespace {

// Decimal only, within [min, max].
bool parse_u16(std::string_view s, unsigned min, std::uint16_t& out)
{
    unsigned v = 0;
    if (s.empty() || s.size() > 5)
        return false;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || p != s.data() + s.size() || v < min || v > 65535)
        return false;
    out = static_cast<std::uint16_t>(v);
    return true;
}

} // namespace

std::error_code parse_target_address(std::string_view text, target_address& out)
{
    out = {};
    // ",portal-group-tag" last: a tag never contains ':' or ']'.
    std::string_view rest = text;
    if (auto comma = rest.rfind(','); comma != std::string_view::npos) {
        std::uint16_t tag = 0;
        if (!parse_u16(rest.substr(comma + 1), 0, tag))
            return pdu::errc::value_syntax;
        out.portal_group_tag = tag;
        rest = rest.substr(0, comma);
    }
    std::string_view host, port;
    if (!rest.empty() && rest.front() == '[') {
        // [IPv6]:port
        auto close = rest.find(']');
        if (close == std::string_view::npos)
            return pdu::errc::value_syntax;
        host = rest.substr(1, close - 1);
        auto after = rest.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':')
                return pdu::errc::value_syntax;
            port = after.substr(1);
            if (port.empty())
                return pdu::errc::value_syntax;
        }
    } else if (auto colon = rest.find(':');
               colon != std::string_view::npos && rest.find(':', colon + 1) == std::string_view::npos) {
        host = rest.substr(0, colon);
        port = rest.substr(colon + 1);
        if (port.empty())
            return pdu::errc::value_syntax;
    } else {
        // A name, IPv4, or (tolerated) an unbracketed IPv6 literal without port.
        host = rest;
    }
    if (host.empty() || host.find_first_of("[], ") != std::string_view::npos)
        return pdu::errc::value_syntax;
    if (!port.empty() && !parse_u16(port, 1, out.port))
        return pdu::errc::value_syntax;
    out.host = std::string(host);
    return {};
}

std::string format_host_port(const target_address& a)
{
    std::string s;
    if (a.host.find(':') != std::string::npos)
        s = "[" + a.host + "]";
    else
        s = a.host;
    return s + ":" + std::to_string(a.port);
}

std::error_code parse_sendtargets(const pdu::text_list& answer, const target_address& connected,
                                  std::vector<sendtargets_entry>& out)
{
    out.clear();
    // Index in `out` of the current target's first entry; the entry made from
    // `connected` is replaced by the first explicit TargetAddress.
    bool have_target = false, implicit = false;
    for (const auto& p : answer) {
        if (p.key == "TargetName") {
            if (p.value.empty())
                return pdu::errc::value_syntax;
            out.push_back({p.value, connected});
            have_target = true;
            implicit = true;
        } else if (p.key == "TargetAddress") {
            if (!have_target)
                return pdu::errc::value_syntax;
            target_address a;
            if (auto ec = parse_target_address(p.value, a))
                return ec;
            if (implicit) {
                out.back().address = std::move(a);
                implicit = false;
            } else {
                out.push_back({out.back().target_name, std::move(a)});
            }
        } else {
            return pdu::errc::key_not_allowed;
        }
    }
    return {};
}

std::string format_sendtargets_entry(const sendtargets_entry& e)
{
    std::string s = format_host_port(e.address);
    if (e.address.portal_group_tag)
        s += "," + std::to_string(*e.address.portal_group_tag);
    return s + " " + e.target_name;
}

} // namespace ivs::iscsi
