// Smaller protocol rules of a session against the scripted target: the NOP-In
// echo bound (§11.18, §13.12), Text continuations inside the CmdSN window
// (§4.2.2.1, §11.10.4) and their timeout, a permanent redirect kept across
// recovery (§11.13.5), ABORT TASK only for a task sent (§11.5.1).
#include "test/support/scripted_session.hpp"

#include "iscsi/session_error.hpp"
#include "pdu/lun.hpp"

#include <atomic>

using namespace ivs;
using namespace ivs::test;
using namespace std::chrono_literals;
using pdu::opcode;

TEST_CASE("the echo of a target's NOP-In is bounded by the target's MaxRecvDataSegmentLength",
          "[session][scripted][nop]")
{
    login_script ls;
    set_key(ls, "MaxRecvDataSegmentLength", "512");
    const auto ping_data = random_bytes(2048, 51); // within our own MaxRecvDataSegmentLength
    scripted_target t;
    t.run([&](scripted_target& tg) {
        tg.login(ls);
        pdu::nop_in n;
        n.target_transfer_tag = 0x1234;
        n.data_segment_length = static_cast<std::uint32_t>(ping_data.size());
        tg.stamp(n, false);
        tg.send(n, ping_data);
        // A longer echo breaks the framing of a target that declared 512.
        const received_pdu echo = tg.expect(opcode::nop_out);
        if (echo.ttt() != 0x1234 || echo.data.size() != 512 ||
            !std::equal(echo.data.begin(), echo.data.end(), ping_data.begin()))
            tg.fail("expected the first 512 bytes echoed: " + echo.describe());
        tg.logout();
    });
    session_harness h;
    iscsi::session s(h.io, make_config({&t}));
    REQUIRE(h.login(s) == std::error_code{});
    REQUIRE(s.params().target_max_recv_data_segment_length == 512);
    REQUIRE(h.run_until([&] { return t.received_count() >= 3; }, 20s));
    CHECK(h.logout(s) == std::error_code{});
    finish(h, t);
}

TEST_CASE("a SendTargets continuation never goes beyond MaxCmdSN: it is immediate", "[session][scripted][text]")
{
    // tgtd's discovery session keeps MaxCmdSN where login left it, so its
    // window is closed after the first continuation: a non-immediate one
    // would have to wait for ever, or break §4.2.2.1.
    const pdu::text_list answer = {
        {"TargetName", "iqn.2026-11.org.iscsi-vscsi.test:a"},
        {"TargetAddress", "target.test:3260,1"},
        {"TargetName", "iqn.2026-11.org.iscsi-vscsi.test:b"},
        {"TargetAddress", "target.test:3260,1"},
    };
    scripted_target t;
    t.run([&](scripted_target& tg) {
        tg.login();
        const received_pdu q = tg.expect(opcode::text_request);
        const auto text = text_bytes(answer);
        tg.fixed_max_cmd_sn = q.cmd_sn(); // closed for anything after the request
        for (std::size_t offset = 0, n = 0; offset < text.size(); offset += 30, ++n) {
            const std::size_t len = std::min<std::size_t>(30, text.size() - offset);
            const bool last = offset + len == text.size();
            pdu::text_response r;
            r.final_bit = last;
            r.continue_bit = !last;
            r.initiator_task_tag = q.itt();
            r.target_transfer_tag = last ? pdu::reserved_tag : 0x55 + static_cast<std::uint32_t>(n);
            r.data_segment_length = static_cast<std::uint32_t>(len);
            tg.stamp(r, true);
            tg.send(r, std::span<const std::byte>(text).subspan(offset, len));
            if (last)
                break;
            // The scripted target fails a non-immediate one beyond MaxCmdSN.
            const received_pdu more = tg.expect(opcode::text_request);
            if (!more.immediate() || more.ttt() != r.target_transfer_tag || !more.data.empty() ||
                more.itt() != q.itt() || more.cmd_sn() != q.cmd_sn() + 1)
                tg.fail("bad continuation: " + more.describe());
        }
        tg.logout();
    });
    auto cfg = make_config({&t});
    cfg.login.type = iscsi::session_type::discovery;
    cfg.login.target_name.clear();
    session_harness h;
    iscsi::session s(h.io, cfg);
    REQUIRE(h.login(s) == std::error_code{});
    std::optional<std::error_code> ec;
    pdu::text_list got;
    s.send_targets([&](std::error_code e, const pdu::text_list& list) {
        ec = e;
        got = list;
    });
    REQUIRE(h.run_until([&] { return ec.has_value(); }, 20s));
    CHECK(*ec == std::error_code{});
    CHECK(got == answer);
    CHECK(h.logout(s) == std::error_code{});
    finish(h, t);
}

TEST_CASE("a SendTargets the target never answers ends at the command timeout", "[session][scripted][text]")
{
    scripted_target t;
    t.run([&](scripted_target& tg) {
        tg.login();
        tg.expect(opcode::text_request); // never answered
        tg.logout();
    });
    session_harness h;
    auto cfg = make_config({&t});
    cfg.clock = h.clock;
    cfg.command_timeout = 30s;
    iscsi::session s(h.io, cfg);
    REQUIRE(h.login(s) == std::error_code{});
    std::optional<std::error_code> ec;
    s.send_targets([&](std::error_code e, const pdu::text_list&) { ec = e; });
    const auto start = h.clock->now();
    REQUIRE(h.advance_until([&] { return ec.has_value(); }, 60s)); // hung before
    CHECK(*ec == make_error_code(iscsi::session_errc::timeout));
    CHECK(h.clock->now() - start >= 30s);
    CHECK(h.clock->now() - start < 32s);
    CHECK(s.logged_in());
    CHECK(h.logout(s) == std::error_code{});
    finish(h, t);
}

TEST_CASE("a permanent redirect (0x0102) is where recovery reconnects; a temporary one is not",
          "[session][scripted][login][recovery]")
{
    for (const std::uint8_t detail : {std::uint8_t{0x02}, std::uint8_t{0x01}}) {
        INFO("redirect 0x01" << std::hex << int(detail));
        scripted_target redirector, moved, after;
        redirector.run([detail](scripted_target& tg) {
            tg.login_status(pdu::login_status_class::redirection, detail, {{"TargetAddress", "moved.test:3261,1"}});
            tg.expect_closed();
        });
        moved.run([](scripted_target& tg) {
            tg.login();
            tg.close(); // the connection fails: recovery reconnects
        });
        after.run([](scripted_target& tg) {
            tg.login();
            tg.logout();
        });
        std::vector<iscsi::portal> portals;
        auto cfg = make_config({&redirector, &moved, &after}, &portals);
        cfg.recover = true;
        cfg.login.proposals.default_time2wait = 0;
        session_harness h;
        iscsi::session s(h.io, cfg);
        REQUIRE(h.login(s) == std::error_code{});
        REQUIRE(h.run_until([&] { return s.logged_in() && s.counters().reconnects == 1; }, 20s));
        CHECK(h.logout(s) == std::error_code{});
        finish(h, redirector);
        finish(h, moved);
        finish(h, after);
        REQUIRE(portals.size() == 3);
        CHECK(iscsi::format_portal(portals[1]) == "moved.test:3261");
        CHECK(iscsi::format_portal(portals[2]) == (detail == 0x02 ? "moved.test:3261" : "target.test:3260"));
    }
}

TEST_CASE("abort_task of a command not sent yet ends it here, without an ABORT TASK carrying no CmdSN",
          "[session][scripted][tmf]")
{
    std::atomic<bool> go{false};
    scripted_target t;
    t.run([&](scripted_target& tg) {
        tg.window = 1;
        tg.login();
        const received_pdu a = tg.expect(opcode::scsi_command); // the window is full now
        wait_for_go(tg, go);
        tg.expect_silence(100ms); // no ABORT TASK for the command never sent
        tg.send_status(a.itt(), 0x00);
        tg.expect_silence(100ms); // and the aborted command never goes out
        tg.logout();
    });
    session_harness h;
    iscsi::session s(h.io, make_config({&t}));
    REQUIRE(h.login(s) == std::error_code{});
    tracked a, b;
    submit(s, test_unit_ready(), a);
    submit(s, test_unit_ready(), b);
    const std::uint32_t b_tag = s.last_task_tag();
    REQUIRE(h.run_until([&] { return t.received_count() >= 3; }, 20s));
    std::optional<pdu::tmf_response> answer;
    s.abort_task(b_tag, [&](std::error_code ec, pdu::tmf_response r) {
        CHECK_FALSE(ec);
        answer = r;
    });
    CHECK(answer == std::optional<pdu::tmf_response>(pdu::tmf_response::function_complete));
    CHECK(b.calls == 1);
    CHECK(b.result.error == make_error_code(iscsi::session_errc::task_aborted));
    // A tag that is gone: answered as the target would, nothing sent.
    answer.reset();
    s.abort_task(b_tag, [&](std::error_code, pdu::tmf_response r) { answer = r; });
    CHECK(answer == std::optional<pdu::tmf_response>(pdu::tmf_response::task_does_not_exist));
    go = true;
    REQUIRE(h.run_until([&] { return a.calls > 0; }, 20s));
    CHECK(a.result.good());
    settle(h, 200ms); // the script's silence: B never goes out
    CHECK(h.logout(s) == std::error_code{});
    finish(h, t);
    CHECK(b.calls == 1);
}

TEST_CASE("a login the target never answers fails at the login timeout", "[session][scripted][login]")
{
    scripted_target t;
    t.run([](scripted_target& tg) {
        tg.expect(opcode::login_request); // never answered
        tg.expect_closed();
    });
    session_harness h;
    auto cfg = make_config({&t});
    cfg.clock = h.clock;
    cfg.login_timeout = 15s;
    iscsi::session s(h.io, cfg);
    std::optional<std::error_code> result;
    const auto start = h.clock->now();
    s.start([&](std::error_code ec, const std::string&) { result = ec; });
    REQUIRE(h.advance_until([&] { return result.has_value(); }, 60s));
    CHECK(*result == make_error_code(iscsi::session_errc::login_timeout));
    CHECK(h.clock->now() - start >= 15s);
    CHECK(h.clock->now() - start < 16s);
    finish(h, t);
}

TEST_CASE("redirects without end fail the login after max_redirects", "[session][scripted][login]")
{
    std::vector<std::unique_ptr<scripted_target>> targets;
    std::vector<scripted_target*> links;
    for (int i = 0; i < 4; ++i) {
        targets.push_back(std::make_unique<scripted_target>());
        links.push_back(targets.back().get());
        targets.back()->run([](scripted_target& tg) {
            tg.login_status(pdu::login_status_class::redirection, 0x01, {{"TargetAddress", "elsewhere.test:3260"}});
            tg.expect_closed();
        });
    }
    session_harness h;
    auto cfg = make_config(links);
    cfg.max_redirects = 3;
    iscsi::session s(h.io, cfg);
    std::string message;
    CHECK(h.login(s, &message) == make_error_code(iscsi::session_errc::redirect_loop));
    CHECK(message == "login failed: too many redirects");
    for (auto& t : targets)
        finish(h, *t);
}

TEST_CASE("an ExpCmdSN beyond the next CmdSN (commands never sent counted) recovers the session",
          "[session][scripted][sn]")
{
    // §4.2.2.1: ExpCmdSN is the next CmdSN the target expects. Taken as is,
    // it opens a window the target does not have: commands past it are
    // dropped there without a word and everything after waits behind them.
    scripted_target liar, honest;
    liar.run([](scripted_target& tg) {
        tg.login();
        const received_pdu a = tg.expect(opcode::scsi_command);
        tg.exp_cmd_sn += 5;
        tg.send_status(a.itt(), 0x00);
        tg.drain_until_closed();
    });
    honest.run([](scripted_target& tg) {
        tg.login();
        const received_pdu a = tg.expect(opcode::scsi_command);
        tg.send_status(a.itt(), 0x00);
        tg.logout();
    });
    auto cfg = make_config({&liar, &honest});
    cfg.recover = true;
    cfg.login.proposals.default_time2wait = 0;
    session_harness h;
    cfg.clock = h.clock;
    iscsi::session s(h.io, cfg);
    REQUIRE(h.login(s) == std::error_code{});
    tracked a;
    submit(s, test_unit_ready(), a);
    REQUIRE(h.run_until([&] { return a.calls > 0; }, 20s));
    CHECK(a.result.good());
    CHECK(s.counters().reconnects == 1); // the liar's status was not taken
    CHECK(h.logout(s) == std::error_code{});
    finish(h, liar);
    finish(h, honest);
}
