// Integration: embedded vscsi + bridge + a real session against tgtd. The
// daemon side (io_context with the bridge and the session) runs on its own
// thread; the test thread plays the midlayer with blocking calls.
#include "bridge/bridge.hpp"
#include "vscsi/embedded_vscsi.hpp"
#include "iscsi/session.hpp"
#include "test/support/bytes.hpp"
#include "test/support/session_harness.hpp"
#include "test/support/tgtd_fixture.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <future>
#include <mutex>
#include <thread>

using namespace ivs;
using namespace std::chrono_literals;
using ivs::bridge::slot;
using ivs::vscsi::scsi_completion;
using ivs::vscsi::vscsi_status;

namespace {

const std::string target_iqn = "iqn.2026-11.org.iscsi-vscsi.test:bridge";
const std::string initiator_iqn = "iqn.2026-11.org.iscsi-vscsi.test:initiator";

// The daemon: session and bridge on an io_context served by its own thread.
struct daemon_rig {
    ivs::test::session_harness h;
    vscsi::embedded_vscsi vs;
    std::unique_ptr<vscsi::vscsi_device> dev;
    std::unique_ptr<iscsi::session> session;
    std::unique_ptr<bridge::bridge> br;
    std::vector<slot> slots;
    std::mutex log_m;
    std::vector<std::string> lines;
    std::thread io_thread;
    std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;

    static vscsi::embedded_vscsi_config vscsi_config(daemon_rig* self, int openings)
    {
        vscsi::embedded_vscsi_config c;
        c.openings = openings;
        c.log = ivs::log::sink([self](ivs::log::level, std::string_view l) {
            std::lock_guard lk(self->log_m);
            self->lines.emplace_back(l);
        });
        return c;
    }

    daemon_rig(const test::tgtd_fixture& tgtd, std::vector<std::uint64_t> remote_luns, int openings = 16)
        : vs(vscsi_config(this, openings))
    {
        REQUIRE(!vs.open(dev));
        iscsi::session_config cfg;
        cfg.target_portal.host = tgtd.host();
        cfg.target_portal.port = std::to_string(tgtd.port());
        cfg.login.initiator_name = initiator_iqn;
        cfg.login.target_name = target_iqn;
        cfg.recover = false;
        session = std::make_unique<iscsi::session>(h.io, cfg);
        std::string msg;
        REQUIRE(h.login(*session, &msg) == std::error_code{});
        bridge::bridge_options opt;
        opt.max_transfer = vs.config().max_transfer;
        opt.geometry = {vs.config().targets, vs.config().luns};
        br = std::make_unique<bridge::bridge>(h.io, *dev, opt);
        REQUIRE(!br->add_session(*session, remote_luns, slots));
        br->start();
        work.emplace(h.io.get_executor());
        if (h.io.stopped())
            h.io.restart();
        io_thread = std::thread([this] { h.io.run(); });
    }

    // Runs `f` on the daemon thread and waits for it.
    template <class F>
    void on_daemon(F f)
    {
        std::promise<void> done;
        boost::asio::post(h.io, [&] {
            f();
            done.set_value();
        });
        done.get_future().wait();
    }

    ~daemon_rig()
    {
        on_daemon([this] { br->shutdown(); });
        std::promise<void> out;
        on_daemon([&] { session->logout([&](std::error_code) { out.set_value(); }); });
        out.get_future().wait_for(10s);
        work.reset();
        h.io.stop();
        io_thread.join();
        br.reset();
        session.reset();
        dev.reset();
    }

    std::vector<std::string> log()
    {
        std::lock_guard lk(log_m);
        return lines;
    }

    // TEST UNIT READY until tgtd's UNIT ATTENTION for the new nexus is consumed.
    void clear_unit_attention(int target, int lun)
    {
        for (int i = 0; i < 5; ++i) {
            vscsi::scsi_command c;
            c.target = target;
            c.lun = lun;
            c.cdblen = 6;
            scsi_completion out;
            REQUIRE(!vs.execute(c, out));
            if (out.status == vscsi_status::done)
                return;
            REQUIRE(out.status == vscsi_status::sense);
        }
        FAIL("unit attention did not clear");
    }
};

} // namespace

TEST_CASE("bridge over tgtd: 16 MiB written through vscsi reads back and lands in the file", "[bridge][tgtd]")
{
    test::tgtd_fixture tgtd;
    tgtd.add_target(1, target_iqn);
    const auto backing = tgtd.add_file_lun(1, 1, 64 << 20);
    tgtd.allow_initiator_address(1);

    daemon_rig d(tgtd, {1});
    REQUIRE(d.slots == std::vector<slot>{{0, 0}});
    d.clear_unit_attention(0, 0);

    constexpr std::size_t total = 16 << 20;
    constexpr std::size_t chunk = 1 << 20;
    const auto data = ivs::test::random_bytes(total, 42);
    // The midlayer side on its own thread (the daemon serves on another).
    std::string failure;
    std::vector<std::byte> back(total);
    std::thread midlayer([&] {
        for (std::size_t off = 0; off < total && failure.empty(); off += chunk) {
            scsi_completion out;
            auto ec = d.vs.write(0, 0, off / 512 + 2048, 512, std::span(data).subspan(off, chunk), out);
            if (ec || out.status != vscsi_status::done || out.residual != 0)
                failure = "write at " + std::to_string(off);
        }
        for (std::size_t off = 0; off < total && failure.empty(); off += chunk) {
            scsi_completion out;
            auto ec = d.vs.read(0, 0, off / 512 + 2048, 512, std::span(back).subspan(off, chunk), out);
            if (ec || out.status != vscsi_status::done || out.residual != 0)
                failure = "read at " + std::to_string(off);
        }
    });
    midlayer.join();
    REQUIRE(failure == "");
    CHECK(back == data);
    CHECK(ivs::test::read_file_bytes(backing, 2048 * 512, total) == data);
    d.on_daemon([&] {
        CHECK(d.br->counters().bytes_written == total);
        CHECK(d.br->counters().bytes_read == total);
        CHECK(d.br->outstanding() == 0);
    });

    // SYNCHRONIZE CACHE to every mapped LUN, as at detach.
    std::promise<std::error_code> synced;
    d.on_daemon([&] { d.br->sync_cache(*d.session, [&](std::error_code ec) { synced.set_value(ec); }); });
    auto f = synced.get_future();
    REQUIRE(f.wait_for(20s) == std::future_status::ready);
    CHECK(f.get() == std::error_code{});
}

TEST_CASE("bridge over tgtd: 10 LUNs on two vscsi targets attach as sd devices", "[bridge][tgtd]")
{
    test::tgtd_fixture tgtd;
    tgtd.add_target(1, target_iqn);
    for (int l = 1; l <= 10; ++l)
        tgtd.add_null_lun(1, l);
    tgtd.allow_initiator_address(1);

    std::vector<std::uint64_t> luns;
    for (std::uint64_t l = 1; l <= 10; ++l)
        luns.push_back(l);
    daemon_rig d(tgtd, luns);
    REQUIRE(d.slots.size() == 10);
    CHECK(d.slots[7] == slot{0, 7});
    CHECK(d.slots[8] == slot{1, 0});
    CHECK(d.slots[9] == slot{1, 1});
    d.on_daemon([&] {
        for (const auto& s : d.slots)
            CHECK(!d.dev->request_probe(s.target, s.lun));
    });
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (!(d.vs.probe_idle() && d.vs.disks().size() == 10) && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(20ms);
    const auto disks = d.vs.disks();
    const auto log = d.log();
    std::string all;
    for (const auto& l : log)
        all += l + "\n";
    INFO(all);
    REQUIRE(disks.size() == 10);
    for (std::size_t i = 0; i < 10; ++i) {
        CHECK(disks[i].target == d.slots[i].target);
        CHECK(disks[i].lun == d.slots[i].lun);
        const std::string prefix = "sd" + std::to_string(i) + " at scsibus0 targ " + std::to_string(d.slots[i].target) +
                                   " lun " + std::to_string(d.slots[i].lun) + ": <";
        CHECK(std::any_of(log.begin(), log.end(), [&](const std::string& l) { return l.rfind(prefix, 0) == 0; }));
    }

    // REPORT LUNS on vscsi target 1 lists its local LUNs 0 and 1 only.
    vscsi::scsi_command rl;
    rl.target = 1;
    rl.lun = 0;
    rl.cdb[0] = 0xa0;
    rl.cdb[9] = 64;
    rl.cdblen = 12;
    rl.dir = vscsi::vscsi_dir::read;
    std::vector<std::byte> list(64);
    rl.data_in = list;
    scsi_completion out;
    REQUIRE(!d.vs.execute(rl, out));
    REQUIRE(out.status == vscsi_status::done);
    CHECK(out.residual == 64 - 24);
    CHECK(std::to_integer<int>(list[3]) == 16);
    CHECK(std::to_integer<int>(list[9]) == 0);
    CHECK(std::to_integer<int>(list[17]) == 1);

    // An unmapped slot on target 1 has no device.
    vscsi::scsi_command inq;
    inq.target = 1;
    inq.lun = 5;
    inq.cdb = {0x12, 0, 0, 0, 36};
    inq.cdblen = 6;
    inq.dir = vscsi::vscsi_dir::read;
    std::vector<std::byte> inq_data(36);
    inq.data_in = inq_data;
    REQUIRE(!d.vs.execute(inq, out));
    CHECK(out.status == vscsi_status::done);
    CHECK(std::to_integer<int>(inq_data[0]) == 0x7f);
}

TEST_CASE("bridge over tgtd: 64 commands in flight at once", "[bridge][tgtd]")
{
    test::tgtd_fixture tgtd;
    tgtd.add_target(1, target_iqn);
    const auto backing = tgtd.add_file_lun(1, 1, 64 << 20);
    tgtd.allow_initiator_address(1);

    daemon_rig d(tgtd, {1}, 64);
    d.clear_unit_attention(0, 0);

    constexpr std::size_t n = 64;
    constexpr std::size_t size = 64 << 10;
    const auto data = ivs::test::random_bytes(n * size, 9);
    std::vector<std::byte> back(n * size);

    // Submits n single-command transfers at once; waits for all completions.
    auto burst = [&](bool write) {
        std::mutex m;
        std::condition_variable cv;
        std::vector<scsi_completion> got;
        for (std::size_t i = 0; i < n; ++i) {
            const std::uint64_t lba = i * (size / 512) * 3; // spread out
            auto done = [&](const scsi_completion& c) {
                std::lock_guard lk(m);
                got.push_back(c);
                cv.notify_all();
            };
            const auto ec = write ? d.vs.submit_write(0, 0, lba, 512, std::span(data).subspan(i * size, size), done)
                                  : d.vs.submit_read(0, 0, lba, 512, std::span(back).subspan(i * size, size), done);
            REQUIRE(!ec);
        }
        std::unique_lock lk(m);
        REQUIRE(cv.wait_for(lk, 60s, [&] { return got.size() == n; }));
        for (const auto& c : got)
            CHECK(c.status == vscsi_status::done);
    };
    burst(true);
    burst(false);
    CHECK(back == data);
    for (std::size_t i = 0; i < n; i += 9)
        CHECK(ivs::test::read_file_bytes(backing, i * size * 3, size) ==
              std::vector<std::byte>(data.begin() + static_cast<std::ptrdiff_t>(i * size),
                                     data.begin() + static_cast<std::ptrdiff_t>((i + 1) * size)));
    d.on_daemon([&] {
        CHECK(d.br->counters().commands >= 2 * n);
        CHECK(d.br->counters().max_outstanding > 16); // beyond one LUN's usual openings
        CHECK(d.br->outstanding() == 0);
    });
}
