// Session recovery against the scripted target (RFC 7143 §6.3.5, §7.1.4.4):
// what runs while a connection goes away, what is reissued, what fails and
// when.
#include "test/support/scripted_session.hpp"

#include "iscsi/session_error.hpp"

#include <atomic>
#include <deque>

using namespace ivs;
using namespace ivs::test;
using namespace std::chrono_literals;
using pdu::opcode;

TEST_CASE("a completion that submits while the connection is lost queues the command for the reinstated session",
          "[session][scripted][recovery]")
{
    // The ping fails inside the handling of the lost connection; its
    // completion submits at once (as the bridge does from a T2I): the
    // command must wait for the next connection, not be sent on none.
    scripted_target first, second;
    first.run([](scripted_target& tg) {
        tg.login();
        tg.expect(opcode::nop_out);
        tg.close(); // never answered
    });
    second.run([](scripted_target& tg) {
        tg.login();
        const received_pdu p = tg.expect(opcode::scsi_command);
        tg.send_status(p.itt(), 0x00);
        tg.logout();
    });
    auto cfg = make_config({&first, &second});
    cfg.recover = true;
    cfg.login.proposals.default_time2wait = 0;
    session_harness h;
    iscsi::session s(h.io, cfg);
    REQUIRE(h.login(s) == std::error_code{});
    tracked done;
    std::error_code ping_ec;
    int pings = 0;
    s.ping([&](std::error_code ec) {
        ++pings;
        ping_ec = ec;
        CHECK_FALSE(s.logged_in());
        submit(s, test_unit_ready(), done);
    });
    REQUIRE(h.run_until([&] { return done.calls > 0; }, 20s));
    settle(h);
    CHECK(pings == 1);
    CHECK(ping_ec);
    CHECK(done.calls == 1);
    INFO(done.result.error.message());
    CHECK(done.result.good());
    CHECK(s.counters().reconnects == 1);
    CHECK(h.logout(s) == std::error_code{});
    finish(h, first);
    finish(h, second);
}

TEST_CASE("every move of the session's life is logged with its RFC section", "[session][scripted][state]")
{
    scripted_target t;
    t.run([](scripted_target& tg) {
        tg.login();
        tg.logout();
    });
    auto lines = std::make_shared<std::vector<std::string>>();
    auto cfg = make_config({&t});
    cfg.log = log::sink([lines](log::level, std::string_view line) { lines->emplace_back(line); });
    session_harness h;
    iscsi::session s(h.io, cfg);
    REQUIRE(h.login(s) == std::error_code{});
    CHECK(h.logout(s) == std::error_code{});
    finish(h, t);
    std::vector<std::string> moves;
    for (const auto& l : *lines)
        if (l.find(" -> ") != std::string::npos)
            moves.push_back(l.substr(l.find(": ") + 2));
    REQUIRE(moves.size() == 5);
    CHECK(moves[0].rfind("idle -> connecting on start (\xc2\xa7", 0) == 0);
    CHECK(moves[1].rfind("connecting -> login on connected", 0) == 0);
    CHECK(moves[2].rfind("login -> full feature on login complete", 0) == 0);
    CHECK(moves[3].rfind("full feature -> logging out on logout", 0) == 0);
    CHECK(moves[4].rfind("logging out -> closed on connection closed", 0) == 0);
}

namespace {

constexpr std::uint64_t poison_lba = 666;

std::uint64_t lba_of(const pdu::scsi_command& c)
{
    std::uint64_t lba = 0;
    for (int i = 0; i < 8; ++i)
        lba = (lba << 8) | std::to_integer<std::uint64_t>(c.cdb[2 + i]);
    return lba;
}

// A target that serves READ(16)s with bytes derived from their LBA, except
// the poisoned LBA: that one gets a Data-In past its transfer length, a
// protocol error of that command alone (RFC 7143 §11.7), every time.
// Returns after a logout or once the initiator dropped the connection.
void serve(scripted_target& tg, std::atomic<int>& poisoned, const login_script& ls = {})
{
    tg.login(ls);
    for (;;) {
        const received_pdu p = tg.next();
        if (p.op() == opcode::logout_request)
            return tg.answer_logout(p);
        if (p.op() != opcode::scsi_command)
            tg.fail("unexpected " + p.describe());
        const auto cmd = p.command();
        if (lba_of(cmd) == poison_lba) {
            ++poisoned;
            tg.send_data_in(p.itt(), 0, 0, random_bytes(2 * cmd.expected_data_transfer_length, 1));
            return tg.drain_until_closed();
        }
        tg.send_data_in(p.itt(), 0, 0, random_bytes(cmd.expected_data_transfer_length, unsigned(lba_of(cmd))), true);
    }
}

} // namespace

TEST_CASE("a command that breaks its connection every time fails after max_reissues; other commands go on",
          "[session][scripted][recovery][reissue]")
{
    std::atomic<int> poisoned{0};
    scripted_target targets[6];
    for (auto& t : targets)
        t.run([&](scripted_target& tg) { serve(tg, poisoned); });
    auto cfg = make_config({&targets[0], &targets[1], &targets[2], &targets[3], &targets[4], &targets[5]});
    cfg.recover = true;
    cfg.login.proposals.default_time2wait = 0;
    session_harness h;
    cfg.clock = h.clock;
    REQUIRE(cfg.max_reissues == 3);
    iscsi::session s(h.io, cfg);
    REQUIRE(h.login(s) == std::error_code{});
    std::vector<std::byte> b1(4096), bp(4096), b2(4096), b3(4096);
    tracked g1, p, g2, g3;
    submit(s, rw16(false, 0, 1, 8, b1), g1);
    submit(s, rw16(false, 0, poison_lba, 8, bp), p);
    submit(s, rw16(false, 0, 2, 8, b2), g2);
    REQUIRE(h.run_until([&] { return p.calls > 0 && g2.calls > 0; }, 20s)); // reissued forever before
    CHECK(p.result.error == make_error_code(iscsi::session_errc::reissue_limit));
    // Beside G2 once (no one is charged: the bad Data-In names P, but the
    // tag may be what is wrong), then alone: charged three times, then it
    // fails. G2 was reissued once, alone, before it.
    CHECK(poisoned == 5);
    CHECK(g1.result.good());
    CHECK(g2.result.good());
    CHECK(compare_bytes(b2, random_bytes(4096, 2)) == "");
    submit(s, rw16(false, 0, 3, 8, b3), g3);
    REQUIRE(h.run_until([&] { return g3.calls > 0; }, 20s));
    CHECK(g3.result.good());
    CHECK(s.counters().reconnects == 5);
    CHECK(h.logout(s) == std::error_code{});
    for (auto& t : targets)
        finish(h, t);
    CHECK(p.calls == 1);
}

namespace {

// As serve(), but the poisoned LBA makes the target close the connection
// without a word: nothing the session could pin on one command.
void serve_hanging_up(scripted_target& tg, std::atomic<int>& poisoned)
{
    tg.login();
    for (;;) {
        const received_pdu p = tg.next();
        if (p.op() == opcode::logout_request)
            return tg.answer_logout(p);
        if (p.op() != opcode::scsi_command)
            tg.fail("unexpected " + p.describe());
        const auto cmd = p.command();
        if (lba_of(cmd) == poison_lba) {
            ++poisoned;
            return tg.close();
        }
        tg.send_data_in(p.itt(), 0, 0, random_bytes(cmd.expected_data_transfer_length, unsigned(lba_of(cmd))), true);
    }
}

} // namespace

TEST_CASE("a command whose arrival drops the connection every time fails alone; the command beside it completes",
          "[session][scripted][recovery][reissue]")
{
    // Both are outstanding when the connection drops: the session cannot
    // tell which one did it, so neither is charged and both are reissued
    // one at a time. The poisoned one then fails alone each time (charged,
    // tried last); the other completes.
    std::atomic<int> poisoned{0};
    scripted_target targets[6];
    for (auto& t : targets)
        t.run([&](scripted_target& tg) { serve_hanging_up(tg, poisoned); });
    auto cfg = make_config({&targets[0], &targets[1], &targets[2], &targets[3], &targets[4], &targets[5]});
    cfg.recover = true;
    cfg.login.proposals.default_time2wait = 0;
    session_harness h;
    cfg.clock = h.clock;
    REQUIRE(cfg.max_reissues == 3);
    iscsi::session s(h.io, cfg);
    REQUIRE(h.login(s) == std::error_code{});
    std::vector<std::byte> bp(4096), b2(4096), b3(4096);
    tracked p, g2, g3;
    submit(s, rw16(false, 0, poison_lba, 8, bp), p);
    submit(s, rw16(false, 0, 2, 8, b2), g2);
    REQUIRE(h.run_until([&] { return p.calls > 0 && g2.calls > 0; }, 20s));
    CHECK(p.result.error == make_error_code(iscsi::session_errc::reissue_limit));
    CHECK(g2.result.good()); // failed with reissue_limit too before
    CHECK(compare_bytes(b2, random_bytes(4096, 2)) == "");
    CHECK(poisoned == 5); // beside G2, then alone four times
    // Other I/O goes on once the session is back.
    std::vector<std::byte> b4(4096);
    tracked g4;
    submit(s, rw16(false, 0, 3, 8, b3), g3);
    submit(s, rw16(false, 0, 4, 8, b4), g4);
    REQUIRE(h.run_until([&] { return g3.calls > 0 && g4.calls > 0; }, 20s));
    CHECK(g3.result.good());
    CHECK(g4.result.good());
    CHECK(h.logout(s) == std::error_code{});
    for (auto& t : targets)
        finish(h, t);
    CHECK(p.calls == 1);
}

namespace {

// As serve(), but the poisoned LBA is answered with a Data-In that carries
// the task tag of the other command outstanding (an unknown tag when there
// is none), at a wrong offset: the bad PDU names an innocent command.
void serve_misdirecting(scripted_target& tg, std::atomic<int>& poisoned)
{
    tg.login();
    std::deque<received_pdu> queued;
    for (;;) {
        received_pdu p = queued.empty() ? tg.next() : std::move(queued.front());
        if (!queued.empty())
            queued.pop_front();
        if (p.op() == opcode::logout_request)
            return tg.answer_logout(p);
        if (p.op() != opcode::scsi_command)
            tg.fail("unexpected " + p.describe());
        const auto cmd = p.command();
        if (lba_of(cmd) == poison_lba) {
            ++poisoned;
            if (auto other = tg.try_next(std::chrono::milliseconds(50)))
                queued.push_back(std::move(*other));
            const std::uint32_t itt = queued.empty() ? 0x0badbeefu : queued.front().itt();
            tg.send_data_in(itt, 0, 512, random_bytes(512, 9));
            return tg.drain_until_closed();
        }
        tg.send_data_in(p.itt(), 0, 0, random_bytes(cmd.expected_data_transfer_length, unsigned(lba_of(cmd))), true);
    }
}

} // namespace

TEST_CASE("a bad PDU that names another command does not charge that command; the broken one fails alone",
          "[session][scripted][recovery][reissue]")
{
    std::atomic<int> poisoned{0};
    scripted_target targets[6];
    for (auto& t : targets)
        t.run([&](scripted_target& tg) { serve_misdirecting(tg, poisoned); });
    auto cfg = make_config({&targets[0], &targets[1], &targets[2], &targets[3], &targets[4], &targets[5]});
    cfg.recover = true;
    cfg.login.proposals.default_time2wait = 0;
    session_harness h;
    cfg.clock = h.clock;
    iscsi::session s(h.io, cfg);
    REQUIRE(h.login(s) == std::error_code{});
    std::vector<std::byte> bp(4096), b2(4096), b3(4096);
    tracked p, g2, g3;
    submit(s, rw16(false, 0, poison_lba, 8, bp), p);
    submit(s, rw16(false, 0, 2, 8, b2), g2);
    REQUIRE(h.run_until([&] { return p.calls > 0 && g2.calls > 0; }, 20s));
    CHECK(p.result.error == make_error_code(iscsi::session_errc::reissue_limit));
    CHECK(g2.result.good()); // was charged for P's Data-In and failed before
    CHECK(compare_bytes(b2, random_bytes(4096, 2)) == "");
    submit(s, rw16(false, 0, 3, 8, b3), g3);
    REQUIRE(h.run_until([&] { return g3.calls > 0; }, 20s));
    CHECK(g3.result.good());
    CHECK(h.logout(s) == std::error_code{});
    for (auto& t : targets)
        finish(h, t);
}

TEST_CASE("a command the target breaks every time fails within the command timeout, reissues or not",
          "[session][scripted][recovery][reissue]")
{
    // The target asks for 20 s between connections (DefaultTime2Wait,
    // §13.15): 3 reissues would take 60 s and more. The command makes no
    // progress, and a reissue is none: it fails at the command timeout.
    std::atomic<int> poisoned{0};
    login_script ls;
    set_key(ls, "DefaultTime2Wait", "20");
    scripted_target targets[4];
    for (auto& t : targets)
        t.run([&](scripted_target& tg) { serve(tg, poisoned, ls); });
    auto cfg = make_config({&targets[0], &targets[1], &targets[2], &targets[3]});
    session_harness h;
    cfg.clock = h.clock;
    cfg.recover = true;
    cfg.max_reissues = 100;
    cfg.command_timeout = iscsi::session_config{}.command_timeout; // the default
    REQUIRE(cfg.command_timeout == 60s);
    iscsi::session s(h.io, cfg);
    REQUIRE(h.login(s) == std::error_code{});
    REQUIRE(s.params().default_time2wait == 20);
    std::vector<std::byte> bp(4096), b1(4096);
    tracked p, g;
    const auto start = h.clock->now();
    submit(s, rw16(false, 0, poison_lba, 8, bp), p);
    REQUIRE(h.advance_until([&] { return p.calls > 0; }, 90s)); // reissued until the replacement timeout before
    CHECK(p.result.error == make_error_code(iscsi::session_errc::command_timeout));
    CHECK(h.clock->now() - start <= 61s);
    CHECK(poisoned == 3);
    // Other I/O goes on once the session is back.
    submit(s, rw16(false, 0, 1, 8, b1), g);
    REQUIRE(h.advance_until([&] { return g.calls > 0; }, 30s));
    CHECK(g.result.good());
    CHECK(h.logout(s) == std::error_code{});
    for (auto& t : targets)
        finish(h, t);
}
