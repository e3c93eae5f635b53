// Asynchronous Messages (RFC 7143 §11.9) and what the session does about
// each: a logout request (event 1), a renegotiation request (event 4), a SCSI
// asynchronous event (event 0) handed to the caller.
#include "test/support/scripted_session.hpp"

#include "iscsi/session_error.hpp"
#include "pdu/lun.hpp"

#include <atomic>

using namespace ivs;
using namespace ivs::test;
using namespace std::chrono_literals;
using pdu::opcode;

namespace {

void async_event(scripted_target& tg, pdu::async_event event, std::uint16_t parameter3 = 0)
{
    pdu::async_message m;
    m.event = event;
    m.parameter3 = parameter3;
    tg.stamp(m, true);
    tg.send(m);
}

} // namespace

TEST_CASE("logout request: one Logout, nothing new on the closing connection, then the session comes back",
          "[session][scripted][async][recovery]")
{
    std::atomic<bool> requested{false}, go{false};
    std::uint32_t outstanding_itt = 0;
    scripted_target first, second;
    first.run([&](scripted_target& tg) {
        tg.login();
        const received_pdu held = tg.expect(opcode::scsi_command); // outstanding across the logout
        outstanding_itt = held.itt();
        async_event(tg, pdu::async_event::logout_requested, 10);
        const received_pdu logout = tg.expect(opcode::logout_request);
        requested = true;
        // While the Logout waits for its answer: a second request, a new
        // command and a ping from the caller: nothing may come.
        async_event(tg, pdu::async_event::logout_requested, 10);
        wait_for_go(tg, go);
        tg.expect_silence(100ms);
        tg.answer_logout(logout);
    });
    second.run([&](scripted_target& tg) {
        tg.login();
        // The held command is reissued, then the one submitted meanwhile.
        for (int i = 0; i < 2; ++i) {
            const received_pdu p = tg.expect(opcode::scsi_command);
            tg.send_status(p.itt(), 0x00);
        }
        tg.logout();
    });
    auto cfg = make_config({&first, &second});
    cfg.recover = true;
    cfg.login.proposals.default_time2wait = 0;
    session_harness h;
    iscsi::session s(h.io, cfg);
    REQUIRE(h.login(s) == std::error_code{});
    tracked held, later;
    submit(s, test_unit_ready(), held);
    REQUIRE(h.run_until([&] { return requested.load(); }, 20s));
    h.drain();
    CHECK_FALSE(s.logged_in());
    submit(s, test_unit_ready(), later);
    std::optional<std::error_code> ping;
    s.ping([&](std::error_code ec) { ping = ec; });
    CHECK(ping == std::optional<std::error_code>(make_error_code(iscsi::session_errc::not_logged_in)));
    go = true;
    REQUIRE(h.run_until([&] { return held.calls > 0 && later.calls > 0; }, 20s));
    CHECK(held.result.good());
    CHECK(later.result.good());
    CHECK(s.counters().reconnects == 1);
    CHECK(h.logout(s) == std::error_code{});
    finish(h, first);
    finish(h, second);
    std::size_t logouts = 0;
    for (const auto& p : first.received())
        logouts += p.op() == opcode::logout_request;
    CHECK(logouts == 1);
}

TEST_CASE("logout request: a Logout the target never answers ends at the logout timeout",
          "[session][scripted][async][recovery]")
{
    scripted_target first, second;
    first.run([&](scripted_target& tg) {
        tg.login();
        async_event(tg, pdu::async_event::logout_requested, 0);
        tg.expect(opcode::logout_request); // never answered
        tg.expect_closed();
    });
    second.run([&](scripted_target& tg) {
        tg.login();
        tg.logout();
    });
    session_harness h;
    auto cfg = make_config({&first, &second});
    cfg.clock = h.clock;
    cfg.recover = true;
    cfg.logout_timeout = 3s;
    cfg.login.proposals.default_time2wait = 0;
    iscsi::session s(h.io, cfg);
    REQUIRE(h.login(s) == std::error_code{});
    REQUIRE(h.advance_until([&] { return first.received_count() >= 3; }, 1s)); // logins, Logout
    const auto asked = h.clock->now();
    REQUIRE(h.advance_until([&] { return s.logged_in() && s.counters().reconnects == 1; }, 10s)); // hung before
    CHECK(h.clock->now() - asked >= 3s);
    CHECK(h.logout(s) == std::error_code{});
    finish(h, first);
    finish(h, second);
}

TEST_CASE("renegotiation request: answered with an empty Text Request", "[session][scripted][async]")
{
    scripted_target t;
    t.run([&](scripted_target& tg) {
        tg.login();
        async_event(tg, pdu::async_event::negotiation_requested);
        const received_pdu q = tg.expect(opcode::text_request); // ignored before
        const auto req = q.as<pdu::text_request>();
        if (!q.data.empty() || !req.final_bit || req.target_transfer_tag != pdu::reserved_tag || q.immediate())
            tg.fail("expected an empty Text Request: " + q.describe());
        pdu::text_response r;
        r.initiator_task_tag = req.initiator_task_tag;
        tg.stamp(r, true);
        tg.send(r);
        const received_pdu cmd = tg.expect(opcode::scsi_command);
        tg.send_status(cmd.itt(), 0x00);
        tg.logout();
    });
    session_harness h;
    iscsi::session s(h.io, make_config({&t}));
    REQUIRE(h.login(s) == std::error_code{});
    REQUIRE(h.run_until([&] { return t.received_count() >= 3; }, 20s));
    const auto r = h.execute(s, test_unit_ready());
    CHECK(r.good());
    CHECK(s.logged_in());
    CHECK(h.logout(s) == std::error_code{});
    finish(h, t);
}

TEST_CASE("renegotiation request with keys to negotiate: the initiator logs out and logs in again",
          "[session][scripted][async][recovery]")
{
    scripted_target first, second;
    first.run([&](scripted_target& tg) {
        tg.login();
        async_event(tg, pdu::async_event::negotiation_requested);
        const received_pdu q = tg.expect(opcode::text_request);
        pdu::text_response r;
        r.initiator_task_tag = q.itt();
        const auto keys = text_bytes({{"MaxBurstLength", "65536"}});
        r.data_segment_length = static_cast<std::uint32_t>(keys.size());
        tg.stamp(r, true);
        tg.send(r, keys);
        tg.logout();
    });
    second.run([&](scripted_target& tg) {
        tg.login();
        tg.logout();
    });
    auto cfg = make_config({&first, &second});
    cfg.recover = true;
    cfg.login.proposals.default_time2wait = 0;
    session_harness h;
    iscsi::session s(h.io, cfg);
    REQUIRE(h.login(s) == std::error_code{});
    REQUIRE(h.run_until([&] { return s.logged_in() && s.counters().reconnects == 1; }, 20s));
    CHECK(h.logout(s) == std::error_code{});
    finish(h, first);
    finish(h, second);
}

TEST_CASE("SCSI asynchronous event 3F/0E reaches the caller with its LUN and sense, in any state with a connection",
          "[session][scripted][async]")
{
    const auto sense = fixed_sense(0x06, 0x3f, 0x0e); // REPORTED LUNS DATA HAS CHANGED
    std::atomic<bool> go{false};
    scripted_target t;
    t.run([&](scripted_target& tg) {
        tg.login();
        const received_pdu cmd = tg.expect(opcode::scsi_command);
        pdu::async_message m;
        m.event = pdu::async_event::scsi_async_event;
        m.lun = pdu::encode_lun(5);
        const auto data = sense_segment(sense);
        m.data_segment_length = static_cast<std::uint32_t>(data.size());
        tg.stamp(m, true);
        tg.send(m, data);
        wait_for_go(tg, go);
        tg.send_status(cmd.itt(), 0x00);
        tg.logout();
    });
    session_harness h;
    iscsi::session s(h.io, make_config({&t}));
    std::vector<std::pair<std::uint64_t, std::vector<std::byte>>> events;
    s.on_event([&](const iscsi::session_event& e) {
        if (e.what == iscsi::session_event::kind::scsi_async_event)
            events.emplace_back(e.lun, std::vector<std::byte>(e.sense.begin(), e.sense.end()));
    });
    REQUIRE(h.login(s) == std::error_code{});
    tracked done;
    submit(s, test_unit_ready(), done); // outstanding while the event arrives
    REQUIRE(h.run_until([&] { return !events.empty(); }, 20s));
    go = true;
    REQUIRE(h.run_until([&] { return done.calls > 0; }, 20s));
    CHECK(done.result.good());
    REQUIRE(events.size() == 1);
    CHECK(events[0].first == 5);
    CHECK(events[0].second == sense);
    CHECK(h.logout(s) == std::error_code{});
    finish(h, t);
}
