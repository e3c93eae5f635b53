// Integration: a session with HeaderDigest and DataDigest CRC32C (RFC 7143
// §13.1) and ERL 0 recovery (§6.3.5, §7) against tgtd through a
// fault-injecting proxy. Bit flips in the target's stream must be caught by
// the digests and recovered; truncated and closed connections recovered; a
// 2 s stall survived. Every command completes exactly once and the data read
// back equals the data written and tgtd's backing file.
#include "test/support/session_harness.hpp"
#include "test/support/fault_proxy.hpp"
#include "test/support/tgtd_fixture.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <functional>

using namespace ivs;
using namespace std::chrono_literals;
using ivs::test::rw16;

namespace {

const std::string target_iqn = "iqn.2026-11.org.iscsi-vscsi.test:faults";
const std::string initiator_iqn = "iqn.2026-11.org.iscsi-vscsi.test:initiator";
constexpr std::size_t total = 8 << 20;
constexpr std::size_t chunk = 64 << 10;

std::vector<std::byte> read_file(const std::filesystem::path& p, std::size_t n)
{
    std::ifstream in(p, std::ios::binary);
    std::vector<std::byte> out(n);
    in.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(n));
    out.resize(static_cast<std::size_t>(in.gcount()));
    return out;
}

struct rig {
    test::tgtd_fixture tgtd;
    std::filesystem::path backing;
    std::unique_ptr<test::fault_proxy> proxy;
    test::session_harness h;
    std::unique_ptr<iscsi::session> s;
    std::vector<std::error_code> lost; // why each connection was dropped

    rig()
    {
        tgtd.add_target(1, target_iqn);
        backing = tgtd.add_file_lun(1, 1, 16 << 20);
        tgtd.allow_initiator_address(1);
        tgtd.set_target_param(1, "HeaderDigest", "CRC32C");
        tgtd.set_target_param(1, "DataDigest", "CRC32C");
        tgtd.set_target_param(1, "DefaultTime2Wait", "0"); // reconnect at once (§13.15)
        proxy = std::make_unique<test::fault_proxy>(tgtd.host(), tgtd.port());

        iscsi::session_config cfg;
        cfg.target_portal = {proxy->host(), std::to_string(proxy->port())};
        cfg.login.initiator_name = initiator_iqn;
        cfg.login.target_name = target_iqn;
        cfg.login.proposals.header_digest = iscsi::digest_offer::crc32c;
        cfg.login.proposals.data_digest = iscsi::digest_offer::crc32c;
        cfg.login.proposals.default_time2wait = 0;
        cfg.recover = true;
        cfg.replacement_timeout = 30s;
        s = std::make_unique<iscsi::session>(h.io, cfg);
        s->on_event([this](const iscsi::session_event& e) {
            if (e.what == iscsi::session_event::kind::reconnecting)
                lost.push_back(e.error);
        });
        std::string message;
        REQUIRE(h.login(*s, &message) == std::error_code{});
        REQUIRE(s->params().header_digest);
        REQUIRE(s->params().data_digest);
        clear_unit_attention();
    }

    // tgtd reports UNIT ATTENTION to a new nexus's first command.
    void clear_unit_attention()
    {
        for (int i = 0; i < 5; ++i) {
            iscsi::scsi_request r;
            r.lun = 1;
            const std::byte cdb[6] = {};
            r.set_cdb(cdb);
            auto res = h.execute(*s, r);
            REQUIRE(!res.error);
            if (res.good())
                return;
        }
        FAIL("unit attention did not clear");
    }

    // Submits every chunk of `buffer` at once as READ(16)s or WRITE(16)s of
    // LUN 1; `progress(n)` runs after the n-th chunk completed. Each submit
    // must complete exactly once; a UNIT ATTENTION (the new I_T nexus after a
    // reinstatement, SAM-5 §5.14) is retried as a SCSI midlayer would,
    // anything else but GOOD fails the test.
    void transfer(bool write, std::vector<std::byte>& buffer, const std::function<void(std::size_t)>& progress = {})
    {
        const std::size_t n = buffer.size() / chunk;
        // Shared with the completions: a failed REQUIRE leaves them to run
        // when the session is destroyed.
        struct tally {
            std::vector<int> calls;                  // per submit
            std::vector<iscsi::scsi_result> results; // per chunk, the last one
            std::vector<bool> good;                  // per chunk
            std::size_t completed = 0;               // chunks done
            std::size_t unit_attentions = 0;
            std::function<void(std::size_t)> progress;
            std::function<void(std::size_t)> submit;
        };
        auto t = std::make_shared<tally>();
        t->results.resize(n);
        t->good.assign(n, false);
        t->progress = progress;
        std::weak_ptr<tally> weak = t;
        t->submit = [this, weak, write, &buffer](std::size_t i) {
            auto t = weak.lock();
            const std::size_t id = t->calls.size();
            t->calls.push_back(0);
            auto r = rw16(write, 1, i * chunk / 512, static_cast<std::uint32_t>(chunk / 512),
                          std::span<std::byte>(buffer.data() + i * chunk, chunk));
            s->submit(r, [t, i, id](const iscsi::scsi_result& res) {
                ++t->calls[id];
                t->results[i] = res;
                const bool ua = !res.error && res.status == 0x02 && res.sense_length > 2 &&
                                (std::to_integer<int>(res.sense[2]) & 0x0f) == 0x06;
                if (ua && t->unit_attentions++ < 64 && t->submit)
                    return t->submit(i);
                t->good[i] = res.good();
                ++t->completed;
                if (t->progress)
                    t->progress(t->completed);
            });
        };
        for (std::size_t i = 0; i < n; ++i)
            t->submit(i);
        const bool done = h.run_until([&] { return t->completed >= n; }, 50s);
        t->submit = nullptr;
        t->progress = nullptr;
        REQUIRE(done);
        // A little longer, so that a second completion would show.
        const auto end = std::chrono::steady_clock::now() + 100ms;
        while (std::chrono::steady_clock::now() < end)
            h.io.run_one_for(10ms);
        for (std::size_t id = 0; id < t->calls.size(); ++id) {
            INFO("submit " << id);
            REQUIRE(t->calls[id] == 1);
        }
        for (std::size_t i = 0; i < n; ++i) {
            INFO((write ? "WRITE " : "READ ")
                 << i << ": " << t->results[i].error.message() << " status " << int(t->results[i].status));
            REQUIRE(t->good[i]);
        }
    }

    void write_read_compare(unsigned seed, const std::function<void(std::size_t)>& on_write = {},
                            const std::function<void(std::size_t)>& on_read = {},
                            const std::function<void()>& before_read = {})
    {
        auto data = test::random_bytes(total, seed);
        transfer(true, data, on_write);
        if (before_read)
            before_read();
        std::vector<std::byte> back(total);
        transfer(false, back, on_read);
        proxy->clear();
        CHECK(back == data);
        CHECK(read_file(backing, total) == data);
    }

    bool lost_with(std::string_view what) const
    {
        for (const auto& ec : lost)
            if (ec.message().find(what) != std::string::npos)
                return true;
        return false;
    }

    std::string lost_list() const
    {
        std::string out;
        for (const auto& ec : lost)
            out += ec.message() + "; ";
        return out;
    }
};

} // namespace

TEST_CASE("bit flips from the target are caught by the digests and recovered", "[session][tgtd][faults]")
{
    rig r;
    // Writes: only R2Ts and responses come back; a flip in one of the next
    // 200 bytes at two points. Reads: a flip in every 3 MiB of each connection.
    const std::size_t n = total / chunk;
    auto flip_during_write = [&](std::size_t done) {
        if (done == n / 4 || done == n / 2)
            r.proxy->flip_once(done % 200);
    };
    r.write_read_compare(1, flip_during_write, {}, [&] { r.proxy->flip_every(3 << 20); });
    INFO("connections lost: " << r.lost_list());
    CHECK(r.proxy->counters().bits_flipped >= 2);
    CHECK(r.lost.size() >= 2);
    CHECK(r.lost_with("digest mismatch"));
    CHECK(r.s->counters().reissued > 0);
    CHECK(r.h.logout(*r.s) == std::error_code{});
}

TEST_CASE("truncated connections mid-transfer are recovered", "[session][tgtd][faults]")
{
    rig r;
    r.proxy->truncate_after(2000);
    r.write_read_compare(2, {}, {}, [&] { r.proxy->truncate_after(3 << 20); });
    INFO("connections lost: " << r.lost_list());
    CHECK(r.proxy->counters().truncations == 2);
    CHECK(r.lost.size() >= 2);
    CHECK(r.s->counters().reissued > 0);
    CHECK(r.h.logout(*r.s) == std::error_code{});
}

TEST_CASE("connections closed mid-transfer are recovered", "[session][tgtd][faults]")
{
    rig r;
    const std::size_t n = total / chunk;
    auto close_at_half = [&](std::size_t done) {
        if (done == n / 2)
            r.proxy->close_all();
    };
    r.write_read_compare(3, close_at_half, close_at_half);
    INFO("connections lost: " << r.lost_list());
    CHECK(r.lost.size() >= 2);
    CHECK(r.s->counters().reissued > 0);
    CHECK(r.proxy->counters().connections >= 3);
    CHECK(r.h.logout(*r.s) == std::error_code{});
}

TEST_CASE("a 2 s stall of the connection fails nothing", "[session][tgtd][faults]")
{
    rig r;
    r.proxy->delay(2s);
    auto data = test::random_bytes(1 << 20, 4);
    std::vector<std::byte> back(data.size());
    const auto start = std::chrono::steady_clock::now();
    r.transfer(true, data);
    r.transfer(false, back);
    CHECK(std::chrono::steady_clock::now() - start >= 4s); // the stall really happened
    r.proxy->clear();
    CHECK(back == data);
    CHECK(read_file(r.backing, data.size()) == data);
    CHECK(r.lost.empty());
    CHECK(r.s->counters().reconnects == 0);
    CHECK(r.h.logout(*r.s) == std::error_code{});
}
