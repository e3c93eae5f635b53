// Integration: full feature sessions against a real tgtd (RFC 7143 §4, §6,
// §11): login variants, data transfer shapes, pipelining, CHAP, discovery.
#include "test/support/bytes.hpp"
#include "test/support/session_harness.hpp"
#include "test/support/tgtd_fixture.hpp"

#include "iscsi/sendtargets.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <set>

using namespace ivs;
using ivs::test::rw16;

namespace {

const std::string target_iqn = "iqn.2026-11.org.iscsi-vscsi.test:disk";
const std::string initiator_iqn = "iqn.2026-11.org.iscsi-vscsi.test:initiator";

iscsi::session_config make_config(const test::tgtd_fixture& tgtd, const std::string& target = target_iqn)
{
    iscsi::session_config cfg;
    cfg.target_portal.host = tgtd.host();
    cfg.target_portal.port = std::to_string(tgtd.port());
    cfg.login.initiator_name = initiator_iqn;
    cfg.login.target_name = target;
    cfg.recover = false;
    return cfg;
}

// The sense key of tgtd's fixed-format sense (SPC-4 §4.5.3), else -1.
int sense_key(const iscsi::scsi_result& r)
{
    const auto sense = r.sense_data();
    return r.status == 0x02 && sense.size() > 2 ? std::to_integer<int>(sense[2]) & 0x0f : -1;
}

// tgtd reports UNIT ATTENTION (power on, reset) to a new nexus's first
// command: TEST UNIT READY until it is consumed, as a SCSI midlayer does.
void clear_unit_attention(test::session_harness& h, iscsi::session& s, std::uint64_t lun)
{
    for (int i = 0; i < 5; ++i) {
        iscsi::scsi_request r;
        r.lun = lun;
        const std::byte cdb[6] = {};
        r.set_cdb(cdb);
        auto res = h.execute(s, r);
        REQUIRE(!res.error);
        if (res.good())
            return;
        REQUIRE(sense_key(res) == 0x06);
    }
    FAIL("unit attention did not clear");
}

// Writes `total` bytes of random data in `chunk`-sized WRITE(16)s, reads them
// back, and compares both with tgtd's backing file.
void write_read_compare(test::session_harness& h, iscsi::session& s, const std::filesystem::path& backing,
                        std::size_t total, std::size_t chunk, unsigned seed)
{
    clear_unit_attention(h, s, 1);
    auto data = test::random_bytes(total, seed);
    for (std::size_t off = 0; off < total; off += chunk) {
        auto r = rw16(true, 1, off / 512, static_cast<std::uint32_t>(chunk / 512),
                      std::span<std::byte>(data.data() + off, chunk));
        auto res = h.execute(s, r);
        INFO("write at " << off << ": " << res.error.message() << ", status " << int(res.status) << ", sense key "
                         << sense_key(res));
        REQUIRE(res.good());
    }
    std::vector<std::byte> back(total);
    for (std::size_t off = 0; off < total; off += chunk) {
        auto r = rw16(false, 1, off / 512, static_cast<std::uint32_t>(chunk / 512),
                      std::span<std::byte>(back.data() + off, chunk));
        // Told of each segment, in order, where it landed (read_buffer).
        struct in_order final : iscsi::buffer_lease {
            const std::byte* buffer = nullptr;
            std::size_t delivered = 0;
            bool ordered = true;
            void data_in_landed(std::uint32_t offset, std::span<const std::byte> d) override
            {
                ordered = ordered && offset == delivered && d.data() == buffer + offset;
                delivered += d.size();
            }
        } lease;
        lease.buffer = back.data() + off;
        r.lease = &lease;
        auto res = h.execute(s, r);
        CHECK(lease.ordered);
        CHECK(lease.delivered == chunk);
        INFO("read at " << off << ": " << res.error.message());
        REQUIRE(res.good());
        REQUIRE(res.data_in_bytes == chunk);
    }
    REQUIRE(back == data);
    REQUIRE(ivs::test::read_file_bytes(backing, 0, total) == data);
}

} // namespace

TEST_CASE("login without authentication and a SCSI round trip", "[session][tgtd]")
{
    test::tgtd_fixture tgtd;
    tgtd.add_target(1, target_iqn);
    const auto backing = tgtd.add_file_lun(1, 1, 64 << 20);
    tgtd.allow_initiator_address(1);

    test::session_harness h;
    iscsi::session s(h.io, make_config(tgtd));
    std::string message;
    REQUIRE(h.login(s, &message) == std::error_code{});
    CHECK(s.logged_in());
    CHECK(s.tsih() != 0);

    SECTION("INQUIRY reports tgtd's vendor")
    {
        std::vector<std::byte> buf(96);
        iscsi::scsi_request r;
        r.lun = 1;
        const std::byte cdb[6] = {std::byte{0x12}, {}, {}, {}, std::byte{96}, {}};
        r.set_cdb(cdb);
        r.direction = iscsi::data_direction::read;
        r.read_buffer = buf;
        r.expected_length = 96;
        auto res = h.execute(s, r);
        REQUIRE(res.good());
        CHECK(std::string(reinterpret_cast<const char*>(buf.data()) + 8, 3) == "IET");
    }
    SECTION("TEST UNIT READY on a missing LUN is a CHECK CONDITION with sense")
    {
        iscsi::scsi_request r;
        r.lun = 7;
        const std::byte cdb[6] = {};
        r.set_cdb(cdb);
        auto res = h.execute(s, r);
        REQUIRE(!res.error);
        CHECK(res.status == 0x02);
        CHECK(res.sense_length >= 14);
    }
    SECTION("ping and LUN reset")
    {
        std::optional<std::error_code> ping;
        s.ping([&](std::error_code ec) { ping = ec; });
        REQUIRE(h.run_until([&] { return ping.has_value(); }));
        CHECK(*ping == std::error_code{});
        std::optional<pdu::tmf_response> tmf;
        s.lun_reset(1, [&](std::error_code ec, pdu::tmf_response r) {
            CHECK(!ec);
            tmf = r;
        });
        REQUIRE(h.run_until([&] { return tmf.has_value(); }));
        CHECK(*tmf == pdu::tmf_response::function_complete);
    }
    SECTION("1 MiB written and read back equals the backing file")
    {
        write_read_compare(h, s, backing, 1 << 20, 256 << 10, 1);
    }
    REQUIRE(h.logout(s) == std::error_code{});
    CHECK(tgtd.connections(1).empty());
}

TEST_CASE("8 MiB through every data-transfer shape", "[session][tgtd][data]")
{
    struct shape {
        const char* name;
        const char* initial_r2t;
        const char* immediate_data;
        bool small_limits;
        bool digests;
    };
    const shape shapes[] = {
        {"InitialR2T=Yes ImmediateData=Yes", "Yes", "Yes", false, false},
        {"InitialR2T=No ImmediateData=Yes", "No", "Yes", false, false},
        {"InitialR2T=Yes ImmediateData=No", "Yes", "No", false, false},
        {"InitialR2T=No ImmediateData=No small limits", "No", "No", true, false},
        {"InitialR2T=Yes ImmediateData=Yes small limits", "Yes", "Yes", true, false},
        {"digests on, small limits", "No", "Yes", true, true},
    };
    test::tgtd_fixture tgtd;
    for (int i = 0; i < 6; ++i) {
        const int tid = i + 1;
        const auto& sh = shapes[i];
        DYNAMIC_SECTION(sh.name)
        {
            const std::string iqn = target_iqn + std::to_string(tid);
            tgtd.add_target(tid, iqn);
            const auto backing = tgtd.add_file_lun(tid, 1, 16 << 20);
            tgtd.allow_initiator_address(tid);
            tgtd.set_target_param(tid, "InitialR2T", sh.initial_r2t);
            tgtd.set_target_param(tid, "ImmediateData", sh.immediate_data);
            if (sh.small_limits) {
                tgtd.set_target_param(tid, "MaxRecvDataSegmentLength", "4096");
                tgtd.set_target_param(tid, "MaxBurstLength", "16384");
                tgtd.set_target_param(tid, "FirstBurstLength", "8192");
            }
            auto cfg = make_config(tgtd, iqn);
            if (sh.digests) {
                tgtd.set_target_param(tid, "HeaderDigest", "CRC32C");
                tgtd.set_target_param(tid, "DataDigest", "CRC32C");
                cfg.login.proposals.header_digest = iscsi::digest_offer::crc32c;
                cfg.login.proposals.data_digest = iscsi::digest_offer::crc32c;
            }
            test::session_harness h;
            iscsi::session s(h.io, cfg);
            REQUIRE(h.login(s) == std::error_code{});
            CHECK(s.params().initial_r2t == (std::string(sh.initial_r2t) == "Yes"));
            CHECK(s.params().header_digest == sh.digests);
            CHECK(s.params().data_digest == sh.digests);
            if (sh.small_limits)
                CHECK(s.params().target_max_recv_data_segment_length == 4096);
            write_read_compare(h, s, backing, 8 << 20, 1 << 20, 10 + tid);
            REQUIRE(h.logout(s) == std::error_code{});
        }
    }
}

TEST_CASE("64 commands in flight", "[session][tgtd][pipeline]")
{
    test::tgtd_fixture tgtd;
    tgtd.add_target(1, target_iqn);
    const auto backing = tgtd.add_file_lun(1, 1, 16 << 20);
    tgtd.allow_initiator_address(1);
    test::session_harness h;
    iscsi::session s(h.io, make_config(tgtd));
    REQUIRE(h.login(s) == std::error_code{});

    clear_unit_attention(h, s, 1);
    constexpr std::size_t n = 64, size = 64 << 10;
    auto data = test::random_bytes(n * size, 64);
    int done = 0;
    int failed = 0;
    std::size_t max_in_flight = 0;
    for (std::size_t i = 0; i < n; ++i) {
        s.submit(rw16(true, 1, i * size / 512, size / 512, std::span<std::byte>(data.data() + i * size, size)),
                 [&](const iscsi::scsi_result& r) {
                     ++done;
                     failed += !r.good();
                 });
        max_in_flight = std::max(max_in_flight, s.tasks_in_flight());
    }
    REQUIRE(h.run_until([&] { return done == int(n); }));
    CHECK(failed == 0);
    CHECK(max_in_flight == n);
    std::vector<std::byte> back(n * size);
    done = 0;
    for (std::size_t i = 0; i < n; ++i)
        s.submit(rw16(false, 1, i * size / 512, size / 512, std::span<std::byte>(back.data() + i * size, size)),
                 [&](const iscsi::scsi_result& r) {
                     ++done;
                     failed += !r.good();
                 });
    REQUIRE(h.run_until([&] { return done == int(n); }));
    CHECK(failed == 0);
    CHECK(back == data);
    CHECK(ivs::test::read_file_bytes(backing, 0, n * size) == data);
    REQUIRE(h.logout(s) == std::error_code{});
}

TEST_CASE("CHAP logins", "[session][tgtd][chap]")
{
    test::tgtd_fixture tgtd;
    tgtd.add_target(1, target_iqn);
    tgtd.add_null_lun(1, 1);
    tgtd.allow_initiator_address(1);
    tgtd.add_incoming_account(1, "alice", "alice-secret-0123");
    test::session_harness h;
    auto cfg = make_config(tgtd);

    SECTION("no credentials: authentication failure, no hang")
    {
        iscsi::session s(h.io, cfg);
        std::string message;
        REQUIRE(h.login(s, &message) != std::error_code{});
        CHECK(message.find("login failed") != std::string::npos);
    }
    SECTION("one-way CHAP with the default algorithm list (tgtd picks MD5)")
    {
        cfg.login.chap = iscsi::chap_identity{"alice", iscsi::chap_secret("alice-secret-0123")};
        iscsi::session s(h.io, cfg);
        std::string message;
        REQUIRE(h.login(s, &message) == std::error_code{});
        REQUIRE(h.logout(s) == std::error_code{});
    }
    SECTION("a wrong secret is a clear authentication failure")
    {
        cfg.login.chap = iscsi::chap_identity{"alice", iscsi::chap_secret("wrong-secret-0123")};
        iscsi::session s(h.io, cfg);
        std::string message;
        REQUIRE(h.login(s, &message) != std::error_code{});
        CHECK(message == "login failed: authentication failure (0x0201)");
    }
    SECTION("mutual CHAP")
    {
        tgtd.add_outgoing_account(1, "target-bob", "bob-secret-456789");
        cfg.login.chap = iscsi::chap_identity{"alice", iscsi::chap_secret("alice-secret-0123")};
        cfg.login.mutual_chap = iscsi::chap_identity{"target-bob", iscsi::chap_secret("bob-secret-456789")};
        iscsi::session s(h.io, cfg);
        std::string message;
        INFO(message);
        REQUIRE(h.login(s, &message) == std::error_code{});
        REQUIRE(h.logout(s) == std::error_code{});
    }
    SECTION("mutual CHAP with a wrong target secret is refused by the initiator")
    {
        tgtd.add_outgoing_account(1, "target-bob", "bob-secret-456789");
        cfg.login.chap = iscsi::chap_identity{"alice", iscsi::chap_secret("alice-secret-0123")};
        cfg.login.mutual_chap = iscsi::chap_identity{"target-bob", iscsi::chap_secret("not-bobs-secret-1")};
        iscsi::session s(h.io, cfg);
        std::string message;
        REQUIRE(h.login(s, &message) != std::error_code{});
        CHECK(message.find("CHAP") != std::string::npos);
    }
}

TEST_CASE("discovery of 200 targets with long names spans several Text Responses", "[session][tgtd][discovery]")
{
    test::tgtd_fixture tgtd;
    std::vector<std::string> names;
    for (int tid = 1; tid <= 200; ++tid) {
        names.push_back("iqn.2026-11.org.iscsi-vscsi.test:" + std::string(150, 'x') + "-target-" + std::to_string(tid));
        tgtd.add_target(tid, names.back());
        tgtd.allow_initiator_address(tid);
    }
    iscsi::session_config cfg = make_config(tgtd, "");
    cfg.login.type = iscsi::session_type::discovery;
    // A small MaxRecvDataSegmentLength makes tgtd continue the ~50 KB answer
    // over many Text Responses (C bit, TTT continuation).
    cfg.login.proposals.max_recv_data_segment_length = 4096;
    test::session_harness h;
    iscsi::session s(h.io, cfg);
    REQUIRE(h.login(s) == std::error_code{});
    std::optional<std::error_code> result;
    pdu::text_list answer;
    s.send_targets([&](std::error_code ec, const pdu::text_list& a) {
        result = ec;
        answer = a;
    });
    REQUIRE(h.run_until([&] { return result.has_value(); }));
    REQUIRE(*result == std::error_code{});
    iscsi::target_address connected;
    connected.host = tgtd.host();
    connected.port = tgtd.port();
    std::vector<iscsi::sendtargets_entry> entries;
    REQUIRE(iscsi::parse_sendtargets(answer, connected, entries) == std::error_code{});
    std::set<std::string> found;
    for (const auto& e : entries)
        found.insert(e.target_name);
    CHECK(found.size() == 200);
    for (const auto& n : names)
        CHECK(found.count(n) == 1);
    REQUIRE(h.logout(s) == std::error_code{});
}
