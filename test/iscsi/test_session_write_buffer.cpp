// A WRITE's data lent through an iscsi::buffer_lease and withdrawn while the
// command is still in flight (the bridge, answering a zero-copy WRITE
// early): later Data-Out and a reissue send from what the lease lends next;
// PDUs still queued with the old data never leave (the connection is
// dropped). RFC 7143 §11.8 (R2T), §6.3.5 (ERL 0 reissue).
#include "test/support/scripted_session.hpp"

#include "iscsi/session_error.hpp"

#include <atomic>

using namespace ivs;
using namespace ivs::test;
using namespace std::chrono_literals;
using pdu::opcode;

namespace {

// InitialR2T=Yes, ImmediateData=No: every byte goes out for an R2T.
login_script solicited_only(std::uint32_t length)
{
    login_script ls;
    set_key(ls, "ImmediateData", "No");
    set_key(ls, "MaxBurstLength", std::to_string(length));
    set_key(ls, "MaxRecvDataSegmentLength", "65536");
    return ls;
}

// Lends `data`; the test switches it to a copy and withdraws.
struct write_lease final : iscsi::buffer_lease {
    std::span<const std::byte> data;
    int asked = 0;
    std::span<const std::byte> data_out() override
    {
        ++asked;
        return data;
    }
};

} // namespace

TEST_CASE("withdraw: Data-Out for later R2Ts comes from the replacement", "[session][scripted][data]")
{
    constexpr std::uint32_t length = 16384;
    const auto data = random_bytes(length, 41);
    std::atomic<bool> got_command{false}, go{false};
    std::vector<std::byte> written;
    scripted_target t;
    t.run([&](scripted_target& tg) {
        tg.login(solicited_only(length));
        const received_pdu p = tg.expect(opcode::scsi_command);
        got_command = true;
        wait_for_go(tg, go);
        tg.send_r2t(p.itt(), 0x100, 0, 0, length);
        written = tg.collect_data_out(p.itt(), 0x100, 0, length);
        tg.send_status(p.itt(), 0x00);
        tg.logout();
    });
    tracked done;
    session_harness h;
    iscsi::session s(h.io, make_config({&t}));
    REQUIRE(h.login(s) == std::error_code{});
    auto buf = data;
    write_lease lease;
    lease.data = buf;
    auto req = rw16(true, 0, 0, length / 512, buf);
    req.write_buffer = {}; // the lease's data is sent, not this
    req.lease = &lease;
    submit(s, req, done);
    REQUIRE(h.run_until([&] { return got_command.load(); }));
    const auto copy = data;
    lease.data = copy;
    lease.withdraw();
    CHECK(lease.asked == 2);                            // at submit, and at withdraw
    std::fill(buf.begin(), buf.end(), std::byte{0xa5}); // the old buffer is reused at once
    go = true;
    REQUIRE(h.run_until([&] { return done.calls > 0; }, 20s));
    CHECK(done.result.good());
    CHECK(s.counters().reconnects == 0); // nothing was queued: no drop
    CHECK(h.logout(s) == std::error_code{});
    finish(h, t);
    CHECK(compare_bytes(written, data) == "");
}

TEST_CASE("withdraw with Data-Out still queued drops the connection; the reissue sends the replacement",
          "[session][scripted][data][recovery]")
{
    // InitialR2T=No: the command and 256 KiB of unsolicited Data-Out are
    // queued by submit itself, before any of it can be written.
    constexpr std::uint32_t length = 256 * 1024;
    login_script ls;
    set_key(ls, "InitialR2T", "No");
    set_key(ls, "ImmediateData", "No");
    set_key(ls, "MaxBurstLength", std::to_string(length));
    set_key(ls, "FirstBurstLength", std::to_string(length));
    const auto data = random_bytes(length, 43);
    std::vector<std::byte> reissued;
    scripted_target first, second;
    first.run([&](scripted_target& tg) {
        tg.login(ls);
        tg.expect_closed(); // nothing of the command arrives
    });
    second.run([&](scripted_target& tg) {
        tg.login(ls);
        const received_pdu p = tg.expect(opcode::scsi_command);
        reissued = tg.collect_data_out(p.itt(), pdu::reserved_tag, 0, length);
        tg.send_status(p.itt(), 0x00);
        tg.logout();
    });
    tracked done;
    session_harness h;
    auto cfg = make_config({&first, &second});
    cfg.recover = true;
    cfg.login.proposals.first_burst_length = length;
    cfg.login.proposals.default_time2wait = 0;
    iscsi::session s(h.io, cfg);
    REQUIRE(h.login(s) == std::error_code{});
    auto buf = data;
    write_lease lease;
    lease.data = buf;
    auto req = rw16(true, 0, 0, length / 512, buf);
    req.lease = &lease;
    submit(s, req, done);
    const auto copy = data;
    lease.data = copy;
    lease.withdraw();
    std::fill(buf.begin(), buf.end(), std::byte{0xa5});
    REQUIRE(h.run_until([&] { return done.calls > 0; }, 20s));
    CHECK(done.result.good());
    CHECK(s.counters().reconnects == 1);
    CHECK(s.counters().reissued == 1);
    CHECK(h.logout(s) == std::error_code{});
    finish(h, first);
    finish(h, second);
    CHECK(compare_bytes(reissued, data) == "");
    for (const auto& p : first.received())
        CHECK(p.op() != opcode::scsi_command);
}

TEST_CASE("withdraw does nothing for a lease in no command of the session", "[session][scripted][data]")
{
    constexpr std::uint32_t length = 8192;
    const auto data = random_bytes(length, 45);
    std::vector<std::byte> written;
    scripted_target t;
    t.run([&](scripted_target& tg) {
        tg.login(solicited_only(length));
        const received_pdu p = tg.expect(opcode::scsi_command);
        tg.send_r2t(p.itt(), 0x200, 0, 0, length);
        written = tg.collect_data_out(p.itt(), 0x200, 0, length);
        tg.send_status(p.itt(), 0x00);
        tg.logout();
    });
    tracked done;
    session_harness h;
    iscsi::session s(h.io, make_config({&t}));
    REQUIRE(h.login(s) == std::error_code{});
    auto buf = data;
    write_lease lease, other;
    lease.data = buf;
    const std::vector<std::byte> wrong(length, std::byte{0xa5});
    other.data = wrong;
    other.withdraw(); // never submitted
    auto req = rw16(true, 0, 0, length / 512, buf);
    req.lease = &lease;
    submit(s, req, done);
    other.withdraw();
    REQUIRE(h.run_until([&] { return done.calls > 0; }, 20s));
    CHECK(done.result.good());
    lease.data = wrong;
    lease.withdraw(); // completed: no longer in the session
    CHECK(lease.asked == 1);
    CHECK(s.counters().reconnects == 0);
    CHECK(h.logout(s) == std::error_code{});
    finish(h, t);
    CHECK(compare_bytes(written, data) == "");
}

TEST_CASE("a lease that lends less than the command after withdraw: nothing more is sent, the command fails",
          "[session][scripted][data][recovery]")
{
    constexpr std::uint32_t length = 8192;
    const auto data = random_bytes(length, 47);
    std::atomic<bool> got_command{false}, go{false};
    scripted_target first, second;
    first.run([&](scripted_target& tg) {
        tg.login(solicited_only(length));
        const received_pdu p = tg.expect(opcode::scsi_command);
        got_command = true;
        wait_for_go(tg, go);
        tg.send_r2t(p.itt(), 0x300, 0, 0, length);
        tg.expect_closed(); // no Data-Out: the session drops the connection
    });
    second.run([&](scripted_target& tg) {
        tg.login(solicited_only(length));
        tg.logout();
    });
    tracked done;
    session_harness h;
    auto cfg = make_config({&first, &second});
    cfg.recover = true;
    cfg.max_reissues = 0; // the command fails at its first lost connection
    cfg.login.proposals.default_time2wait = 0;
    iscsi::session s(h.io, cfg);
    REQUIRE(h.login(s) == std::error_code{});
    auto buf = data;
    write_lease lease;
    lease.data = buf;
    auto req = rw16(true, 0, 0, length / 512, buf);
    req.lease = &lease;
    submit(s, req, done);
    REQUIRE(h.run_until([&] { return got_command.load(); }));
    lease.data = std::span<const std::byte>(buf).first(length - 1);
    lease.withdraw();
    go = true;
    REQUIRE(h.run_until([&] { return done.calls > 0; }, 20s));
    CHECK(done.result.error == iscsi::session_errc::reissue_limit);
    REQUIRE(h.run_until([&] { return s.logged_in(); }, 20s)); // the session itself recovers
    CHECK(h.logout(s) == std::error_code{});
    finish(h, first);
    finish(h, second);
    for (const auto& p : first.received())
        CHECK(p.op() != opcode::data_out);
}
