// Table-driven key negotiation (RFC 7143 §6.2, §13).
#include <catch2/catch.hpp>

#include "iscsi/login.hpp"
#include "iscsi/negotiation.hpp"
#include "pdu/error.hpp"

using namespace ivs;
using namespace ivs::iscsi;
using pdu::login_stage;

namespace {

login_config normal_config()
{
    login_config c;
    c.initiator_name = "iqn.2024-01.org.example:init";
    c.target_name = "iqn.2024-01.org.example:disk1";
    c.isid = 0x800102030405;
    return c;
}

std::string value(const pdu::text_list& l, std::string_view key)
{
    const auto* p = pdu::find_pair(l, key);
    return p ? p->value : std::string("<absent>");
}

// tgtd's answers to our default offers.
const pdu::text_list tgtd_answers = {
    {"HeaderDigest", "None"},       {"DataDigest", "None"},        {"MaxRecvDataSegmentLength", "8192"},
    {"MaxConnections", "1"},        {"InitialR2T", "Yes"},         {"ImmediateData", "Yes"},
    {"MaxBurstLength", "262144"},   {"FirstBurstLength", "65536"}, {"DefaultTime2Wait", "2"},
    {"DefaultTime2Retain", "20"},   {"MaxOutstandingR2T", "1"},    {"DataPDUInOrder", "Yes"},
    {"DataSequenceInOrder", "Yes"}, {"ErrorRecoveryLevel", "0"},
};

// Offers, then one response; returns the error and fills message/answers.
std::error_code answer_one(negotiation& n, const pdu::text_list& keys, std::string& message, pdu::text_list& answers)
{
    (void)n.operational_offers();
    return n.process(keys, login_stage::operational_negotiation, answers, message);
}

} // namespace

TEST_CASE("declarations and default operational offers", "[negotiation]")
{
    auto c = normal_config();
    c.initiator_alias = "host1";
    negotiation n(c);
    auto d = n.declarations();
    CHECK(value(d, "InitiatorName") == c.initiator_name);
    CHECK(value(d, "InitiatorAlias") == "host1");
    CHECK(value(d, "SessionType") == "Normal");
    CHECK(value(d, "TargetName") == c.target_name);

    auto o = n.operational_offers();
    CHECK(value(o, "HeaderDigest") == "None");
    CHECK(value(o, "MaxRecvDataSegmentLength") == "262144");
    CHECK(value(o, "MaxBurstLength") == "16776192");
    CHECK(value(o, "FirstBurstLength") == "262144");
    CHECK(value(o, "InitialR2T") == "No");
    CHECK(value(o, "ImmediateData") == "Yes");
    CHECK(value(o, "MaxOutstandingR2T") == "8");
    CHECK(value(o, "ErrorRecoveryLevel") == "0");
    CHECK(value(o, "MaxConnections") == "1");
    CHECK(value(o, "DefaultTime2Wait") == "2");
    CHECK(value(o, "DefaultTime2Retain") == "20");
    CHECK(value(o, "TaskReporting") == "<absent>");
    CHECK(n.operational_offers().empty()); // offered once
    // Declaratives need no answer; the rest does.
    auto u = n.unanswered();
    CHECK(std::find(u.begin(), u.end(), "MaxBurstLength") != u.end());
    CHECK(std::find(u.begin(), u.end(), "MaxRecvDataSegmentLength") == u.end());
}

TEST_CASE("tgtd-like answers: min/max/AND/OR results", "[negotiation]")
{
    auto c = normal_config();
    c.proposals.header_digest = digest_offer::crc32c_or_none;
    negotiation n(c);
    std::string msg;
    pdu::text_list answers;
    auto keys = tgtd_answers;
    keys[0].value = "CRC32C";
    keys.push_back({"TargetAlias", "disk one"});
    REQUIRE_FALSE(answer_one(n, keys, msg, answers));
    CHECK(answers.empty());
    CHECK(n.unanswered().empty());
    const auto p = n.params();
    CHECK(p.header_digest);
    CHECK_FALSE(p.data_digest);
    CHECK(p.max_recv_data_segment_length == 262144);      // our declaration
    CHECK(p.target_max_recv_data_segment_length == 8192); // theirs
    CHECK(p.max_burst_length == 262144);                  // minimum
    CHECK(p.first_burst_length == 65536);                 // minimum
    CHECK(p.initial_r2t);                                 // OR: No offered, Yes answered
    CHECK(p.immediate_data);                              // AND
    CHECK(p.max_outstanding_r2t == 1);
    CHECK(p.default_time2wait == 2);
    CHECK(p.target_alias == "disk one");
}

TEST_CASE("unanswered keys and missing declarations keep RFC defaults", "[negotiation]")
{
    auto c = normal_config();
    negotiation n(c);
    std::string msg;
    pdu::text_list answers;
    REQUIRE_FALSE(answer_one(n,
                             {{"MaxBurstLength", "65536"},
                              {"MaxOutstandingR2T", "Reject"},
                              {"DataSequenceInOrder", "NotUnderstood"},
                              {"InitialR2T", "Irrelevant"}},
                             msg, answers));
    const auto p = n.params();
    CHECK(p.max_burst_length == 65536);
    CHECK(p.first_burst_length == 65536); // default 65536 <= MaxBurstLength
    CHECK(p.max_outstanding_r2t == 1);    // rejected: default
    CHECK(p.data_sequence_in_order);
    CHECK(p.initial_r2t);
    CHECK(p.target_max_recv_data_segment_length == 8192); // not declared: default
}

TEST_CASE("FirstBurstLength never exceeds MaxBurstLength", "[negotiation]")
{
    auto c = normal_config();
    negotiation n(c);
    std::string msg;
    pdu::text_list answers;
    REQUIRE_FALSE(answer_one(n, {{"MaxBurstLength", "16384"}, {"FirstBurstLength", "262144"}}, msg, answers));
    CHECK(n.params().first_burst_length == 16384);
}

TEST_CASE("protocol violations name the key and value", "[negotiation]")
{
    struct bad {
        pdu::text_pair pair;
        std::error_code ec;
    };
    auto c = normal_config();
    c.proposals.immediate_data = false;
    c.proposals.initial_r2t = true;
    const bad cases[] = {
        {{"MaxBurstLength", "99999999"}, pdu::errc::number_out_of_range},
        {{"MaxBurstLength", "16776193"}, pdu::errc::negotiation_violation}, // above our offer
        {{"DefaultTime2Wait", "1"}, pdu::errc::negotiation_violation},      // maximum: below offer
        {{"ImmediateData", "Yes"}, pdu::errc::negotiation_violation},       // AND: we said No
        {{"InitialR2T", "No"}, pdu::errc::negotiation_violation},           // OR: we said Yes
        {{"HeaderDigest", "CRC32C"}, pdu::errc::negotiation_violation},     // not offered
        {{"HeaderDigest", "None,CRC32C"}, pdu::errc::negotiation_violation},
        {{"ErrorRecoveryLevel", "5"}, pdu::errc::number_out_of_range},
        {{"MaxRecvDataSegmentLength", "100"}, pdu::errc::number_out_of_range},
        {{"DataPDUInOrder", "maybe"}, pdu::errc::value_syntax},
        {{"InitiatorName", "iqn.x"}, pdu::errc::key_not_allowed},
        {{"SendTargets", "All"}, pdu::errc::key_not_allowed},
        {{"AuthMethod", "None"}, pdu::errc::key_not_allowed},
        {{"X-org.example.foo", "NotUnderstood"}, pdu::errc::negotiation_violation}, // never offered
        {{"TaskReporting", "Reject"}, pdu::errc::negotiation_violation},
    };
    for (const auto& b : cases) {
        negotiation n(c);
        std::string msg;
        pdu::text_list answers;
        INFO(b.pair.key << "=" << b.pair.value);
        CHECK(answer_one(n, {b.pair}, msg, answers) == b.ec);
        CHECK(msg.find(b.pair.key + "=" + b.pair.value) != std::string::npos);
    }
}

TEST_CASE("a key is negotiated only once", "[negotiation]")
{
    auto c = normal_config();
    negotiation n(c);
    std::string msg;
    pdu::text_list answers;
    REQUIRE_FALSE(answer_one(n, {{"MaxBurstLength", "262144"}}, msg, answers));
    CHECK(n.process({{"MaxBurstLength", "65536"}}, login_stage::operational_negotiation, answers, msg) ==
          pdu::errc::negotiation_violation);
    CHECK(msg.find("MaxBurstLength=65536") != std::string::npos);

    // A target offer answered once cannot come back either.
    negotiation m(c);
    REQUIRE_FALSE(m.process({{"TaskReporting", "RFC3720"}}, login_stage::operational_negotiation, answers, msg));
    CHECK(m.process({{"TaskReporting", "FastAbort"}}, login_stage::operational_negotiation, answers, msg) ==
          pdu::errc::negotiation_violation);

    // Declarations may repeat unchanged, not change.
    negotiation d(c);
    REQUIRE_FALSE(d.process({{"TargetPortalGroupTag", "1"}}, login_stage::security_negotiation, answers, msg));
    REQUIRE_FALSE(d.process({{"TargetPortalGroupTag", "1"}}, login_stage::operational_negotiation, answers, msg));
    CHECK(d.process({{"TargetPortalGroupTag", "2"}}, login_stage::operational_negotiation, answers, msg) ==
          pdu::errc::negotiation_violation);
    CHECK(d.params().target_portal_group_tag == std::optional<std::uint16_t>(1));
}

TEST_CASE("target-originated offers are answered by the rules", "[negotiation]")
{
    auto c = normal_config();
    negotiation n(c);
    std::string msg;
    pdu::text_list answers;
    // tgtd offers keys the initiator did not send; here before our own offers.
    REQUIRE_FALSE(n.process({{"X-org.example.feature", "on"},
                             {"TaskReporting", "ResponseFence,RFC3720"},
                             {"iSCSIProtocolLevel", "2"},
                             {"OFMarker", "Yes"},
                             {"MaxOutstandingR2T", "16"},
                             {"FirstBurstLength", "100"}},
                            login_stage::operational_negotiation, answers, msg));
    CHECK(value(answers, "X-org.example.feature") == "NotUnderstood");
    CHECK(value(answers, "TaskReporting") == "RFC3720");
    CHECK(value(answers, "iSCSIProtocolLevel") == "1");
    CHECK(value(answers, "OFMarker") == "Reject");
    CHECK(value(answers, "MaxOutstandingR2T") == "8");     // minimum with our 8
    CHECK(value(answers, "FirstBurstLength") == "Reject"); // below 512: illegal offer
    // Keys already settled by the target's offer are not offered again.
    auto o = n.operational_offers();
    CHECK(value(o, "MaxOutstandingR2T") == "<absent>");
    CHECK(value(o, "MaxBurstLength") == "16776192");
    CHECK(n.params().max_outstanding_r2t == 8);
    CHECK(n.params().first_burst_length == 65536); // rejected: default
}

TEST_CASE("operational keys are refused in the security stage", "[negotiation]")
{
    auto c = normal_config();
    negotiation n(c);
    std::string msg;
    pdu::text_list answers;
    CHECK(n.process({{"MaxBurstLength", "512"}}, login_stage::security_negotiation, answers, msg) ==
          pdu::errc::key_not_allowed);
    CHECK(msg.find("MaxBurstLength=512") != std::string::npos);
    REQUIRE_FALSE(n.process({{"TargetAlias", "a"}, {"TargetPortalGroupTag", "3"}}, login_stage::security_negotiation,
                            answers, msg));
}

TEST_CASE("discovery sessions leave out irrelevant keys and answer them Irrelevant", "[negotiation]")
{
    auto c = normal_config();
    c.type = session_type::discovery;
    c.target_name.clear();
    negotiation n(c);
    auto d = n.declarations();
    CHECK(value(d, "SessionType") == "Discovery");
    CHECK(value(d, "TargetName") == "<absent>");
    auto o = n.operational_offers();
    CHECK(value(o, "HeaderDigest") == "None");
    CHECK(value(o, "MaxRecvDataSegmentLength") == "262144");
    CHECK(value(o, "MaxBurstLength") == "<absent>");
    CHECK(value(o, "InitialR2T") == "<absent>");
    CHECK(value(o, "MaxConnections") == "<absent>");
    std::string msg;
    pdu::text_list answers;
    REQUIRE_FALSE(n.process({{"InitialR2T", "Yes"}}, login_stage::operational_negotiation, answers, msg));
    CHECK(value(answers, "InitialR2T") == "Irrelevant");
}

TEST_CASE("a connection added to a session offers no leading-only keys", "[negotiation]")
{
    auto c = normal_config();
    c.tsih = 7;
    negotiation n(c);
    auto o = n.operational_offers();
    CHECK(value(o, "HeaderDigest") == "None");
    CHECK(value(o, "MaxRecvDataSegmentLength") == "262144");
    CHECK(value(o, "MaxBurstLength") == "<absent>");
    CHECK(value(o, "ErrorRecoveryLevel") == "<absent>");
}

TEST_CASE("digests are offered as preference lists, in our order", "[negotiation][digest]")
{
    const std::pair<digest_offer, const char*> offers[] = {
        {digest_offer::none, "None"},
        {digest_offer::crc32c, "CRC32C"},
        {digest_offer::crc32c_or_none, "CRC32C,None"},
        {digest_offer::none_or_crc32c, "None,CRC32C"},
    };
    for (const auto& [offer, text] : offers) {
        auto c = normal_config();
        c.proposals.header_digest = offer;
        c.proposals.data_digest = offer;
        negotiation n(c);
        const auto o = n.operational_offers();
        CHECK(value(o, "HeaderDigest") == text);
        CHECK(value(o, "DataDigest") == text);
    }
}

TEST_CASE("the target picks from our digest list; anything else in force fails the login", "[negotiation][digest]")
{
    struct answer_case {
        digest_offer ours;
        const char* answer;
        bool crc; // CRC32C in force when accepted
        bool accepted;
    };
    const answer_case cases[] = {
        {digest_offer::crc32c_or_none, "CRC32C", true, true},
        {digest_offer::crc32c_or_none, "None", false, true},
        {digest_offer::none_or_crc32c, "CRC32C", true, true},
        {digest_offer::crc32c_or_none, "Reject", false, true}, // the default None is in our list
        {digest_offer::none, "Reject", false, true},
        {digest_offer::crc32c, "CRC32C", true, true},
        {digest_offer::crc32c, "Reject", false, false}, // None in force: not what we offered
        {digest_offer::crc32c, "NotUnderstood", false, false},
        {digest_offer::crc32c, "Irrelevant", false, false},
    };
    for (const auto& k : cases) {
        auto c = normal_config();
        c.proposals.data_digest = k.ours;
        negotiation n(c);
        std::string msg;
        pdu::text_list answers;
        INFO(digest_offer_value(k.ours) << " answered " << k.answer);
        const std::error_code ec = answer_one(n, {{"DataDigest", k.answer}}, msg, answers);
        if (k.accepted) {
            CHECK_FALSE(ec);
            CHECK(n.params().data_digest == k.crc);
        } else {
            CHECK(ec == login_errc::value_refused);
            CHECK(msg == std::string("target answered DataDigest=") + k.answer +
                             " to our offer DataDigest=CRC32C, leaving DataDigest=None");
        }
    }
}

TEST_CASE("a target's digest offer is answered with the first of its values we accept", "[negotiation][digest]")
{
    // RFC 7143 §6.2: the responder picks from the originator's list, in the
    // originator's order; our own order only decides what we offer.
    struct offer_case {
        digest_offer ours;
        const char* theirs;
        const char* answer;
    };
    const offer_case cases[] = {
        {digest_offer::none_or_crc32c, "CRC32C,None", "CRC32C"},
        {digest_offer::crc32c_or_none, "None,CRC32C", "None"},
        {digest_offer::crc32c, "None,CRC32C", "CRC32C"},
        {digest_offer::none, "CRC32C,None", "None"},
    };
    for (const auto& k : cases) {
        auto c = normal_config();
        c.proposals.header_digest = k.ours;
        negotiation n(c);
        std::string msg;
        pdu::text_list answers;
        INFO(digest_offer_value(k.ours) << " offered " << k.theirs);
        REQUIRE_FALSE(n.process({{"HeaderDigest", k.theirs}}, login_stage::operational_negotiation, answers, msg));
        CHECK(value(answers, "HeaderDigest") == k.answer);
        CHECK(n.params().header_digest == (std::string(k.answer) == "CRC32C"));
        CHECK(value(n.operational_offers(), "HeaderDigest") == "<absent>"); // settled
    }

    // Nothing we accept: we answer Reject, and the default None would stand
    // although we require CRC32C.
    auto c = normal_config();
    c.proposals.header_digest = digest_offer::crc32c;
    negotiation n(c);
    std::string msg;
    pdu::text_list answers;
    CHECK(n.process({{"HeaderDigest", "None"}}, login_stage::operational_negotiation, answers, msg) ==
          login_errc::value_refused);
    CHECK(msg == "target offered HeaderDigest=None, none of which we accept (CRC32C), leaving HeaderDigest=None");
    CHECK(value(answers, "HeaderDigest") == "Reject");

    c.proposals.header_digest = digest_offer::none;
    negotiation m(c);
    REQUIRE_FALSE(m.process({{"HeaderDigest", "CRC32C"}}, login_stage::operational_negotiation, answers, msg));
    CHECK_FALSE(m.params().header_digest); // Reject: None stands, which we accept
}
