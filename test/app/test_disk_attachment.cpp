// disk_attachment against a scripted target: login, REPORT LUNS, mapping,
// the midlayer's probe, flush and detach in order, and a failing step
// undoing the ones before it. The host is the embedded vscsi and the bridge
// on their io thread; the target answers like a small disk.
#include "app/disk_attachment.hpp"
#include "app/host.hpp"
#include "pdu/lun.hpp"
#include "scsi/cdb.hpp"
#include "scsi/opcode.hpp"
#include "vscsi/embedded_vscsi.hpp"
#include "scsi/sense.hpp"
#include "test/support/scripted_session.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <functional>
#include <thread>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

using namespace ivs;
using namespace std::chrono_literals;
using ivs::test::received_pdu;
using ivs::test::scripted_target;

namespace {

// What the scripted target is: its LUNs and how it answers.
struct disk_target {
    std::vector<std::uint64_t> report{1}; // REPORT LUNS lists these
    std::uint64_t disk_lun = 1;           // the LUN that answers INQUIRY as a device
    std::uint8_t device_type = 0x00;      // its peripheral device type
    std::uint32_t block_size = 512;
    std::uint64_t blocks = 2048;
    std::vector<std::byte> sync_sense;    // non-empty: SYNCHRONIZE CACHE ends in CHECK CONDITION
    std::atomic<bool> hold_first = false; // leave the first SCSI command unanswered
    std::atomic<int> syncs = 0;
    // A rescan's target: more LUNs answering as disks, READs to one LUN
    // held unanswered, and AsyncEvent 0 with 3F/0E after the next command.
    std::mutex m; // guards report and extra_disks once running
    std::vector<std::uint64_t> extra_disks;
    std::atomic<int> hold_reads_lun = -1;
    std::atomic<bool> announce = false;
    // The next SCSI command is answered CHECK CONDITION, UNIT ATTENTION
    // with this ASC/ASCQ (0: none), as tgtd tells of a LUN change (3F/0E).
    std::atomic<std::uint16_t> unit_attention = 0;

    void set_report(std::vector<std::uint64_t> luns)
    {
        std::lock_guard lk(m);
        report = std::move(luns);
    }
    bool is_disk(std::uint64_t lun)
    {
        std::lock_guard lk(m);
        return lun == disk_lun || std::find(extra_disks.begin(), extra_disks.end(), lun) != extra_disks.end();
    }
};

std::uint16_t lun_of(const pdu::scsi_command& c)
{
    std::uint16_t lun = 0xffff;
    (void)pdu::decode_lun(c.lun, lun);
    return lun;
}

void send_data(scripted_target& tg, const received_pdu& p, std::vector<std::byte> data, std::size_t allocation)
{
    const std::uint32_t edtl = p.command().expected_data_transfer_length;
    data.resize(std::min<std::size_t>({data.size(), allocation, edtl}));
    tg.send_data_in(p.itt(), 0, 0, data, true, edtl - static_cast<std::uint32_t>(data.size()));
}

std::uint32_t be(const pdu::scsi_command& c, std::size_t at, int n)
{
    std::uint32_t v = 0;
    for (int i = 0; i < n; ++i)
        v = (v << 8) | std::to_integer<std::uint8_t>(c.cdb[at + static_cast<std::size_t>(i)]);
    return v;
}

// Answers SCSI commands like a small disk until the Logout Request, which it
// answers before the connection closes.
void serve_until_logout(scripted_target& tg, disk_target& d)
{
    bool held = false;
    for (;;) {
        const received_pdu p = tg.next();
        if (p.op() == pdu::opcode::logout_request) {
            const auto req = p.as<pdu::logout_request>();
            pdu::logout_response rsp;
            rsp.initiator_task_tag = req.initiator_task_tag;
            tg.stamp(rsp, true);
            tg.send(rsp);
            tg.expect_closed();
            return;
        }
        if (p.op() != pdu::opcode::scsi_command)
            tg.fail("unexpected " + p.describe());
        if (d.hold_first && !held) {
            held = true;
            continue;
        }
        if (const std::uint16_t ua = d.unit_attention.exchange(0); ua != 0) {
            tg.send_status(
                p.itt(), 0x02,
                ivs::test::fixed_sense(0x06, static_cast<std::uint8_t>(ua >> 8), static_cast<std::uint8_t>(ua & 0xff)));
            continue;
        }
        const auto c = p.command();
        const auto op = std::to_integer<std::uint8_t>(c.cdb[0]);
        const bool here = d.is_disk(lun_of(c));
        switch (op) {
        case scsi::op::report_luns: {
            std::vector<std::uint64_t> report;
            {
                std::lock_guard lk(d.m);
                report = d.report;
            }
            std::vector<std::byte> data(8 + 8 * report.size());
            data[3] = std::byte(8 * report.size());
            for (std::size_t i = 0; i < report.size(); ++i)
                data[9 + 8 * i] = std::byte(report[i]);
            send_data(tg, p, data, be(c, 6, 4));
            break;
        }
        case scsi::op::read_10:
            if (static_cast<int>(lun_of(c)) != d.hold_reads_lun)
                tg.fail("unexpected READ " + p.describe());
            break; // held: never answered
        case scsi::op::inquiry: {
            std::vector<std::byte> data(36);
            data[0] = std::byte{here ? d.device_type : std::uint8_t{0x7f}};
            data[2] = std::byte{0x05};
            data[3] = std::byte{0x02};
            data[4] = std::byte{31};
            const std::string text = "IET     VIRTUAL-DISK    0001";
            for (std::size_t i = 0; i < text.size(); ++i)
                data[8 + i] = std::byte(text[i]);
            send_data(tg, p, data, be(c, 3, 2));
            break;
        }
        case scsi::op::service_action_in_16: {
            std::vector<std::byte> data(32);
            for (int i = 0; i < 8; ++i)
                data[static_cast<std::size_t>(i)] = std::byte((d.blocks - 1) >> (56 - 8 * i));
            for (int i = 0; i < 4; ++i)
                data[8 + static_cast<std::size_t>(i)] = std::byte(d.block_size >> (24 - 8 * i));
            send_data(tg, p, data, be(c, 10, 4));
            break;
        }
        case scsi::op::synchronize_cache_10:
            ++d.syncs;
            if (!d.sync_sense.empty())
                tg.send_status(p.itt(), 0x02, d.sync_sense);
            else
                tg.send_status(p.itt(), 0x00);
            break;
        case scsi::op::test_unit_ready: tg.send_status(p.itt(), 0x00); break;
        default: tg.fail("unexpected command " + p.describe());
        }
        if (d.announce.exchange(false)) {
            // RFC 7143 §11.9: AsyncEvent 0, sense REPORTED LUNS DATA HAS CHANGED.
            pdu::async_message m;
            m.event = pdu::async_event::scsi_async_event;
            m.lun = pdu::encode_lun(0);
            const auto data = ivs::test::sense_segment(ivs::test::fixed_sense(0x06, 0x3f, 0x0e));
            m.data_segment_length = static_cast<std::uint32_t>(data.size());
            tg.stamp(m, true);
            tg.send(m, data);
        }
    }
}

struct log_lines {
    std::mutex m;
    std::vector<std::string> lines;

    log::sink sink()
    {
        return log::sink([this](log::level, std::string_view l) {
            std::lock_guard lk(m);
            lines.emplace_back(l);
        });
    }
    std::size_t count(const std::string& part)
    {
        std::lock_guard lk(m);
        return static_cast<std::size_t>(std::count_if(
            lines.begin(), lines.end(), [&](const auto& l) { return l.find(part) != std::string::npos; }));
    }
    bool has(const std::string& part)
    {
        std::lock_guard lk(m);
        return std::any_of(lines.begin(), lines.end(),
                           [&](const auto& l) { return l.find(part) != std::string::npos; });
    }
    std::string all()
    {
        std::lock_guard lk(m);
        std::string out;
        for (const auto& l : lines)
            out += l + "\n";
        return out;
    }
};

struct fixture {
    scripted_target target;
    disk_target disk;
    log_lines log;
    app::host machine;
    app::disk_attachment_options options;

    fixture() : machine(host_options(log))
    {
        std::string error;
        REQUIRE_FALSE(machine.open(error));
        options.session = ivs::test::make_config({&target});
    }

    static app::host_options host_options(log_lines& l)
    {
        app::host_options o;
        o.log = l.sink();
        return o;
    }

    void run_disk()
    {
        target.run([this](scripted_target& tg) {
            tg.login();
            serve_until_logout(tg, disk);
        });
    }

    std::string finish()
    {
        const auto deadline = std::chrono::steady_clock::now() + 20s;
        while (!target.finished() && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(10ms);
        return target.join();
    }

    std::size_t mapped()
    {
        return machine.io().call<std::size_t>([&](auto done) { done(machine.bridge().map().slots().size()); });
    }

    std::string state(app::disk_attachment& a)
    {
        return machine.io().call<std::string>([&](auto done) { done(a.state()); });
    }

    // The SCSI opcodes the target received, in order, and where the
    // Logout Request came (index into that order; -1 when none).
    std::pair<std::vector<std::uint8_t>, int> opcodes()
    {
        std::vector<std::uint8_t> ops;
        int logout = -1;
        for (const auto& p : target.received()) {
            if (p.op() == pdu::opcode::scsi_command)
                ops.push_back(std::to_integer<std::uint8_t>(p.command().cdb[0]));
            else if (p.op() == pdu::opcode::logout_request)
                logout = static_cast<int>(ops.size());
        }
        return {ops, logout};
    }
};

} // namespace

TEST_CASE("disk_attachment: login, REPORT LUNS, map, probe; flush and detach in order", "[app][attachment]")
{
    fixture f;
    f.options.require_disk = true;
    f.run_disk();
    app::disk_attachment a(f.machine, f.options);
    std::string error;
    REQUIRE(a.attach(error));
    INFO(f.log.all());
    CHECK(error.empty());
    REQUIRE(a.luns().size() == 1);
    const auto& l = a.luns().front();
    CHECK(l.remote == 1);
    CHECK(l.where == bridge::slot{0, 0});
    CHECK(l.device == "sd0");
    CHECK(l.block_size == 512);
    CHECK(l.block_count == 2048);
    CHECK(l.bytes() == 2048u * 512u);
    CHECK(f.state(a) == "logged in");
    CHECK(f.mapped() == 1);
    CHECK(f.log.has("logged in to " + ivs::test::target_iqn));
    // The session writes through the host's sink too.
    CHECK(f.log.has("session " + ivs::test::target_iqn + ": login -> full feature"));
    CHECK(f.log.has("sd0 at scsibus0 targ 0 lun 0: <IET, VIRTUAL-DISK, 0001> SCSI3 0/direct fixed"));
    CHECK(f.log.has("sd0 is LUN 1"));

    // The one flush path: SYNCHRONIZE CACHE through the session, to LUN 1.
    CHECK_FALSE(a.flush());
    CHECK(f.disk.syncs == 1);

    a.detach();
    CHECK(f.finish() == "");
    CHECK(f.disk.syncs == 2); // detach flushed once more
    CHECK(f.log.has("sd0 detached"));
    CHECK(f.mapped() == 0);
    CHECK(a.luns().empty());
    CHECK(f.state(a) == "detached");
    // The flush came after the probe and before the logout, addressed to LUN 1.
    const auto [ops, logout] = f.opcodes();
    REQUIRE(ops.size() >= 2);
    CHECK(ops.front() == scsi::op::report_luns);
    CHECK(ops.back() == scsi::op::synchronize_cache_10);
    CHECK(logout == static_cast<int>(ops.size()));
    for (const auto& p : f.target.received())
        if (p.op() == pdu::opcode::scsi_command &&
            std::to_integer<std::uint8_t>(p.command().cdb[0]) == scsi::op::synchronize_cache_10)
            CHECK(lun_of(p.command()) == 1);

    a.detach(); // idempotent
    CHECK(f.disk.syncs == 2);
}

TEST_CASE("disk_attachment: a step that fails undoes the ones before it", "[app][attachment]")
{
    fixture f;
    std::string error;
    std::string want;
    SECTION("the target reports no LUNs: logged out again")
    {
        f.disk.report = {};
        want = "the target reports no LUNs";
    }
    SECTION("no direct-access LUN: unmapped, the probe's devices detached, logged out")
    {
        f.disk.device_type = 0x0c; // a storage array controller: no sd(4)
        f.options.require_disk = true;
        want = "no disk attached (no direct-access LUN among 1)";
    }
    f.run_disk();
    app::disk_attachment a(f.machine, f.options);
    CHECK_FALSE(a.attach(error));
    CHECK(error == want);
    CHECK_FALSE(a.attached());
    CHECK(f.finish() == ""); // the script saw the logout
    CHECK(f.mapped() == 0);
    CHECK(a.luns().empty());
    CHECK(f.disk.syncs == 0); // nothing was written: no flush
    CHECK(f.state(a) == "detached");
}

TEST_CASE("disk_attachment: a probe that does not finish in time fails the attach, bounded", "[app][attachment]")
{
    fixture f;
    f.disk.hold_first = true; // the probe's first command never gets an answer
    f.options.luns = {1};
    f.options.probe_timeout = 300ms;
    f.options.detach_timeout = 300ms;
    f.run_disk();
    app::disk_attachment a(f.machine, f.options);
    std::string error;
    const auto t0 = std::chrono::steady_clock::now();
    CHECK_FALSE(a.attach(error));
    CHECK(std::chrono::steady_clock::now() - t0 < 10s);
    CHECK(error == "probing did not finish within 1 s");
    CHECK(f.finish() == "");
    CHECK(f.mapped() == 0);
    CHECK(f.log.has("detaching the disks did not finish within 1 s"));
}

TEST_CASE("disk_attachment: a refused login leaves nothing to undo", "[app][attachment]")
{
    fixture f;
    f.target.run([](scripted_target& tg) { tg.login_status(0x02, 0x03); }); // target not found
    app::disk_attachment a(f.machine, f.options);
    std::string error;
    CHECK_FALSE(a.attach(error));
    CHECK_FALSE(error.empty());
    CHECK(f.finish() == "");
    CHECK(f.state(a) == "login failed");
    CHECK(f.mapped() == 0);
}

TEST_CASE("disk_attachment: a failed flush is an error; ILLEGAL REQUEST is nothing to flush", "[app][attachment]")
{
    fixture f;
    f.options.luns = {1};
    SECTION("MEDIUM ERROR")
    {
        f.disk.sync_sense = ivs::test::fixed_sense(scsi::key::medium_error, 0x0c, 0x00);
        f.run_disk();
        app::disk_attachment a(f.machine, f.options);
        std::string error;
        REQUIRE(a.attach(error));
        CHECK(a.flush() == std::errc::io_error);
        a.detach();
        CHECK(f.log.has("SYNCHRONIZE CACHE failed"));
    }
    SECTION("ILLEGAL REQUEST")
    {
        f.disk.sync_sense = ivs::test::fixed_sense(scsi::key::illegal_request, 0x20, 0x00);
        f.run_disk();
        app::disk_attachment a(f.machine, f.options);
        std::string error;
        REQUIRE(a.attach(error));
        CHECK_FALSE(a.flush());
        a.detach();
        CHECK_FALSE(f.log.has("SYNCHRONIZE CACHE failed"));
    }
    CHECK(f.finish() == "");
    CHECK(f.disk.syncs == 2);
}

TEST_CASE("disk_attachment: REPORTED LUNS DATA HAS CHANGED: a rescan maps and probes new LUNs, detaches gone ones",
          "[app][attachment][rescan]")
{
    fixture f;
    f.disk.report = {1, 2};
    f.disk.extra_disks = {2, 3};
    std::atomic<int> events = 0;
    f.options.on_lun_change = [&] { ++events; };
    f.run_disk();
    app::disk_attachment a(f.machine, f.options);
    std::string error;
    REQUIRE(a.attach(error));
    INFO(f.log.all());
    REQUIRE(a.luns().size() == 2);
    CHECK(a.luns()[1].where == bridge::slot{0, 1});
    CHECK(a.luns()[1].device == "sd1");

    // A READ on LUN 2 that the target holds: outstanding when LUN 2 goes.
    f.disk.hold_reads_lun = 2;
    std::mutex m;
    std::vector<vscsi::scsi_completion> held;
    std::vector<std::byte> buf(512);
    vscsi::scsi_command read;
    read.target = 0;
    read.lun = 1;
    read.set_cdb(scsi::read_write(false, 0, 1));
    read.dir = vscsi::vscsi_dir::read;
    read.data_in = buf;
    REQUIRE_FALSE(f.machine.midlayer()->submit(read, [&](const vscsi::scsi_completion& c) {
        std::lock_guard lk(m);
        held.push_back(c);
    }));
    auto reads_seen = [&] {
        std::size_t n = 0;
        for (const auto& p : f.target.received())
            n += p.op() == pdu::opcode::scsi_command &&
                 std::to_integer<std::uint8_t>(p.command().cdb[0]) == scsi::op::read_10;
        return n;
    };
    auto wait = [](const std::function<bool()>& cond) {
        const auto deadline = std::chrono::steady_clock::now() + 10s;
        while (!cond() && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(5ms);
        return cond();
    };
    REQUIRE(wait([&] { return reads_seen() == 1; }));

    // LUN 2 goes, LUN 3 comes, and the target says so after its next answer.
    f.disk.set_report({1, 3});
    f.disk.announce = true;
    vscsi::scsi_command tur;
    tur.target = 0;
    tur.lun = 0;
    tur.set_cdb(scsi::test_unit_ready());
    vscsi::scsi_completion tur_done;
    REQUIRE_FALSE(f.machine.midlayer()->execute(tur, tur_done));
    CHECK(tur_done.status == vscsi::vscsi_status::done);
    REQUIRE(wait([&] { return events.load() == 1; }));

    std::string summary;
    REQUIRE(a.rescan(summary));
    CHECK(summary == "1 LUNs added, 1 removed");
    {
        // The held READ was answered exactly once: the LUN is gone.
        std::lock_guard lk(m);
        REQUIRE(held.size() == 1);
        CHECK(held[0].status == vscsi::vscsi_status::sense);
        CHECK(scsi::sense_key(held[0].sense) == scsi::key::illegal_request);
        CHECK(held[0].sense[12] == scsi::asc::logical_unit_not_supported);
    }
    CHECK(f.log.has("sd1 detached"));
    REQUIRE(a.luns().size() == 2);
    CHECK(a.luns()[0].remote == 1);
    CHECK(a.luns()[1].remote == 3);
    CHECK(a.luns()[1].where == bridge::slot{0, 1}); // the session's own target
    CHECK(a.luns()[1].device == "sd1");             // the freed unit number again, as autoconf does
    CHECK(a.luns()[1].block_count == 2048);
    INFO(f.log.all());
    CHECK(f.log.count("sd1 at scsibus0 targ 0 lun 1") == 2); // attached, detached, attached again
    CHECK(f.mapped() == 2);
    const auto remote_at_1 =
        f.machine.io().call<std::uint64_t>([&](auto done) { done(f.machine.bridge().map().at(0, 1)->remote_lun); });
    CHECK(remote_at_1 == 3);

    // Nothing changed: nothing happens.
    REQUIRE(a.rescan(summary));
    CHECK(summary == "0 LUNs added, 0 removed");

    a.detach();
    CHECK(f.finish() == "");
    std::lock_guard lk(m);
    CHECK(held.size() == 1); // the logout did not answer it again
}

TEST_CASE("disk_attachment: a command's UNIT ATTENTION 3F/0E calls for a rescan like the AsyncEvent",
          "[app][attachment][rescan]")
{
    fixture f;
    std::atomic<int> events = 0;
    f.options.on_lun_change = [&] { ++events; };
    f.run_disk();
    app::disk_attachment a(f.machine, f.options);
    std::string error;
    REQUIRE(a.attach(error));
    INFO(f.log.all());
    REQUIRE(a.luns().size() == 1);

    auto tur_with = [&](std::uint16_t ua) {
        f.disk.unit_attention = ua;
        vscsi::scsi_command tur;
        tur.target = 0;
        tur.lun = 0;
        tur.set_cdb(scsi::test_unit_ready());
        vscsi::scsi_completion done;
        REQUIRE_FALSE(f.machine.midlayer()->execute(tur, done));
        CHECK(done.status == vscsi::vscsi_status::sense); // answered as usual
        CHECK(scsi::sense_key(done.sense) == scsi::key::unit_attention);
        CHECK(done.sense[12] == (ua >> 8));
    };
    auto wait = [](const std::function<bool()>& cond) {
        const auto deadline = std::chrono::steady_clock::now() + 10s;
        while (!cond() && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(5ms);
        return cond();
    };

    // Another UNIT ATTENTION (POWER ON, RESET) is not a LUN change; the
    // handler would run on the io thread before the next command's answer.
    tur_with(0x2900);
    // LUN 2 appears; the target says so only on the next command.
    {
        std::lock_guard lk(f.disk.m);
        f.disk.extra_disks = {2};
    }
    f.disk.set_report({1, 2});
    tur_with(0x3f0e);
    REQUIRE(wait([&] { return events.load() >= 1; }));
    CHECK(events.load() == 1);

    std::string summary;
    REQUIRE(a.rescan(summary));
    CHECK(summary == "1 LUNs added, 0 removed");
    REQUIRE(a.luns().size() == 2);
    CHECK(a.luns()[1].remote == 2);
    CHECK(a.luns()[1].device == "sd1");

    a.detach();
    CHECK(f.finish() == "");
    CHECK(events.load() == 1);
}

TEST_CASE("disk_attachment: a rescan when not attached changes nothing", "[app][attachment][rescan]")
{
    fixture f;
    app::disk_attachment a(f.machine, f.options);
    std::string summary;
    CHECK_FALSE(a.rescan(summary));
    CHECK(summary == "not attached");
}
