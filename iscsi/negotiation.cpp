// Login key negotiation (RFC 7143 §6.2, §13), initiator side.
#include "iscsi/negotiation.hpp"

#include "iscsi/login.hpp"

#include <algorithm>

namespace ivs::iscsi {
namespace {

using pdu::key_def;
using pdu::merge_rule;

// ---- how each key maps to login_config (mine) and session_params (active) ----

template <std::uint32_t operational_proposals::*M>
std::string mine_number(const login_config& c)
{
    return pdu::format_number(c.proposals.*M);
}
template <bool operational_proposals::*M>
std::string mine_bool(const login_config& c)
{
    return std::string(pdu::bool_value(c.proposals.*M));
}
template <digest_offer operational_proposals::*M>
std::string mine_digest(const login_config& c)
{
    return std::string(digest_offer_value(c.proposals.*M));
}
std::string mine_task_reporting(const login_config&) { return "RFC3720"; }
std::string mine_protocol_level(const login_config&) { return "1"; } // RFC 7143 (§13.24)

template <std::uint32_t session_params::*M>
void set_number(session_params& p, std::string_view v)
{
    std::uint64_t n = 0;
    if (!pdu::parse_number(v, n) && n <= UINT32_MAX)
        p.*M = static_cast<std::uint32_t>(n);
}
template <bool session_params::*M>
void set_bool(session_params& p, std::string_view v)
{
    (void)pdu::parse_bool(v, p.*M);
}
template <bool session_params::*M>
void set_digest(session_params& p, std::string_view v)
{
    p.*M = v == "CRC32C";
}
void set_alias(session_params& p, std::string_view v) { p.target_alias = std::string(v); }
void set_tpgt(session_params& p, std::string_view v)
{
    std::uint64_t n = 0;
    if (!pdu::parse_number(v, 0, 65535, n))
        p.target_portal_group_tag = static_cast<std::uint16_t>(n);
}

struct binding {
    std::string_view key;
    std::string (*mine)(const login_config&);                        // our offer, declaration or answering limit
    bool offer;                                                      // we offer/declare it in the operational stage
    bool discovery_irrelevant;                                       // §13.x "Irrelevant when: SessionType=Discovery"
    void (*apply)(session_params&, std::string_view);                // the active (or target-declared) value
    void (*apply_ours)(session_params&, std::string_view) = nullptr; // our own declaration
};

using P = operational_proposals;
using S = session_params;

constexpr binding bindings[] = {
    {"HeaderDigest", mine_digest<&P::header_digest>, true, false, set_digest<&S::header_digest>},
    {"DataDigest", mine_digest<&P::data_digest>, true, false, set_digest<&S::data_digest>},
    {"MaxConnections", mine_number<&P::max_connections>, true, true, set_number<&S::max_connections>},
    {"InitialR2T", mine_bool<&P::initial_r2t>, true, true, set_bool<&S::initial_r2t>},
    {"ImmediateData", mine_bool<&P::immediate_data>, true, true, set_bool<&S::immediate_data>},
    // §13.12: each side declares what it receives.
    {"MaxRecvDataSegmentLength", mine_number<&P::max_recv_data_segment_length>, true, false,
     set_number<&S::target_max_recv_data_segment_length>, set_number<&S::max_recv_data_segment_length>},
    {"MaxBurstLength", mine_number<&P::max_burst_length>, true, true, set_number<&S::max_burst_length>},
    {"FirstBurstLength", mine_number<&P::first_burst_length>, true, true, set_number<&S::first_burst_length>},
    {"DefaultTime2Wait", mine_number<&P::default_time2wait>, true, false, set_number<&S::default_time2wait>},
    {"DefaultTime2Retain", mine_number<&P::default_time2retain>, true, false, set_number<&S::default_time2retain>},
    {"MaxOutstandingR2T", mine_number<&P::max_outstanding_r2t>, true, true, set_number<&S::max_outstanding_r2t>},
    {"DataPDUInOrder", mine_bool<&P::data_pdu_in_order>, true, true, set_bool<&S::data_pdu_in_order>},
    {"DataSequenceInOrder", mine_bool<&P::data_sequence_in_order>, true, true, set_bool<&S::data_sequence_in_order>},
    {"ErrorRecoveryLevel", mine_number<&P::error_recovery_level>, true, false, set_number<&S::error_recovery_level>},
    // Answered when the target offers them; we do not offer them.
    {"TaskReporting", mine_task_reporting, false, false, nullptr},
    {"iSCSIProtocolLevel", mine_protocol_level, false, false, nullptr},
    // Target declarations (§13.7, §13.9).
    {"TargetAlias", nullptr, false, false, set_alias},
    {"TargetPortalGroupTag", nullptr, false, false, set_tpgt},
};

const binding* find_binding(std::string_view key) noexcept
{
    for (const auto& b : bindings)
        if (b.key == key)
            return &b;
    return nullptr;
}

std::string pair_text(std::string_view key, std::string_view value)
{
    return std::string(key) + "=" + std::string(value);
}

std::string describe(std::error_code ec) { return " (" + ec.message() + ")"; }

} // namespace

negotiation::negotiation(const login_config& config) : config_(config)
{
    config_.chap.reset(); // negotiation needs no secrets
    config_.mutual_chap.reset();
}

pdu::text_list negotiation::declarations() const
{
    pdu::text_list out;
    out.push_back({"InitiatorName", config_.initiator_name});
    if (!config_.initiator_alias.empty())
        out.push_back({"InitiatorAlias", config_.initiator_alias});
    out.push_back({"SessionType", config_.type == session_type::discovery ? "Discovery" : "Normal"});
    if (config_.type == session_type::normal)
        out.push_back({"TargetName", config_.target_name});
    return out;
}

pdu::text_list negotiation::operational_offers()
{
    const bool discovery = config_.type == session_type::discovery;
    const bool leading = config_.tsih == 0;
    pdu::text_list out;
    for (const auto& b : bindings) {
        if (!b.offer || (discovery && b.discovery_irrelevant))
            continue;
        const key_def* def = pdu::find_key(b.key);
        if (!def || (!leading && def->use == pdu::key_use::leading_only))
            continue;
        auto& st = keys_[std::string(b.key)];
        if (st.mine)
            continue; // offered, or answered as a target offer already
        st.mine = b.mine(config_);
        st.offered = !def->declarative();
        out.push_back({std::string(b.key), *st.mine});
    }
    return out;
}

std::error_code negotiation::process(const pdu::text_list& keys, pdu::login_stage stage, pdu::text_list& answers,
                                     std::string& message)
{
    for (const auto& [name, value] : keys) {
        const key_def* def = pdu::find_key(name);
        auto it = keys_.find(name);
        if (!def) {
            // §6.2: unknown keys (X- extensions included) are answered NotUnderstood;
            // a special value can only be an answer, and we never send unknown keys.
            if (pdu::is_special_answer(value)) {
                message = "target answered " + pair_text(name, value) + " to a key never offered";
                return pdu::errc::negotiation_violation;
            }
            if (it != keys_.end()) {
                message = "target offered " + pair_text(name, value) + " twice";
                return pdu::errc::negotiation_violation;
            }
            keys_[name].theirs = value;
            keys_[name].done = true;
            answers.push_back({name, std::string(pdu::value_not_understood)});
            continue;
        }
        if (stage == pdu::login_stage::security_negotiation && def->phase == pdu::key_phase::operational) {
            message = "target sent operational key " + pair_text(name, value) + " in the security stage";
            return pdu::errc::key_not_allowed;
        }
        if (def->phase == pdu::key_phase::security) {
            message = "target sent security key " + pair_text(name, value) + " outside the security exchange";
            return pdu::errc::key_not_allowed;
        }
        std::error_code ec;
        if (it != keys_.end() && it->second.offered) {
            ec = answer_of_ours(*def, it->second, value, message);
        } else if (def->declarative()) {
            ec = declaration_of_theirs(*def, keys_[name], value, message);
        } else {
            ec = offer_of_theirs(def, name, value, answers, message);
        }
        if (ec)
            return ec;
    }
    return {};
}

std::error_code negotiation::answer_of_ours(const key_def& key, key_state& st, std::string_view value,
                                            std::string& message)
{
    pdu::negotiation_result r;
    if (auto ec = pdu::merge_answer(key, *st.mine, value, r)) {
        message = "target answered " + pair_text(key.name, value) + " to our offer " + pair_text(key.name, *st.mine) +
                  describe(ec);
        return ec;
    }
    st.theirs = std::string(value);
    st.offered = false;
    st.done = true;
    // Rejected, Irrelevant or NotUnderstood keys keep their defaults (§6.2).
    if (r.outcome == pdu::negotiation_outcome::agreed)
        st.active = std::move(r.value);
    if (!accepts_in_force(key, st)) {
        message = "target answered " + pair_text(key.name, value) + " to our offer " + pair_text(key.name, *st.mine) +
                  ", leaving " + pair_text(key.name, in_force(key, st));
        return login_errc::value_refused;
    }
    return {};
}

std::string negotiation::in_force(const key_def& key, const key_state& st)
{
    return st.active ? *st.active : std::string(key.default_value);
}

// A list key we bind (HeaderDigest, DataDigest: §13.1) must end on a value
// of our list. Answers are checked against offers already; this catches a
// Reject, Irrelevant or NotUnderstood answer to our offer, and our own Reject
// of a target offer, which leave the RFC default (None) in force although we
// offered only CRC32C: a clear failure rather than a session without the
// digest asked for.
bool negotiation::accepts_in_force(const key_def& key, const key_state& st) const
{
    const binding* b = find_binding(key.name);
    if (key.kind != pdu::key_kind::list || !b || !b->mine)
        return true;
    std::vector<std::string_view> accepted;
    const std::string ours = b->mine(config_);
    if (pdu::parse_list(ours, accepted))
        return true;
    return std::find(accepted.begin(), accepted.end(), in_force(key, st)) != accepted.end();
}

std::error_code negotiation::offer_of_theirs(const key_def* key, std::string_view name, std::string_view value,
                                             pdu::text_list& answers, std::string& message)
{
    auto& st = keys_[std::string(name)];
    if (st.done) {
        // §6.2: a key is negotiated once per login.
        message = "target renegotiates " + pair_text(name, value) + " (already " +
                  (st.active ? "agreed as " + *st.active : std::string("settled")) + ")";
        return pdu::errc::negotiation_violation;
    }
    if (pdu::is_special_answer(value)) {
        message = "target answered " + pair_text(name, value) + " to a key never offered";
        return pdu::errc::negotiation_violation;
    }
    const binding* b = find_binding(name);
    std::string mine;
    if (b && b->mine)
        mine = b->mine(config_);
    else if (key)
        mine = std::string(key->default_value);
    const bool irrelevant = b && b->discovery_irrelevant && config_.type == session_type::discovery;
    std::optional<std::string> answer;
    if (auto ec = pdu::respond_to_offer(name, value, mine, pdu::key_sender::target, answer, irrelevant)) {
        message = "target offered " + pair_text(name, value) + describe(ec);
        return ec;
    }
    st.theirs = std::string(value);
    st.done = true;
    if (answer) {
        st.mine = *answer;
        if (!pdu::is_special_answer(*answer))
            st.active = *answer;
        answers.push_back({std::string(name), *answer});
    }
    if (key && !accepts_in_force(*key, st)) {
        message = "target offered " + pair_text(name, value) + ", none of which we accept (" + mine + "), leaving " +
                  pair_text(name, in_force(*key, st));
        return login_errc::value_refused;
    }
    return {};
}

std::error_code negotiation::declaration_of_theirs(const key_def& key, key_state& st, std::string_view value,
                                                   std::string& message)
{
    if (!pdu::may_send(key, pdu::key_sender::target)) {
        message = "target sent " + pair_text(key.name, value) + ", a key only initiators send";
        return pdu::errc::key_not_allowed;
    }
    if (auto ec = pdu::check_value(key, value)) {
        message = "target declared " + pair_text(key.name, value) + describe(ec);
        return ec;
    }
    if (st.theirs) {
        // A repeated identical declaration is harmless; a changed one is not (§6.2).
        if (*st.theirs == value)
            return {};
        message = "target declared " + pair_text(key.name, value) + " after " + pair_text(key.name, *st.theirs);
        return pdu::errc::negotiation_violation;
    }
    st.theirs = std::string(value);
    st.active = std::string(value);
    st.done = true;
    return {};
}

std::vector<std::string> negotiation::unanswered() const
{
    std::vector<std::string> out;
    for (const auto& [name, st] : keys_)
        if (st.offered)
            out.push_back(name);
    return out;
}

std::optional<std::string> negotiation::active(std::string_view key) const
{
    auto it = keys_.find(key);
    if (it == keys_.end())
        return std::nullopt;
    return it->second.active;
}

session_params negotiation::params() const
{
    session_params p;
    for (const auto& b : bindings) {
        auto it = keys_.find(b.key);
        if (it == keys_.end())
            continue;
        if (b.apply_ours && it->second.mine)
            b.apply_ours(p, *it->second.mine);
        if (b.apply && it->second.active)
            b.apply(p, *it->second.active);
    }
    // §13.14: FirstBurstLength never exceeds MaxBurstLength.
    p.first_burst_length = std::min(p.first_burst_length, p.max_burst_length);
    return p;
}

} // namespace ivs::iscsi
