// The chaos target's side of a login (RFC 7143 §6, §11.12, §11.13), answered
// in its turns like everything else: AuthMethod=None, then the operational
// keys of target_params; the response that moves to the full feature phase
// ends it. A new session replaces the old one (ERL 0 reinstatement, §6.3.5).
#include "test/support/chaos_target_impl.hpp"

namespace ivs::test::chaos {

namespace {

// Keys each side declares rather than negotiates (§13.12, §13.7).
bool is_declaration(std::string_view key) { return key == "MaxRecvDataSegmentLength" || key == "TargetAlias"; }

} // namespace

pdu::text_list chaos_target::impl::operational_keys() const
{
    const target_params& tp = params;
    return {
        {"HeaderDigest", "None"},
        {"DataDigest", "None"},
        {"InitialR2T", tp.initial_r2t ? "Yes" : "No"},
        {"ImmediateData", tp.immediate_data ? "Yes" : "No"},
        {"MaxBurstLength", std::to_string(tp.max_burst)},
        {"FirstBurstLength", std::to_string(tp.first_burst)},
        {"MaxOutstandingR2T", std::to_string(tp.max_outstanding_r2t)},
        {"DataPDUInOrder", "Yes"},
        {"DataSequenceInOrder", "Yes"},
        {"ErrorRecoveryLevel", "0"},
        {"MaxConnections", "1"},
        {"DefaultTime2Wait", "0"},
        {"DefaultTime2Retain", "0"},
    };
}

void chaos_target::impl::on_login(chaos_connection& c, const received_pdu& p)
{
    if (p.op() != pdu::opcode::login_request)
        return violation(c, p.describe() + " before the login ended");
    const auto req = p.as<pdu::login_request>();
    if (!c.login_started) {
        c.login_started = true;
        c.login_first = req;
        c.link->exp_cmd_sn = req.cmd_sn;
    } else if (req.initiator_task_tag != c.login_first.initiator_task_tag || req.isid != c.login_first.isid ||
               req.cmd_sn != c.login_first.cmd_sn) {
        return violation(c, "a Login Request with another ITT, ISID or CmdSN than the first (§11.12)");
    } else if (req.exp_stat_sn != c.link->stat_sn) {
        return violation(c, "Login Request ExpStatSN " + std::to_string(req.exp_stat_sn) + ", expected " +
                                std::to_string(c.link->stat_sn));
    }
    if (!p.immediate())
        return violation(c, "a Login Request without the I bit (§11.12)");

    pdu::login_response rsp;
    rsp.csg = req.csg;
    rsp.isid = req.isid;
    rsp.initiator_task_tag = req.initiator_task_tag;
    if (auto ec = c.login_text.add(p.data, req.continue_bit))
        return violation(c, "bad login text: " + ec.message());
    if (!c.login_text.complete()) {
        enqueue(c, make(c, rsp, true)); // §6.1: a piece of the initiator's text acknowledged
        return;
    }
    const pdu::text_list keys = c.login_text.take_pairs();
    pdu::text_list reply;
    bool transit = false;
    if (req.csg == pdu::login_stage::security_negotiation) {
        const pdu::text_pair* am = pdu::find_pair(keys, "AuthMethod");
        if (!am || am->value.find("None") == std::string::npos)
            return violation(c, "a security stage without AuthMethod=None");
        reply.push_back({"AuthMethod", "None"});
        transit = req.transit_bit && req.nsg == pdu::login_stage::operational_negotiation;
    } else if (req.csg == pdu::login_stage::operational_negotiation) {
        const pdu::text_list ours = operational_keys();
        for (const auto& k : keys) {
            if (k.key == "MaxRecvDataSegmentLength")
                c.initiator_mrdsl = static_cast<std::uint32_t>(std::stoul(k.value));
            if (is_declaration(k.key))
                continue;
            const pdu::text_pair* mine = pdu::find_pair(ours, k.key);
            reply.push_back({k.key, mine ? mine->value : k.value}); // echoed: valid under every result function
        }
        if (!keys.empty())
            reply.push_back({"MaxRecvDataSegmentLength", std::to_string(params.mrdsl)});
        transit = req.transit_bit && req.nsg == pdu::login_stage::full_feature_phase;
    } else {
        return violation(c, "a Login Request in stage " + std::to_string(static_cast<int>(req.csg)));
    }
    if (!c.sent_tpgt) {
        reply.push_back({"TargetPortalGroupTag", "1"}); // §13.9: in the first response
        c.sent_tpgt = true;
    }
    rsp.transit_bit = transit; // only when asked for (§11.13.1)
    rsp.nsg = transit ? req.nsg : pdu::login_stage::security_negotiation;
    const bool final = transit && req.nsg == pdu::login_stage::full_feature_phase;
    if (final)
        rsp.tsih = 0x0101;
    enqueue(c, make(c, rsp, true, text_bytes(reply)));
    if (!final)
        return;
    c.logging_in = false;
    c.link->enter_full_feature(params.mrdsl);
    log(c, "login complete, ExpCmdSN " + std::to_string(c.link->exp_cmd_sn) + " StatSN " +
               std::to_string(c.link->stat_sn));
    // ERL 0 reinstatement (§6.3.5): the older connections and their tasks are gone.
    for (auto& o : conns)
        if (o.get() != &c && !o->closed)
            close(*o, "session reinstated on a new connection");
}

} // namespace ivs::test::chaos
