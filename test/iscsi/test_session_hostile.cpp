// iscsi::session against a hostile scripted target: malformed and
// out-of-protocol PDUs in the full feature phase (RFC 7143 §11, §6.3.5, §7).
// Whatever arrives, the initiator must not crash or hang, must drop the
// connection, and every command submitted must complete exactly once: with
// recover=false with an error, with recover=true reissued on a second,
// well-behaved target and completed there.
#include "test/support/scripted_session.hpp"

#include "iscsi/session_error.hpp"
#include "pdu/bytes.hpp"
#include "pdu/lun.hpp"

using namespace ivs;
using namespace ivs::test;
using namespace std::chrono_literals;
using pdu::opcode;

namespace {

constexpr std::uint32_t io_size = 4096;

// A 48-byte header with only the opcode, the F bit and the sequence numbers
// of a target PDU set; the rest is for the case to fill in.
pdu::bhs_bytes bare_header(std::uint8_t op, scripted_target& tg)
{
    pdu::bhs_bytes b{};
    b[0] = std::byte{op};
    b[1] = std::byte{0x80};
    pdu::store32(b.data() + 24, tg.stat_sn);
    pdu::store32(b.data() + 28, tg.exp_cmd_sn);
    pdu::store32(b.data() + 32, tg.advertise_max_cmd_sn());
    return b;
}

void send_header_bytes(scripted_target& tg, const pdu::bhs_bytes& b, std::span<const std::byte> rest = {})
{
    std::vector<std::byte> out(b.begin(), b.end());
    out.insert(out.end(), rest.begin(), rest.end());
    tg.send_bytes(out);
}

struct hostile_case {
    const char* name;
    const char* why; // in the message of the error that ended the connection
    bool write;      // the command is a WRITE (R2T cases), else a READ
    // Runs after the command arrived (its PDU in `cmd`); the initiator must
    // then close the connection.
    void (*attack)(scripted_target& tg, const received_pdu& cmd);
};

const hostile_case cases[] = {
    {"unknown opcode", "unknown opcode", false,
     [](scripted_target& tg, const received_pdu&) { send_header_bytes(tg, bare_header(0x2a, tg)); }},
    {"initiator opcode (SCSI Command) from the target", "protocol error", false,
     [](scripted_target& tg, const received_pdu& cmd) {
         pdu::bhs_bytes b = cmd.bhs;
         tg.send_raw(b);
     }},
    {"DataSegmentLength over our MaxRecvDataSegmentLength", "data segment length", false,
     [](scripted_target& tg, const received_pdu& cmd) {
         pdu::bhs_bytes b = bare_header(0x25, tg); // Data-In
         pdu::store32(b.data() + 4, 262144 + 4);   // TotalAHSLength 0, DSL above 256 KiB
         pdu::store32(b.data() + 16, cmd.itt());
         send_header_bytes(tg, b, random_bytes(4096, 1));
     }},
    {"AHS garbage", "AHS length", false,
     [](scripted_target& tg, const received_pdu& cmd) {
         // SCSI Response whose 8-byte AHS announces an AHSLength of 500 (§11.2.2).
         pdu::bhs_bytes b = bare_header(0x21, tg);
         b[4] = std::byte{2};
         pdu::store32(b.data() + 16, cmd.itt());
         std::vector<std::byte> ahs(8, std::byte{0xee});
         pdu::store16(ahs.data(), 500);
         send_header_bytes(tg, b, ahs);
     }},
    {"Data-In for an unknown ITT", "unknown initiator task tag", false,
     [](scripted_target& tg, const received_pdu& cmd) {
         tg.send_data_in(cmd.itt() ^ 0x00ff0000, 0, 0, random_bytes(512, 2));
     }},
    {"SCSI Response for an unknown ITT", "unknown initiator task tag", false,
     [](scripted_target& tg, const received_pdu& cmd) { tg.send_status(cmd.itt() + 7, 0); }},
    {"R2T with an offset beyond the expected length", "R2T beyond", true,
     [](scripted_target& tg, const received_pdu& cmd) { tg.send_r2t(cmd.itt(), 0x77, 0, io_size + 512, 512); }},
    {"R2T with zero length", "out of range", true,
     [](scripted_target& tg, const received_pdu& cmd) { tg.send_r2t(cmd.itt(), 0x77, 0, 0, 0); }},
    {"StatSN jump", "status sequence number gap", false,
     [](scripted_target& tg, const received_pdu& cmd) {
         tg.stat_sn += 5;
         tg.send_status(cmd.itt(), 0);
     }},
    {"Reject of a Data-Out", "rejected", true,
     [](scripted_target& tg, const received_pdu& cmd) {
         tg.send_r2t(cmd.itt(), 0x77, 0, 0, io_size);
         tg.collect_data_out(cmd.itt(), 0x77, 0, io_size);
         const received_pdu last = tg.received().back();
         pdu::reject r;
         r.reason = pdu::reject_reason::invalid_pdu_field;
         tg.stamp(r, true);
         tg.send(r, std::span<const std::byte>(last.bhs.data(), last.bhs.size()));
     }},
    {"Text Response nobody asked for", "unknown initiator task tag", false,
     [](scripted_target& tg, const received_pdu&) {
         pdu::text_response t;
         t.initiator_task_tag = 0x4242;
         t.target_transfer_tag = pdu::reserved_tag;
         const auto text = text_bytes({{"TargetAlias", "evil"}});
         t.data_segment_length = static_cast<std::uint32_t>(text.size());
         tg.stamp(t, true);
         tg.send(t, text);
     }},
    {"Login Response in the full feature phase", "protocol error", false,
     [](scripted_target& tg, const received_pdu& cmd) {
         pdu::login_response r;
         r.csg = pdu::login_stage::operational_negotiation;
         r.nsg = pdu::login_stage::full_feature_phase;
         r.transit_bit = true;
         r.tsih = 0x0101;
         r.initiator_task_tag = cmd.itt();
         tg.stamp(r, true);
         tg.send(r);
     }},
    {"random garbage bytes", "", false,
     [](scripted_target& tg, const received_pdu&) { tg.send_bytes(random_bytes(4096, 3)); }},
    {"huge TotalAHSLength", "AHS length", false,
     [](scripted_target& tg, const received_pdu& cmd) {
         pdu::bhs_bytes b = bare_header(0x21, tg);
         b[4] = std::byte{0xff}; // 1020 bytes of AHS
         pdu::store32(b.data() + 16, cmd.itt());
         send_header_bytes(tg, b, random_bytes(1020, 4));
     }},
    {"NOP-In with huge data", "data segment length", false,
     [](scripted_target& tg, const received_pdu&) {
         pdu::bhs_bytes b = bare_header(0x20, tg);
         pdu::store32(b.data() + 4, 0x00ffffff); // DSL 16 MiB - 1
         pdu::store32(b.data() + 16, pdu::reserved_tag);
         pdu::store32(b.data() + 20, 0x1234);
         send_header_bytes(tg, b, random_bytes(8192, 5));
     }},
};

login_script hostile_login()
{
    login_script ls;
    set_key(ls, "ImmediateData", "No"); // WRITEs wait for an R2T
    return ls;
}

// A READ(16) or WRITE(16) of io_size bytes.
iscsi::scsi_request make_io(bool write, std::vector<std::byte>& buffer)
{
    return rw16(write, 0, 8, io_size / 512, buffer);
}

// The hostile first connection: login, receive the command, attack, and the
// initiator must close.
void hostile_script(scripted_target& tg, const hostile_case& c)
{
    tg.login(hostile_login());
    const received_pdu cmd = tg.expect(opcode::scsi_command);
    c.attack(tg, cmd);
    tg.expect_closed();
}

// The well-behaved second connection: the reissued command completes.
void good_script(scripted_target& tg, bool write, const std::vector<std::byte>& data)
{
    tg.login(hostile_login());
    const received_pdu cmd = tg.expect(opcode::scsi_command);
    if (write) {
        tg.send_r2t(cmd.itt(), 0x99, 0, 0, io_size);
        if (tg.collect_data_out(cmd.itt(), 0x99, 0, io_size) != data)
            tg.fail("reissued WRITE carried other data");
        tg.send_status(cmd.itt(), 0);
    } else {
        tg.send_data_in(cmd.itt(), 0, 0, data, true);
    }
    tg.logout();
}

} // namespace

TEST_CASE("hostile target PDUs end the connection; recover=false fails the command once",
          "[session][scripted][hostile]")
{
    for (const auto& c : cases) {
        INFO("case: " << c.name);
        scripted_target t;
        t.run([&](scripted_target& tg) { hostile_script(tg, c); });
        test::session_harness h;
        auto cfg = make_config({&t});
        cfg.login.proposals.default_time2wait = 0;
        iscsi::session s(h.io, cfg);
        std::vector<std::error_code> failures;
        s.on_event([&](const iscsi::session_event& e) {
            if (e.what == iscsi::session_event::kind::failed)
                failures.push_back(e.error);
        });
        REQUIRE(h.login(s) == std::error_code{});
        std::vector<std::byte> buffer = random_bytes(io_size, 11);
        tracked done;
        submit(s, make_io(c.write, buffer), done);
        CHECK(h.run_until([&] { return done.calls > 0; }, 10s));
        finish(h, t);
        settle(h, 20ms);
        CHECK(done.calls == 1);
        INFO("error: " << done.result.error.message());
        CHECK(done.result.error);
        REQUIRE(failures.size() == 1);
        INFO("session failed with: " << failures[0].message());
        CHECK(failures[0]);
        CHECK(failures[0].message().find(c.why) != std::string::npos);
        CHECK_FALSE(s.logged_in());
    }
}

TEST_CASE("hostile target PDUs: recover=true reissues the command on a good target", "[session][scripted][hostile]")
{
    for (const auto& c : cases) {
        INFO("case: " << c.name);
        const auto data = random_bytes(io_size, 21);
        scripted_target bad, good;
        bad.run([&](scripted_target& tg) { hostile_script(tg, c); });
        good.run([&](scripted_target& tg) { good_script(tg, c.write, data); });
        test::session_harness h;
        auto cfg = make_config({&bad, &good});
        cfg.recover = true;
        cfg.login.proposals.default_time2wait = 0; // reconnect at once (§13.15)
        iscsi::session s(h.io, cfg);
        std::vector<std::error_code> lost;
        s.on_event([&](const iscsi::session_event& e) {
            if (e.what == iscsi::session_event::kind::reconnecting)
                lost.push_back(e.error);
        });
        REQUIRE(h.login(s) == std::error_code{});
        std::vector<std::byte> buffer = c.write ? data : std::vector<std::byte>(io_size);
        tracked done;
        submit(s, make_io(c.write, buffer), done);
        CHECK(h.run_until([&] { return done.calls > 0; }, 10s));
        CHECK(done.calls == 1);
        INFO("error: " << done.result.error.message());
        CHECK(done.result.good());
        if (!c.write)
            CHECK(compare_bytes(buffer, data) == "");
        REQUIRE(lost.size() == 1);
        INFO("connection lost with: " << lost[0].message());
        CHECK(lost[0]);
        CHECK(lost[0].message().find(c.why) != std::string::npos);
        CHECK(s.counters().reissued == 1);
        CHECK(h.logout(s) == std::error_code{});
        finish(h, bad);
        finish(h, good);
        CHECK(done.calls == 1);
    }
}
