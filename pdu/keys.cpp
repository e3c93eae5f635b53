// Negotiation keys (RFC 7143 §12.1, §13) and their result functions (§6.2).
#include "pdu/keys.hpp"

#include <algorithm>
#include <vector>

#include "pdu/text.hpp"

namespace ivs::pdu {
namespace {

using enum key_kind;
using enum key_use;
using enum key_sender;
constexpr auto security = key_phase::security;
constexpr auto operational = key_phase::operational;
constexpr auto any_stage = key_phase::any;
constexpr auto sw = key_scope::session;
constexpr auto co = key_scope::connection;

constexpr std::uint64_t segment_max = 16777215; // 2^24 - 1

// One row per key, in RFC 7143 order. Columns: name, kind, phase, use, scope,
// senders, result function, min, max, default, values, obsolete.
constexpr key_def table[] = {
    // §13.1 digests: list, first acceptable value
    {"HeaderDigest", list, operational, initialize_only, co, both, merge_rule::first_in_list, 0, 0, "None",
     "CRC32C,None"},
    {"DataDigest", list, operational, initialize_only, co, both, merge_rule::first_in_list, 0, 0, "None",
     "CRC32C,None"},
    // §13.2
    {"MaxConnections", numeric, operational, leading_only, sw, both, merge_rule::minimum, 1, 65535, "1"},
    // §13.3: an enquiry answered by TargetName/TargetAddress lists
    {"SendTargets", string, operational, full_feature_only, sw, initiator, merge_rule::none},
    // §13.4-§13.9: declarations, Any-Stage
    {"TargetName", string, any_stage, initialize_only, sw, both, merge_rule::declarative},
    {"InitiatorName", string, any_stage, initialize_only, sw, initiator, merge_rule::declarative},
    {"TargetAlias", string, any_stage, all, sw, target, merge_rule::declarative},
    {"InitiatorAlias", string, any_stage, all, sw, initiator, merge_rule::declarative},
    {"TargetAddress", string, any_stage, all, sw, target, merge_rule::declarative},
    {"TargetPortalGroupTag", numeric, any_stage, initialize_only, sw, target, merge_rule::declarative, 0, 65535},
    // §13.10-§13.20: operational parameters
    {"InitialR2T", boolean, operational, leading_only, sw, both, merge_rule::or_, 0, 0, "Yes"},
    {"ImmediateData", boolean, operational, leading_only, sw, both, merge_rule::and_, 0, 0, "Yes"},
    {"MaxRecvDataSegmentLength", numeric, operational, all, co, both, merge_rule::declarative, 512, segment_max,
     "8192"},
    {"MaxBurstLength", numeric, operational, leading_only, sw, both, merge_rule::minimum, 512, segment_max, "262144"},
    {"FirstBurstLength", numeric, operational, leading_only, sw, both, merge_rule::minimum, 512, segment_max, "65536"},
    {"DefaultTime2Wait", numeric, operational, leading_only, sw, both, merge_rule::maximum, 0, 3600, "2"},
    {"DefaultTime2Retain", numeric, operational, leading_only, sw, both, merge_rule::minimum, 0, 3600, "20"},
    {"MaxOutstandingR2T", numeric, operational, leading_only, sw, both, merge_rule::minimum, 1, 65535, "1"},
    {"DataPDUInOrder", boolean, operational, leading_only, sw, both, merge_rule::or_, 0, 0, "Yes"},
    {"DataSequenceInOrder", boolean, operational, leading_only, sw, both, merge_rule::or_, 0, 0, "Yes"},
    {"ErrorRecoveryLevel", numeric, operational, leading_only, sw, both, merge_rule::minimum, 0, 2, "0"},
    // §13.21: declared by the initiator in its first login request
    {"SessionType", string, any_stage, leading_only, sw, initiator, merge_rule::declarative, 0, 0, "Normal",
     "Discovery,Normal"},
    // §13.23, §13.24
    {"TaskReporting", list, operational, leading_only, sw, both, merge_rule::first_in_list, 0, 0, "RFC3720",
     "RFC3720,ResponseFence,FastAbort"},
    {"iSCSIProtocolLevel", numeric, operational, leading_only, sw, both, merge_rule::minimum, 0, 31, "1"},
    // §13.25: obsoleted marker keys, answered with Reject
    {"OFMarker", boolean, operational, initialize_only, co, both, merge_rule::and_, 0, 0, "No", {}, true},
    {"IFMarker", boolean, operational, initialize_only, co, both, merge_rule::and_, 0, 0, "No", {}, true},
    {"OFMarkInt", numeric_range, operational, initialize_only, co, both, merge_rule::none, 1, 65535, "2048", {}, true},
    {"IFMarkInt", numeric_range, operational, initialize_only, co, both, merge_rule::none, 1, 65535, "2048", {}, true},
    // §12.1: security negotiation
    {"AuthMethod", list, security, initialize_only, co, both, merge_rule::first_in_list, 0, 0, "None",
     "KRB5,SPKM1,SPKM2,SRP,CHAP,None"},
    // §12.1.3 CHAP: the initiator offers algorithms, the target picks one;
    // CHAP_I/CHAP_C come from the target (and the initiator for mutual CHAP).
    {"CHAP_A", list, security, initialize_only, co, both, merge_rule::first_in_list, 0, 0, {}, "5"},
    {"CHAP_I", numeric, security, initialize_only, co, both, merge_rule::none, 0, 255},
    {"CHAP_C", string, security, initialize_only, co, both, merge_rule::none},
    {"CHAP_N", string, security, initialize_only, co, both, merge_rule::none},
    {"CHAP_R", string, security, initialize_only, co, both, merge_rule::none},
};

bool in_list(std::string_view list_value, std::string_view item)
{
    std::vector<std::string_view> items;
    if (parse_list(list_value, items))
        return false;
    return std::find(items.begin(), items.end(), item) != items.end();
}

std::error_code check_string(const key_def& key, std::string_view value)
{
    // Enumerated declaratives (SessionType) take only the RFC's values.
    if (!key.values.empty() && !in_list(key.values, value))
        return errc::value_syntax;
    return {};
}

} // namespace

std::span<const key_def> key_table() noexcept { return table; }

const key_def* find_key(std::string_view name) noexcept
{
    for (const auto& k : table)
        if (k.name == name)
            return &k;
    return nullptr;
}

bool may_send(const key_def& key, key_sender who) noexcept
{
    return key.sender == key_sender::both || key.sender == who;
}

std::error_code check_value(const key_def& key, std::string_view value)
{
    switch (key.kind) {
    case boolean: {
        bool b = false;
        return parse_bool(value, b);
    }
    case numeric: {
        std::uint64_t n = 0;
        return parse_number(value, key.min, key.max, n);
    }
    case numeric_range: {
        // A range when offered, one number when answered (and as the default).
        std::uint64_t lo = 0, hi = 0;
        if (value.find('~') == std::string_view::npos) {
            if (auto ec = parse_number(value, lo))
                return ec;
            hi = lo;
        } else if (auto ec = parse_range(value, lo, hi)) {
            return ec;
        }
        if (lo < key.min || hi > key.max)
            return errc::number_out_of_range;
        return {};
    }
    case list: {
        std::vector<std::string_view> items;
        return parse_list(value, items);
    }
    case string: return check_string(key, value);
    }
    return errc::value_syntax;
}

std::error_code merge_answer(const key_def& key, std::string_view offered, std::string_view answer,
                             negotiation_result& out)
{
    out = {};
    // §6.2: special answers end the negotiation of this key.
    if (answer == value_not_understood) {
        out.outcome = negotiation_outcome::not_understood;
        return {};
    }
    if (answer == value_irrelevant) {
        out.outcome = negotiation_outcome::irrelevant;
        return {};
    }
    if (answer == value_reject) {
        out.outcome = negotiation_outcome::rejected;
        return {};
    }
    if (key.kind == numeric_range) {
        // Obsolete marker intervals: the answer is one number inside my range.
        std::uint64_t lo = 0, hi = 0, n = 0;
        if (auto ec = parse_range(offered, lo, hi))
            return ec;
        if (auto ec = parse_number(answer, n))
            return ec;
        if (n < lo || n > hi)
            return errc::negotiation_violation;
        out.value = format_number(n);
        return {};
    }
    if (auto ec = check_value(key, answer))
        return ec;

    switch (key.rule) {
    case merge_rule::and_:
    case merge_rule::or_: {
        bool mine = false, theirs = false;
        if (auto ec = parse_bool(offered, mine))
            return ec;
        (void)parse_bool(answer, theirs); // checked above
        // AND: an offer of No admits only No; OR: an offer of Yes admits only Yes.
        if (key.rule == merge_rule::and_ && !mine && theirs)
            return errc::negotiation_violation;
        if (key.rule == merge_rule::or_ && mine && !theirs)
            return errc::negotiation_violation;
        out.value = std::string(bool_value(theirs));
        return {};
    }
    case merge_rule::minimum:
    case merge_rule::maximum: {
        std::uint64_t mine = 0, theirs = 0;
        if (auto ec = parse_number(offered, key.min, key.max, mine))
            return ec;
        (void)parse_number(answer, theirs);
        if (key.rule == merge_rule::minimum ? theirs > mine : theirs < mine)
            return errc::negotiation_violation;
        out.value = format_number(theirs);
        return {};
    }
    case merge_rule::first_in_list:
        // The responder selects one value, and only one I offered.
        if (answer.find(',') != std::string_view::npos || !in_list(offered, answer))
            return errc::negotiation_violation;
        out.value = std::string(answer);
        return {};
    case merge_rule::declarative:
    case merge_rule::none:
        if (key.kind == numeric) {
            std::uint64_t n = 0;
            (void)parse_number(answer, n);
            out.value = format_number(n);
        } else {
            out.value = std::string(answer);
        }
        return {};
    }
    return errc::value_syntax;
}

std::error_code respond_to_offer(std::string_view name, std::string_view offer, std::string_view mine, key_sender peer,
                                 std::optional<std::string>& answer, bool irrelevant)
{
    answer.reset();
    const key_def* key = find_key(name);
    if (!key) {
        answer = std::string(value_not_understood); // §6.2, also X- and X# keys
        return {};
    }
    if (!may_send(*key, peer))
        return errc::key_not_allowed;
    if (key->obsolete) {
        answer = std::string(value_reject); // §13.25
        return {};
    }
    if (key->rule == merge_rule::declarative || key->rule == merge_rule::none) {
        // No answer; an invalid declaration is the caller's protocol error.
        return check_value(*key, offer);
    }
    if (irrelevant) {
        answer = std::string(value_irrelevant);
        return {};
    }
    // §6.2: an offer that is not admissible is answered Reject.
    if (check_value(*key, offer)) {
        answer = std::string(value_reject);
        return {};
    }
    switch (key->rule) {
    case merge_rule::and_:
    case merge_rule::or_: {
        bool theirs = false, ours = false;
        (void)parse_bool(offer, theirs);
        if (auto ec = parse_bool(mine, ours))
            return ec;
        const bool result = key->rule == merge_rule::and_ ? (theirs && ours) : (theirs || ours);
        answer = std::string(bool_value(result));
        return {};
    }
    case merge_rule::minimum:
    case merge_rule::maximum: {
        std::uint64_t theirs = 0, ours = 0;
        (void)parse_number(offer, theirs);
        if (auto ec = parse_number(mine, key->min, key->max, ours))
            return ec;
        const std::uint64_t result = key->rule == merge_rule::minimum ? std::min(theirs, ours) : std::max(theirs, ours);
        answer = format_number(result);
        return {};
    }
    case merge_rule::first_in_list: {
        // The first offered value I accept (the offer is in the peer's preference order).
        std::vector<std::string_view> offered, accepted;
        (void)parse_list(offer, offered);
        if (auto ec = parse_list(mine, accepted))
            return ec;
        for (auto item : offered) {
            if (std::find(accepted.begin(), accepted.end(), item) != accepted.end()) {
                answer = std::string(item);
                return {};
            }
        }
        answer = std::string(value_reject);
        return {};
    }
    case merge_rule::declarative:
    case merge_rule::none: break;
    }
    return {};
}

} // namespace ivs::pdu
