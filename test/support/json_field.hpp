// Reading one number out of the flat JSON object a command prints
// (`iscsi-vscsi bench --json`), for CLI tests.
#pragma once

#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>

namespace ivs::test {

// The number after "key": in a flat JSON object; fails the test if absent.
inline double json_number(const std::string& json, const std::string& key)
{
    const auto at = json.find("\"" + key + "\":");
    INFO("key " << key << " in " << json);
    REQUIRE(at != std::string::npos);
    const char* start = json.c_str() + at + key.size() + 3;
    char* end = nullptr;
    const double v = std::strtod(start, &end);
    REQUIRE(end != start);
    return v;
}

} // namespace ivs::test
