// Zero-copy through the bridge. READ: Data-In lands straight in the
// midlayer's buffer (vscsi_device::data_read_buffer) and DATA_READ only
// accounts it; once a command is answered early (shutdown, remove_session)
// nothing is ever written into that buffer again, not even the rest of a
// segment that was arriving at that moment. WRITE: Data-Out goes out from
// the midlayer's buffer (data_write_buffer); once answered early, whatever
// is still to be sent comes from the bridge's copy.
#include "test/support/bridge_test_support.hpp"

#include "pdu/lun.hpp"

#include <atomic>

using namespace ivs;
using namespace ivs::bridge;
using namespace ivs::vscsi;
using namespace ivs::bridge::test;
using ivs::test::bytes_of;
using ivs::test::received_pdu;
using ivs::test::scripted_target;
using pdu::opcode;

namespace {

// The rig's bridge again, on a forwarding device that counts the calls.
void rebridge(rig& r, faulty_device& dev)
{
    r.br.reset();
    r.br = std::make_unique<ivs::bridge::bridge>(r.h.io, dev, bridge_options{});
    r.slots.clear();
    REQUIRE(!r.br->add_session(*r.session, {0}, r.slots));
    r.br->start();
}

bool all_equal(const std::vector<std::byte>& b, std::byte v)
{
    return std::all_of(b.begin(), b.end(), [v](std::byte x) { return x == v; });
}

} // namespace

TEST_CASE("zero-copy: READ data lands in the midlayer's buffer; DATA_READ only accounts it", "[bridge][zero-copy]")
{
    rig r;
    faulty_device dev(*r.dev);
    dev.zero_copy = true;
    const auto payload = ivs::test::random_bytes(4096, 31);
    r.start(
        [&](scripted_target& tg) {
            tg.login();
            received_pdu p = tg.expect(opcode::scsi_command);
            tg.send_data_in(p.itt(), 0, 0, bytes_of(payload, 0, 1024));
            tg.send_data_in(p.itt(), 1, 1024, bytes_of(payload, 1024, 2048));
            tg.send_data_in(p.itt(), 2, 3072, bytes_of(payload, 3072, 1024), true);
            // A short READ: 2048 of 4096 bytes, the rest is the residual.
            p = tg.expect(opcode::scsi_command);
            tg.send_data_in(p.itt(), 0, 0, bytes_of(payload, 0, 2048), true, 2048);
            // Failing accounting: ERR.
            p = tg.expect(opcode::scsi_command);
            tg.send_data_in(p.itt(), 0, 0, bytes_of(payload, 0, 4096), true);
            tg.logout();
        },
        {0});
    rebridge(r, dev);

    std::vector<std::byte> buf(4096, std::byte{0xee});
    r.submit(0, rw10(false, 0, 0, 0, buf));
    REQUIRE(r.wait_for(1));
    CHECK(r.out.at(0).status == vscsi_status::done);
    CHECK(r.out.at(0).residual == 0);
    CHECK(ivs::test::compare_bytes(buf, payload) == "");
    CHECK(dev.data_read_calls == 0); // no copy
    CHECK(dev.placed_calls == 3);    // one per segment
    CHECK(r.br->counters().bytes_read == 4096);

    std::vector<std::byte> shortbuf(4096, std::byte{0xee});
    r.submit(1, rw10(false, 0, 0, 0, shortbuf));
    REQUIRE(r.wait_for(2));
    CHECK(r.out.at(1).status == vscsi_status::done);
    CHECK(r.out.at(1).residual == 2048);
    CHECK(ivs::test::compare_bytes(std::span(shortbuf).first(2048), bytes_of(payload, 0, 2048)) == "");
    CHECK(dev.data_read_calls == 0);

    dev.fail_data_read = 1;
    std::vector<std::byte> failbuf(4096);
    r.submit(2, rw10(false, 0, 0, 0, failbuf));
    REQUIRE(r.wait_for(3));
    CHECK(r.out.at(2).status == vscsi_status::err);
    CHECK(r.br->counters().device_errors == 1);
    REQUIRE(r.h.logout(*r.session) == std::error_code{});
    ivs::test::finish(r.h, r.target);
}

TEST_CASE("zero-copy: REPORT LUNS is still rewritten from the bridge's buffer", "[bridge][zero-copy]")
{
    rig r;
    faulty_device dev(*r.dev);
    dev.zero_copy = true;
    r.start(
        [&](scripted_target& tg) {
            tg.login();
            const received_pdu p = tg.expect(opcode::scsi_command);
            if (p.command().cdb[0] != std::byte{0xa0})
                tg.fail("REPORT LUNS expected");
            std::vector<std::byte> list(16);
            list[3] = std::byte{8}; // one LUN: 0
            // The rest of what the command asked for is an underflow residual (§11.4.5).
            tg.send_data_in(p.itt(), 0, 0, list, true, p.command().expected_data_transfer_length - 16);
            tg.logout();
        },
        {0});
    rebridge(r, dev);
    std::vector<std::byte> buf(64, std::byte{0xee});
    r.submit(0, plain(0, 0, {0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0}, buf));
    REQUIRE(r.wait_for(1));
    CHECK(r.out.at(0).status == vscsi_status::done);
    CHECK(dev.data_read_calls == 1); // the rewritten list, copied
    CHECK(dev.placed_calls == 0);
    CHECK(buf[3] == std::byte{8});
    REQUIRE(r.h.logout(*r.session) == std::error_code{});
    ivs::test::finish(r.h, r.target);
}

TEST_CASE("zero-copy: a READ reissued after a reconnect is accounted once", "[bridge][zero-copy]")
{
    scripted_target second;
    rig r({}, {&second});
    faulty_device dev(*r.dev);
    dev.zero_copy = true;
    const auto payload = ivs::test::random_bytes(4096, 33);
    r.start(
        [&](scripted_target& tg) {
            tg.login();
            const received_pdu p = tg.expect(opcode::scsi_command);
            tg.send_data_in(p.itt(), 0, 0, bytes_of(payload, 0, 1024));
            tg.send_data_in(p.itt(), 1, 1024, bytes_of(payload, 1024, 1024));
            tg.close(); // recovery reconnects and reissues the READ
        },
        {0});
    second.run([&](scripted_target& tg) {
        ivs::test::login_script ls;
        ls.tsih = 0x0101;
        tg.login(ls);
        const received_pdu p = tg.expect(opcode::scsi_command);
        tg.send_data_in(p.itt(), 0, 0, bytes_of(payload, 0, 1024));
        tg.send_data_in(p.itt(), 1, 1024, bytes_of(payload, 1024, 2048));
        tg.send_data_in(p.itt(), 2, 3072, bytes_of(payload, 3072, 1024), true);
        tg.logout();
    });
    rebridge(r, dev);
    std::vector<std::byte> buf(4096);
    r.submit(0, rw10(false, 0, 0, 0, buf));
    REQUIRE(r.wait_for(1, 30s));
    CHECK(r.out.at(0).status == vscsi_status::done);
    CHECK(r.out.at(0).residual == 0);
    CHECK(ivs::test::compare_bytes(buf, payload) == "");
    CHECK(r.br->counters().bytes_read == 4096); // DATA_READ would fail with ENOMEM beyond
    CHECK(r.br->counters().device_errors == 0);
    CHECK(dev.data_read_calls == 0);
    REQUIRE(r.h.logout(*r.session) == std::error_code{});
    CHECK(r.target.join() == "");
    ivs::test::finish(r.h, second);
}

TEST_CASE("zero-copy: Data-In after an early answer never reaches the midlayer's buffer", "[bridge][zero-copy]")
{
    rig r;
    const auto payload = ivs::test::random_bytes(4096, 35);
    std::atomic<bool> go{false};
    r.start(
        [&](scripted_target& tg) {
            tg.login();
            const received_pdu p = tg.expect(opcode::scsi_command);
            tg.send_data_in(p.itt(), 0, 0, bytes_of(payload, 0, 1024));
            wait_for_go(tg, go);
            tg.send_data_in(p.itt(), 1, 1024, bytes_of(payload, 1024, 2048));
            tg.send_data_in(p.itt(), 2, 3072, bytes_of(payload, 3072, 1024), true);
            tg.logout();
        },
        {0});
    std::vector<std::byte> buf(4096, std::byte{0xee});
    r.submit(0, rw10(false, 0, 0, 0, buf));
    REQUIRE(r.h.run_until([&] { return r.br->counters().bytes_read == 1024; }));
    CHECK(ivs::test::compare_bytes(std::span(buf).first(1024), bytes_of(payload, 0, 1024)) == "");
    SECTION("shutdown") { r.br->shutdown(); }
    SECTION("remove_session") { r.br->remove_session(*r.session); }
    REQUIRE(r.out.count() == 1);
    CHECK(r.out.at(0).status == vscsi_status::reset);
    CHECK(r.out.at(0).residual == 3072);
    // The midlayer reuses its buffer at once.
    std::fill(buf.begin(), buf.end(), std::byte{0xa5});
    go = true;
    REQUIRE(r.h.run_until([&] { return r.session->counters().bytes_read == 4096; }));
    REQUIRE(r.h.logout(*r.session) == std::error_code{});
    CHECK(all_equal(buf, std::byte{0xa5}));
    CHECK(r.br->counters().device_errors == 0);
    ivs::test::finish(r.h, r.target);
}

TEST_CASE("zero-copy: an early answer in the middle of a segment stops it", "[bridge][zero-copy]")
{
    rig r;
    const auto payload = ivs::test::random_bytes(4096, 37);
    std::atomic<bool> go{false};
    r.start(
        [&](scripted_target& tg) {
            tg.login();
            const received_pdu p = tg.expect(opcode::scsi_command);
            // One Data-In of 4096 bytes, of which only the header and 1024 bytes
            // arrive before the bridge answers the command.
            tg.send_data_in_header(p.itt(), 0, 0, 4096, true);
            tg.send_bytes(bytes_of(payload, 0, 1024));
            wait_for_go(tg, go);
            tg.send_bytes(bytes_of(payload, 1024, 3072)); // EPIPE is ignored
            tg.expect_closed();
        },
        {0});
    std::vector<std::byte> buf(4096, std::byte{0xee});
    r.submit(0, rw10(false, 0, 0, 0, buf));
    // The first 1024 bytes are in the midlayer's buffer: the segment is landing.
    REQUIRE(r.h.run_until(
        [&] { return ivs::test::compare_bytes(std::span(buf).first(1024), bytes_of(payload, 0, 1024)) == ""; }));
    CHECK(buf[1024] == std::byte{0xee});
    SECTION("shutdown") { r.br->shutdown(); }
    SECTION("remove_session") { r.br->remove_session(*r.session); }
    REQUIRE(r.out.count() == 1);
    CHECK(r.out.at(0).status == vscsi_status::reset);
    CHECK(r.out.at(0).residual == 4096); // nothing was accounted
    std::fill(buf.begin(), buf.end(), std::byte{0xa5});
    go = true;
    REQUIRE(r.h.run_until([&] { return r.target.finished(); }));
    ivs::test::settle(r.h);
    CHECK(all_equal(buf, std::byte{0xa5}));
    CHECK(r.target.join() == "");
}

TEST_CASE("zero-copy: WRITE data goes out from the midlayer's buffer; DATA_WRITE is not called", "[bridge][zero-copy]")
{
    rig r;
    faulty_device dev(*r.dev);
    SECTION("zero-copy") { dev.zero_copy = true; }
    SECTION("copied (a device without data_write_buffer)") { dev.zero_copy = false; }
    const auto payload = ivs::test::random_bytes(16384, 47);
    std::vector<std::byte> immediate, solicited;
    r.start(
        [&](scripted_target& tg) {
            tg.login(); // ImmediateData=Yes, InitialR2T=Yes, MaxRecvDataSegmentLength 8192
            const received_pdu p = tg.expect(opcode::scsi_command);
            immediate = p.data;
            tg.send_r2t(p.itt(), 0x300, 0, 8192, 8192);
            solicited = tg.collect_data_out(p.itt(), 0x300, 8192, 8192);
            tg.send_status(p.itt(), 0x00);
            tg.logout();
        },
        {0});
    rebridge(r, dev);
    auto buf = payload;
    r.submit(0, rw10(true, 0, 0, 0, buf));
    REQUIRE(r.wait_for(1));
    CHECK(r.out.at(0).status == vscsi_status::done);
    CHECK(r.out.at(0).residual == 0);
    CHECK(r.br->counters().bytes_written == 16384);
    CHECK(dev.data_write_calls == (dev.zero_copy ? 0 : 1));
    CHECK(dev.taken_calls == (dev.zero_copy ? 1 : 0));
    REQUIRE(r.h.logout(*r.session) == std::error_code{});
    ivs::test::finish(r.h, r.target);
    CHECK(ivs::test::compare_bytes(immediate, bytes_of(payload, 0, 8192)) == "");
    CHECK(ivs::test::compare_bytes(solicited, bytes_of(payload, 8192, 8192)) == "");
}

TEST_CASE("zero-copy: a WRITE answered early sends its remaining Data-Out from the bridge's copy",
          "[bridge][zero-copy]")
{
    rig r;
    const auto payload = ivs::test::random_bytes(16384, 49);
    std::atomic<bool> got_command{false}, go{false};
    std::vector<std::byte> solicited;
    r.start(
        [&](scripted_target& tg) {
            tg.login();
            const received_pdu p = tg.expect(opcode::scsi_command);
            got_command = true;
            wait_for_go(tg, go);
            // The R2T for the second half comes after the bridge answered RESET
            // and the midlayer reused its buffer.
            tg.send_r2t(p.itt(), 0x400, 0, 8192, 8192);
            solicited = tg.collect_data_out(p.itt(), 0x400, 8192, 8192);
            tg.send_status(p.itt(), 0x00);
            tg.logout();
        },
        {0});
    auto buf = payload;
    r.submit(0, rw10(true, 0, 0, 0, buf));
    REQUIRE(r.h.run_until([&] { return got_command.load(); }));
    SECTION("shutdown") { r.br->shutdown(); }
    SECTION("remove_session") { r.br->remove_session(*r.session); }
    REQUIRE(r.out.count() == 1);
    CHECK(r.out.at(0).status == vscsi_status::reset);
    std::fill(buf.begin(), buf.end(), std::byte{0xa5});
    go = true;
    REQUIRE(r.h.run_until([&] { return r.session->tasks_in_flight() == 0; }));
    REQUIRE(r.h.logout(*r.session) == std::error_code{});
    ivs::test::finish(r.h, r.target);
    CHECK(ivs::test::compare_bytes(solicited, bytes_of(payload, 8192, 8192)) == "");
    CHECK(r.session->counters().reconnects == 0);
    CHECK(r.br->counters().device_errors == 0);
}
