// Session liveness against the scripted target: NOP-Out keepalive and
// command timeouts escalating ABORT TASK -> LUN RESET -> recovery. The
// session runs on the harness's test clock: no test here waits for a timeout
// in real time.
#include "test/support/scripted_session.hpp"

#include "iscsi/session_error.hpp"
#include "pdu/lun.hpp"

#include <atomic>
#include <thread>

using namespace ivs;
using namespace ivs::test;
using pdu::opcode;

namespace {

// Answers a NOP-Out ping with its NOP-In (§11.19: StatSN advances).
void answer_ping(scripted_target& tg, const received_pdu& ping)
{
    pdu::nop_in answer;
    answer.initiator_task_tag = ping.itt();
    tg.stamp(answer, true);
    tg.send(answer);
}

} // namespace

TEST_CASE("keepalive: an idle session pings and stays up while answered", "[session][scripted][keepalive]")
{
    std::atomic<int> answered{0};
    scripted_target t;
    t.run([&](scripted_target& tg) {
        tg.login();
        for (int i = 0; i < 3; ++i) {
            const received_pdu ping = tg.expect(opcode::nop_out);
            if (ping.itt() == pdu::reserved_tag || !ping.immediate())
                tg.fail("keepalive ping without an ITT: " + ping.describe());
            answer_ping(tg, ping);
            ++answered;
        }
        tg.logout();
    });
    session_harness h;
    auto cfg = make_config({&t});
    cfg.clock = h.clock;
    cfg.nop_interval = 100ms;
    cfg.nop_timeout = 300ms;
    iscsi::session s(h.io, cfg);
    REQUIRE(h.login(s) == std::error_code{});
    const auto start = h.clock->now();
    for (int i = 0; i < 3; ++i) {
        REQUIRE(h.advance_until([&] { return t.received_count() >= 2u + i + 1; }, 1s));
        // Test time stands still while the target answers.
        REQUIRE(h.run_until([&] { return answered.load() > i; }, 20s));
        h.drain();
    }
    // Three pings, one per interval of silence (each answer restarts it).
    CHECK(h.clock->now() - start >= 300ms);
    CHECK(h.clock->now() - start < 600ms);
    CHECK(s.logged_in());
    CHECK(h.logout(s) == std::error_code{});
    finish(h, t);
}

TEST_CASE("keepalive: a silent peer is declared dead and its command fails", "[session][scripted][keepalive]")
{
    scripted_target t;
    t.run([&](scripted_target& tg) {
        tg.login();
        tg.expect(opcode::scsi_command);
        tg.expect(opcode::nop_out); // never answered
        tg.expect_closed();
    });
    session_harness h;
    auto cfg = make_config({&t});
    cfg.clock = h.clock;
    cfg.nop_interval = 100ms;
    cfg.nop_timeout = 300ms;
    iscsi::session s(h.io, cfg);
    REQUIRE(h.login(s) == std::error_code{});
    tracked done;
    const auto start = h.clock->now();
    submit(s, test_unit_ready(), done);
    REQUIRE(h.advance_until([&] { return done.calls > 0; }, 10s));
    // The ping after 100 ms of silence, then 300 ms without an answer.
    const auto took = h.clock->now() - start;
    CHECK(took >= 400ms);
    CHECK(took < 500ms);
    settle(h);
    CHECK(done.calls == 1);
    CHECK(done.result.error);
    finish(h, t);
}

TEST_CASE("keepalive: data still arriving keeps a late NOP answer from killing the connection",
          "[session][scripted][keepalive]")
{
    constexpr std::uint32_t length = 64 * 1024;
    constexpr std::uint32_t pdus = 16;
    const auto payload = random_bytes(length, 77);
    std::atomic<std::uint32_t> allowed{0};
    scripted_target t;
    t.run([&](scripted_target& tg) {
        tg.login();
        const received_pdu cmd = tg.expect(opcode::scsi_command);
        // Silent past nop_interval so a ping goes out; then the READ's data
        // trickles in, one PDU per 60 ms of test time, for well over
        // nop_timeout before the ping is answered.
        const received_pdu ping = tg.expect(opcode::nop_out);
        for (std::uint32_t i = 0; i < pdus; ++i) {
            const auto deadline = std::chrono::steady_clock::now() + 20s;
            while (allowed.load() <= i)
                if (std::chrono::steady_clock::now() > deadline)
                    tg.fail("the test did not let Data-In " + std::to_string(i) + " go");
            tg.send_data_in(cmd.itt(), i, i * 4096, std::span<const std::byte>(payload.data() + i * 4096, 4096),
                            i == pdus - 1);
        }
        answer_ping(tg, ping);
        tg.logout();
    });
    session_harness h;
    auto cfg = make_config({&t});
    cfg.clock = h.clock;
    cfg.nop_interval = 100ms;
    cfg.nop_timeout = 250ms;
    iscsi::session s(h.io, cfg);
    REQUIRE(h.login(s) == std::error_code{});
    std::vector<std::byte> buf(length);
    tracked done;
    struct counting final : iscsi::buffer_lease {
        std::uint32_t segments = 0;
        void data_in_landed(std::uint32_t, std::span<const std::byte>) override { ++segments; }
    } lease;
    const std::uint32_t& landed = lease.segments;
    auto req = rw16(false, 0, 0, length / 512, buf);
    req.lease = &lease;
    submit(s, req, done);
    REQUIRE(h.advance_until([&] { return t.received_count() >= 4; }, 1s)); // the command, the ping
    for (std::uint32_t i = 0; i < pdus; ++i) {
        allowed = i + 1;
        REQUIRE(h.run_until([&] { return landed == i + 1; }, 20s));
        h.advance(60ms);
        REQUIRE(s.logged_in());
    }
    REQUIRE(h.run_until([&] { return done.calls > 0; }, 20s));
    CHECK(done.result.good());
    CHECK(buf == payload);
    CHECK(h.logout(s) == std::error_code{});
    finish(h, t);
}

TEST_CASE("command timeout: ABORT TASK ends an unanswered command", "[session][scripted][timeout]")
{
    scripted_target t;
    t.run([&](scripted_target& tg) {
        tg.login();
        const received_pdu cmd = tg.expect(opcode::scsi_command);
        const received_pdu tmf = tg.expect(opcode::task_mgmt_request);
        const auto req = tmf.as<pdu::task_mgmt_request>();
        if (req.function != pdu::tmf_function::abort_task || req.referenced_task_tag != cmd.itt() ||
            req.ref_cmd_sn != cmd.cmd_sn())
            tg.fail("expected ABORT TASK of the command: " + tmf.describe());
        pdu::task_mgmt_response r;
        r.initiator_task_tag = tmf.itt();
        r.response = pdu::tmf_response::function_complete;
        tg.stamp(r, true);
        tg.send(r);
        tg.logout();
    });
    session_harness h;
    auto cfg = make_config({&t});
    cfg.clock = h.clock;
    cfg.command_timeout = 200ms;
    iscsi::session s(h.io, cfg);
    REQUIRE(h.login(s) == std::error_code{});
    tracked done;
    submit(s, test_unit_ready(), done);
    REQUIRE(h.advance_until([&] { return done.calls > 0; }, 10s));
    settle(h);
    CHECK(done.calls == 1);
    CHECK(done.result.error == make_error_code(iscsi::session_errc::task_aborted));
    CHECK(h.logout(s) == std::error_code{});
    finish(h, t);
}

TEST_CASE("command timeout: ignored ABORT TASK escalates to LUN RESET, then recovery", "[session][scripted][timeout]")
{
    scripted_target first, second;
    std::atomic<bool> quiet{false};
    first.run([&](scripted_target& tg) {
        tg.login();
        tg.expect(opcode::scsi_command);
        const auto abort = tg.expect(opcode::task_mgmt_request).as<pdu::task_mgmt_request>();
        if (abort.function != pdu::tmf_function::abort_task)
            tg.fail("expected ABORT TASK first");
        const auto reset = tg.expect(opcode::task_mgmt_request).as<pdu::task_mgmt_request>();
        if (reset.function != pdu::tmf_function::logical_unit_reset || reset.lun != pdu::encode_lun(3))
            tg.fail("expected LOGICAL UNIT RESET of LUN 3");
        tg.expect_closed(); // then the initiator gives up on this connection
    });
    second.run([&](scripted_target& tg) {
        tg.login();
        tg.expect_silence(100ms); // the timed-out command is not reissued
        quiet = true;
        tg.logout();
    });
    session_harness h;
    auto cfg = make_config({&first, &second});
    cfg.clock = h.clock;
    cfg.recover = true;
    cfg.command_timeout = 200ms;
    cfg.tmf_timeout = 100ms;
    cfg.login.proposals.default_time2wait = 0;
    iscsi::session s(h.io, cfg);
    REQUIRE(h.login(s) == std::error_code{});
    tracked done;
    auto tur = test_unit_ready();
    tur.lun = 3;
    submit(s, tur, done);
    const auto start = h.clock->now();
    REQUIRE(h.advance_until([&] { return done.calls > 0; }, 10s));
    // 200 ms without progress, then 100 ms for each task management step.
    CHECK(h.clock->now() - start >= 400ms);
    CHECK(h.clock->now() - start < 500ms);
    CHECK(done.result.error == make_error_code(iscsi::session_errc::command_timeout));
    REQUIRE(h.run_until([&] { return s.logged_in() && s.counters().reconnects == 1; }, 10s));
    REQUIRE(h.run_until([&] { return quiet.load() || second.finished(); }, 10s));
    CHECK(done.calls == 1);
    CHECK(h.logout(s) == std::error_code{});
    const std::string f1 = first.join();
    CHECK(f1.empty());
    finish(h, second);
}

TEST_CASE("command timeout: a reissued command starts its escalation over with ABORT TASK",
          "[session][scripted][timeout][recovery]")
{
    scripted_target first, second;
    first.run([&](scripted_target& tg) {
        tg.login();
        tg.expect(opcode::scsi_command);
        const auto abort = tg.expect(opcode::task_mgmt_request).as<pdu::task_mgmt_request>();
        if (abort.function != pdu::tmf_function::abort_task)
            tg.fail("expected ABORT TASK first");
        tg.close(); // the connection fails before the abort is answered
    });
    second.run([&](scripted_target& tg) {
        tg.login();
        const received_pdu cmd = tg.expect(opcode::scsi_command);
        // A new connection, a new ladder: not straight to LUN RESET.
        const auto req = tg.answer_tmf();
        if (req.function != pdu::tmf_function::abort_task || req.referenced_task_tag != cmd.itt())
            tg.fail("expected ABORT TASK of the reissued command, got function " +
                    std::to_string(static_cast<int>(req.function)));
        tg.logout();
    });
    session_harness h;
    auto cfg = make_config({&first, &second});
    cfg.clock = h.clock;
    cfg.recover = true;
    cfg.command_timeout = 200ms;
    cfg.tmf_timeout = 100ms;
    cfg.login.proposals.default_time2wait = 0;
    iscsi::session s(h.io, cfg);
    REQUIRE(h.login(s) == std::error_code{});
    tracked done;
    submit(s, test_unit_ready(), done);
    REQUIRE(h.advance_until([&] { return first.received_count() >= 4; }, 1s)); // logins, command, ABORT TASK
    // Test time stands still while the first target drops the connection
    // and the second one takes the reissued command.
    REQUIRE(h.run_until([&] { return s.logged_in() && s.counters().reconnects == 1; }, 20s));
    REQUIRE(h.advance_until([&] { return done.calls > 0; }, 10s));
    CHECK(done.result.error == make_error_code(iscsi::session_errc::task_aborted));
    CHECK(s.counters().reissued == 1);
    CHECK(h.logout(s) == std::error_code{});
    finish(h, first);
    finish(h, second);
}

TEST_CASE("command timeout: a command waiting for the window behind one being aborted is sent once it ends",
          "[session][scripted][timeout]")
{
    scripted_target t;
    t.run([&](scripted_target& tg) {
        tg.window = 1; // A fills it; the answer to its ABORT TASK opens it
        tg.login();
        const received_pdu a = tg.expect(opcode::scsi_command);
        const auto req = tg.answer_tmf();
        if (req.function != pdu::tmf_function::abort_task || req.referenced_task_tag != a.itt())
            tg.fail("expected ABORT TASK of the first command");
        const received_pdu b = tg.expect(opcode::scsi_command);
        tg.send_status(b.itt(), 0x00);
        tg.logout();
    });
    session_harness h;
    auto cfg = make_config({&t});
    cfg.clock = h.clock;
    cfg.command_timeout = 200ms;
    iscsi::session s(h.io, cfg);
    REQUIRE(h.login(s) == std::error_code{});
    tracked a, b;
    submit(s, test_unit_ready(), a);
    submit(s, test_unit_ready(), b); // waits for the window, as long as A
    REQUIRE(h.advance_until([&] { return a.calls > 0 && b.calls > 0; }, 10s));
    CHECK(a.result.error == make_error_code(iscsi::session_errc::task_aborted));
    CHECK(b.result.good()); // failed with command_timeout beside A's ABORT TASK before
    CHECK(h.logout(s) == std::error_code{});
    finish(h, t);
}

TEST_CASE("command timeout: a command the target never counted, outside its window, recovers the session",
          "[session][scripted][timeout]")
{
    // A target that advertised a window it did not have drops a command past
    // it without a word (§4.2.2.1); ABORT TASK then finds no task and a
    // RefCmdSN outside the window (§11.5.1 c). Its CmdSN stays a hole that
    // every later command waits behind: a LUN reset does not fill it.
    scripted_target liar, honest;
    liar.run([](scripted_target& tg) {
        tg.login();
        const received_pdu a = tg.expect(opcode::scsi_command);
        const received_pdu tmf = tg.expect(opcode::task_mgmt_request);
        if (tmf.as<pdu::task_mgmt_request>().function != pdu::tmf_function::abort_task)
            tg.fail("expected ABORT TASK: " + tmf.describe());
        pdu::task_mgmt_response r;
        r.initiator_task_tag = tmf.itt();
        r.response = pdu::tmf_response::task_does_not_exist;
        tg.exp_cmd_sn = a.cmd_sn(); // never counted
        tg.stamp(r, true);
        tg.send(r);
        tg.drain_until_closed();
    });
    honest.run([](scripted_target& tg) {
        tg.login();
        const received_pdu a = tg.expect(opcode::scsi_command);
        tg.send_status(a.itt(), 0x00);
        tg.logout();
    });
    session_harness h;
    auto cfg = make_config({&liar, &honest});
    cfg.clock = h.clock;
    cfg.recover = true;
    cfg.login.proposals.default_time2wait = 0;
    cfg.command_timeout = 200ms;
    iscsi::session s(h.io, cfg);
    REQUIRE(h.login(s) == std::error_code{});
    tracked a;
    submit(s, test_unit_ready(), a);
    REQUIRE(h.advance_until([&] { return a.calls > 0; }, 10s));
    CHECK(a.result.good());              // sent again on a new session, answered
    CHECK(s.counters().reconnects == 1); // LUN RESET instead of recovery before
    CHECK(h.logout(s) == std::error_code{});
    finish(h, liar);
    finish(h, honest);
}
