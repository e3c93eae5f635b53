// lun_map: slot assignment, spill-over past 8 LUNs, REPORT LUNS rewriting.
#include "bridge/lun_map.hpp"
#include "test/support/bytes.hpp"

#include "iscsi/session.hpp"

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include <vector>

using namespace ivs::bridge;

namespace {

using ivs::test::bytes;

// REPORT LUNS data: header then 8-byte peripheral/flat entries.
std::vector<std::byte> report(const std::vector<std::uint64_t>& luns, bool flat = false)
{
    std::vector<std::byte> out(8 + 8 * luns.size());
    const auto len = static_cast<std::uint32_t>(8 * luns.size());
    out[0] = std::byte(len >> 24);
    out[1] = std::byte(len >> 16);
    out[2] = std::byte(len >> 8);
    out[3] = std::byte(len);
    for (std::size_t i = 0; i < luns.size(); ++i) {
        const bool f = flat || luns[i] > 255;
        out[8 + 8 * i] = std::byte((f ? 0x40 : 0) | ((luns[i] >> 8) & 0x3f));
        out[9 + 8 * i] = std::byte(luns[i] & 0xff);
    }
    return out;
}

// Two owners: sessions, never started (the map never touches them).
struct owners {
    boost::asio::io_context io;
    ivs::iscsi::session a{io, {}}, b{io, {}};
};
owners& the_owners()
{
    static owners o;
    return o;
}
ivs::iscsi::session& a = the_owners().a;
ivs::iscsi::session& b = the_owners().b;

} // namespace

TEST_CASE("lun_map: LUNs fill a target in order, duplicates once")
{
    lun_map m;
    std::vector<slot> out;
    const std::vector<std::uint64_t> luns{1, 5, 5, 9};
    REQUIRE(!m.add(&a, luns, out));
    REQUIRE(out == std::vector<slot>{{0, 0}, {0, 1}, {0, 2}});
    CHECK(m.at(0, 1)->remote_lun == 5);
    CHECK(m.at(0, 1)->owner == &a);
    CHECK(!m.at(0, 3));
    CHECK(!m.at(-1, 0));
    CHECK(!m.at(0, 8));
    CHECK(!m.at(256, 0));
    CHECK(m.find(&a, 9) == slot{0, 2});
    CHECK(!m.find(&b, 9));
    CHECK(m.first_on_target(0)->remote_lun == 1);
    CHECK(!m.first_on_target(1));
}

TEST_CASE("lun_map: more than 8 LUNs spill onto further targets; sessions never share one")
{
    lun_map m;
    std::vector<slot> out;
    std::vector<std::uint64_t> ten;
    for (std::uint64_t l = 1; l <= 10; ++l)
        ten.push_back(l);
    REQUIRE(!m.add(&a, ten, out));
    REQUIRE(out.size() == 10);
    for (int i = 0; i < 8; ++i)
        CHECK(out[static_cast<std::size_t>(i)] == slot{0, i});
    CHECK(out[8] == slot{1, 0});
    CHECK(out[9] == slot{1, 1});

    const std::vector<std::uint64_t> one{0};
    REQUIRE(!m.add(&b, one, out));
    CHECK(out == std::vector<slot>{{2, 0}});
    CHECK(m.add(&b, one, out) == std::errc::invalid_argument); // already mapped
    CHECK(m.add(nullptr, one, out) == std::errc::invalid_argument);

    // Removing frees the targets for the next session.
    CHECK(m.remove(&a).size() == 10);
    CHECK(!m.at(1, 1));
    REQUIRE(!m.add(&a, one, out));
    CHECK(out == std::vector<slot>{{0, 0}});
    CHECK(m.slots().size() == 2);
    CHECK(m.slots(&b).front().first == slot{2, 0});
}

TEST_CASE("lun_map: the geometry bounds the placement")
{
    lun_map m({2, 4}); // 2 targets of 4 LUNs
    std::vector<slot> out;
    std::vector<std::uint64_t> nine{0, 1, 2, 3, 4, 5, 6, 7, 8};
    CHECK(m.add(&a, nine, out) == std::errc::no_space_on_device);
    CHECK(m.slots().empty());
    nine.pop_back();
    REQUIRE(!m.add(&a, nine, out));
    CHECK(out.back() == slot{1, 3});
    const std::vector<std::uint64_t> one{0};
    CHECK(m.add(&b, one, out) == std::errc::no_space_on_device);
}

TEST_CASE("lun_map: REPORT LUNS is rewritten to the target's local LUNs, byte for byte")
{
    lun_map m;
    std::vector<slot> out;
    std::vector<std::uint64_t> ten;
    for (std::uint64_t l = 1; l <= 10; ++l)
        ten.push_back(l);
    ten.push_back(300); // a flat-space LUN, target 1 lun 2
    REQUIRE(!m.add(&a, ten, out));
    // The remote target lists 0 (not mapped), 1..10 and 300, 9 missing.
    auto remote = report({0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 300});
    std::vector<std::byte> got;

    m.rewrite_report_luns(0, remote, 4096, got);
    std::vector<std::byte> want = bytes({0, 0, 0, 64, 0, 0, 0, 0});
    for (int l = 0; l < 8; ++l) {
        auto e = bytes({0, l, 0, 0, 0, 0, 0, 0});
        want.insert(want.end(), e.begin(), e.end());
    }
    CHECK(got == want);

    // Target 1 has remote 9 (absent remotely), 10 and 300 -> local 1 and 2.
    m.rewrite_report_luns(1, remote, 4096, got);
    CHECK(got == bytes({0, 0, 0, 16, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0}));

    // The allocation length truncates; the list length still counts all.
    m.rewrite_report_luns(1, remote, 12, got);
    CHECK(got == bytes({0, 0, 0, 16, 0, 0, 0, 0, 0, 1, 0, 0}));

    // An unmapped target, or garbage, gives an empty list.
    m.rewrite_report_luns(5, remote, 4096, got);
    CHECK(got == bytes({0, 0, 0, 0, 0, 0, 0, 0}));
    m.rewrite_report_luns(0, bytes({0xff, 0xff}), 4096, got);
    CHECK(got == bytes({0, 0, 0, 0, 0, 0, 0, 0}));
}

TEST_CASE("lun_map: REPORT LUNS input that lies about its length or uses other addressing")
{
    lun_map m;
    std::vector<slot> out;
    const std::vector<std::uint64_t> luns{1, 2};
    REQUIRE(!m.add(&a, luns, out));
    auto remote = report({1, 2});
    remote[3] = std::byte{0xf8}; // claims 31 entries, holds 2
    std::vector<std::byte> got;
    m.rewrite_report_luns(0, remote, 4096, got);
    CHECK(got == bytes({0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0}));

    // A two-level LUN (bytes 2..7 non-zero) and a logical-unit-addressed
    // entry are skipped; a partial trailing entry is ignored.
    remote = report({1, 2});
    remote[8 + 3] = std::byte{1}; // entry 0: second level
    remote[16] = std::byte{0x80}; // entry 1: logical unit addressing
    remote.push_back(std::byte{0});
    m.rewrite_report_luns(0, remote, 4096, got);
    CHECK(got == bytes({0, 0, 0, 0, 0, 0, 0, 0}));
}

TEST_CASE("lun_map: a rescan adds LUNs on the owner's own target first, then free ones; removes only its own")
{
    using namespace ivs::bridge;
    lun_map m(lun_geometry{4, 4});
    std::vector<slot> out;
    const std::vector<std::uint64_t> a_luns{1, 2, 3};
    REQUIRE_FALSE(m.add(&a, a_luns, out));
    const std::vector<std::uint64_t> b_luns{7};
    REQUIRE_FALSE(m.add(&b, b_luns, out));
    CHECK(out == std::vector<slot>{{1, 0}});

    const std::vector<std::uint64_t> gone{2, 7}; // 7 is b's: left alone
    CHECK(m.remove_luns(&a, gone) == std::vector<slot>{{0, 1}});
    CHECK(m.find(&b, 7) == slot{1, 0});
    // The hole at (0, 1) and (0, 3) first, then a target nobody holds (2).
    const std::vector<std::uint64_t> more{9, 3, 10, 11, 9};
    REQUIRE_FALSE(m.add_more(&a, more, out));
    CHECK(out == std::vector<slot>{{0, 1}, {0, 3}, {2, 0}});
    CHECK(m.at(0, 1)->remote_lun == 9);
    CHECK(m.at(2, 0)->remote_lun == 11);
    CHECK(m.at(2, 0)->owner == &a);
    // Too many for the room left: nothing placed.
    const std::vector<std::uint64_t> lots{20, 21, 22, 23, 24, 25, 26, 27, 28};
    CHECK(m.add_more(&a, lots, out) == std::errc::no_space_on_device);
    CHECK(out.empty());
    CHECK_FALSE(m.find(&a, 20));
    CHECK(m.add_more(nullptr, lots, out) == std::errc::invalid_argument);
}
