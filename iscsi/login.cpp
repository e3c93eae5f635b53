// Login state machine (RFC 7143 §6.3, §7.1.3, §11.12, §11.13), initiator side.
#include "iscsi/login.hpp"

#include <algorithm>

#include "iscsi/login_status.hpp"
#include "pdu/keys.hpp"

namespace ivs::iscsi {
namespace {

using pdu::login_stage;

class login_errc_category_impl : public std::error_category {
public:
    const char* name() const noexcept override { return "iscsi-login-protocol"; }
    std::string message(int v) const override
    {
        switch (static_cast<login_errc>(v)) {
        case login_errc::ok: return "success";
        case login_errc::bad_config: return "invalid login configuration";
        case login_errc::protocol_error: return "target broke the login protocol";
        case login_errc::unsupported_version: return "unsupported iSCSI version";
        case login_errc::auth_method_refused: return "target refused the authentication methods offered";
        case login_errc::chap_algorithm_rejected: return "target rejected the CHAP algorithms offered";
        case login_errc::target_not_authenticated: return "target did not authenticate itself (mutual CHAP)";
        case login_errc::bad_redirect: return "redirect without a valid TargetAddress";
        case login_errc::too_many_exchanges: return "login does not progress";
        case login_errc::value_refused: return "target refused every value offered for a key";
        case login_errc::not_ready: return "login machine called in the wrong state";
        }
        return "unknown login error";
    }
};

bool is_security_key(std::string_view key) noexcept { return key == "AuthMethod" || key.starts_with("CHAP_"); }

std::string_view value_of(const pdu::text_list& keys, std::string_view key) noexcept
{
    const pdu::text_pair* p = pdu::find_pair(keys, key);
    return p ? std::string_view(p->value) : std::string_view{};
}

constexpr std::uint64_t isid_mask = 0xffffffffffffull;

} // namespace

const std::error_category& login_errc_category() noexcept
{
    static const login_errc_category_impl c;
    return c;
}

login_machine::login_machine(const login_config& config, std::uint32_t cmd_sn, std::uint32_t exp_stat_sn,
                             std::uint32_t initiator_task_tag)
    : config_(config), negotiation_(config_), cmd_sn_(cmd_sn), exp_stat_sn_(exp_stat_sn), itt_(initiator_task_tag)
{
    if (config_.initiator_name.empty()) {
        fail(login_errc::bad_config, "login failed: no initiator name configured");
        return;
    }
    if (config_.type == session_type::normal && config_.target_name.empty()) {
        fail(login_errc::bad_config, "login failed: no target name configured");
        return;
    }
    if (config_.mutual_chap && !config_.chap) {
        fail(login_errc::bad_config, "login failed: mutual CHAP configured without initiator CHAP credentials");
        return;
    }
    pending_ = negotiation_.declarations();
    if (config_.chap) {
        chap_.emplace(
            chap_initiator_config{*config_.chap, config_.mutual_chap, config_.chap_algorithms, config_.chap_random});
        // Checks secrets (present, distinct for mutual) before anything is sent.
        if (auto ec = chap_->offer(chap_a_offer_)) {
            fail(ec, "login failed: " + ec.message());
            return;
        }
        // §12.1: with mutual CHAP the target must authenticate, so no None.
        auth_offer_ = config_.mutual_chap ? "CHAP" : "CHAP,None";
    } else {
        auth_offer_ = "None";
    }
    pending_.push_back({"AuthMethod", auth_offer_});
    prepare(!config_.chap);
}

login_step login_machine::fail(std::error_code ec, std::string message)
{
    state_ = login_state::failed;
    error_ = ec;
    message_ = std::move(message);
    return login_step::failed;
}

bool login_machine::prepare(bool transit)
{
    out_text_.clear();
    out_offset_ = 0;
    if (auto ec = pdu::serialize_text(pending_, out_text_)) {
        fail(ec, "login failed: cannot encode login keys (" + ec.message() + ")");
        return false;
    }
    pending_.clear();
    next_transit_ = transit;
    state_ = login_state::need_send;
    return true;
}

login_request_out login_machine::next_request()
{
    login_request_out out;
    if (state_ != login_state::need_send) {
        if (state_ != login_state::failed)
            fail(login_errc::not_ready, "login failed: no login request to send now");
        return out;
    }
    const std::size_t left = out_text_.size() - out_offset_;
    const std::size_t n = std::min(left, max_request_data_);
    const bool more = n < left; // §6.1: the rest follows after the target's empty answer
    auto first = out_text_.begin() + static_cast<std::ptrdiff_t>(out_offset_);
    out.data.assign(first, first + static_cast<std::ptrdiff_t>(n));
    out_offset_ += n;

    auto& h = out.header;
    h.continue_bit = more;
    h.transit_bit = !more && next_transit_;
    h.csg = csg_;
    h.nsg = h.transit_bit ? nsg_ : login_stage::security_negotiation;
    h.version_max = 0;
    h.version_min = 0;
    h.data_segment_length = static_cast<std::uint32_t>(n);
    h.isid = config_.isid & isid_mask;
    h.tsih = config_.tsih;
    h.initiator_task_tag = itt_;
    h.cid = config_.cid;
    h.cmd_sn = cmd_sn_; // §11.12.6: login requests are immediate, CmdSN stays
    h.exp_stat_sn = exp_stat_sn_;
    sent_transit_ = h.transit_bit;
    sent_continue_ = more;
    state_ = login_state::await_response;
    return out;
}

login_step login_machine::on_response(const pdu::login_response& rsp, std::span<const std::byte> data)
{
    if (state_ != login_state::await_response) {
        if (state_ == login_state::failed)
            return login_step::failed;
        return fail(login_errc::not_ready, "login failed: login response not expected now");
    }
    if (++exchanges_ > max_exchanges)
        return fail(login_errc::too_many_exchanges, "login failed: target keeps the login going without progress");
    if (rsp.initiator_task_tag != itt_)
        return fail(login_errc::protocol_error, "login failed: login response with a foreign initiator task tag");
    // §11.13.4-§11.13.6: the target's numbering; ExpStatSN follows its StatSN.
    stat_sn_ = rsp.stat_sn;
    exp_stat_sn_ = rsp.stat_sn + 1;
    exp_cmd_sn_ = rsp.exp_cmd_sn;
    max_cmd_sn_ = rsp.max_cmd_sn;
    status_ = login_status_value(rsp.status_class, rsp.status_detail);

    if (rsp.status_class == pdu::login_status_class::redirection)
        return redirect(data);
    if (rsp.status_class != pdu::login_status_class::success) {
        // §12.1.3: a target that cannot use any algorithm of our CHAP_A list may fail the login.
        if (auth_ == auth_phase::offer_chap_a)
            md5_retry_ = !md5_only();
        return fail(make_login_error(rsp.status_class, rsp.status_detail), login_status_message(status_));
    }
    if (rsp.version_active != 0)
        return fail(login_errc::unsupported_version,
                    "login failed: target uses iSCSI version " + std::to_string(rsp.version_active) + ", not 0");
    if ((rsp.isid & isid_mask) != (config_.isid & isid_mask))
        return fail(login_errc::protocol_error, "login failed: login response for another ISID");
    if (rsp.csg != csg_)
        return fail(login_errc::protocol_error, "login failed: login response for another stage (CSG)");
    if (rsp.transit_bit && (!sent_transit_ || rsp.nsg != nsg_))
        return fail(login_errc::protocol_error, "login failed: target changed stage without our request (T/NSG)");

    if (sent_continue_) {
        // §6.1: our text continues; the target acknowledges each piece with an empty response.
        if (rsp.transit_bit || rsp.continue_bit || !data.empty())
            return fail(login_errc::protocol_error, "login failed: target answered before our login text was complete");
        state_ = login_state::need_send;
        return login_step::send_next;
    }
    if (auto ec = reassembler_.add(data, rsp.continue_bit))
        return fail(ec, "login failed: malformed login response text (" + ec.message() + ")");
    if (!reassembler_.complete()) {
        // §6.1: ask for the rest with an empty request in the same stage, T=0.
        pending_.clear();
        return prepare(false) ? login_step::send_next : login_step::failed;
    }
    return process_text(rsp, reassembler_.take_pairs());
}

login_step login_machine::redirect(std::span<const std::byte> data)
{
    // §11.13.5 class 1: the response carries TargetAddress (§13.8).
    pdu::text_list keys;
    target_address a;
    if (pdu::parse_text(data, keys)) {
        return fail(login_errc::bad_redirect, "login failed: malformed redirect text");
    }
    const pdu::text_pair* addr = pdu::find_pair(keys, "TargetAddress");
    if (!addr || parse_target_address(addr->value, a))
        return fail(login_errc::bad_redirect,
                    "login failed: " + login_status_message(status_) + " without a valid TargetAddress");
    redirect_ = std::move(a);
    state_ = login_state::redirected;
    error_ = make_error_code(static_cast<login_status>(status_));
    message_ = login_status_message(status_) + " to " + format_host_port(redirect_);
    return login_step::redirect;
}

bool login_machine::md5_only() const noexcept
{
    return config_.chap_algorithms.size() == 1 && config_.chap_algorithms.front() == chap_algorithm::md5;
}

login_step login_machine::process_text(const pdu::login_response& rsp, const pdu::text_list& keys)
{
    pdu::text_list security, others, answers;
    for (const auto& p : keys)
        (csg_ == login_stage::security_negotiation && is_security_key(p.key) ? security : others).push_back(p);
    std::string message;
    if (auto ec = negotiation_.process(others, csg_, answers, message))
        return fail(ec, "login failed: " + message);
    if (csg_ == login_stage::security_negotiation) {
        if (auto step = security_step(rsp, security); step != login_step::send_next)
            return step;
        if (state_ == login_state::failed)
            return login_step::failed;
    }
    for (auto& a : answers)
        pending_.push_back(std::move(a));

    if (!rsp.transit_bit) {
        // Stay in this stage; ask to move on once our side is ready.
        const bool transit = csg_ != login_stage::security_negotiation || auth_ == auth_phase::verify_target ||
                             auth_ == auth_phase::done;
        return prepare(transit) ? login_step::send_next : login_step::failed;
    }
    if (csg_ == login_stage::security_negotiation && auth_ != auth_phase::done)
        return fail(login_errc::target_not_authenticated,
                    "login failed: target ended the security stage before authentication completed");
    csg_ = rsp.nsg;
    if (csg_ == login_stage::operational_negotiation) {
        // §6.3: operational keys are offered in the first request of the stage.
        for (auto& o : negotiation_.operational_offers())
            pending_.push_back(std::move(o));
        nsg_ = login_stage::full_feature_phase;
        return prepare(true) ? login_step::send_next : login_step::failed;
    }
    // Full feature phase (§7.1.3 S5): nothing may remain to answer.
    if (!pending_.empty())
        return fail(pdu::errc::negotiation_violation, "login failed: target offered " + pending_.front().key + "=" +
                                                          std::string(value_of(keys, pending_.front().key)) +
                                                          " in its final login response");
    if (config_.tsih != 0 ? rsp.tsih != config_.tsih : rsp.tsih == 0)
        return fail(login_errc::protocol_error, "login failed: final login response with a wrong TSIH");
    tsih_ = rsp.tsih;
    state_ = login_state::complete;
    return login_step::complete;
}

login_step login_machine::security_step(const pdu::login_response& rsp, const pdu::text_list& keys)
{
    // Keys each phase of the exchange may receive (§12.1.3).
    auto only = [&](std::initializer_list<std::string_view> allowed) -> bool {
        return std::all_of(keys.begin(), keys.end(), [&](const pdu::text_pair& p) {
            return std::find(allowed.begin(), allowed.end(), p.key) != allowed.end();
        });
    };
    auto unexpected = [&]() {
        return fail(login_errc::protocol_error, "login failed: unexpected security key " + keys.front().key + "=" +
                                                    keys.front().value + " at this point of the login");
    };
    switch (auth_) {
    case auth_phase::offer_method: {
        if (!only({"AuthMethod"}))
            return unexpected();
        const pdu::text_pair* am = pdu::find_pair(keys, "AuthMethod");
        if (!am)
            return fail(login_errc::protocol_error, "login failed: target did not answer AuthMethod");
        pdu::negotiation_result r;
        if (auto ec = pdu::merge_answer(*pdu::find_key("AuthMethod"), auth_offer_, am->value, r))
            return fail(ec, "login failed: target chose AuthMethod=" + am->value + " which was not offered (" +
                                auth_offer_ + ")");
        if (r.outcome != pdu::negotiation_outcome::agreed)
            return fail(login_errc::auth_method_refused,
                        "login failed: target answered AuthMethod=" + am->value + " to " + auth_offer_);
        if (r.value == "None") {
            auth_ = auth_phase::done;
        } else {
            if (rsp.transit_bit)
                return fail(login_errc::protocol_error, "login failed: target left the security stage before CHAP");
            pending_.push_back({"CHAP_A", chap_a_offer_});
            auth_ = auth_phase::offer_chap_a;
        }
        return login_step::send_next;
    }
    case auth_phase::offer_chap_a: {
        if (!only({"CHAP_A", "CHAP_I", "CHAP_C"}))
            return unexpected();
        const std::string_view a = value_of(keys, "CHAP_A");
        if (a == pdu::value_reject || a == pdu::value_not_understood) {
            md5_retry_ = !md5_only();
            return fail(login_errc::chap_algorithm_rejected, "login failed: target rejected CHAP_A=" + chap_a_offer_);
        }
        chap_reply reply;
        if (auto ec = chap_->respond(a, value_of(keys, "CHAP_I"), value_of(keys, "CHAP_C"), reply)) {
            if (ec == chap_errc::algorithm_not_offered || ec == chap_errc::algorithm_unknown)
                return fail(ec, "login failed: target chose CHAP_A=" + std::string(a) + " which was not offered");
            return fail(ec, "login failed: " + ec.message());
        }
        pending_.push_back({"CHAP_N", reply.n});
        pending_.push_back({"CHAP_R", reply.r});
        if (chap_->mutual()) {
            pending_.push_back({"CHAP_I", reply.i});
            pending_.push_back({"CHAP_C", reply.c});
            auth_ = auth_phase::verify_target;
        } else {
            auth_ = auth_phase::done;
        }
        return login_step::send_next;
    }
    case auth_phase::verify_target: {
        if (!only({"CHAP_N", "CHAP_R"}))
            return unexpected();
        const std::string_view n = value_of(keys, "CHAP_N"), r = value_of(keys, "CHAP_R");
        if (n.empty() || r.empty()) {
            if (!rsp.transit_bit && keys.empty())
                return login_step::send_next; // not yet: the target may answer later in the stage
            return fail(login_errc::target_not_authenticated,
                        "login failed: target did not authenticate itself although mutual CHAP was requested");
        }
        if (auto ec = chap_->verify_target(n, r))
            return fail(ec, "login failed: " + ec.message());
        auth_ = auth_phase::done;
        return login_step::send_next;
    }
    case auth_phase::done:
        if (!keys.empty())
            return unexpected();
        return login_step::send_next;
    }
    return login_step::send_next;
}

} // namespace ivs::iscsi
