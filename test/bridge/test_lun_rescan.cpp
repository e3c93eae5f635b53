// The rescan rule, I/O-free: which LUNs a REPORT LUNS answer adds and
// removes, and which sense says the list changed.
#include "bridge/lun_rescan.hpp"
#include "scsi/sense.hpp"

#include <catch2/catch.hpp>

using namespace ivs::bridge;

namespace {
using luns = std::vector<std::uint64_t>;
}

TEST_CASE("diff_luns: new ones in the target's order, gone ones in the map's, each once")
{
    auto d = diff_luns(luns{1, 2, 3}, luns{5, 3, 1, 4, 5});
    CHECK(d.added == luns{5, 4});
    CHECK(d.removed == luns{2});
    CHECK(diff_luns(luns{1, 2}, luns{2, 1}).empty());
    d = diff_luns(luns{1}, luns{});
    CHECK(d.removed == luns{1});
    CHECK(d.added.empty());
}

TEST_CASE("diff_luns: with configured LUNs only those count")
{
    const luns wanted{1, 4};
    auto d = diff_luns(luns{1}, luns{1, 2, 3, 4}, wanted);
    CHECK(d.added == luns{4});
    CHECK(d.removed.empty());
    d = diff_luns(luns{1, 4}, luns{4, 9}, wanted);
    CHECK(d.added.empty());
    CHECK(d.removed == luns{1});
}

TEST_CASE("reported_luns_changed: 3F/0E in fixed or descriptor sense, nothing else")
{
    auto as_bytes = [](const ivs::scsi::fixed_sense& s) {
        std::vector<std::byte> v;
        for (auto b : s)
            v.push_back(std::byte{b});
        return v;
    };
    CHECK(reported_luns_changed(as_bytes(ivs::scsi::make_fixed_sense(0x6, 0x3f, 0x0e))));
    CHECK_FALSE(reported_luns_changed(as_bytes(ivs::scsi::make_fixed_sense(0x6, 0x3f, 0x03))));
    CHECK_FALSE(reported_luns_changed(as_bytes(ivs::scsi::make_fixed_sense(0x6, 0x29, 0x00))));
    const std::vector<std::byte> descriptor{std::byte{0x72}, std::byte{0x06}, std::byte{0x3f}, std::byte{0x0e},
                                            std::byte{0},    std::byte{0},    std::byte{0},    std::byte{0}};
    CHECK(reported_luns_changed(descriptor));
    CHECK_FALSE(reported_luns_changed({}));
}
