// Login state machine driven by scripted Login Responses (RFC 7143 §6.3, §12.1.3).
#include <catch2/catch.hpp>

#include <openssl/evp.h>

#include "iscsi/login.hpp"
#include "iscsi/login_status.hpp"
#include "pdu/error.hpp"

using namespace ivs;
using namespace ivs::iscsi;
using pdu::login_stage;

namespace {

login_config base_config()
{
    login_config c;
    c.initiator_name = "iqn.2024-01.org.example:init";
    c.target_name = "iqn.2024-01.org.example:disk1";
    c.isid = 0x80a1b2c3d4e5;
    c.cid = 3;
    return c;
}

std::vector<std::byte> encode(const pdu::text_list& keys)
{
    std::vector<std::byte> out;
    REQUIRE_FALSE(pdu::serialize_text(keys, out));
    return out;
}

pdu::text_list decode(const std::vector<std::byte>& data)
{
    pdu::text_list keys;
    REQUIRE_FALSE(pdu::parse_text(data, keys));
    return keys;
}

std::string value(const pdu::text_list& l, std::string_view key)
{
    const auto* p = pdu::find_pair(l, key);
    return p ? p->value : std::string("<absent>");
}

// A target that answers the request `req`; StatSN counts up from 100.
struct scripted_target {
    std::uint32_t stat_sn = 100;
    std::uint16_t tsih = 0x0042;

    pdu::login_response answer(const login_request_out& req, bool transit, login_stage nsg)
    {
        pdu::login_response r;
        r.transit_bit = transit;
        r.csg = req.header.csg;
        r.nsg = transit ? nsg : login_stage::security_negotiation;
        r.isid = req.header.isid;
        r.tsih = transit && nsg == login_stage::full_feature_phase ? tsih : 0;
        r.initiator_task_tag = req.header.initiator_task_tag;
        r.stat_sn = stat_sn++;
        r.exp_cmd_sn = req.header.cmd_sn;
        r.max_cmd_sn = req.header.cmd_sn + 31;
        return r;
    }
};

const pdu::text_list tgtd_operational = {
    {"HeaderDigest", "None"},       {"DataDigest", "None"},        {"MaxRecvDataSegmentLength", "8192"},
    {"MaxConnections", "1"},        {"InitialR2T", "Yes"},         {"ImmediateData", "Yes"},
    {"MaxBurstLength", "262144"},   {"FirstBurstLength", "65536"}, {"DefaultTime2Wait", "2"},
    {"DefaultTime2Retain", "20"},   {"MaxOutstandingR2T", "1"},    {"DataPDUInOrder", "Yes"},
    {"DataSequenceInOrder", "Yes"}, {"ErrorRecoveryLevel", "0"},
};

// Drives the operational stage to completion (request already produced).
void finish_operational(login_machine& m, scripted_target& t, const login_request_out& req)
{
    REQUIRE(req.header.csg == login_stage::operational_negotiation);
    REQUIRE(req.header.transit_bit);
    REQUIRE(req.header.nsg == login_stage::full_feature_phase);
    CHECK(value(decode(req.data), "MaxRecvDataSegmentLength") == "262144");
    auto rsp = t.answer(req, true, login_stage::full_feature_phase);
    REQUIRE(m.on_response(rsp, encode(tgtd_operational)) == login_step::complete);
    CHECK(m.state() == login_state::complete);
}

std::string hex(const unsigned char* p, std::size_t n)
{
    static const char* d = "0123456789abcdef";
    std::string s = "0x";
    for (std::size_t i = 0; i < n; ++i) {
        s += d[p[i] >> 4];
        s += d[p[i] & 15];
    }
    return s;
}

// Independent MD5 CHAP response: MD5(id || secret || challenge) (RFC 1994 §4.1).
std::string md5_response(std::uint8_t id, std::string_view secret, const std::vector<unsigned char>& challenge)
{
    std::vector<unsigned char> in;
    in.push_back(id);
    in.insert(in.end(), secret.begin(), secret.end());
    in.insert(in.end(), challenge.begin(), challenge.end());
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    REQUIRE(EVP_Digest(in.data(), in.size(), md, &len, EVP_md5(), nullptr) == 1);
    return hex(md, len);
}

login_config chap_config(bool mutual)
{
    auto c = base_config();
    c.chap = chap_identity{"alice", chap_secret(std::string_view("initiator-secret-1"))};
    if (mutual)
        c.mutual_chap = chap_identity{"disk1-target", chap_secret(std::string_view("target-secret-22"))};
    c.chap_algorithms = {chap_algorithm::md5};
    return c;
}

const std::vector<unsigned char> challenge = {0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe,
                                              0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};

// Runs AuthMethod and CHAP_A; returns the request carrying CHAP_N/CHAP_R.
login_request_out run_to_chap_response(login_machine& m, scripted_target& t, std::string_view chap_a = "5")
{
    auto req = m.next_request();
    auto keys = decode(req.data);
    CHECK_FALSE(req.header.transit_bit);
    auto rsp = t.answer(req, false, {});
    REQUIRE(m.on_response(rsp, encode({{"AuthMethod", "CHAP"}, {"TargetPortalGroupTag", "1"}})) ==
            login_step::send_next);
    req = m.next_request();
    REQUIRE(value(decode(req.data), "CHAP_A") == "5");
    rsp = t.answer(req, false, {});
    auto step = m.on_response(rsp, encode({{"CHAP_A", std::string(chap_a)},
                                           {"CHAP_I", "7"},
                                           {"CHAP_C", hex(challenge.data(), challenge.size())}}));
    if (step != login_step::send_next)
        return {};
    return m.next_request();
}

} // namespace

TEST_CASE("login without authentication reaches full feature phase", "[login]")
{
    auto c = base_config();
    login_machine m(c, 5, 0, 0x1234);
    scripted_target t;
    REQUIRE(m.state() == login_state::need_send);
    auto req = m.next_request();
    CHECK(m.state() == login_state::await_response);
    CHECK(req.header.csg == login_stage::security_negotiation);
    CHECK(req.header.transit_bit);
    CHECK(req.header.nsg == login_stage::operational_negotiation);
    CHECK(req.header.isid == c.isid);
    CHECK(req.header.tsih == 0);
    CHECK(req.header.cid == 3);
    CHECK(req.header.cmd_sn == 5);
    CHECK(req.header.exp_stat_sn == 0);
    CHECK(req.header.initiator_task_tag == 0x1234);
    CHECK(req.header.version_max == 0);
    CHECK(req.header.data_segment_length == req.data.size());
    auto keys = decode(req.data);
    CHECK(value(keys, "InitiatorName") == c.initiator_name);
    CHECK(value(keys, "TargetName") == c.target_name);
    CHECK(value(keys, "SessionType") == "Normal");
    CHECK(value(keys, "AuthMethod") == "None");

    auto rsp = t.answer(req, true, login_stage::operational_negotiation);
    REQUIRE(m.on_response(rsp, encode({{"AuthMethod", "None"}, {"TargetPortalGroupTag", "1"}})) ==
            login_step::send_next);
    req = m.next_request();
    CHECK(req.header.cmd_sn == 5);        // immediate: CmdSN unchanged
    CHECK(req.header.exp_stat_sn == 101); // StatSN 100 + 1
    CHECK(req.header.initiator_task_tag == 0x1234);
    finish_operational(m, t, req);
    CHECK(m.tsih() == 0x0042);
    CHECK(m.stat_sn() == 101);
    CHECK(m.exp_stat_sn() == 102);
    CHECK(m.exp_cmd_sn() == 5);
    CHECK(m.max_cmd_sn() == 36);
    const auto p = m.params();
    CHECK(p.target_max_recv_data_segment_length == 8192);
    CHECK(p.max_recv_data_segment_length == 262144);
    CHECK(p.first_burst_length == 65536);
    CHECK(p.max_burst_length == 262144);
    CHECK(p.initial_r2t);
    CHECK(p.immediate_data);
    CHECK(p.max_outstanding_r2t == 1);
    CHECK(p.target_portal_group_tag == std::optional<std::uint16_t>(1));
    CHECK_FALSE(m.error());
}

TEST_CASE("target that does not transit at once gets our answers and T again", "[login]")
{
    login_machine m(base_config(), 1, 0);
    scripted_target t;
    auto req = m.next_request();
    REQUIRE(m.on_response(t.answer(req, true, login_stage::operational_negotiation),
                          encode({{"AuthMethod", "None"}})) == login_step::send_next);
    req = m.next_request();
    // tgtd style: answers plus an offer of its own, no transit yet.
    auto keys = tgtd_operational;
    keys.push_back({"X-com.example.foo", "1"});
    REQUIRE(m.on_response(t.answer(req, false, {}), encode(keys)) == login_step::send_next);
    req = m.next_request();
    CHECK(req.header.csg == login_stage::operational_negotiation);
    CHECK(req.header.transit_bit);
    CHECK(decode(req.data) == pdu::text_list{{"X-com.example.foo", "NotUnderstood"}});
    REQUIRE(m.on_response(t.answer(req, true, login_stage::full_feature_phase), {}) == login_step::complete);
}

TEST_CASE("one-way CHAP MD5", "[login][chap]")
{
    login_machine m(chap_config(false), 1, 0);
    scripted_target t;
    REQUIRE(m.state() == login_state::need_send);
    auto first = m.next_request();
    CHECK(value(decode(first.data), "AuthMethod") == "CHAP,None");
    CHECK_FALSE(first.header.transit_bit);
    REQUIRE(m.on_response(t.answer(first, false, {}), encode({{"AuthMethod", "CHAP"}})) == login_step::send_next);
    auto req = m.next_request();
    CHECK(decode(req.data) == pdu::text_list{{"CHAP_A", "5"}});
    CHECK_FALSE(req.header.transit_bit);
    REQUIRE(m.on_response(
                t.answer(req, false, {}),
                encode({{"CHAP_A", "5"}, {"CHAP_I", "7"}, {"CHAP_C", hex(challenge.data(), challenge.size())}})) ==
            login_step::send_next);
    req = m.next_request();
    auto keys = decode(req.data);
    CHECK(value(keys, "CHAP_N") == "alice");
    CHECK(value(keys, "CHAP_R") == md5_response(7, "initiator-secret-1", challenge));
    CHECK(value(keys, "CHAP_I") == "<absent>"); // not mutual
    CHECK(req.header.transit_bit);
    CHECK(req.header.nsg == login_stage::operational_negotiation);
    REQUIRE(m.on_response(t.answer(req, true, login_stage::operational_negotiation), {}) == login_step::send_next);
    finish_operational(m, t, m.next_request());
}

TEST_CASE("target may choose AuthMethod=None when we offer CHAP,None", "[login][chap]")
{
    login_machine m(chap_config(false), 1, 0);
    scripted_target t;
    auto req = m.next_request();
    REQUIRE(m.on_response(t.answer(req, false, {}), encode({{"AuthMethod", "None"}})) == login_step::send_next);
    req = m.next_request();
    CHECK(req.header.csg == login_stage::security_negotiation);
    CHECK(req.header.transit_bit);
    CHECK(req.data.empty());
    REQUIRE(m.on_response(t.answer(req, true, login_stage::operational_negotiation), {}) == login_step::send_next);
    finish_operational(m, t, m.next_request());
}

namespace {

// The target's side of mutual CHAP: answers our CHAP_I/CHAP_C with `secret`.
std::string target_response(const pdu::text_list& keys, std::string_view secret)
{
    std::uint8_t id = 0;
    std::vector<std::uint8_t> c;
    REQUIRE_FALSE(chap_parse_identifier(value(keys, "CHAP_I"), id));
    REQUIRE_FALSE(chap_parse_challenge(value(keys, "CHAP_C"), c));
    return md5_response(id, secret, std::vector<unsigned char>(c.begin(), c.end()));
}

} // namespace

TEST_CASE("mutual CHAP success", "[login][chap]")
{
    login_machine m(chap_config(true), 1, 0);
    scripted_target t;
    auto first = m.next_request();
    CHECK(value(decode(first.data), "AuthMethod") == "CHAP"); // no None: the target must prove itself
    REQUIRE(m.on_response(t.answer(first, false, {}), encode({{"AuthMethod", "CHAP"}})) == login_step::send_next);
    auto req = m.next_request();
    REQUIRE(m.on_response(
                t.answer(req, false, {}),
                encode({{"CHAP_A", "5"}, {"CHAP_I", "7"}, {"CHAP_C", hex(challenge.data(), challenge.size())}})) ==
            login_step::send_next);
    req = m.next_request();
    auto keys = decode(req.data);
    CHECK(value(keys, "CHAP_R") == md5_response(7, "initiator-secret-1", challenge));
    REQUIRE(value(keys, "CHAP_I") != "<absent>");
    REQUIRE(value(keys, "CHAP_C") != "<absent>");
    CHECK(req.header.transit_bit);
    auto r = target_response(keys, "target-secret-22");
    REQUIRE(m.on_response(t.answer(req, true, login_stage::operational_negotiation),
                          encode({{"CHAP_N", "disk1-target"}, {"CHAP_R", r}})) == login_step::send_next);
    finish_operational(m, t, m.next_request());
}

TEST_CASE("mutual CHAP failures", "[login][chap]")
{
    scripted_target t;
    SECTION("wrong target response")
    {
        login_machine m(chap_config(true), 1, 0);
        auto req = run_to_chap_response(m, t);
        auto r = target_response(decode(req.data), "not-the-target-secret");
        CHECK(m.on_response(t.answer(req, true, login_stage::operational_negotiation),
                            encode({{"CHAP_N", "disk1-target"}, {"CHAP_R", r}})) == login_step::failed);
        CHECK(m.error() == chap_errc::target_response_mismatch);
        CHECK(m.error_message().starts_with("login failed: "));
    }
    SECTION("wrong target name")
    {
        login_machine m(chap_config(true), 1, 0);
        auto req = run_to_chap_response(m, t);
        auto r = target_response(decode(req.data), "target-secret-22");
        CHECK(m.on_response(t.answer(req, true, login_stage::operational_negotiation),
                            encode({{"CHAP_N", "someone-else"}, {"CHAP_R", r}})) == login_step::failed);
        CHECK(m.error() == chap_errc::target_name_mismatch);
    }
    SECTION("target does not authenticate itself")
    {
        login_machine m(chap_config(true), 1, 0);
        auto req = run_to_chap_response(m, t);
        CHECK(m.on_response(t.answer(req, true, login_stage::operational_negotiation), {}) == login_step::failed);
        CHECK(m.error() == login_errc::target_not_authenticated);
        CHECK(m.error_message() ==
              "login failed: target did not authenticate itself although mutual CHAP was requested");
    }
}

TEST_CASE("mutual CHAP with one secret for both directions is refused before sending", "[login][chap]")
{
    auto c = chap_config(true);
    c.mutual_chap->secret = c.chap->secret;
    login_machine m(c, 1, 0);
    CHECK(m.state() == login_state::failed);
    CHECK(m.error() == chap_errc::mutual_same_secret);
    auto out = m.next_request();
    CHECK(out.data.empty());
    CHECK(m.state() == login_state::failed);
}

TEST_CASE("bad configuration fails before sending", "[login]")
{
    auto c = base_config();
    c.target_name.clear();
    login_machine m(c, 1, 0);
    CHECK(m.state() == login_state::failed);
    CHECK(m.error() == login_errc::bad_config);
    c.type = session_type::discovery; // discovery needs no TargetName
    login_machine d(c, 1, 0);
    CHECK(d.state() == login_state::need_send);
    auto keys = decode(d.next_request().data);
    CHECK(value(keys, "SessionType") == "Discovery");
    CHECK(value(keys, "TargetName") == "<absent>");
}

TEST_CASE("target chooses a CHAP algorithm we did not offer", "[login][chap]")
{
    login_machine m(chap_config(false), 1, 0);
    scripted_target t;
    run_to_chap_response(m, t, "7");
    CHECK(m.state() == login_state::failed);
    CHECK(m.error() == chap_errc::algorithm_not_offered);
    CHECK(m.error_message() == "login failed: target chose CHAP_A=7 which was not offered");
    CHECK_FALSE(m.md5_retry_suggested());
}

TEST_CASE("CHAP_A list rejected: retry with MD5 suggested", "[login][chap]")
{
    scripted_target t;
    auto c = chap_config(false);
    c.chap_algorithms = {chap_algorithm::sha1, chap_algorithm::md5};
    SECTION("CHAP_A=Reject")
    {
        login_machine m(c, 1, 0);
        auto req = m.next_request();
        REQUIRE(m.on_response(t.answer(req, false, {}), encode({{"AuthMethod", "CHAP"}})) == login_step::send_next);
        req = m.next_request();
        CHECK(value(decode(req.data), "CHAP_A") == "6,5");
        CHECK(m.on_response(t.answer(req, false, {}), encode({{"CHAP_A", "Reject"}})) == login_step::failed);
        CHECK(m.error() == login_errc::chap_algorithm_rejected);
        CHECK(m.error_message() == "login failed: target rejected CHAP_A=6,5");
        CHECK(m.md5_retry_suggested());
    }
    SECTION("error status answering the list")
    {
        login_machine m(c, 1, 0);
        auto req = m.next_request();
        REQUIRE(m.on_response(t.answer(req, false, {}), encode({{"AuthMethod", "CHAP"}})) == login_step::send_next);
        req = m.next_request();
        auto rsp = t.answer(req, false, {});
        rsp.status_class = 2;
        rsp.status_detail = 1;
        CHECK(m.on_response(rsp, {}) == login_step::failed);
        CHECK(m.error() == login_status::authentication_failure);
        CHECK(m.md5_retry_suggested());
    }
    SECTION("MD5 alone: nothing to retry")
    {
        login_machine m(chap_config(false), 1, 0);
        auto req = m.next_request();
        REQUIRE(m.on_response(t.answer(req, false, {}), encode({{"AuthMethod", "CHAP"}})) == login_step::send_next);
        req = m.next_request();
        CHECK(m.on_response(t.answer(req, false, {}), encode({{"CHAP_A", "Reject"}})) == login_step::failed);
        CHECK_FALSE(m.md5_retry_suggested());
    }
}

TEST_CASE("multi-PDU login response is reassembled (C bit)", "[login]")
{
    login_machine m(base_config(), 1, 0);
    scripted_target t;
    auto req = m.next_request();
    REQUIRE(m.on_response(t.answer(req, true, login_stage::operational_negotiation),
                          encode({{"AuthMethod", "None"}})) == login_step::send_next);
    req = m.next_request();
    auto all = encode(tgtd_operational);
    const std::size_t half = all.size() / 2 + 3; // splits inside a pair
    auto rsp = t.answer(req, false, {});
    rsp.continue_bit = true;
    REQUIRE(m.on_response(rsp, std::span(all).first(half)) == login_step::send_next);
    auto empty = m.next_request();
    CHECK(empty.data.empty());
    CHECK(empty.header.csg == login_stage::operational_negotiation);
    CHECK_FALSE(empty.header.transit_bit);
    CHECK_FALSE(empty.header.continue_bit);
    rsp = t.answer(empty, true, login_stage::full_feature_phase);
    // The target may transit only when we asked: here we did not.
    CHECK(m.on_response(rsp, std::span(all).subspan(half)) == login_step::failed);
    CHECK(m.error() == login_errc::protocol_error);

    login_machine m2(base_config(), 1, 0);
    req = m2.next_request();
    REQUIRE(m2.on_response(t.answer(req, true, login_stage::operational_negotiation),
                           encode({{"AuthMethod", "None"}})) == login_step::send_next);
    req = m2.next_request();
    rsp = t.answer(req, false, {});
    rsp.continue_bit = true;
    REQUIRE(m2.on_response(rsp, std::span(all).first(half)) == login_step::send_next);
    empty = m2.next_request();
    REQUIRE(m2.on_response(t.answer(empty, false, {}), std::span(all).subspan(half)) == login_step::send_next);
    req = m2.next_request();
    CHECK(req.header.transit_bit);
    CHECK(req.data.empty());
    REQUIRE(m2.on_response(t.answer(req, true, login_stage::full_feature_phase), {}) == login_step::complete);
    CHECK(m2.params().max_burst_length == 262144);
    CHECK(m2.params().target_max_recv_data_segment_length == 8192);
}

TEST_CASE("our long login text is split with the C bit", "[login]")
{
    auto c = base_config();
    c.initiator_alias = std::string(250, 'a');
    c.target_name = "iqn.2024-01.org.example:" + std::string(190, 't');
    login_machine m(c, 1, 0);
    m.set_max_request_data(512);
    scripted_target t;
    std::vector<std::byte> text;
    auto req = m.next_request();
    CHECK(req.header.continue_bit);
    CHECK_FALSE(req.header.transit_bit);
    CHECK(req.data.size() == 512);
    text.insert(text.end(), req.data.begin(), req.data.end());
    REQUIRE(m.on_response(t.answer(req, false, {}), {}) == login_step::send_next);
    req = m.next_request();
    CHECK_FALSE(req.header.continue_bit);
    CHECK(req.header.transit_bit);
    CHECK(req.header.cmd_sn == 1);
    text.insert(text.end(), req.data.begin(), req.data.end());
    auto keys = decode(text);
    CHECK(value(keys, "InitiatorAlias") == c.initiator_alias);
    CHECK(value(keys, "TargetName") == c.target_name);
    CHECK(value(keys, "AuthMethod") == "None");
    REQUIRE(m.on_response(t.answer(req, true, login_stage::operational_negotiation),
                          encode({{"AuthMethod", "None"}})) == login_step::send_next);

    // A target answering before our text is complete breaks §6.1.
    login_machine m2(c, 1, 0);
    m2.set_max_request_data(512);
    req = m2.next_request();
    CHECK(m2.on_response(t.answer(req, false, {}), encode({{"AuthMethod", "None"}})) == login_step::failed);
    CHECK(m2.error() == login_errc::protocol_error);
}

TEST_CASE("redirects carry the new address", "[login]")
{
    scripted_target t;
    SECTION("temporary, IPv4")
    {
        login_machine m(base_config(), 1, 0);
        auto req = m.next_request();
        auto rsp = t.answer(req, false, {});
        rsp.status_class = 1;
        rsp.status_detail = 1;
        REQUIRE(m.on_response(rsp, encode({{"TargetAddress", "192.0.2.9:3261,4"}})) == login_step::redirect);
        CHECK(m.state() == login_state::redirected);
        CHECK(m.status() == 0x0101);
        CHECK(m.redirect_target() == target_address{"192.0.2.9", 3261, 4});
        CHECK(m.error() == login_status::target_moved_temporarily);
    }
    SECTION("permanent, IPv6 without port")
    {
        login_machine m(base_config(), 1, 0);
        auto req = m.next_request();
        auto rsp = t.answer(req, false, {});
        rsp.status_class = 1;
        rsp.status_detail = 2;
        REQUIRE(m.on_response(rsp, encode({{"TargetAddress", "[2001:db8::9],2"}})) == login_step::redirect);
        CHECK(m.status() == 0x0102);
        CHECK(m.redirect_target() == target_address{"2001:db8::9", 3260, 2});
        CHECK(m.error_message().starts_with("login redirected: "));
    }
    SECTION("no address")
    {
        login_machine m(base_config(), 1, 0);
        auto req = m.next_request();
        auto rsp = t.answer(req, false, {});
        rsp.status_class = 1;
        rsp.status_detail = 1;
        CHECK(m.on_response(rsp, {}) == login_step::failed);
        CHECK(m.error() == login_errc::bad_redirect);
    }
}

TEST_CASE("failure statuses give the status message", "[login]")
{
    scripted_target t;
    for (const std::uint16_t s :
         std::initializer_list<std::uint16_t>{0x0201, 0x0202, 0x0203, 0x0205, 0x0300, 0x0301, 0x0302}) {
        login_machine m(base_config(), 1, 0);
        auto req = m.next_request();
        auto rsp = t.answer(req, false, {});
        rsp.status_class = static_cast<std::uint8_t>(s >> 8);
        rsp.status_detail = static_cast<std::uint8_t>(s & 0xff);
        CHECK(m.on_response(rsp, {}) == login_step::failed);
        CHECK(m.error() == make_login_error(rsp.status_class, rsp.status_detail));
        CHECK(m.error_message() == login_status_message(s));
        CHECK_FALSE(m.md5_retry_suggested());
    }
    login_machine m(base_config(), 1, 0);
    auto req = m.next_request();
    auto rsp = t.answer(req, false, {});
    rsp.status_class = 2;
    rsp.status_detail = 1;
    m.on_response(rsp, {});
    CHECK(m.error_message() == "login failed: authentication failure (0x0201)");
}

TEST_CASE("protocol errors in responses", "[login]")
{
    scripted_target t;
    auto start = [&](login_machine& m) { return m.next_request(); };
    SECTION("foreign ITT")
    {
        login_machine m(base_config(), 1, 0, 9);
        auto rsp = t.answer(start(m), true, login_stage::operational_negotiation);
        rsp.initiator_task_tag = 10;
        CHECK(m.on_response(rsp, encode({{"AuthMethod", "None"}})) == login_step::failed);
        CHECK(m.error() == login_errc::protocol_error);
    }
    SECTION("version")
    {
        login_machine m(base_config(), 1, 0);
        auto rsp = t.answer(start(m), true, login_stage::operational_negotiation);
        rsp.version_active = 1;
        CHECK(m.on_response(rsp, encode({{"AuthMethod", "None"}})) == login_step::failed);
        CHECK(m.error() == login_errc::unsupported_version);
    }
    SECTION("AuthMethod not offered")
    {
        login_machine m(base_config(), 1, 0);
        auto rsp = t.answer(start(m), true, login_stage::operational_negotiation);
        CHECK(m.on_response(rsp, encode({{"AuthMethod", "CHAP"}})) == login_step::failed);
        CHECK(m.error_message() == "login failed: target chose AuthMethod=CHAP which was not offered (None)");
    }
    SECTION("AuthMethod missing")
    {
        login_machine m(base_config(), 1, 0);
        CHECK(m.on_response(t.answer(start(m), true, login_stage::operational_negotiation), {}) == login_step::failed);
    }
    SECTION("skipping a stage")
    {
        login_machine m(base_config(), 1, 0);
        auto rsp = t.answer(start(m), true, login_stage::full_feature_phase);
        CHECK(m.on_response(rsp, encode({{"AuthMethod", "None"}})) == login_step::failed);
    }
    SECTION("no TSIH at the end of a new session")
    {
        login_machine m(base_config(), 1, 0);
        auto req = start(m);
        REQUIRE(m.on_response(t.answer(req, true, login_stage::operational_negotiation),
                              encode({{"AuthMethod", "None"}})) == login_step::send_next);
        req = m.next_request();
        t.tsih = 0;
        CHECK(m.on_response(t.answer(req, true, login_stage::full_feature_phase), encode(tgtd_operational)) ==
              login_step::failed);
    }
    SECTION("negotiation violation")
    {
        login_machine m(base_config(), 1, 0);
        auto req = start(m);
        REQUIRE(m.on_response(t.answer(req, true, login_stage::operational_negotiation),
                              encode({{"AuthMethod", "None"}})) == login_step::send_next);
        req = m.next_request();
        CHECK(m.on_response(t.answer(req, true, login_stage::full_feature_phase),
                            encode({{"MaxBurstLength", "20000000"}})) == login_step::failed);
        CHECK(m.error_message().find("MaxBurstLength=20000000") != std::string::npos);
    }
    SECTION("offer in the final response")
    {
        login_machine m(base_config(), 1, 0);
        auto req = start(m);
        REQUIRE(m.on_response(t.answer(req, true, login_stage::operational_negotiation),
                              encode({{"AuthMethod", "None"}})) == login_step::send_next);
        req = m.next_request();
        CHECK(m.on_response(t.answer(req, true, login_stage::full_feature_phase), encode({{"X-foo", "1"}})) ==
              login_step::failed);
        CHECK(m.error_message() == "login failed: target offered X-foo=1 in its final login response");
    }
    SECTION("response when none is expected")
    {
        login_machine m(base_config(), 1, 0);
        auto req = start(m);
        (void)req;
        pdu::login_response rsp;
        REQUIRE(m.on_response(t.answer(req, true, login_stage::operational_negotiation),
                              encode({{"AuthMethod", "None"}})) == login_step::send_next);
        CHECK(m.on_response(rsp, {}) == login_step::failed);
        CHECK(m.error() == login_errc::not_ready);
    }
}
