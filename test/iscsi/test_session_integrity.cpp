// Every byte accounted: a READ completes GOOD only with exactly the bytes its
// status promises, each Data-In starting where the previous one ended
// (DataPDUInOrder=Yes, RFC 7143 §11.7), its DataSN the next one (§11.7.5),
// the status matching the transfer (§11.4.5, §11.7.4); a WRITE completes
// GOOD only when the target took what the status says. Anything else is a
// protocol error: the connection drops and the command is reissued (ERL 0,
// §6.3.5) or, without recovery, fails; never does a caller get bytes that
// did not arrive.
#include "test/support/scripted_session.hpp"

#include "iscsi/session_error.hpp"

using namespace ivs;
using namespace ivs::test;
using namespace std::chrono_literals;
using pdu::opcode;

namespace {

constexpr std::uint32_t io_size = 4096;
constexpr std::byte untouched{0xee};

// A Data-In with whatever the case needs (status, residual flags).
void data_in(scripted_target& tg, std::uint32_t itt, std::uint32_t data_sn, std::uint32_t offset,
             std::span<const std::byte> data, bool status = false, bool underflow = false, std::uint32_t residual = 0)
{
    pdu::data_in d;
    d.initiator_task_tag = itt;
    d.data_sn = data_sn;
    d.buffer_offset = offset;
    d.data_segment_length = static_cast<std::uint32_t>(data.size());
    d.final_bit = status;
    d.status_bit = status;
    d.residual_underflow = underflow;
    d.residual_count = residual;
    tg.stamp(d, status);
    tg.send(d, data);
}

void scsi_response(scripted_target& tg, std::uint32_t itt, std::uint8_t status, bool underflow = false,
                   std::uint32_t residual = 0, std::uint32_t exp_data_sn = 0)
{
    pdu::scsi_response r;
    r.initiator_task_tag = itt;
    r.status = status;
    r.residual_underflow = underflow;
    r.residual_count = residual;
    r.exp_data_sn = exp_data_sn;
    tg.stamp(r, true);
    tg.send(r);
}

struct lying_case {
    const char* name;
    iscsi::session_errc expected;
    // After the READ of io_size bytes arrived (its PDU in `cmd`), sends the
    // lie; the initiator must then drop the connection.
    void (*lie)(scripted_target& tg, const received_pdu& cmd, const std::vector<std::byte>& payload);
};

const lying_case lies[] = {
    {"a zero-length Data-In skipping ahead, then GOOD", iscsi::session_errc::data_out_of_order,
     [](scripted_target& tg, const received_pdu& cmd, const std::vector<std::byte>& payload) {
         data_in(tg, cmd.itt(), 0, 0, bytes_of(payload, 0, 1024));
         data_in(tg, cmd.itt(), 1, io_size, {}, true); // offset 4096, no data, status GOOD
     }},
    {"GOOD without U after fewer bytes than the transfer length", iscsi::session_errc::transfer_mismatch,
     [](scripted_target& tg, const received_pdu& cmd, const std::vector<std::byte>& payload) {
         data_in(tg, cmd.itt(), 0, 0, bytes_of(payload, 0, 1024));
         scsi_response(tg, cmd.itt(), 0x00);
     }},
    {"GOOD collapsed into a short final Data-In", iscsi::session_errc::transfer_mismatch,
     [](scripted_target& tg, const received_pdu& cmd, const std::vector<std::byte>& payload) {
         data_in(tg, cmd.itt(), 0, 0, bytes_of(payload, 0, 2048), true);
     }},
    {"a SCSI Response before the command's data", iscsi::session_errc::transfer_mismatch,
     [](scripted_target& tg, const received_pdu& cmd, const std::vector<std::byte>& payload) {
         scsi_response(tg, cmd.itt(), 0x00);
         data_in(tg, cmd.itt(), 0, 0, bytes_of(payload, 0, io_size));
     }},
    {"an underflow residual smaller than what is missing", iscsi::session_errc::transfer_mismatch,
     [](scripted_target& tg, const received_pdu& cmd, const std::vector<std::byte>& payload) {
         data_in(tg, cmd.itt(), 0, 0, bytes_of(payload, 0, 1024), true, true, 1024); // claims 3072
     }},
    {"an underflow residual beyond the transfer length", iscsi::session_errc::transfer_mismatch,
     [](scripted_target& tg, const received_pdu& cmd, const std::vector<std::byte>&) {
         scsi_response(tg, cmd.itt(), 0x00, true, io_size + 512);
     }},
    {"ExpDataSN that does not count the Data-In sent", iscsi::session_errc::data_out_of_order,
     [](scripted_target& tg, const received_pdu& cmd, const std::vector<std::byte>& payload) {
         data_in(tg, cmd.itt(), 0, 0, bytes_of(payload, 0, 2048));
         data_in(tg, cmd.itt(), 1, 2048, bytes_of(payload, 2048, 2048));
         scsi_response(tg, cmd.itt(), 0x00, false, 0, 5);
     }},
    {"the final zero-length Data-In with a repeated DataSN", iscsi::session_errc::data_out_of_order,
     [](scripted_target& tg, const received_pdu& cmd, const std::vector<std::byte>& payload) {
         data_in(tg, cmd.itt(), 0, 0, bytes_of(payload, 0, io_size));
         data_in(tg, cmd.itt(), 0, io_size, {}, true);
     }},
};

} // namespace

TEST_CASE("a READ whose status lies about its data is a protocol error; nothing beyond what landed is used",
          "[session][scripted][integrity]")
{
    for (const auto& c : lies) {
        INFO("case: " << c.name);
        const auto payload = random_bytes(io_size, 31);
        scripted_target t;
        t.run([&](scripted_target& tg) {
            tg.login();
            const received_pdu cmd = tg.expect(opcode::scsi_command);
            c.lie(tg, cmd, payload);
            tg.expect_closed();
        });
        session_harness h;
        iscsi::session s(h.io, make_config({&t}));
        REQUIRE(h.login(s) == std::error_code{});
        std::vector<std::byte> buf(2 * io_size, untouched);
        tracked done;
        submit(s, rw16(false, 0, 0, io_size / 512, buf), done);
        REQUIRE(h.run_until([&] { return done.calls > 0; }, 20s));
        finish(h, t);
        settle(h, 20ms);
        CHECK(done.calls == 1);
        INFO("error: " << done.result.error.message());
        CHECK(done.result.error == make_error_code(c.expected));
        CHECK(done.result.data_in_bytes == 0);
        CHECK(std::all_of(buf.begin() + io_size, buf.end(), [](std::byte b) { return b == untouched; }));
    }
}

TEST_CASE("a READ whose status lies is reissued on the next connection and completes with the target's bytes",
          "[session][scripted][integrity][recovery]")
{
    const auto payload = random_bytes(io_size, 33);
    scripted_target bad, good;
    bad.run([&](scripted_target& tg) {
        tg.login();
        const received_pdu cmd = tg.expect(opcode::scsi_command);
        data_in(tg, cmd.itt(), 0, 0, bytes_of(payload, 0, 1024));
        data_in(tg, cmd.itt(), 1, io_size, {}, true);
        tg.expect_closed();
    });
    good.run([&](scripted_target& tg) {
        tg.login();
        const received_pdu cmd = tg.expect(opcode::scsi_command);
        data_in(tg, cmd.itt(), 0, 0, bytes_of(payload, 0, 2048));
        data_in(tg, cmd.itt(), 1, 2048, bytes_of(payload, 2048, 2048), true);
        tg.logout();
    });
    auto cfg = make_config({&bad, &good});
    cfg.recover = true;
    cfg.login.proposals.default_time2wait = 0;
    session_harness h;
    iscsi::session s(h.io, cfg);
    REQUIRE(h.login(s) == std::error_code{});
    std::vector<std::byte> buf(io_size, untouched);
    tracked done;
    submit(s, rw16(false, 0, 0, io_size / 512, buf), done);
    REQUIRE(h.run_until([&] { return done.calls > 0; }, 20s));
    CHECK(done.result.good());
    CHECK(done.result.data_in_bytes == io_size);
    CHECK(compare_bytes(buf, payload) == "");
    CHECK(s.counters().reissued == 1);
    CHECK(h.logout(s) == std::error_code{});
    finish(h, bad);
    finish(h, good);
}

TEST_CASE("a READ that ends short with an honest underflow residual completes GOOD with what landed",
          "[session][scripted][integrity]")
{
    const auto payload = random_bytes(io_size, 35);
    scripted_target t;
    t.run([&](scripted_target& tg) {
        tg.login();
        // Collapsed status with U (tgtd's shape) ...
        received_pdu cmd = tg.expect(opcode::scsi_command);
        data_in(tg, cmd.itt(), 0, 0, bytes_of(payload, 0, 1024), true, true, io_size - 1024);
        // ... and a separate SCSI Response with U and ExpDataSN (§11.4.6), or 0 as tgtd sends.
        cmd = tg.expect(opcode::scsi_command);
        data_in(tg, cmd.itt(), 0, 0, bytes_of(payload, 0, 512));
        data_in(tg, cmd.itt(), 1, 512, bytes_of(payload, 512, 512));
        scsi_response(tg, cmd.itt(), 0x00, true, io_size - 1024, 2);
        cmd = tg.expect(opcode::scsi_command);
        data_in(tg, cmd.itt(), 0, 0, bytes_of(payload, 0, io_size));
        scsi_response(tg, cmd.itt(), 0x00, false, 0, 0);
        tg.logout();
    });
    session_harness h;
    iscsi::session s(h.io, make_config({&t}));
    REQUIRE(h.login(s) == std::error_code{});
    for (std::uint32_t expected : {1024u, 1024u, io_size}) {
        std::vector<std::byte> buf(io_size, untouched);
        const auto r = h.execute(s, rw16(false, 0, 0, io_size / 512, buf));
        INFO(r.error.message());
        CHECK(r.good());
        CHECK(r.data_in_bytes == expected);
        CHECK(std::equal(buf.begin(), buf.begin() + expected, payload.begin()));
        CHECK(std::all_of(buf.begin() + expected, buf.end(), [](std::byte b) { return b == untouched; }));
    }
    CHECK(h.logout(s) == std::error_code{});
    finish(h, t);
}

TEST_CASE("a WRITE answered GOOD must have been asked for all its data, or say what it did not take",
          "[session][scripted][integrity]")
{
    login_script ls;
    set_key(ls, "ImmediateData", "No");
    const auto data = random_bytes(io_size, 37);
    SECTION("R2T for half of it, then GOOD without U: protocol error")
    {
        scripted_target t;
        t.run([&](scripted_target& tg) {
            tg.login(ls);
            const received_pdu cmd = tg.expect(opcode::scsi_command);
            tg.send_r2t(cmd.itt(), 0x10, 0, 0, io_size / 2);
            tg.collect_data_out(cmd.itt(), 0x10, 0, io_size / 2);
            tg.send_status(cmd.itt(), 0x00);
            tg.expect_closed();
        });
        session_harness h;
        iscsi::session s(h.io, make_config({&t}));
        REQUIRE(h.login(s) == std::error_code{});
        auto buf = data;
        const auto r = h.execute(s, rw16(true, 0, 0, io_size / 512, buf));
        CHECK(r.error == make_error_code(iscsi::session_errc::transfer_mismatch));
        finish(h, t);
    }
    SECTION("R2T for half of it, then GOOD with U for the other half: the caller sees the residual")
    {
        scripted_target t;
        t.run([&](scripted_target& tg) {
            tg.login(ls);
            const received_pdu cmd = tg.expect(opcode::scsi_command);
            tg.send_r2t(cmd.itt(), 0x10, 0, 0, io_size / 2);
            tg.collect_data_out(cmd.itt(), 0x10, 0, io_size / 2);
            tg.send_status(cmd.itt(), 0x00, {}, io_size / 2);
            tg.logout();
        });
        session_harness h;
        iscsi::session s(h.io, make_config({&t}));
        REQUIRE(h.login(s) == std::error_code{});
        auto buf = data;
        const auto r = h.execute(s, rw16(true, 0, 0, io_size / 512, buf));
        CHECK(r.good());
        CHECK(r.residual_underflow);
        CHECK(r.residual == io_size / 2);
        CHECK(h.logout(s) == std::error_code{});
        finish(h, t);
    }
}

TEST_CASE("a Reject of a non-immediate command leaves a CmdSN hole the initiator plugs with ABORT TASK",
          "[session][scripted][integrity][reject]")
{
    // RFC 7143 §7.3: the target does not count the rejected CmdSN, so with a
    // window of one nothing further can be sent until the initiator plugs
    // the hole; ABORT TASK with RefCmdSN = that CmdSN does (§11.5.1).
    scripted_target t;
    std::uint32_t rejected_sn = 0, plug_ref = 0, plug_itt = 0, rejected_itt = 0;
    t.run([&](scripted_target& tg) {
        tg.window = 1; // MaxCmdSN = ExpCmdSN
        tg.login();
        const received_pdu a = tg.expect(opcode::scsi_command);
        rejected_sn = a.cmd_sn();
        rejected_itt = a.itt();
        pdu::reject r;
        r.reason = pdu::reject_reason::invalid_pdu_field;
        tg.stamp(r, true);
        tg.send(r, a.bhs);
        if (tg.cmd_sn_holes() != 1 || tg.exp_cmd_sn != rejected_sn)
            tg.fail("the scripted target counted the rejected command");
        const received_pdu plug = tg.expect(opcode::task_mgmt_request);
        const auto m = plug.as<pdu::task_mgmt_request>();
        plug_ref = m.ref_cmd_sn;
        plug_itt = m.referenced_task_tag;
        if (!plug.immediate() || m.function != pdu::tmf_function::abort_task || tg.cmd_sn_holes() != 0)
            tg.fail("expected an immediate ABORT TASK plugging the hole: " + plug.describe());
        pdu::task_mgmt_response answer;
        answer.initiator_task_tag = plug.itt();
        answer.response = pdu::tmf_response::function_complete;
        tg.stamp(answer, true);
        tg.send(answer);
        const received_pdu b = tg.expect(opcode::scsi_command);
        if (b.cmd_sn() != rejected_sn + 1)
            tg.fail("the next command does not follow the plugged CmdSN");
        tg.send_status(b.itt(), 0x00);
        tg.logout();
    });
    session_harness h;
    iscsi::session s(h.io, make_config({&t}));
    REQUIRE(h.login(s) == std::error_code{});
    tracked first, second;
    submit(s, test_unit_ready(), first);
    REQUIRE(h.run_until([&] { return first.calls > 0; }, 20s));
    CHECK(first.result.error == make_error_code(iscsi::session_errc::rejected));
    submit(s, test_unit_ready(), second);
    CHECK(h.run_until([&] { return second.calls > 0; }, 10s)); // hung before: the window never opened
    CHECK(second.result.good());
    CHECK(plug_ref == rejected_sn);
    CHECK(plug_itt == rejected_itt);
    if (second.calls > 0)
        CHECK(h.logout(s) == std::error_code{});
    finish(h, t);
    settle(h, 20ms);
    CHECK(first.calls == 1);
    CHECK(second.calls == 1);
    CHECK(s.tasks_in_flight() == 0);
}

TEST_CASE("a Reject of an immediate command leaves no hole: nothing is plugged",
          "[session][scripted][integrity][reject]")
{
    scripted_target t;
    t.run([&](scripted_target& tg) {
        tg.login();
        const received_pdu ping = tg.expect(opcode::nop_out);
        pdu::reject r;
        r.reason = pdu::reject_reason::immediate_command_reject;
        tg.stamp(r, true);
        tg.send(r, ping.bhs);
        const received_pdu cmd = tg.expect(opcode::scsi_command); // no ABORT TASK first
        tg.send_status(cmd.itt(), 0x00);
        tg.logout();
    });
    session_harness h;
    iscsi::session s(h.io, make_config({&t}));
    REQUIRE(h.login(s) == std::error_code{});
    std::optional<std::error_code> ping;
    s.ping([&](std::error_code ec) { ping = ec; });
    REQUIRE(h.run_until([&] { return ping.has_value(); }, 20s));
    CHECK(*ping == make_error_code(iscsi::session_errc::rejected));
    const auto r = h.execute(s, test_unit_ready());
    CHECK(r.good());
    CHECK(h.logout(s) == std::error_code{});
    finish(h, t);
}
