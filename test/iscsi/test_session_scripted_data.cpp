// iscsi::session against a scripted fake target over a socketpair: Data-In
// and R2T shapes, protocol violations, status with sense, rejects and task
// management. RFC 7143 §4.2.5, §11.4-§11.8, §11.17.
#include "test/support/scripted_session.hpp"

#include "iscsi/session_error.hpp"
#include "pdu/lun.hpp"

#include <atomic>

using namespace ivs;
using namespace ivs::test;
using namespace std::chrono_literals;
using pdu::opcode;

// ---- data transfer ----

TEST_CASE("READ: Data-In over several PDUs, status in the last, residual underflow", "[session][scripted][data]")
{
    scripted_target t;
    const auto payload = test::random_bytes(3000, 7);
    t.run([&](scripted_target& tg) {
        tg.login();
        const received_pdu p = tg.expect(opcode::scsi_command);
        const auto cmd = p.command();
        if (!cmd.read_bit || cmd.write_bit || !cmd.final_bit || cmd.expected_data_transfer_length != 4096)
            tg.fail("READ command with wrong flags or length");
        if (cmd.cdb[0] != std::byte{0x88} || cmd.lun != pdu::encode_lun(3) || !p.data.empty())
            tg.fail("READ command with a wrong CDB, LUN or data");
        tg.send_data_in(p.itt(), 0, 0, bytes_of(payload, 0, 1024));
        tg.send_data_in(p.itt(), 1, 1024, bytes_of(payload, 1024, 1024));
        tg.send_data_in(p.itt(), 2, 2048, bytes_of(payload, 2048, 952), true, 4096 - 3000);
        tg.logout();
    });
    tracked done;
    test::session_harness h;
    iscsi::session s(h.io, make_config({&t}));
    REQUIRE(h.login(s) == std::error_code{});
    std::vector<std::byte> buf(8192, std::byte{0xee});
    submit(s, rw16(false, 3, 100, 8, buf), done);
    REQUIRE(h.run_until([&] { return done.calls > 0; }, 20s));
    settle(h);
    CHECK(done.calls == 1);
    INFO(done.result.error.message());
    CHECK(done.result.good());
    CHECK(done.result.data_in_bytes == 3000);
    CHECK(done.result.residual_underflow);
    CHECK_FALSE(done.result.residual_overflow);
    CHECK(done.result.residual == 1096);
    CHECK(std::equal(payload.begin(), payload.end(), buf.begin()));
    CHECK(std::all_of(buf.begin() + 3000, buf.end(), [](std::byte b) { return b == std::byte{0xee}; }));
    CHECK(s.counters().bytes_read == 3000);
    CHECK(h.logout(s) == std::error_code{});
    finish(h, t);
}

TEST_CASE("READ with a lease: each segment lands where the lease says, or in read_buffer", "[session][scripted][data]")
{
    scripted_target t;
    const auto payload = test::random_bytes(4096, 9);
    t.run([&](scripted_target& tg) {
        tg.login();
        const received_pdu p = tg.expect(opcode::scsi_command);
        tg.send_data_in(p.itt(), 0, 0, bytes_of(payload, 0, 1024));
        tg.send_data_in(p.itt(), 1, 1024, bytes_of(payload, 1024, 1024));
        tg.send_data_in(p.itt(), 2, 2048, bytes_of(payload, 2048, 2048), true);
        tg.logout();
    });
    tracked done;
    test::session_harness h;
    iscsi::session s(h.io, make_config({&t}));
    REQUIRE(h.login(s) == std::error_code{});
    std::vector<std::byte> own(4096, std::byte{0xee}), other(4096, std::byte{0xee});
    auto req = rw16(false, 0, 0, 8, own);
    // Lends `other` (zero copy: the caller's memory, not read_buffer).
    struct lease final : iscsi::buffer_lease {
        std::vector<std::byte>* other = nullptr;
        std::vector<std::pair<std::uint32_t, std::uint32_t>> asked;
        std::vector<std::pair<std::uint32_t, const std::byte*>> landed;
        std::span<std::byte> data_in_destination(std::uint32_t offset, std::uint32_t length) override
        {
            asked.emplace_back(offset, length);
            if (offset == 1024)
                return {}; // declined: read_buffer
            if (offset == 2048)
                return std::span<std::byte>(*other).subspan(offset, length - 1); // wrong size: read_buffer
            return std::span<std::byte>(*other).subspan(offset, length);
        }
        void data_in_landed(std::uint32_t offset, std::span<const std::byte> data) override
        {
            landed.emplace_back(offset, data.data());
        }
    } l;
    l.other = &other;
    req.lease = &l;
    submit(s, req, done);
    REQUIRE(h.run_until([&] { return done.calls > 0; }, 20s));
    CHECK(done.result.good());
    CHECK(done.result.data_in_bytes == 4096);
    CHECK(l.asked == std::vector<std::pair<std::uint32_t, std::uint32_t>>{{0, 1024}, {1024, 1024}, {2048, 2048}});
    CHECK(l.landed == std::vector<std::pair<std::uint32_t, const std::byte*>>{
                          {0, other.data()}, {1024, own.data() + 1024}, {2048, own.data() + 2048}});
    CHECK(std::equal(payload.begin(), payload.begin() + 1024, other.begin()));
    CHECK(std::all_of(own.begin(), own.begin() + 1024, [](std::byte b) { return b == std::byte{0xee}; }));
    CHECK(std::equal(payload.begin() + 1024, payload.end(), own.begin() + 1024));
    l.withdraw(); // no longer in the session: the connection stays
    CHECK(s.logged_in());
    CHECK(h.logout(s) == std::error_code{});
    finish(h, t);
}

TEST_CASE("READ with a lease withdrawn while a segment lands in it: the connection drops, the reissue lands "
          "where the lease says next",
          "[session][scripted][data][recovery]")
{
    // The first target sends the header of a 4096-byte Data-In and half its
    // data, then waits: the segment is landing in the lent memory.
    const auto payload = test::random_bytes(4096, 13);
    std::atomic<bool> half_sent{false}, go{false};
    scripted_target first, second;
    first.run([&](scripted_target& tg) {
        tg.login();
        const received_pdu p = tg.expect(opcode::scsi_command);
        tg.send_data_in_header(p.itt(), 0, 0, 4096, false);
        tg.send_bytes(bytes_of(payload, 0, 2048));
        half_sent = true;
        wait_for_go(tg, go);
        tg.send_bytes(bytes_of(payload, 2048, 2048)); // EPIPE is ignored
        tg.expect_closed();
    });
    second.run([&](scripted_target& tg) {
        tg.login();
        const received_pdu p = tg.expect(opcode::scsi_command);
        tg.send_data_in(p.itt(), 0, 0, bytes_of(payload, 0, 4096), true);
        tg.logout();
    });
    tracked done;
    test::session_harness h;
    auto cfg = make_config({&first, &second});
    cfg.recover = true;
    cfg.login.proposals.default_time2wait = 0;
    iscsi::session s(h.io, cfg);
    REQUIRE(h.login(s) == std::error_code{});
    std::vector<std::byte> own(4096, std::byte{0xee}), lent(4096, std::byte{0xee});
    struct lease final : iscsi::buffer_lease {
        std::span<std::byte> lent;
        std::size_t delivered = 0;
        std::span<std::byte> data_in_destination(std::uint32_t offset, std::uint32_t length) override
        {
            return lent.empty() ? std::span<std::byte>{} : lent.subspan(offset, length);
        }
        void data_in_landed(std::uint32_t offset, std::span<const std::byte> data) override
        {
            delivered = std::max<std::size_t>(delivered, offset + data.size());
        }
    } l;
    l.lent = lent;
    auto req = rw16(false, 0, 0, 8, own);
    req.lease = &l;
    submit(s, req, done);
    REQUIRE(h.run_until([&] { return half_sent.load(); }, 20s));
    settle(h, 100ms); // the header and half the data are read
    CHECK(l.delivered == 0);
    l.lent = {};
    l.withdraw();                                         // the rest of the segment must not land there
    std::fill(lent.begin(), lent.end(), std::byte{0x5a}); // given back: reused at once
    go = true;
    REQUIRE(h.run_until([&] { return done.calls > 0; }, 20s));
    CHECK(done.result.good());
    CHECK(s.counters().reconnects == 1);
    CHECK(std::all_of(lent.begin(), lent.end(), [](std::byte b) { return b == std::byte{0x5a}; }));
    CHECK(std::equal(payload.begin(), payload.end(), own.begin()));
    CHECK(l.delivered == 4096);
    CHECK(h.logout(s) == std::error_code{});
    finish(h, first);
    finish(h, second);
}

TEST_CASE("WRITE answers each R2T with Data-Out bounded by the target's MaxRecvDataSegmentLength",
          "[session][scripted][data]")
{
    scripted_target t;
    login_script ls;
    set_key(ls, "ImmediateData", "No");
    set_key(ls, "MaxBurstLength", "16384");
    set_key(ls, "FirstBurstLength", "8192");
    set_key(ls, "MaxRecvDataSegmentLength", "4096");
    const auto data = test::random_bytes(32768, 11);
    std::vector<std::byte> written;
    t.run([&](scripted_target& tg) {
        tg.login(ls);
        const received_pdu p = tg.expect(opcode::scsi_command);
        const auto cmd = p.command();
        // InitialR2T=Yes, ImmediateData=No: no unsolicited data at all (§13.10, §13.11).
        if (!cmd.write_bit || cmd.read_bit || !cmd.final_bit || !p.data.empty() ||
            cmd.expected_data_transfer_length != 32768)
            tg.fail("WRITE command with wrong flags, length or data");
        tg.send_r2t(p.itt(), 0x100, 0, 0, 16384);
        written = tg.collect_data_out(p.itt(), 0x100, 0, 16384);
        tg.send_r2t(p.itt(), 0x101, 1, 16384, 16384);
        const auto rest = tg.collect_data_out(p.itt(), 0x101, 16384, 16384);
        written.insert(written.end(), rest.begin(), rest.end());
        tg.send_status(p.itt(), 0x00);
        tg.logout();
    });
    tracked done;
    test::session_harness h;
    iscsi::session s(h.io, make_config({&t}));
    REQUIRE(h.login(s) == std::error_code{});
    REQUIRE(s.params().target_max_recv_data_segment_length == 4096);
    auto buf = data;
    submit(s, rw16(true, 0, 0, 64, buf), done);
    REQUIRE(h.run_until([&] { return done.calls > 0; }, 20s));
    settle(h);
    CHECK(done.calls == 1);
    INFO(done.result.error.message());
    CHECK(done.result.good());
    CHECK(h.logout(s) == std::error_code{});
    finish(h, t);
    CHECK(compare_bytes(written, data) == "");
    std::size_t data_outs = 0;
    for (const auto& p : t.received())
        if (p.op() == opcode::data_out) {
            ++data_outs;
            CHECK(p.data.size() == 4096);
        }
    CHECK(data_outs == 8);
}

TEST_CASE("WRITE with InitialR2T=No sends immediate and unsolicited data first", "[session][scripted][data]")
{
    scripted_target t;
    login_script ls;
    set_key(ls, "InitialR2T", "No");
    set_key(ls, "ImmediateData", "Yes");
    set_key(ls, "FirstBurstLength", "8192");
    set_key(ls, "MaxRecvDataSegmentLength", "4096");
    const auto data = test::random_bytes(24576, 13);
    std::vector<std::byte> written;
    t.run([&](scripted_target& tg) {
        tg.login(ls);
        const received_pdu p = tg.expect(opcode::scsi_command);
        const auto cmd = p.command();
        // §4.2.5.2: immediate data up to the target's MaxRecvDataSegmentLength,
        // the rest of FirstBurstLength as unsolicited Data-Out (TTT 0xffffffff);
        // F=0 because unsolicited Data-Out follows.
        if (!cmd.write_bit || cmd.final_bit || p.data.size() != 4096)
            tg.fail("WRITE command: expected F=0 and 4096 bytes of immediate data");
        written = p.data;
        const auto unsolicited = tg.collect_data_out(p.itt(), pdu::reserved_tag, 4096, 4096);
        written.insert(written.end(), unsolicited.begin(), unsolicited.end());
        tg.expect_silence(100ms); // nothing more before an R2T
        tg.send_r2t(p.itt(), 0x200, 0, 8192, 16384);
        const auto solicited = tg.collect_data_out(p.itt(), 0x200, 8192, 16384);
        written.insert(written.end(), solicited.begin(), solicited.end());
        tg.send_status(p.itt(), 0x00);
        tg.logout();
    });
    tracked done;
    test::session_harness h;
    iscsi::session s(h.io, make_config({&t}));
    REQUIRE(h.login(s) == std::error_code{});
    REQUIRE_FALSE(s.params().initial_r2t);
    auto buf = data;
    submit(s, rw16(true, 0, 8, 48, buf), done);
    REQUIRE(h.run_until([&] { return done.calls > 0; }, 20s));
    settle(h);
    CHECK(done.calls == 1);
    INFO(done.result.error.message());
    CHECK(done.result.good());
    CHECK(h.logout(s) == std::error_code{});
    finish(h, t);
    CHECK(compare_bytes(written, data) == "");
}

TEST_CASE("R2T beyond the expected length drops the connection and fails the command",
          "[session][scripted][data][error]")
{
    scripted_target t;
    login_script ls;
    set_key(ls, "ImmediateData", "No");
    t.run([&](scripted_target& tg) {
        tg.login(ls);
        const received_pdu p = tg.expect(opcode::scsi_command);
        tg.send_r2t(p.itt(), 0x300, 0, 0, 8192); // the command moves 4096 bytes
        tg.expect_closed();                      // and no Data-Out goes out
    });
    tracked done;
    test::session_harness h;
    iscsi::session s(h.io, make_config({&t}));
    REQUIRE(h.login(s) == std::error_code{});
    auto buf = test::random_bytes(4096, 3);
    submit(s, rw16(true, 0, 0, 8, buf), done);
    REQUIRE(h.run_until([&] { return done.calls > 0; }, 20s));
    settle(h);
    CHECK(done.calls == 1);
    CHECK(done.result.error == make_error_code(iscsi::session_errc::r2t_out_of_range));
    CHECK_FALSE(s.logged_in());
    finish(h, t);
}

TEST_CASE("R2Ts asking for the same data again drop the connection", "[session][scripted][data][error]")
{
    scripted_target t;
    login_script ls;
    set_key(ls, "ImmediateData", "No");
    t.run([&](scripted_target& tg) {
        tg.login(ls);
        const received_pdu p = tg.expect(opcode::scsi_command);
        tg.send_r2t(p.itt(), 0x300, 0, 0, 4096);
        tg.collect_data_out(p.itt(), 0x300, 0, 4096);
        tg.send_r2t(p.itt(), 0x301, 1, 0, 4096); // ERL 0: every byte is asked for once
        tg.expect_closed();
    });
    tracked done;
    test::session_harness h;
    iscsi::session s(h.io, make_config({&t}));
    REQUIRE(h.login(s) == std::error_code{});
    auto buf = test::random_bytes(4096, 4);
    submit(s, rw16(true, 0, 0, 8, buf), done);
    REQUIRE(h.run_until([&] { return done.calls > 0; }, 20s));
    settle(h);
    CHECK(done.calls == 1);
    CHECK(done.result.error == make_error_code(iscsi::session_errc::r2t_out_of_range));
    finish(h, t);
}

TEST_CASE("malformed Data-In fails the command without a crash", "[session][scripted][data][error]")
{
    struct variant {
        const char* name;
        iscsi::session_errc expected;
    };
    const variant variants[] = {
        {"wrong DataSN", iscsi::session_errc::data_out_of_order},
        {"unknown ITT", iscsi::session_errc::unknown_task},
        {"beyond the buffer", iscsi::session_errc::data_overflow},
    };
    for (const auto& v : variants) {
        DYNAMIC_SECTION(v.name)
        {
            scripted_target t;
            const auto payload = test::random_bytes(8192, 5);
            const std::string which = v.name;
            t.run([&](scripted_target& tg) {
                tg.login();
                const received_pdu p = tg.expect(opcode::scsi_command);
                tg.send_data_in(p.itt(), 0, 0, bytes_of(payload, 0, 1024));
                if (which == "wrong DataSN")
                    tg.send_data_in(p.itt(), 2, 1024, bytes_of(payload, 1024, 1024));
                else if (which == "unknown ITT")
                    tg.send_data_in(p.itt() ^ 0x5a5a, 1, 1024, bytes_of(payload, 1024, 1024));
                else
                    tg.send_data_in(p.itt(), 1, 1024, bytes_of(payload, 1024, 4096));
                tg.expect_closed();
            });
            tracked done;
            test::session_harness h;
            iscsi::session s(h.io, make_config({&t}));
            REQUIRE(h.login(s) == std::error_code{});
            std::vector<std::byte> buf(8192, std::byte{0xee});
            submit(s, rw16(false, 0, 0, 8, buf), done);
            REQUIRE(h.run_until([&] { return done.calls > 0; }, 20s));
            settle(h);
            CHECK(done.calls == 1);
            CHECK(done.result.error == make_error_code(v.expected));
            // Nothing landed past the command's 4096 bytes.
            CHECK(std::all_of(buf.begin() + 4096, buf.end(), [](std::byte b) { return b == std::byte{0xee}; }));
            finish(h, t);
        }
    }
}

TEST_CASE("CHECK CONDITION with sense data", "[session][scripted][status]")
{
    scripted_target t;
    const auto sense = test::fixed_sense(0x06, 0x29, 0x00);
    t.run([&](scripted_target& tg) {
        tg.login();
        const received_pdu p = tg.expect(opcode::scsi_command);
        const auto cmd = p.command();
        if (cmd.read_bit || cmd.write_bit || cmd.expected_data_transfer_length != 0)
            tg.fail("TEST UNIT READY with a data direction");
        tg.send_status(p.itt(), 0x02, sense);
        tg.logout();
    });
    tracked done;
    test::session_harness h;
    iscsi::session s(h.io, make_config({&t}));
    REQUIRE(h.login(s) == std::error_code{});
    submit(s, test_unit_ready(), done);
    REQUIRE(h.run_until([&] { return done.calls > 0; }, 20s));
    settle(h);
    CHECK(done.calls == 1);
    CHECK_FALSE(done.result.error);
    CHECK(done.result.response == 0);
    CHECK(done.result.status == 0x02);
    CHECK_FALSE(done.result.good());
    const auto got = done.result.sense_data();
    CHECK(std::vector<std::byte>(got.begin(), got.end()) == sense);
    CHECK(h.logout(s) == std::error_code{});
    finish(h, t);
}

TEST_CASE("Reject of a SCSI Command fails that command only", "[session][scripted][status]")
{
    scripted_target t;
    t.run([](scripted_target& tg) {
        tg.login();
        const received_pdu p = tg.expect(opcode::scsi_command);
        pdu::reject r;
        r.reason = pdu::reject_reason::invalid_pdu_field;
        tg.stamp(r, true);
        tg.send(r, p.bhs); // §11.17: the rejected header is the data segment
        // §7.3: the rejected CmdSN is a hole the initiator plugs (§11.5.1).
        const auto plug = tg.answer_tmf();
        if (plug.function != pdu::tmf_function::abort_task || plug.ref_cmd_sn != p.cmd_sn())
            tg.fail("expected ABORT TASK of the rejected CmdSN");
        const received_pdu second = tg.expect(opcode::scsi_command);
        tg.send_status(second.itt(), 0x00);
        tg.logout();
    });
    tracked first, second;
    test::session_harness h;
    iscsi::session s(h.io, make_config({&t}));
    REQUIRE(h.login(s) == std::error_code{});
    submit(s, test_unit_ready(), first);
    REQUIRE(h.run_until([&] { return first.calls > 0; }, 20s));
    CHECK(first.result.error == make_error_code(iscsi::session_errc::rejected));
    CHECK(s.logged_in());
    submit(s, test_unit_ready(), second);
    REQUIRE(h.run_until([&] { return second.calls > 0; }, 20s));
    settle(h);
    CHECK(first.calls == 1);
    CHECK(second.calls == 1);
    CHECK(second.result.good());
    CHECK(h.logout(s) == std::error_code{});
    finish(h, t);
}

TEST_CASE("Reject of a WRITE whose data is still going out completes only after the data is sent",
          "[session][scripted][status][data]")
{
    // 1 MiB of unsolicited Data-Out cannot fit in the socket buffers, so the
    // Reject arrives while the session still sends from the caller's buffer,
    // which must stay in use until the completion (session.hpp).
    constexpr std::uint32_t length = 1 << 20;
    scripted_target t;
    login_script ls;
    set_key(ls, "InitialR2T", "No");
    set_key(ls, "ImmediateData", "No");
    set_key(ls, "MaxBurstLength", std::to_string(length));
    set_key(ls, "FirstBurstLength", std::to_string(length));
    const auto data = test::random_bytes(length, 17);
    std::vector<std::byte> sent;
    t.run([&](scripted_target& tg) {
        tg.login(ls);
        const received_pdu p = tg.expect(opcode::scsi_command);
        pdu::reject r;
        r.reason = pdu::reject_reason::invalid_pdu_field;
        tg.stamp(r, true);
        tg.send(r, p.bhs);
        sent = tg.collect_data_out(p.itt(), pdu::reserved_tag, 0, length);
        tg.answer_tmf(); // the plug of the rejected CmdSN (§7.3)
        tg.logout();
    });
    tracked done;
    test::session_harness h;
    auto cfg = make_config({&t});
    cfg.login.proposals.first_burst_length = length;
    iscsi::session s(h.io, cfg);
    REQUIRE(h.login(s) == std::error_code{});
    REQUIRE(s.params().first_burst_length == length);
    auto buf = data;
    s.submit(rw16(true, 0, 0, length / 512, buf), [&](const iscsi::scsi_result& res) {
        ++done.calls;
        done.result = res;
        std::fill(buf.begin(), buf.end(), std::byte{0xff}); // the caller reuses its buffer
    });
    REQUIRE(h.run_until([&] { return done.calls > 0; }, 20s));
    settle(h);
    CHECK(done.calls == 1);
    CHECK(done.result.error == make_error_code(iscsi::session_errc::rejected));
    CHECK(h.logout(s) == std::error_code{});
    finish(h, t);
    CHECK(compare_bytes(sent, data) == "");
}

TEST_CASE("ABORT TASK ends the referenced command once", "[session][scripted][tmf]")
{
    scripted_target t;
    t.run([](scripted_target& tg) {
        tg.login();
        const received_pdu p = tg.expect(opcode::scsi_command);
        const received_pdu q = tg.expect(opcode::task_mgmt_request);
        const auto m = q.as<pdu::task_mgmt_request>();
        // §11.5: immediate, the referenced ITT and its CmdSN.
        if (!q.immediate() || m.function != pdu::tmf_function::abort_task || m.referenced_task_tag != p.itt() ||
            m.ref_cmd_sn != p.cmd_sn() || m.lun != pdu::encode_lun(4))
            tg.fail("bad ABORT TASK request: " + q.describe());
        pdu::task_mgmt_response r;
        r.initiator_task_tag = q.itt();
        r.response = pdu::tmf_response::function_complete;
        tg.stamp(r, true);
        tg.send(r);
        tg.logout();
    });
    tracked done;
    int tmf_calls = 0;
    std::error_code tmf_ec = make_error_code(std::errc::timed_out);
    pdu::tmf_response tmf_result = pdu::tmf_response::function_rejected;
    test::session_harness h;
    iscsi::session s(h.io, make_config({&t}));
    REQUIRE(h.login(s) == std::error_code{});
    std::vector<std::byte> buf(4096);
    submit(s, rw16(false, 4, 0, 8, buf), done);
    const std::uint32_t tag = s.last_task_tag();
    REQUIRE(h.run_until([&] { return t.received_count() >= 3; }, 20s)); // the command arrived
    s.abort_task(tag, [&](std::error_code ec, pdu::tmf_response r) {
        ++tmf_calls;
        tmf_ec = ec;
        tmf_result = r;
    });
    REQUIRE(h.run_until([&] { return tmf_calls > 0; }, 20s));
    settle(h);
    CHECK(tmf_calls == 1);
    CHECK(tmf_ec == std::error_code{});
    CHECK(tmf_result == pdu::tmf_response::function_complete);
    CHECK(done.calls == 1);
    CHECK(done.result.error == make_error_code(iscsi::session_errc::task_aborted));
    CHECK(s.tasks_in_flight() == 0);
    CHECK(h.logout(s) == std::error_code{});
    finish(h, t);
}

TEST_CASE("LOGICAL UNIT RESET ends that LUN's commands only", "[session][scripted][tmf]")
{
    scripted_target t;
    t.run([](scripted_target& tg) {
        tg.login();
        tg.expect(opcode::scsi_command);
        tg.expect(opcode::scsi_command);
        const received_pdu other = tg.expect(opcode::scsi_command);
        const received_pdu q = tg.expect(opcode::task_mgmt_request);
        const auto m = q.as<pdu::task_mgmt_request>();
        if (m.function != pdu::tmf_function::logical_unit_reset || m.lun != pdu::encode_lun(1) ||
            m.referenced_task_tag != pdu::reserved_tag)
            tg.fail("bad LOGICAL UNIT RESET request: " + q.describe());
        pdu::task_mgmt_response r;
        r.initiator_task_tag = q.itt();
        tg.stamp(r, true);
        tg.send(r);
        tg.send_status(other.itt(), 0x00); // LUN 2 goes on
        tg.logout();
    });
    tracked lun1[2], lun2;
    int tmf_calls = 0;
    test::session_harness h;
    iscsi::session s(h.io, make_config({&t}));
    REQUIRE(h.login(s) == std::error_code{});
    auto on_lun = [](std::uint64_t lun) {
        auto r = test_unit_ready();
        r.lun = lun;
        return r;
    };
    submit(s, on_lun(1), lun1[0]);
    submit(s, on_lun(1), lun1[1]);
    submit(s, on_lun(2), lun2);
    REQUIRE(h.run_until([&] { return t.received_count() >= 5; }, 20s));
    s.lun_reset(1, [&](std::error_code ec, pdu::tmf_response r) {
        ++tmf_calls;
        CHECK(ec == std::error_code{});
        CHECK(r == pdu::tmf_response::function_complete);
    });
    REQUIRE(h.run_until([&] { return tmf_calls > 0 && lun2.calls > 0; }, 20s));
    settle(h);
    CHECK(tmf_calls == 1);
    for (const auto& d : lun1) {
        CHECK(d.calls == 1);
        CHECK(d.result.error == make_error_code(iscsi::session_errc::task_aborted));
    }
    CHECK(lun2.calls == 1);
    CHECK(lun2.result.good());
    CHECK(h.logout(s) == std::error_code{});
    finish(h, t);
}

TEST_CASE("a WRITE whose status arrived before its Data-Out was written is not reissued after a drop",
          "[session][scripted][data][recovery]")
{
    // The target answers early (§11.4: status may end a command before all
    // its data arrived) and drops the connection while 1 MiB of unsolicited
    // Data-Out is still queued: the command has completed at the target, so
    // recovery must complete it with that status instead of running it again.
    constexpr std::uint32_t length = 1 << 20;
    scripted_target first, second;
    login_script ls;
    set_key(ls, "InitialR2T", "No");
    set_key(ls, "ImmediateData", "No");
    set_key(ls, "MaxBurstLength", std::to_string(length));
    set_key(ls, "FirstBurstLength", std::to_string(length));
    first.run([&](scripted_target& tg) {
        tg.login(ls);
        const received_pdu p = tg.expect(opcode::scsi_command);
        tg.send_status(p.itt(), 0x02, test::fixed_sense(0x05, 0x24, 0x00));
        tg.close();
    });
    std::atomic<bool> quiet{false};
    second.run([&](scripted_target& tg) {
        tg.login(ls);
        tg.expect_silence(500ms); // nothing to reissue
        quiet = true;
        tg.logout();
    });
    tracked done;
    test::session_harness h;
    auto cfg = make_config({&first, &second});
    cfg.recover = true;
    cfg.login.proposals.first_burst_length = length;
    cfg.login.proposals.default_time2wait = 0;
    iscsi::session s(h.io, cfg);
    REQUIRE(h.login(s) == std::error_code{});
    auto buf = test::random_bytes(length, 19);
    submit(s, rw16(true, 0, 0, length / 512, buf), done);
    REQUIRE(h.run_until([&] { return done.calls > 0; }, 20s));
    REQUIRE(h.run_until([&] { return s.logged_in() && s.counters().reconnects == 1; }, 20s));
    settle(h);
    CHECK(done.calls == 1);
    CHECK_FALSE(done.result.error);
    CHECK(done.result.status == 0x02);
    CHECK(s.counters().reissued == 0);
    REQUIRE(h.run_until([&] { return quiet.load() || second.finished(); }, 20s));
    CHECK(h.logout(s) == std::error_code{});
    finish(h, first);
    finish(h, second);
}
