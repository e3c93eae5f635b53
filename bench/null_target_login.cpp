// Login negotiation, target side (RFC 7143 §6.2, §6.3, §13): answers each
// offer with the key's result function (pdu::respond_to_offer), declares our
// MaxRecvDataSegmentLength and TargetPortalGroupTag, accepts AuthMethod=None only.
#include "bench/null_target_login.hpp"

#include "iscsi/login_status.hpp"
#include "pdu/keys.hpp"

#include <atomic>
#include <optional>

namespace ivs::bench {

namespace {

constexpr std::uint16_t portal_group_tag = 1;

// Keys §13 marks "Irrelevant when: SessionType=Discovery".
bool irrelevant_in_discovery(std::string_view k) noexcept
{
    for (std::string_view i : {"MaxConnections", "InitialR2T", "ImmediateData", "MaxBurstLength", "FirstBurstLength",
                               "MaxOutstandingR2T", "DataPDUInOrder", "DataSequenceInOrder"})
        if (k == i)
            return true;
    return false;
}

std::uint32_t number(std::string_view v, std::uint32_t fallback) noexcept
{
    std::uint64_t n = 0;
    if (pdu::parse_number(v, n) || n > UINT32_MAX)
        return fallback;
    return static_cast<std::uint32_t>(n);
}

// TSIHs are target-wide (§11.12.6); never 0.
std::uint16_t next_tsih() noexcept
{
    static std::atomic<std::uint16_t> counter{0};
    for (;;) {
        const std::uint16_t t = ++counter;
        if (t != 0)
            return t;
    }
}

} // namespace

login_negotiator::answer login_negotiator::base(const pdu::login_request& req) const
{
    answer a;
    a.rsp.csg = req.csg;
    a.rsp.isid = req.isid;
    a.rsp.initiator_task_tag = req.initiator_task_tag;
    a.rsp.version_max = 0;
    a.rsp.version_active = 0;
    return a;
}

login_negotiator::answer login_negotiator::reject(const pdu::login_request& req, iscsi::login_status status)
{
    answer a = base(req);
    const auto value = static_cast<std::uint16_t>(status); // (class << 8) | detail, §11.13.5
    a.rsp.status_class = static_cast<std::uint8_t>(value >> 8);
    a.rsp.status_detail = static_cast<std::uint8_t>(value & 0xff);
    a.failed = true;
    return a;
}

login_negotiator::answer login_negotiator::on_partial(const pdu::login_request& req)
{
    return base(req); // T=0, C=0, no keys: "send the rest" (§6.1)
}

std::string login_negotiator::mine(std::string_view k) const
{
    if (k == "HeaderDigest" || k == "DataDigest")
        return settings_.digests ? "CRC32C,None" : "None";
    if (k == "AuthMethod")
        return "None";
    if (k == "MaxConnections")
        return "1";
    if (k == "InitialR2T")
        return "No"; // OR: the initiator's choice
    if (k == "ImmediateData")
        return "Yes"; // AND: the initiator's choice
    if (k == "MaxBurstLength" || k == "FirstBurstLength")
        return "16777215"; // minimum: the initiator's offer
    if (k == "DefaultTime2Wait" || k == "DefaultTime2Retain" || k == "ErrorRecoveryLevel")
        return "0";
    if (k == "MaxOutstandingR2T")
        return pdu::format_number(settings_.max_outstanding_r2t);
    if (k == "DataPDUInOrder" || k == "DataSequenceInOrder")
        return "Yes";
    if (k == "TaskReporting")
        return "RFC3720";
    if (k == "iSCSIProtocolLevel")
        return "1";
    return {};
}

void login_negotiator::apply(std::string_view k, std::string_view v)
{
    auto& p = params_;
    if (k == "HeaderDigest")
        p.header_digest = v == "CRC32C";
    else if (k == "DataDigest")
        p.data_digest = v == "CRC32C";
    else if (k == "MaxBurstLength")
        p.max_burst_length = number(v, p.max_burst_length);
    else if (k == "FirstBurstLength")
        p.first_burst_length = number(v, p.first_burst_length);
    else if (k == "InitialR2T")
        p.initial_r2t = v == pdu::value_yes;
    else if (k == "ImmediateData")
        p.immediate_data = v == pdu::value_yes;
    else if (k == "MaxOutstandingR2T")
        p.max_outstanding_r2t = number(v, p.max_outstanding_r2t);
    else if (k == "ErrorRecoveryLevel")
        p.error_recovery_level = number(v, p.error_recovery_level);
}

std::error_code login_negotiator::negotiate(const pdu::text_pair& kv, bool security_stage, pdu::text_list& out)
{
    const std::string_view k = kv.key;
    if (k == "MaxRecvDataSegmentLength") {
        // §13.12: a declaration each way; the initiator's bounds what we send.
        std::optional<std::string> none;
        if (auto ec = pdu::respond_to_offer(k, kv.value, {}, pdu::key_sender::initiator, none))
            return ec;
        params_.initiator_mrdsl = number(kv.value, params_.initiator_mrdsl);
        return {};
    }
    const pdu::key_def* def = pdu::find_key(k);
    if (def && def->phase == pdu::key_phase::security && !security_stage)
        return pdu::errc::key_not_allowed; // security keys only in the security stage (§6.3)
    std::optional<std::string> a;
    const bool irrelevant = params_.discovery && irrelevant_in_discovery(k);
    if (auto ec = pdu::respond_to_offer(k, kv.value, mine(k), pdu::key_sender::initiator, a, irrelevant))
        return ec;
    if (!a)
        return {}; // a declaration (InitiatorName, SessionType, ...)
    if (k == "AuthMethod") {
        if (*a != "None")
            return pdu::errc::negotiation_violation; // no common method: authentication failure
    }
    if (!pdu::is_special_answer(*a))
        apply(k, *a);
    out.push_back({kv.key, std::move(*a)});
    return {};
}

login_negotiator::answer login_negotiator::on_request(const pdu::login_request& req, const pdu::text_list& keys)
{
    using iscsi::login_status;
    using pdu::login_stage;
    if (first_) {
        first_ = false;
        isid_ = req.isid;
        itt_ = req.initiator_task_tag;
        if (req.version_min != 0)
            return reject(req, login_status::unsupported_version);
        if (req.tsih != 0)
            return reject(req, login_status::session_does_not_exist); // no reinstatement / MC/S
        // §13.21, §13.5: the first request names the initiator, the session type
        // and, for a Normal session, the target.
        const auto* type = pdu::find_pair(keys, "SessionType");
        const auto* initiator = pdu::find_pair(keys, "InitiatorName");
        const auto* target = pdu::find_pair(keys, "TargetName");
        if (!initiator)
            return reject(req, login_status::missing_parameter);
        if (type && type->value != "Normal" && type->value != "Discovery")
            return reject(req, login_status::initiator_error);
        params_.discovery = type && type->value == "Discovery";
        if (!params_.discovery && !target)
            return reject(req, login_status::missing_parameter);
        if (target && target->value != settings_.iqn)
            return reject(req, login_status::not_found);
    } else if (req.isid != isid_ || req.initiator_task_tag != itt_) {
        return reject(req, login_status::initiator_error); // §11.12: fixed for the login
    }
    if (req.csg == login_stage::full_feature_phase ||
        (req.transit_bit && static_cast<int>(req.nsg) <= static_cast<int>(req.csg)))
        return reject(req, login_status::initiator_error);

    answer a = base(req);
    const bool security = req.csg == login_stage::security_negotiation;
    pdu::text_list out;
    if (!sent_tpgt_ && pdu::find_pair(keys, "TargetName")) {
        // §13.9: returned in the response to the first request naming the target.
        out.push_back({"TargetPortalGroupTag", pdu::format_number(portal_group_tag)});
        sent_tpgt_ = true;
    }
    for (const auto& kv : keys) {
        if (negotiate(kv, security, out))
            return reject(req, kv.key == "AuthMethod" ? login_status::authentication_failure
                                                      : login_status::initiator_error);
    }
    if (!declared_mrdsl_ && (!security || pdu::find_pair(keys, "MaxRecvDataSegmentLength"))) {
        out.push_back({"MaxRecvDataSegmentLength", pdu::format_number(settings_.max_recv_data_segment_length)});
        declared_mrdsl_ = true;
    }
    if (pdu::serialize_text(out, a.text))
        return reject(req, login_status::target_error);
    if (req.transit_bit) {
        a.rsp.transit_bit = true;
        a.rsp.nsg = req.nsg;
        if (req.nsg == login_stage::full_feature_phase) {
            a.rsp.tsih = next_tsih();
            a.full_feature = true;
        }
    }
    return a;
}

} // namespace ivs::bench
