// tag_table: the open-addressing table of live vscsi tags.
#include "vscsi/tag_table.hpp"

#include <catch2/catch.hpp>

#include <vector>

using namespace ivs::vscsi;

TEST_CASE("tag_table: insert, find, erase under collisions and growth")
{
    tag_table<int> t;
    std::vector<int> values(1000);
    for (int i = 0; i < 1000; ++i)
        REQUIRE(t.insert(i * 64 - 500, &values[static_cast<std::size_t>(i)])); // same low bits
    CHECK(!t.insert(-500, &values[1]));
    CHECK(t.size() == 1000);
    for (int i = 0; i < 1000; i += 2)
        REQUIRE(t.erase(i * 64 - 500));
    CHECK(!t.erase(12345));
    CHECK(t.size() == 500);
    for (int i = 0; i < 1000; ++i) {
        int* v = t.find(i * 64 - 500);
        if (i % 2)
            CHECK(v == &values[static_cast<std::size_t>(i)]);
        else
            CHECK(v == nullptr);
    }
    std::size_t n = 0;
    t.for_each([&](int, int*) { ++n; });
    CHECK(n == 500);
}
