// The bridge between an embedded vscsi and a session to a scripted target:
// data both ways, BUSY retries, CHECK CONDITION, unmapped slots, REPORT LUNS,
// and a completion for every command when the session goes away.
#include "test/support/bridge_test_support.hpp"

#include "pdu/lun.hpp"

using namespace ivs;
using namespace ivs::bridge;
using namespace ivs::vscsi;
using namespace ivs::bridge::test;
using ivs::test::bytes_of;
using ivs::test::received_pdu;
using ivs::test::scripted_target;
using pdu::opcode;

TEST_CASE("bridge: READ data reaches the midlayer's buffer", "[bridge][scripted]")
{
    rig r;
    const auto payload = ivs::test::random_bytes(4096, 3);
    r.start(
        [&](scripted_target& tg) {
            tg.login();
            const received_pdu p = tg.expect(opcode::scsi_command);
            const auto cmd = p.command();
            if (cmd.lun != pdu::encode_lun(3) || cmd.cdb[0] != std::byte{0x28} ||
                cmd.expected_data_transfer_length != 4096 || !cmd.read_bit)
                tg.fail("READ(10) with a wrong LUN, CDB or length");
            tg.send_data_in(p.itt(), 0, 0, bytes_of(payload, 0, 1024));
            tg.send_data_in(p.itt(), 1, 1024, bytes_of(payload, 1024, 2048));
            tg.send_data_in(p.itt(), 2, 3072, bytes_of(payload, 3072, 1024), true);
            tg.logout();
        },
        {3});
    REQUIRE(r.slots == std::vector<slot>{{0, 0}});
    std::vector<std::byte> buf(4096, std::byte{0xee});
    r.submit(0, rw10(false, 0, 0, 16, buf));
    REQUIRE(r.wait_for(1));
    const auto c = r.out.at(0);
    CHECK(c.status == vscsi_status::done);
    CHECK(c.residual == 0);
    CHECK(ivs::test::compare_bytes(buf, payload) == "");
    CHECK(r.br->counters().bytes_read == 4096);
    CHECK(r.br->outstanding() == 0);
    REQUIRE(r.h.logout(*r.session) == std::error_code{});
    ivs::test::finish(r.h, r.target);
}

TEST_CASE("bridge: a short READ leaves the residual; WRITE data goes out for R2Ts in any order", "[bridge][scripted]")
{
    rig r;
    ivs::test::login_script ls;
    ivs::test::set_key(ls, "ImmediateData", "No");
    ivs::test::set_key(ls, "MaxOutstandingR2T", "2");
    const auto data = ivs::test::random_bytes(8192, 5);
    std::vector<std::byte> second, first;
    r.start(
        [&](scripted_target& tg) {
            tg.login(ls);
            const received_pdu w = tg.expect(opcode::scsi_command);
            if (w.command().expected_data_transfer_length != 8192 || !w.command().write_bit)
                tg.fail("WRITE(10) with a wrong length");
            // The second half first: the bridge fetched everything before submitting.
            tg.send_r2t(w.itt(), 0x10, 0, 4096, 4096);
            second = tg.collect_data_out(w.itt(), 0x10, 4096, 4096);
            tg.send_r2t(w.itt(), 0x11, 1, 0, 4096);
            first = tg.collect_data_out(w.itt(), 0x11, 0, 4096);
            tg.send_status(w.itt(), 0x00);
            const received_pdu rd = tg.expect(opcode::scsi_command);
            tg.send_data_in(rd.itt(), 0, 0, bytes_of(data, 0, 1536), true, 4096 - 1536);
            tg.logout();
        },
        {0});
    auto wbuf = data;
    r.submit(0, rw10(true, 0, 0, 0, wbuf));
    REQUIRE(r.wait_for(1));
    CHECK(r.out.at(0).status == vscsi_status::done);
    CHECK(r.out.at(0).residual == 0);
    std::vector<std::byte> rbuf(4096);
    r.submit(1, rw10(false, 0, 0, 0, rbuf));
    REQUIRE(r.wait_for(2));
    CHECK(r.out.at(1).status == vscsi_status::done);
    CHECK(r.out.at(1).residual == 4096 - 1536);
    CHECK(std::equal(rbuf.begin(), rbuf.begin() + 1536, data.begin()));
    REQUIRE(r.h.logout(*r.session) == std::error_code{});
    ivs::test::finish(r.h, r.target);
    first.insert(first.end(), second.begin(), second.end());
    CHECK(ivs::test::compare_bytes(first, data) == "");
    CHECK(r.br->counters().bytes_written == 8192);
    // show vscsi stats: one WRITE, one READ; one DATA_WRITE and one DATA_READ call.
    const auto c = r.br->counters();
    CHECK(c.commands == 2);
    CHECK(c.commands_write == 1);
    CHECK(c.commands_read == 1);
    CHECK(c.data_writes == 1);
    CHECK(c.data_reads == 1);
    CHECK(c.bytes_read == 1536);
}

TEST_CASE("bridge: BUSY and TASK SET FULL are retried until GOOD", "[bridge][scripted]")
{
    rig r;
    r.start(
        [&](scripted_target& tg) {
            tg.login();
            auto p = tg.expect(opcode::scsi_command);
            tg.send_status(p.itt(), 0x08); // BUSY
            p = tg.expect(opcode::scsi_command);
            tg.send_status(p.itt(), 0x28); // TASK SET FULL
            p = tg.expect(opcode::scsi_command);
            if (p.command().cdb[0] != std::byte{0x00})
                tg.fail("the retry is not the same command");
            tg.send_status(p.itt(), 0x00);
            tg.logout();
        },
        {0});
    const auto t0 = std::chrono::steady_clock::now();
    r.submit(0, plain(0, 0, {0, 0, 0, 0, 0, 0}));
    REQUIRE(r.wait_for(1));
    CHECK(std::chrono::steady_clock::now() - t0 >= 30ms); // 10 ms then 20 ms
    CHECK(r.out.at(0).status == vscsi_status::done);
    CHECK(r.br->counters().retries == 2);
    CHECK(r.br->counters().submitted == 3);
    REQUIRE(r.h.logout(*r.session) == std::error_code{});
    ivs::test::finish(r.h, r.target);
}

TEST_CASE("bridge: BUSY for longer than the budget ends in RESET", "[bridge][scripted]")
{
    bridge_options opt;
    opt.retry_budget = 60ms;
    rig r(opt);
    r.start(
        [&](scripted_target& tg) {
            tg.login();
            // Delays 10 and 20 ms fit the 60 ms budget, the next 40 ms does not.
            for (int i = 0; i < 3; ++i) {
                auto p = tg.expect(opcode::scsi_command);
                tg.send_status(p.itt(), 0x08);
            }
            tg.logout();
        },
        {0});
    r.submit(0, plain(0, 0, {0, 0, 0, 0, 0, 0}));
    REQUIRE(r.wait_for(1));
    CHECK(r.out.at(0).status == vscsi_status::reset);
    CHECK(r.br->counters().retries == 2);
    REQUIRE(r.h.logout(*r.session) == std::error_code{});
    ivs::test::finish(r.h, r.target);
}

TEST_CASE("bridge: CHECK CONDITION becomes SENSE; RESERVATION CONFLICT and bare CHECK CONDITION ERR",
          "[bridge][scripted]")
{
    rig r;
    r.start(
        [&](scripted_target& tg) {
            tg.login();
            auto p = tg.expect(opcode::scsi_command);
            tg.send_status(p.itt(), 0x02, ivs::test::fixed_sense(0x03, 0x11, 0x00));
            p = tg.expect(opcode::scsi_command);
            // Descriptor format: ILLEGAL REQUEST, INVALID FIELD IN CDB.
            const std::vector<std::byte> desc{std::byte{0x72}, std::byte{0x05}, std::byte{0x24}, std::byte{0x00},
                                              std::byte{0},    std::byte{0},    std::byte{0},    std::byte{0}};
            tg.send_status(p.itt(), 0x02, desc);
            p = tg.expect(opcode::scsi_command);
            tg.send_status(p.itt(), 0x18);
            p = tg.expect(opcode::scsi_command);
            tg.send_status(p.itt(), 0x02); // no sense data
            tg.logout();
        },
        {0});
    for (std::size_t i = 0; i < 4; ++i) {
        r.submit(i, plain(0, 0, {0, 0, 0, 0, 0, 0}));
        REQUIRE(r.wait_for(i + 1));
    }
    auto c = r.out.at(0);
    CHECK(c.status == vscsi_status::sense);
    CHECK(scsi::sense_key(c.sense) == 0x03);
    CHECK(c.sense[12] == 0x11);
    c = r.out.at(1);
    CHECK(c.status == vscsi_status::sense);
    CHECK(c.sense[0] == 0x70);
    CHECK(scsi::sense_key(c.sense) == 0x05);
    CHECK(c.sense[12] == 0x24);
    CHECK(r.out.at(2).status == vscsi_status::err);
    CHECK(r.out.at(3).status == vscsi_status::err);
    REQUIRE(r.h.logout(*r.session) == std::error_code{});
    ivs::test::finish(r.h, r.target);
}

TEST_CASE("bridge: unmapped slots answer locally; REPORT LUNS is rewritten", "[bridge][scripted]")
{
    rig r;
    r.start(
        [&](scripted_target& tg) {
            tg.login();
            const received_pdu p = tg.expect(opcode::scsi_command);
            const auto cmd = p.command();
            if (cmd.cdb[0] != std::byte{0xa0} || cmd.lun != pdu::encode_lun(7))
                tg.fail("REPORT LUNS not sent to the target's first mapped LUN");
            if (cmd.expected_data_transfer_length < 4096)
                tg.fail("REPORT LUNS asks for too little of the list");
            // LUNs 0, 7 and 12 exist remotely; the bridge mapped 7 and 12.
            std::vector<std::byte> list(32);
            list[3] = std::byte{24};
            list[17] = std::byte{7};
            list[25] = std::byte{12};
            tg.send_data_in(p.itt(), 0, 0, list, true, cmd.expected_data_transfer_length - 32);
            tg.logout();
        },
        {7, 12});
    REQUIRE(r.slots == std::vector<slot>{{0, 0}, {0, 1}});

    std::vector<std::byte> inq(96, std::byte{0xee});
    r.submit(0, plain(0, 4, {0x12, 0, 0, 0, 96, 0}, inq));
    r.submit(1, plain(0, 4, {0x00, 0, 0, 0, 0, 0}));
    r.submit(2, plain(3, 0, {0x00, 0, 0, 0, 0, 0}));
    std::vector<std::byte> luns(16);
    r.submit(3, plain(0, 0, {0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0}, luns));
    REQUIRE(r.wait_for(4));
    auto c = r.out.at(0);
    CHECK(c.status == vscsi_status::done);
    CHECK(c.residual == 96 - 36);
    CHECK(inq[0] == std::byte{0x7f}); // qualifier 3, type 0x1f
    for (std::size_t i : {1u, 2u}) {
        c = r.out.at(i);
        CHECK(c.status == vscsi_status::sense);
        CHECK(scsi::sense_key(c.sense) == 0x05);
        CHECK(c.sense[12] == 0x25);
    }
    c = r.out.at(3);
    CHECK(c.status == vscsi_status::done);
    CHECK(c.residual == 0);
    // Two local LUNs (16 bytes of list), of which the first fits.
    const std::vector<std::byte> want{std::byte{0}, std::byte{0}, std::byte{0}, std::byte{16},
                                      std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0},
                                      std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0},
                                      std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0}};
    CHECK(luns == want);
    REQUIRE(r.h.logout(*r.session) == std::error_code{});
    ivs::test::finish(r.h, r.target);
}

TEST_CASE("bridge: malformed commands from the kernel side get ERR", "[bridge][scripted]")
{
    rig r;
    r.start(
        [&](scripted_target& tg) {
            tg.login();
            tg.logout();
        },
        {0});
    // The device's I2T output altered on the way: unknown direction, no
    // CDB, an oversized CDB, a transfer beyond the bridge's maximum.
    bridge_options small;
    small.max_transfer = 4096;
    faulty_device faulty(*r.dev);
    r.br.reset();
    r.br = std::make_unique<ivs::bridge::bridge>(r.h.io, faulty, small);
    REQUIRE(!r.br->add_session(*r.session, {0}, r.slots));
    r.br->start();
    const std::vector<std::function<void(vscsi_i2t&)>> mangles{
        [](vscsi_i2t& c) { c.direction = static_cast<vscsi_dir>(7); },
        [](vscsi_i2t& c) { c.cmdlen = 0; },
        [](vscsi_i2t& c) { c.cmdlen = 17; },
        [](vscsi_i2t& c) { c.direction = vscsi_dir::none; }, // with datalen > 0
        {},
    };
    std::vector<std::byte> buf(4096), big(8192);
    for (std::size_t i = 0; i < mangles.size(); ++i) {
        faulty.mangle = mangles[i];
        r.submit(i, rw10(false, 0, 0, 0, i + 1 < mangles.size() ? std::span(buf) : std::span(big)));
        REQUIRE(r.wait_for(i + 1));
        CHECK(r.out.at(i).status == vscsi_status::err);
    }
    CHECK(r.br->counters().err == mangles.size());
    CHECK(r.br->counters().submitted == 0);
    REQUIRE(r.h.logout(*r.session) == std::error_code{});
    ivs::test::finish(r.h, r.target);
}

TEST_CASE("bridge: when the session closes, every command gets a completion", "[bridge][scripted]")
{
    rig r;
    r.start(
        [&](scripted_target& tg) {
            tg.login();
            for (int i = 0; i < 3; ++i)
                tg.expect(opcode::scsi_command);
            tg.close(); // recover=false: the session fails its commands
        },
        {0, 1});
    std::vector<std::vector<std::byte>> bufs(3, std::vector<std::byte>(4096));
    r.submit(0, rw10(false, 0, 0, 0, bufs[0]));
    r.submit(1, rw10(true, 0, 1, 0, bufs[1]));
    r.submit(2, plain(0, 0, {0x00, 0, 0, 0, 0, 0}));
    REQUIRE(r.wait_for(3));
    ivs::test::settle(r.h);
    for (std::size_t i = 0; i < 3; ++i) {
        const auto st = r.out.at(i).status;
        CHECK((st == vscsi_status::err || st == vscsi_status::reset));
    }
    CHECK(r.br->outstanding() == 0);
    // Later commands fail at once through the failed session.
    r.submit(3, plain(0, 1, {0x00, 0, 0, 0, 0, 0}));
    REQUIRE(r.wait_for(4));
    CHECK(r.out.at(3).status == vscsi_status::err);
    CHECK(r.target.join() == "");
}

TEST_CASE("bridge: shutdown and remove_session complete what is outstanding", "[bridge][scripted]")
{
    rig r;
    r.start(
        [&](scripted_target& tg) {
            tg.login();
            for (int i = 0; i < 2; ++i)
                tg.expect(opcode::scsi_command);
            // Answer one after the bridge gave up on it: nothing more reaches vscsi.
            tg.logout();
        },
        {0});
    r.submit(0, plain(0, 0, {0x00, 0, 0, 0, 0, 0}));
    r.submit(1, plain(0, 0, {0x00, 0, 0, 0, 0, 0}));
    REQUIRE(r.h.run_until([&] { return r.target.received_count() >= 4; })); // 2 logins + 2 commands
    CHECK(r.out.count() == 0);
    CHECK(r.br->outstanding() == 2);
    SECTION("shutdown")
    {
        r.br->shutdown();
        CHECK(r.out.count() == 2);
        CHECK(r.out.at(0).status == vscsi_status::reset);
        CHECK(r.out.at(1).status == vscsi_status::reset);
        // New commands are not served any more after shutdown.
        r.submit(2, plain(0, 0, {0x00, 0, 0, 0, 0, 0}));
        ivs::test::settle(r.h, 100ms);
        CHECK(r.out.count() == 2);
        CHECK(r.br->counters().commands == 2);
    }
    SECTION("remove_session")
    {
        const auto freed = r.br->remove_session(*r.session);
        CHECK(freed == std::vector<slot>{{0, 0}});
        CHECK(r.out.count() == 2);
        CHECK(r.out.at(0).status == vscsi_status::reset);
        r.submit(2, plain(0, 0, {0x00, 0, 0, 0, 0, 0}));
        REQUIRE(r.wait_for(3));
        CHECK(r.out.at(2).status == vscsi_status::sense); // unmapped now
    }
    // The session's own completions come later and change nothing.
    CHECK(r.h.logout(*r.session) == std::error_code{});
    ivs::test::settle(r.h);
    CHECK(r.target.join() == "");
}

TEST_CASE("bridge: commands the midlayer queues from completions", "[bridge][scripted]")
{
    rig r;
    SECTION("are served at once, one after another")
    {
        r.start(
            [&](scripted_target& tg) {
                tg.login();
                for (int i = 0; i < 3; ++i) {
                    const received_pdu p = tg.expect(opcode::scsi_command);
                    tg.send_status(p.itt(), 0x00);
                }
                tg.logout();
            },
            {0});
        // Each completion queues the next TEST UNIT READY, as a midlayer at QD 1 does.
        auto chain = std::make_shared<std::function<void(std::size_t)>>();
        *chain = [&r, chain](std::size_t id) {
            auto done = r.out.slot(id);
            REQUIRE(!r.vs.submit(plain(0, 0, {0x00, 0, 0, 0, 0, 0}), [chain, done, id](const scsi_completion& c) {
                done(c);
                if (id < 2)
                    (*chain)(id + 1);
            }));
        };
        (*chain)(0);
        REQUIRE(r.wait_for(3));
        for (std::size_t i = 0; i < 3; ++i)
            CHECK(r.out.at(i).status == vscsi_status::done);
        CHECK(r.br->counters().commands == 3);
        CHECK(r.h.logout(*r.session) == std::error_code{});
        *chain = nullptr;
    }
    SECTION("while remove_session answers are not sent to that session")
    {
        r.start(
            [&](scripted_target& tg) {
                tg.login();
                for (int i = 0; i < 2; ++i)
                    tg.expect(opcode::scsi_command);
                tg.logout(); // a third SCSI Command here fails the script
            },
            {0});
        for (std::size_t id = 0; id < 2; ++id) {
            auto done = r.out.slot(id);
            REQUIRE(!r.vs.submit(plain(0, 0, {0x00, 0, 0, 0, 0, 0}), [&r, done, id](const scsi_completion& c) {
                done(c);
                REQUIRE(!r.vs.submit(plain(0, 0, {0x00, 0, 0, 0, 0, 0}), r.out.slot(id + 2)));
            }));
        }
        REQUIRE(r.h.run_until([&] { return r.target.received_count() >= 4; })); // 2 logins + 2 commands
        r.br->remove_session(*r.session);
        REQUIRE(r.wait_for(4));
        CHECK(r.out.at(0).status == vscsi_status::reset);
        CHECK(r.out.at(1).status == vscsi_status::reset);
        CHECK(r.out.at(2).status == vscsi_status::sense); // the slot is unmapped now
        CHECK(r.out.at(3).status == vscsi_status::sense);
        CHECK(r.h.logout(*r.session) == std::error_code{});
    }
    ivs::test::settle(r.h);
    CHECK(r.target.join() == "");
}

TEST_CASE("bridge: after a reconnect reissues a READ, bytes already handed over are not repeated", "[bridge][scripted]")
{
    scripted_target second;
    rig r({}, {&second});
    const auto payload = ivs::test::random_bytes(4096, 21);
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
        tg.send_data_in(p.itt(), 0, 0, bytes_of(payload, 0, 3072));
        tg.send_data_in(p.itt(), 1, 3072, bytes_of(payload, 3072, 1024), true);
        tg.logout();
    });
    std::vector<std::byte> buf(4096);
    r.submit(0, rw10(false, 0, 0, 0, buf));
    REQUIRE(r.wait_for(1, 30s));
    CHECK(r.out.at(0).status == vscsi_status::done);
    CHECK(r.out.at(0).residual == 0);
    CHECK(ivs::test::compare_bytes(buf, payload) == "");
    CHECK(r.br->counters().bytes_read == 4096); // DATA_READ would fail with ENOMEM beyond
    CHECK(r.br->counters().device_errors == 0);
    REQUIRE(r.h.logout(*r.session) == std::error_code{});
    CHECK(r.target.join() == "");
    ivs::test::finish(r.h, second);
}

TEST_CASE("bridge: a failing device call is logged once and the bridge goes on", "[bridge][scripted]")
{
    std::vector<std::string> logged;
    bridge_options opt;
    opt.log = ivs::log::sink([&](ivs::log::level, std::string_view l) { logged.emplace_back(l); });
    rig r;
    faulty_device faulty(*r.dev);
    const auto payload = ivs::test::random_bytes(1024, 4);
    r.start(
        [&](scripted_target& tg) {
            tg.login();
            for (int i = 0; i < 4; ++i) {
                const received_pdu p = tg.expect(opcode::scsi_command);
                if (p.command().read_bit)
                    tg.send_data_in(p.itt(), 0, 0, payload, true);
                else
                    tg.send_status(p.itt(), 0x00);
            }
            tg.logout();
        },
        {0});
    r.br.reset();
    r.br = std::make_unique<ivs::bridge::bridge>(r.h.io, faulty, opt);
    REQUIRE(!r.br->add_session(*r.session, {0}, r.slots));
    r.br->start();

    // DATA_READ fails once for each READ: they end with ERR, one log line.
    faulty.fail_data_read = 1;
    std::vector<std::byte> b0(1024), b1(1024), b2(1024);
    r.submit(0, rw10(false, 0, 0, 0, b0));
    REQUIRE(r.wait_for(1));
    faulty.fail_data_read = 1;
    r.submit(1, rw10(false, 0, 0, 0, b1));
    REQUIRE(r.wait_for(2));
    CHECK(r.out.at(0).status == vscsi_status::err);
    CHECK(r.out.at(1).status == vscsi_status::err);
    // T2I fails once: that answer is lost, the next command still works.
    faulty.fail_t2i = 1;
    r.submit(2, plain(0, 0, {0x00, 0, 0, 0, 0, 0}));
    REQUIRE(r.h.run_until([&] { return r.br->counters().device_errors == 3; }, 20s));
    r.submit(3, rw10(false, 0, 0, 0, b2));
    REQUIRE(r.wait_for(3));
    CHECK(r.out.at(3).status == vscsi_status::done);
    CHECK(ivs::test::compare_bytes(b2, payload) == "");
    CHECK(logged.size() == 2); // one line per kind: DATA_READ, T2I
    REQUIRE(r.h.logout(*r.session) == std::error_code{});
    ivs::test::finish(r.h, r.target);
    // The lost answer: the real device still holds command 2; its last close
    // (the rig's teardown) completes it with RESET.
}

TEST_CASE("bridge: a READ whose target lies about its data never shows another command's bytes",
          "[bridge][scripted][integrity]")
{
    // The first READ leaves its data in the bridge's pooled buffer; the
    // second one's target sends 512 bytes, then a zero-length Data-In at the
    // end of the transfer with status GOOD (RFC 7143 §11.7: offsets must be
    // contiguous). That READ must end in an error, its buffer holding no
    // byte of the first READ's data.
    for (bool zero_copy : {false, true}) {
        INFO("zero copy: " << zero_copy);
        rig r;
        faulty_device dev(*r.dev);
        dev.zero_copy = zero_copy;
        const auto secret = ivs::test::random_bytes(4096, 41);
        const auto honest = ivs::test::random_bytes(512, 43);
        r.start(
            [&](scripted_target& tg) {
                tg.login();
                received_pdu p = tg.expect(opcode::scsi_command);
                tg.send_data_in(p.itt(), 0, 0, secret, true);
                p = tg.expect(opcode::scsi_command);
                tg.send_data_in(p.itt(), 0, 0, honest);
                pdu::data_in d;
                d.initiator_task_tag = p.itt();
                d.data_sn = 1;
                d.buffer_offset = 4096;
                d.final_bit = d.status_bit = true;
                tg.stamp(d, true);
                tg.send(d);
                tg.expect_closed();
            },
            {0});
        r.br.reset();
        r.br = std::make_unique<ivs::bridge::bridge>(r.h.io, dev, bridge_options{});
        r.slots.clear();
        REQUIRE(!r.br->add_session(*r.session, {0}, r.slots));
        r.br->start();
        std::vector<std::byte> first(4096), second(4096, std::byte{0});
        r.submit(0, rw10(false, 0, 0, 0, first));
        REQUIRE(r.wait_for(1));
        REQUIRE(r.out.at(0).status == vscsi_status::done);
        REQUIRE(ivs::test::compare_bytes(first, secret) == "");
        r.submit(1, rw10(false, 0, 0, 0, second));
        REQUIRE(r.wait_for(2));
        CHECK(r.out.at(1).status == vscsi_status::err);
        // Only the honest 512 bytes may be there; nothing of the first READ.
        CHECK(std::equal(honest.begin(), honest.end(), second.begin()));
        CHECK(std::all_of(second.begin() + 512, second.end(), [](std::byte b) { return b == std::byte{0}; }));
        ivs::test::finish(r.h, r.target);
    }
}

TEST_CASE("bridge: a WRITE the target answers GOOD with a residual ends with ERR, not DONE",
          "[bridge][scripted][integrity]")
{
    rig r;
    ivs::test::login_script ls;
    ivs::test::set_key(ls, "ImmediateData", "No");
    r.start(
        [&](scripted_target& tg) {
            tg.login(ls);
            // Half of it asked for and taken; the status says so (U, §11.4.5).
            received_pdu w = tg.expect(opcode::scsi_command);
            tg.send_r2t(w.itt(), 0x10, 0, 0, 2048);
            tg.collect_data_out(w.itt(), 0x10, 0, 2048);
            tg.send_status(w.itt(), 0x00, {}, 2048);
            // All of it: DONE.
            w = tg.expect(opcode::scsi_command);
            tg.send_r2t(w.itt(), 0x11, 0, 0, 4096);
            tg.collect_data_out(w.itt(), 0x11, 0, 4096);
            tg.send_status(w.itt(), 0x00);
            tg.logout();
        },
        {0});
    auto data = ivs::test::random_bytes(4096, 47);
    r.submit(0, rw10(true, 0, 0, 0, data));
    REQUIRE(r.wait_for(1));
    CHECK(r.out.at(0).status == vscsi_status::err);
    r.submit(1, rw10(true, 0, 0, 0, data));
    REQUIRE(r.wait_for(2));
    CHECK(r.out.at(1).status == vscsi_status::done);
    REQUIRE(r.h.logout(*r.session) == std::error_code{});
    ivs::test::finish(r.h, r.target);
}

TEST_CASE("bridge: a READ its target breaks on every connection ends with RESET once the session gives up on it",
          "[bridge][scripted][integrity]")
{
    // The session reissues it max_reissues (3) times, then fails it with
    // reissue_limit, a retryable condition: the midlayer may try again.
    auto attack = [](scripted_target& tg) {
        tg.login();
        const received_pdu p = tg.expect(opcode::scsi_command);
        tg.send_data_in(p.itt(), 0, 0, ivs::test::random_bytes(2 * p.command().expected_data_transfer_length, 1));
        tg.drain_until_closed();
    };
    scripted_target t1, t2, t3;
    rig r({}, {&t1, &t2, &t3}, [](iscsi::session_config& c) { c.login.proposals.default_time2wait = 0; });
    for (auto* t : {&t1, &t2, &t3})
        t->run(attack);
    r.start(attack, {0});
    std::vector<std::byte> buf(4096);
    r.submit(0, rw10(false, 0, 0, 0, buf));
    REQUIRE(r.wait_for(1));
    CHECK(r.out.at(0).status == vscsi_status::reset);
    CHECK(r.session->counters().reissued == 3);
    ivs::test::finish(r.h, r.target);
    for (auto* t : {&t1, &t2, &t3})
        ivs::test::finish(r.h, *t);
}
