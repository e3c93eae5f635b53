// Parsing a configuration text in a test: the result, failing the test on
// any error.
#pragma once

#include "config/conf.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <string_view>
#include <system_error>

namespace ivs::test {

inline config::conf parse_ok(std::string_view text, std::string_view name = "iscsi.conf")
{
    config::conf c;
    std::string error;
    const std::error_code ec = config::parse_conf(text, name, {}, c, error);
    INFO(error);
    REQUIRE_FALSE(ec);
    REQUIRE(error.empty());
    return c;
}

} // namespace ivs::test
