// Session recovery against the scripted target (RFC 7143 §6.3.5, §7.1.4.4):
// what runs while a connection goes away, what is reissued, what fails and
// when.
#include "scripted_session.hpp"

#include "iscsi/session_error.hpp"

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
