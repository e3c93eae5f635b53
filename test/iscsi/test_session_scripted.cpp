// iscsi::session against a scripted fake target over a socketpair: login
// shapes a real tgtd cannot be made to produce on demand (split answers,
// redirects, failures), NOP pings, async events, the CmdSN window and
// continued text answers. RFC 7143 §4.2, §6, §11.
#include "test/support/scripted_session.hpp"

#include "iscsi/session_error.hpp"
#include "pdu/lun.hpp"

using namespace ivs;
using namespace ivs::test;
using namespace std::chrono_literals;
using pdu::opcode;

// ---- login ----

TEST_CASE("plain login reaches the full feature phase and logs out", "[session][scripted][login]")
{
    scripted_target t;
    std::vector<received_pdu> logins;
    t.run([&](scripted_target& tg) {
        logins = tg.login();
        tg.logout();
    });
    std::vector<iscsi::portal> portals;
    test::session_harness h;
    iscsi::session s(h.io, make_config({&t}, &portals));
    std::string message;
    REQUIRE(h.login(s, &message) == std::error_code{});
    CHECK(s.logged_in());
    CHECK(s.tsih() == 0x0101);
    CHECK(s.params().target_max_recv_data_segment_length == 8192);
    CHECK(s.params().max_recv_data_segment_length == 262144);
    CHECK(s.params().initial_r2t);
    CHECK(s.params().first_burst_length == 65536);
    CHECK(s.params().target_portal_group_tag == std::optional<std::uint16_t>(1));
    CHECK(h.logout(s) == std::error_code{});
    CHECK_FALSE(s.logged_in());
    finish(h, t);

    REQUIRE(portals.size() == 1);
    CHECK(iscsi::format_portal(portals[0]) == "target.test:3260");
    REQUIRE(logins.size() == 2);
    const auto first = logins[0].as<pdu::login_request>();
    CHECK(first.csg == pdu::login_stage::security_negotiation);
    CHECK(first.transit_bit);
    CHECK(first.nsg == pdu::login_stage::operational_negotiation);
    CHECK(first.tsih == 0);
    const auto keys = logins[0].text();
    CHECK(has_pair(keys, "InitiatorName", initiator_iqn));
    CHECK(has_pair(keys, "TargetName", target_iqn));
    CHECK(has_pair(keys, "SessionType", "Normal"));
    CHECK(has_pair(keys, "AuthMethod", "None"));
    const auto second = logins[1].as<pdu::login_request>();
    CHECK(second.csg == pdu::login_stage::operational_negotiation);
    CHECK(second.transit_bit);
    CHECK(second.nsg == pdu::login_stage::full_feature_phase);
    CHECK(has_pair(logins[1].text(), "MaxRecvDataSegmentLength", "262144"));
}

TEST_CASE("login answer split over several responses with the C bit", "[session][scripted][login]")
{
    scripted_target t;
    std::vector<received_pdu> logins;
    login_script ls;
    ls.max_response_text = 40;
    set_key(ls, "MaxBurstLength", "131072");
    set_key(ls, "MaxRecvDataSegmentLength", "4096"); // the last key of the answer
    t.run([&](scripted_target& tg) {
        logins = tg.login(ls);
        tg.logout();
    });
    test::session_harness h;
    iscsi::session s(h.io, make_config({&t}));
    REQUIRE(h.login(s) == std::error_code{});
    CHECK(s.logged_in());
    // Keys from the first and from the last piece were both applied.
    CHECK(s.params().max_burst_length == 131072);
    CHECK(s.params().target_max_recv_data_segment_length == 4096);
    CHECK(h.logout(s) == std::error_code{});
    finish(h, t);

    // After the offers: one empty T=0 request per further piece (§6.1), then
    // a T=1 request for the full feature phase.
    REQUIRE(logins.size() >= 5);
    std::size_t empty_requests = 0;
    for (std::size_t i = 2; i + 1 < logins.size(); ++i) {
        const auto r = logins[i].as<pdu::login_request>();
        CHECK(r.csg == pdu::login_stage::operational_negotiation);
        CHECK_FALSE(r.transit_bit);
        CHECK_FALSE(r.continue_bit);
        CHECK(logins[i].data.empty());
        ++empty_requests;
    }
    CHECK(empty_requests >= 3);
    const auto last = logins.back().as<pdu::login_request>();
    CHECK(last.transit_bit);
    CHECK(last.nsg == pdu::login_stage::full_feature_phase);
    CHECK(logins.back().data.empty());
}

TEST_CASE("temporary redirect (0x0101) is followed to the new portal", "[session][scripted][login]")
{
    scripted_target first, second;
    first.run([](scripted_target& tg) {
        tg.login_status(pdu::login_status_class::redirection, 0x01, {{"TargetAddress", "target2.test:3261,2"}});
        tg.expect_closed();
    });
    std::vector<received_pdu> logins;
    second.run([&](scripted_target& tg) {
        logins = tg.login();
        tg.logout();
    });
    std::vector<iscsi::portal> portals;
    test::session_harness h;
    iscsi::session s(h.io, make_config({&first, &second}, &portals));
    std::string message;
    REQUIRE(h.login(s, &message) == std::error_code{});
    CHECK(s.logged_in());
    CHECK(h.logout(s) == std::error_code{});
    finish(h, first);
    finish(h, second);
    REQUIRE(portals.size() == 2);
    CHECK(iscsi::format_portal(portals[0]) == "target.test:3260");
    CHECK(iscsi::format_portal(portals[1]) == "target2.test:3261");
    CHECK(first.fd_taken());
    CHECK(second.fd_taken());
    REQUIRE_FALSE(logins.empty());
    CHECK(has_pair(logins[0].text(), "TargetName", target_iqn));
}

TEST_CASE("login failure 0x0201 is reported with its message", "[session][scripted][login]")
{
    scripted_target t;
    t.run([](scripted_target& tg) {
        tg.login_status(pdu::login_status_class::initiator_error, 0x01);
        tg.expect_closed();
    });
    std::vector<iscsi::portal> portals;
    test::session_harness h;
    iscsi::session s(h.io, make_config({&t}, &portals));
    std::string message;
    const auto ec = h.login(s, &message);
    CHECK(ec);
    CHECK(ec != make_error_code(std::errc::timed_out));
    CHECK(message == "login failed: authentication failure (0x0201)");
    CHECK_FALSE(s.logged_in());
    finish(h, t);
    CHECK(portals.size() == 1); // no retry after an initiator error

    // Commands after a failed start fail at once.
    tracked done;
    submit(s, test_unit_ready(), done);
    CHECK(done.calls == 1);
    CHECK(done.result.error);
}

// ---- NOP, async events, CmdSN window, text ----

TEST_CASE("NOP-In with a TTT is echoed; ping is answered", "[session][scripted][nop]")
{
    scripted_target t;
    const auto ping_data = test::random_bytes(16, 9);
    t.run([&](scripted_target& tg) {
        tg.login();
        pdu::nop_in n;
        n.target_transfer_tag = 0x5555;
        n.lun = pdu::encode_lun(2);
        n.data_segment_length = static_cast<std::uint32_t>(ping_data.size());
        tg.stamp(n, false); // §11.19: a target ping does not take a StatSN
        tg.send(n, ping_data);
        const received_pdu echo = tg.expect(opcode::nop_out);
        const auto e = echo.as<pdu::nop_out>();
        // §11.18: ITT 0xffffffff, the TTT and LUN echoed, the ping data back.
        if (e.initiator_task_tag != pdu::reserved_tag || e.target_transfer_tag != 0x5555 ||
            e.lun != pdu::encode_lun(2) || !echo.immediate() || echo.data != ping_data || e.exp_stat_sn != tg.stat_sn)
            tg.fail("bad NOP-Out answer to the target's ping: " + echo.describe());
        const received_pdu ping = tg.expect(opcode::nop_out);
        const auto o = ping.as<pdu::nop_out>();
        if (o.initiator_task_tag == pdu::reserved_tag || o.target_transfer_tag != pdu::reserved_tag ||
            !ping.immediate())
            tg.fail("bad NOP-Out ping: " + ping.describe());
        pdu::nop_in answer;
        answer.initiator_task_tag = o.initiator_task_tag;
        tg.stamp(answer, true);
        tg.send(answer);
        tg.logout();
    });
    test::session_harness h;
    iscsi::session s(h.io, make_config({&t}));
    REQUIRE(h.login(s) == std::error_code{});
    // Two Login Requests, then the echo: only then ping, so the order is known.
    REQUIRE(h.run_until([&] { return t.received_count() >= 3 || t.finished(); }, 20s));
    int pings = 0;
    std::error_code ping_ec = make_error_code(std::errc::timed_out);
    s.ping([&](std::error_code ec) {
        ++pings;
        ping_ec = ec;
    });
    REQUIRE(h.run_until([&] { return pings > 0; }, 20s));
    settle(h);
    CHECK(pings == 1);
    CHECK(ping_ec == std::error_code{});
    CHECK(h.logout(s) == std::error_code{});
    finish(h, t);
}

TEST_CASE("Async Message: SCSI async event reaches on_event", "[session][scripted][async]")
{
    scripted_target t;
    const auto sense = test::fixed_sense(0x06, 0x3f, 0x0e); // REPORTED LUNS DATA HAS CHANGED
    t.run([&](scripted_target& tg) {
        tg.login();
        pdu::async_message m;
        m.event = pdu::async_event::scsi_async_event;
        m.lun = pdu::encode_lun(1);
        const auto data = test::sense_segment(sense);
        m.data_segment_length = static_cast<std::uint32_t>(data.size());
        tg.stamp(m, true);
        tg.send(m, data);
        tg.logout();
    });
    std::vector<iscsi::session_event::kind> kinds;
    std::vector<std::byte> event_sense;
    std::uint64_t event_lun = 99;
    test::session_harness h;
    iscsi::session s(h.io, make_config({&t}));
    s.on_event([&](const iscsi::session_event& e) {
        kinds.push_back(e.what);
        event_sense.assign(e.sense.begin(), e.sense.end());
        event_lun = e.lun;
    });
    REQUIRE(h.login(s) == std::error_code{});
    REQUIRE(h.run_until([&] { return !kinds.empty(); }, 20s));
    REQUIRE(kinds.size() == 1);
    CHECK(kinds[0] == iscsi::session_event::kind::scsi_async_event);
    CHECK(event_lun == 1);
    CHECK(event_sense == sense);
    CHECK(s.logged_in());
    CHECK(h.logout(s) == std::error_code{});
    finish(h, t);
}

TEST_CASE("Async Message connection drop: reconnect and reissue the outstanding command",
          "[session][scripted][async][recovery]")
{
    scripted_target first, second;
    const auto payload = test::random_bytes(1024, 21);
    std::vector<received_pdu> first_logins, second_logins;
    pdu::scsi_command before{}, after{};
    first.run([&](scripted_target& tg) {
        first_logins = tg.login();
        before = tg.expect(opcode::scsi_command).command();
        pdu::async_message m;
        m.event = pdu::async_event::connection_drop;
        m.parameter1 = 0;  // CID
        m.parameter2 = 0;  // Time2Wait
        m.parameter3 = 20; // Time2Retain
        tg.stamp(m, true);
        tg.send(m);
        tg.expect_closed();
    });
    second.run([&](scripted_target& tg) {
        second_logins = tg.login();
        const received_pdu p = tg.expect(opcode::scsi_command);
        after = p.command();
        tg.send_data_in(p.itt(), 0, 0, payload, true);
        tg.logout();
    });
    std::vector<iscsi::portal> portals;
    auto cfg = make_config({&first, &second}, &portals);
    cfg.recover = true;
    cfg.login.proposals.default_time2wait = 0;
    tracked done;
    std::vector<iscsi::session_event::kind> kinds;
    test::session_harness h;
    iscsi::session s(h.io, cfg);
    s.on_event([&](const iscsi::session_event& e) { kinds.push_back(e.what); });
    REQUIRE(h.login(s) == std::error_code{});
    CHECK(s.params().default_time2wait == 0);
    std::vector<std::byte> buf(1024);
    submit(s, rw16(false, 0, 42, 2, buf), done);
    REQUIRE(h.run_until([&] { return done.calls > 0; }, 20s));
    settle(h);
    CHECK(done.calls == 1);
    INFO(done.result.error.message());
    CHECK(done.result.good());
    CHECK(compare_bytes(buf, payload) == "");
    CHECK(s.counters().reissued == 1);
    CHECK(s.counters().reconnects == 1);
    CHECK(s.counters().commands == 1);
    CHECK(kinds == std::vector<iscsi::session_event::kind>{iscsi::session_event::kind::reconnecting,
                                                           iscsi::session_event::kind::reconnected});
    CHECK(h.logout(s) == std::error_code{});
    finish(h, first);
    finish(h, second);
    REQUIRE(portals.size() == 2);
    CHECK(iscsi::format_portal(portals[1]) == "target.test:3260");
    CHECK(before.cdb == after.cdb);
    CHECK(after.expected_data_transfer_length == 1024);
    REQUIRE_FALSE(first_logins.empty());
    REQUIRE_FALSE(second_logins.empty());
    // ERL 0 reinstatement: the same ISID, a new session (TSIH 0) (§6.3.5).
    CHECK(second_logins[0].as<pdu::login_request>().isid == first_logins[0].as<pdu::login_request>().isid);
    CHECK(second_logins[0].as<pdu::login_request>().tsih == 0);
}

TEST_CASE("Async Message logout request: the initiator logs out and logs in again",
          "[session][scripted][async][recovery]")
{
    scripted_target first, second;
    first.run([](scripted_target& tg) {
        tg.login();
        pdu::async_message m;
        m.event = pdu::async_event::logout_requested;
        m.parameter3 = 5; // seconds to log out within
        tg.stamp(m, true);
        tg.send(m);
        tg.logout(); // Logout Request, Logout Response, close
    });
    second.run([](scripted_target& tg) {
        tg.login();
        tg.logout();
    });
    auto cfg = make_config({&first, &second});
    cfg.recover = true;
    cfg.login.proposals.default_time2wait = 0;
    test::session_harness h;
    iscsi::session s(h.io, cfg);
    REQUIRE(h.login(s) == std::error_code{});
    REQUIRE(h.run_until([&] { return first.finished() && s.counters().reconnects == 1 && s.logged_in(); }, 20s));
    CHECK(h.logout(s) == std::error_code{});
    finish(h, first);
    finish(h, second);
}

TEST_CASE("CmdSN window of one: commands wait for MaxCmdSN to grow", "[session][scripted][window]")
{
    scripted_target t;
    t.run([](scripted_target& tg) {
        tg.window = 1; // MaxCmdSN = ExpCmdSN
        tg.login();
        const received_pdu a = tg.expect(opcode::scsi_command);
        tg.expect_silence(300ms);
        // Opens two more slots with a NOP-In that asks nothing (§4.2.2.1).
        tg.window = 2;
        pdu::nop_in n;
        tg.stamp(n, false);
        tg.send(n);
        const received_pdu b = tg.expect(opcode::scsi_command);
        const received_pdu c = tg.expect(opcode::scsi_command);
        tg.expect_silence(300ms);
        tg.window = 1;
        tg.send_status(a.itt(), 0x00);
        tg.send_status(b.itt(), 0x00);
        tg.send_status(c.itt(), 0x00);
        const received_pdu d = tg.expect(opcode::scsi_command);
        tg.send_status(d.itt(), 0x00);
        tg.logout();
    });
    tracked done[4];
    test::session_harness h;
    iscsi::session s(h.io, make_config({&t}));
    REQUIRE(h.login(s) == std::error_code{});
    for (auto& d : done)
        submit(s, test_unit_ready(), d);
    REQUIRE(h.run_until(
        [&] {
            return std::all_of(std::begin(done), std::end(done), [](const tracked& d) { return d.calls > 0; }) ||
                   t.finished();
        },
        20s));
    settle(h);
    for (const auto& d : done) {
        CHECK(d.calls == 1);
        CHECK(d.result.good());
    }
    CHECK(h.logout(s) == std::error_code{});
    finish(h, t);
}

TEST_CASE("SendTargets answer continued over two Text Responses", "[session][scripted][text]")
{
    scripted_target t;
    const pdu::text_list answer = {
        {"TargetName", "iqn.2026-11.org.iscsi-vscsi.test:a"},
        {"TargetAddress", "target.test:3260,1"},
        {"TargetName", "iqn.2026-11.org.iscsi-vscsi.test:b"},
        {"TargetAddress", "[2001:db8::1]:3260,1"},
    };
    t.run([&](scripted_target& tg) {
        tg.login();
        const received_pdu q = tg.expect(opcode::text_request);
        const auto req = q.as<pdu::text_request>();
        if (!req.final_bit || req.continue_bit || req.target_transfer_tag != pdu::reserved_tag ||
            q.text() != pdu::text_list{{"SendTargets", "All"}})
            tg.fail("bad SendTargets request: " + q.describe());
        const auto text = test::text_bytes(answer);
        const std::size_t cut = 50; // inside the second pair
        pdu::text_response r1;
        r1.final_bit = false;
        r1.continue_bit = true;
        r1.initiator_task_tag = req.initiator_task_tag;
        r1.target_transfer_tag = 0x77;
        r1.data_segment_length = static_cast<std::uint32_t>(cut);
        tg.stamp(r1, true);
        tg.send(r1, std::span<const std::byte>(text).first(cut));
        // §11.10.4: an empty Text Request with the TTT asks for the rest.
        const received_pdu more = tg.expect(opcode::text_request);
        const auto m = more.as<pdu::text_request>();
        if (m.initiator_task_tag != req.initiator_task_tag || m.target_transfer_tag != 0x77 || !more.data.empty() ||
            !m.final_bit)
            tg.fail("bad continuation Text Request: " + more.describe());
        pdu::text_response r2;
        r2.initiator_task_tag = req.initiator_task_tag;
        r2.data_segment_length = static_cast<std::uint32_t>(text.size() - cut);
        tg.stamp(r2, true);
        tg.send(r2, std::span<const std::byte>(text).subspan(cut));
        tg.logout();
    });
    auto cfg = make_config({&t});
    cfg.login.type = iscsi::session_type::discovery;
    cfg.login.target_name.clear();
    test::session_harness h;
    iscsi::session s(h.io, cfg);
    REQUIRE(h.login(s) == std::error_code{});
    int calls = 0;
    std::error_code ec = make_error_code(std::errc::timed_out);
    pdu::text_list got;
    s.send_targets([&](std::error_code e, const pdu::text_list& list) {
        ++calls;
        ec = e;
        got = list;
    });
    REQUIRE(h.run_until([&] { return calls > 0; }, 20s));
    settle(h);
    CHECK(calls == 1);
    CHECK(ec == std::error_code{});
    CHECK(got == answer);
    CHECK(h.logout(s) == std::error_code{});
    finish(h, t);
}
