// The negotiation key table (RFC 7143 §12.1, §13) and the result functions
// of §6.2 from both sides: merging an answer, responding to an offer.
#include <catch2/catch.hpp>

#include <set>
#include <string>

#include "pdu/keys.hpp"
#include "pdu/text.hpp"

using namespace ivs::pdu;

namespace {

const key_def& key(std::string_view name)
{
    const key_def* k = find_key(name);
    INFO(name);
    REQUIRE(k);
    return *k;
}

negotiation_result merged(std::string_view name, std::string_view mine, std::string_view answer)
{
    negotiation_result r;
    const auto ec = merge_answer(key(name), mine, answer, r);
    INFO(name << " " << mine << " -> " << answer << ": " << ec.message());
    REQUIRE_FALSE(ec);
    return r;
}

std::error_code merge_err(std::string_view name, std::string_view mine, std::string_view answer)
{
    negotiation_result r;
    return merge_answer(key(name), mine, answer, r);
}

std::optional<std::string> respond(std::string_view name, std::string_view offer, std::string_view mine,
                                   bool irrelevant = false)
{
    std::optional<std::string> a;
    const auto ec = respond_to_offer(name, offer, mine, key_sender::target, a, irrelevant);
    INFO(name << "=" << offer << ": " << ec.message());
    REQUIRE_FALSE(ec);
    return a;
}

} // namespace

TEST_CASE("keys: table rows match RFC 7143 §13", "[keys]")
{
    const auto& mrdsl = key("MaxRecvDataSegmentLength");
    CHECK(mrdsl.declarative());
    CHECK(mrdsl.scope == key_scope::connection);
    CHECK(mrdsl.min == 512);
    CHECK(mrdsl.max == 16777215);
    CHECK(mrdsl.default_value == "8192");

    CHECK(key("MaxBurstLength").rule == merge_rule::minimum);
    CHECK(key("MaxBurstLength").default_value == "262144");
    CHECK(key("FirstBurstLength").default_value == "65536");
    CHECK(key("DefaultTime2Wait").rule == merge_rule::maximum);
    CHECK(key("DefaultTime2Wait").max == 3600);
    CHECK(key("DefaultTime2Wait").default_value == "2");
    CHECK(key("DefaultTime2Retain").rule == merge_rule::minimum);
    CHECK(key("DefaultTime2Retain").default_value == "20");
    CHECK(key("MaxOutstandingR2T").min == 1);
    CHECK(key("MaxOutstandingR2T").max == 65535);
    CHECK(key("ErrorRecoveryLevel").max == 2);
    CHECK(key("InitialR2T").rule == merge_rule::or_);
    CHECK(key("ImmediateData").rule == merge_rule::and_);
    CHECK(key("DataPDUInOrder").rule == merge_rule::or_);
    CHECK(key("DataSequenceInOrder").rule == merge_rule::or_);
    CHECK(key("OFMarker").rule == merge_rule::and_);
    CHECK(key("IFMarker").default_value == "No");
    CHECK(key("OFMarkInt").obsolete);
    CHECK(key("HeaderDigest").rule == merge_rule::first_in_list);
    CHECK(key("HeaderDigest").scope == key_scope::connection);
    CHECK(key("AuthMethod").phase == key_phase::security);
    CHECK(key("CHAP_A").phase == key_phase::security);
    CHECK(key("TargetName").phase == key_phase::any);
    CHECK(key("SessionType").sender == key_sender::initiator);
    CHECK(key("TargetAlias").sender == key_sender::target);
    CHECK(key("SendTargets").use == key_use::full_feature_only);
    CHECK(key("MaxConnections").use == key_use::leading_only);
    CHECK(key("TaskReporting").default_value == "RFC3720");
    CHECK(key("iSCSIProtocolLevel").max == 31);

    // Names are unique, and every default is a legal value of its key.
    std::set<std::string_view> names;
    for (const auto& k : key_table()) {
        INFO(k.name);
        CHECK(names.insert(k.name).second);
        CHECK_FALSE(check_key(k.name));
        if (!k.default_value.empty())
            CHECK_FALSE(check_value(k, k.default_value));
    }
    CHECK(names.size() >= 34);
}

TEST_CASE("keys: lookup is exact", "[keys]")
{
    CHECK(find_key("HeaderDigest"));
    CHECK(find_key("headerdigest") == nullptr);
    CHECK(find_key("X-com.example.Foo") == nullptr);
    CHECK(find_key("") == nullptr);
}

TEST_CASE("keys: boolean AND (ImmediateData)", "[keys][merge]")
{
    CHECK(merged("ImmediateData", "Yes", "Yes").value == "Yes");
    CHECK(merged("ImmediateData", "Yes", "No").value == "No");
    CHECK(merged("ImmediateData", "No", "No").value == "No");
    CHECK(merge_err("ImmediateData", "No", "Yes") == errc::negotiation_violation);
    CHECK(merge_err("ImmediateData", "Yes", "Maybe") == errc::value_syntax);

    CHECK(respond("ImmediateData", "Yes", "Yes") == "Yes");
    CHECK(respond("ImmediateData", "Yes", "No") == "No");
    CHECK(respond("ImmediateData", "No", "Yes") == "No");
}

TEST_CASE("keys: boolean OR (InitialR2T, DataPDUInOrder)", "[keys][merge]")
{
    CHECK(merged("InitialR2T", "No", "No").value == "No");
    CHECK(merged("InitialR2T", "No", "Yes").value == "Yes");
    CHECK(merged("InitialR2T", "Yes", "Yes").value == "Yes");
    CHECK(merge_err("InitialR2T", "Yes", "No") == errc::negotiation_violation);
    CHECK(merge_err("DataPDUInOrder", "Yes", "No") == errc::negotiation_violation);

    CHECK(respond("InitialR2T", "No", "No") == "No");
    CHECK(respond("InitialR2T", "No", "Yes") == "Yes");
    CHECK(respond("InitialR2T", "Yes", "No") == "Yes");
}

TEST_CASE("keys: numeric minimum", "[keys][merge]")
{
    CHECK(merged("MaxBurstLength", "262144", "65536").value == "65536");
    CHECK(merged("MaxBurstLength", "262144", "262144").value == "262144");
    CHECK(merged("MaxBurstLength", "262144", "0x10000").value == "65536"); // normalized
    CHECK(merge_err("MaxBurstLength", "65536", "65537") == errc::negotiation_violation);
    CHECK(merge_err("MaxBurstLength", "65536", "511") == errc::number_out_of_range);
    CHECK(merge_err("MaxBurstLength", "65536", "16777216") == errc::number_out_of_range);
    CHECK(merge_err("MaxBurstLength", "65536", "lots") == errc::value_syntax);
    CHECK(merged("ErrorRecoveryLevel", "2", "0").value == "0");
    CHECK(merge_err("ErrorRecoveryLevel", "0", "1") == errc::negotiation_violation);
    CHECK(merge_err("ErrorRecoveryLevel", "2", "3") == errc::number_out_of_range);

    CHECK(respond("MaxBurstLength", "1048576", "262144") == "262144");
    CHECK(respond("MaxBurstLength", "8192", "262144") == "8192");
    CHECK(respond("MaxOutstandingR2T", "1", "16") == "1");
}

TEST_CASE("keys: numeric maximum (DefaultTime2Wait)", "[keys][merge]")
{
    CHECK(merged("DefaultTime2Wait", "2", "5").value == "5");
    CHECK(merged("DefaultTime2Wait", "2", "2").value == "2");
    CHECK(merge_err("DefaultTime2Wait", "5", "2") == errc::negotiation_violation);
    CHECK(merge_err("DefaultTime2Wait", "5", "3601") == errc::number_out_of_range);
    CHECK(respond("DefaultTime2Wait", "0", "2") == "2");
    CHECK(respond("DefaultTime2Wait", "10", "2") == "10");
}

TEST_CASE("keys: limits at the edge and one over", "[keys][merge]")
{
    CHECK(merged("FirstBurstLength", "16777215", "16777215").value == "16777215");
    CHECK(merged("FirstBurstLength", "65536", "512").value == "512");
    CHECK(merge_err("FirstBurstLength", "65536", "511") == errc::number_out_of_range);
    CHECK(respond("MaxBurstLength", "16777215", "16777215") == "16777215");
    CHECK(respond("MaxBurstLength", "16777216", "262144") == "Reject");
    CHECK(respond("MaxBurstLength", "512", "262144") == "512");
    CHECK(respond("MaxBurstLength", "511", "262144") == "Reject");
    CHECK(respond("DefaultTime2Retain", "3600", "3600") == "3600");
    CHECK(respond("DefaultTime2Retain", "3601", "20") == "Reject");
}

TEST_CASE("keys: list selection", "[keys][merge]")
{
    CHECK(merged("HeaderDigest", "CRC32C,None", "None").value == "None");
    CHECK(merged("HeaderDigest", "CRC32C,None", "CRC32C").value == "CRC32C");
    CHECK(merge_err("HeaderDigest", "None", "CRC32C") == errc::negotiation_violation);
    CHECK(merge_err("HeaderDigest", "CRC32C,None", "CRC32C,None") == errc::negotiation_violation);
    CHECK(merge_err("DataDigest", "CRC32C,None", "") == errc::value_syntax);
    CHECK(merged("AuthMethod", "CHAP,None", "CHAP").value == "CHAP");
    CHECK(merged("CHAP_A", "5", "5").value == "5");
    CHECK(merge_err("CHAP_A", "5", "7") == errc::negotiation_violation);

    // The responder takes the first offered value it accepts.
    CHECK(respond("HeaderDigest", "CRC32C,None", "None,CRC32C") == "CRC32C");
    CHECK(respond("HeaderDigest", "None,CRC32C", "CRC32C,None") == "None");
    CHECK(respond("HeaderDigest", "CRC32C", "None") == "Reject");
    CHECK(respond("HeaderDigest", "X-foo,CRC32C", "CRC32C") == "CRC32C");
    CHECK(respond("HeaderDigest", "CRC32C,,None", "None") == "Reject"); // malformed list
    CHECK(respond("TaskReporting", "FastAbort,RFC3720", "RFC3720") == "RFC3720");
}

TEST_CASE("keys: special answers", "[keys][merge]")
{
    CHECK(merged("MaxBurstLength", "262144", "Reject").outcome == negotiation_outcome::rejected);
    CHECK(merged("ImmediateData", "Yes", "Irrelevant").outcome == negotiation_outcome::irrelevant);
    CHECK(merged("TaskReporting", "FastAbort", "NotUnderstood").outcome == negotiation_outcome::not_understood);
    const auto r = merged("MaxBurstLength", "262144", "4096");
    CHECK(r.outcome == negotiation_outcome::agreed);

    CHECK(respond("FirstBurstLength", "65536", "65536", true) == "Irrelevant");
}

TEST_CASE("keys: declaratives", "[keys][merge]")
{
    // The peer's declaration stands, if legal; declaratives get no answer.
    CHECK(merged("MaxRecvDataSegmentLength", "8192", "262144").value == "262144");
    CHECK(merge_err("MaxRecvDataSegmentLength", "8192", "511") == errc::number_out_of_range);
    CHECK(merge_err("MaxRecvDataSegmentLength", "8192", "16777216") == errc::number_out_of_range);

    CHECK_FALSE(respond("MaxRecvDataSegmentLength", "16777215", "8192"));
    CHECK_FALSE(respond("TargetAlias", "storage", ""));
    CHECK_FALSE(respond("TargetPortalGroupTag", "1", ""));

    std::optional<std::string> a;
    CHECK(respond_to_offer("MaxRecvDataSegmentLength", "16777216", "8192", key_sender::target, a) ==
          errc::number_out_of_range);
    CHECK(respond_to_offer("MaxRecvDataSegmentLength", "511", "8192", key_sender::target, a) ==
          errc::number_out_of_range);
    CHECK(respond_to_offer("TargetPortalGroupTag", "65536", "", key_sender::target, a) == errc::number_out_of_range);
    CHECK_FALSE(a);

    // SessionType takes only its enumerated values.
    CHECK_FALSE(check_value(key("SessionType"), "Discovery"));
    CHECK_FALSE(check_value(key("SessionType"), "Normal"));
    CHECK(check_value(key("SessionType"), "discovery") == errc::value_syntax);
}

TEST_CASE("keys: unknown, obsolete and misdirected keys", "[keys][merge]")
{
    CHECK(respond("X-com.example.Magic", "1", "") == "NotUnderstood");
    CHECK(respond("FancyNewKey", "Yes", "") == "NotUnderstood");
    // §13.25: markers are answered Reject, never NotUnderstood.
    CHECK(respond("OFMarker", "No", "No") == "Reject");
    CHECK(respond("IFMarker", "Yes", "No") == "Reject");
    CHECK(respond("OFMarkInt", "1~65535", "") == "Reject");
    CHECK(respond("IFMarkInt", "2048~2048", "") == "Reject");

    std::optional<std::string> a;
    CHECK(respond_to_offer("InitiatorName", "iqn.x", "", key_sender::target, a) == errc::key_not_allowed);
    CHECK(respond_to_offer("SessionType", "Normal", "", key_sender::target, a) == errc::key_not_allowed);
    CHECK(respond_to_offer("SendTargets", "All", "", key_sender::target, a) == errc::key_not_allowed);
    CHECK_FALSE(respond_to_offer("TargetAlias", "x", "", key_sender::target, a));
    CHECK(respond_to_offer("TargetAlias", "x", "", key_sender::initiator, a) == errc::key_not_allowed);
    CHECK(may_send(key("MaxBurstLength"), key_sender::target));
    CHECK(may_send(key("InitiatorName"), key_sender::initiator));
    CHECK_FALSE(may_send(key("InitiatorName"), key_sender::target));
}

TEST_CASE("keys: illegal offers are rejected", "[keys][merge]")
{
    CHECK(respond("ImmediateData", "yes", "Yes") == "Reject");
    CHECK(respond("MaxBurstLength", "big", "262144") == "Reject");
    CHECK(respond("MaxConnections", "0", "1") == "Reject");
    CHECK(respond("ErrorRecoveryLevel", "3", "0") == "Reject");
    CHECK(respond("MaxBurstLength", "Reject", "262144") == "Reject");

    // My own value must be valid: a caller bug is an error, not an answer.
    std::optional<std::string> a;
    CHECK(respond_to_offer("MaxBurstLength", "8192", "100", key_sender::target, a) == errc::number_out_of_range);
    CHECK(respond_to_offer("ImmediateData", "Yes", "maybe", key_sender::target, a) == errc::value_syntax);
}

TEST_CASE("keys: obsolete marker interval answers", "[keys][merge]")
{
    CHECK(merged("OFMarkInt", "1~2048", "2048").value == "2048");
    CHECK(merge_err("OFMarkInt", "1~2048", "4096") == errc::negotiation_violation);
    CHECK(merged("IFMarkInt", "1~2048", "Reject").outcome == negotiation_outcome::rejected);
}

TEST_CASE("keys: numbers in hex and base64 answers", "[keys][merge]")
{
    CHECK(merged("MaxBurstLength", "262144", "0x2000").value == "8192");
    CHECK(merged("MaxBurstLength", "262144", "0bIAA=").value == "8192");
    CHECK(respond("MaxBurstLength", "0x100000", "262144") == "262144");
    CHECK(merged("CHAP_I", "", "0x2a").value == "42");
    CHECK(merge_err("CHAP_I", "", "256") == errc::number_out_of_range);
}
