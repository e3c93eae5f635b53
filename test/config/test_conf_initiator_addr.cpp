// iscsi-vscsi.conf(5): initiatoraddr, the local address connections are bound
// to, per target (iscsi.conf(5)) and globally (an extension): literals checked
// at parse time with file:line, host names kept for serve to resolve.
#include "config/conf.hpp"
#include "test/config/conf_parse.hpp"
#include "config/conf_values.hpp"

#include <catch2/catch.hpp>

using namespace ivs::config;

namespace {

using ivs::test::parse_ok;

std::string error_of(std::string_view text, std::string_view name = "vol.conf")
{
    conf c;
    std::string error;
    CHECK(parse_conf(text, name, {}, c, error) == conf_errc::syntax);
    CHECK(c.targets.empty());
    CHECK_FALSE(c.initiator_addr);
    return error;
}

// A target block whose initiatoraddr line (line 3 of the file) is `addr`.
std::string with_addr(std::string_view addr)
{
    return "# local address\ntarget t {\n initiatoraddr " + std::string(addr) +
           "\n targetaddr 192.0.2.1\n targetname iqn.2001-04.com.example:t\n}\n";
}

} // namespace

TEST_CASE("initiatoraddr takes IPv4 and IPv6 literals, the wildcard and host names", "[conf][initiatoraddr]")
{
    struct row {
        const char* text;
        const char* host;
        address_family family;
    };
    const row rows[] = {
        {"127.0.0.2", "127.0.0.2", address_family::any},
        {"10.0.0.1 inet", "10.0.0.1", address_family::inet},
        {"fd00::1", "fd00::1", address_family::any},
        {"[fd00::1] inet6", "fd00::1", address_family::inet6},
        {"fe80::1%em0", "fe80::1%em0", address_family::any},
        {"::ffff:192.0.2.5", "::ffff:192.0.2.5", address_family::any},
        {"*", "0.0.0.0", address_family::any},
        {"* inet6", "::", address_family::inet6},
        {"san-a.example.org", "san-a.example.org", address_family::any}, // resolved by serve
        {"san-a inet6", "san-a", address_family::inet6},
    };
    for (const row& r : rows) {
        INFO(r.text);
        const conf c = parse_ok(with_addr(r.text));
        REQUIRE(c.targets.size() == 1);
        REQUIRE(c.targets[0].initiator_addr);
        CHECK(c.targets[0].initiator_addr->host == r.host);
        CHECK(c.targets[0].initiator_addr->family == r.family);
        CHECK(c.targets[0].initiator_addr->port == 0);
        CHECK(c.warnings.empty());
        CHECK_FALSE(c.initiator_addr);
    }
}

TEST_CASE("initiatoraddr: a bad address is an error naming it, with file and line", "[conf][initiatoraddr]")
{
    CHECK(error_of(with_addr("10.0.0.300")) ==
          "vol.conf:3: initiatoraddr: \"10.0.0.300\" is not an IPv4 or IPv6 address or a host name (not an IPv4 "
          "address)");
    CHECK(error_of(with_addr("10.1")) ==
          "vol.conf:3: initiatoraddr: \"10.1\" is not an IPv4 or IPv6 address or a host name (not an IPv4 address)");
    CHECK(error_of(with_addr("fd00::g")) ==
          "vol.conf:3: initiatoraddr: \"fd00::g\" is not an IPv4 or IPv6 address or a host name (not an IPv6 "
          "address)");
    CHECK(error_of(with_addr("\"fe80::1%\"")) ==
          "vol.conf:3: initiatoraddr: \"fe80::1%\" is not an IPv4 or IPv6 address or a host name (not an IPv6 "
          "address)");
    CHECK(error_of(with_addr("a..b")) ==
          "vol.conf:3: initiatoraddr: \"a..b\" is not an IPv4 or IPv6 address or a host name (empty label in host "
          "name)");
    CHECK(error_of(with_addr("\"san a\"")) == "vol.conf:3: initiatoraddr: \"san a\" is not a host name or address");
    CHECK(error_of(with_addr("10.0.0.1 inet6")) == "vol.conf:3: initiatoraddr: 10.0.0.1 is not an inet6 address");
    CHECK(error_of(with_addr("fd00::1 inet")) == "vol.conf:3: initiatoraddr: fd00::1 is not an inet address");
    CHECK(error_of(with_addr("")) == "vol.conf:3: initiatoraddr: missing address");
    // Every bad line is reported, each with its own line.
    CHECK(error_of("target a {\n initiatoraddr 1.2.3.4.5\n targetaddr 192.0.2.1\n"
                   " targetname iqn.2001-04.com.example:a\n}\n"
                   "target b {\n targetaddr 192.0.2.1\n targetname iqn.2001-04.com.example:b\n"
                   " initiatoraddr ::1 inet\n}\n") ==
          "vol.conf:2: initiatoraddr: \"1.2.3.4.5\" is not an IPv4 or IPv6 address or a host name (not an IPv4 "
          "address)\n"
          "vol.conf:9: initiatoraddr: ::1 is not an inet address");
}

TEST_CASE("initiatoraddr: a port is not used, with a warning", "[conf][initiatoraddr]")
{
    const conf c = parse_ok(with_addr("127.0.0.2 port 3260"));
    REQUIRE(c.targets[0].initiator_addr);
    CHECK(c.targets[0].initiator_addr->port == 0);
    CHECK(c.warnings ==
          std::vector<std::string>{"iscsi.conf:3: initiatoraddr: port 3260 is not used: connections are bound to any "
                                   "local port"});
}

TEST_CASE("a global initiatoraddr is the default of every target", "[conf][initiatoraddr]")
{
    const conf c = parse_ok("initiatoraddr 127.0.0.2\n"
                            "target a {\n targetaddr 192.0.2.1\n targetname iqn.2001-04.com.example:a\n}\n"
                            "target b {\n targetaddr 192.0.2.1\n targetname iqn.2001-04.com.example:b\n"
                            " initiatoraddr 127.0.0.3\n}\n");
    REQUIRE(c.initiator_addr);
    CHECK(c.initiator_addr->host == "127.0.0.2");
    CHECK(c.initiator_addr->port == 0);
    REQUIRE(c.targets.size() == 2);
    CHECK_FALSE(c.targets[0].initiator_addr); // make_session_config takes the global one
    REQUIRE(c.targets[1].initiator_addr);
    CHECK(c.targets[1].initiator_addr->host == "127.0.0.3");

    CHECK(error_of("\ninitiatoraddr 127.0.0.300\n") ==
          "vol.conf:2: initiatoraddr: \"127.0.0.300\" is not an IPv4 or IPv6 address or a host name (not an IPv4 "
          "address)");
    CHECK(error_of("initiatoraddr 127.0.0.2\n\ninitiatoraddr 127.0.0.3\n") ==
          "vol.conf:3: initiatoraddr: already set at vol.conf:1");
    CHECK(error_of("initiatoraddr = 127.0.0.2\n") ==
          "vol.conf:1: \"initiatoraddr\" is a reserved word, not a macro name");
}

TEST_CASE("address literals and host names are told apart without I/O", "[conf][initiatoraddr]")
{
    CHECK(classify_address_literal("192.0.2.1") == address_literal::ipv4);
    CHECK(classify_address_literal("::") == address_literal::ipv6);
    CHECK(classify_address_literal("fe80::1%2") == address_literal::ipv6);
    CHECK(classify_address_literal("fe80::1%") == address_literal::none);
    CHECK(classify_address_literal("192.0.2.1%em0") == address_literal::none);
    CHECK(classify_address_literal("192.0.2") == address_literal::none);
    CHECK(classify_address_literal("") == address_literal::none);
    CHECK(classify_address_literal(std::string(100, '1')) == address_literal::none);
    CHECK(check_host_name("filer-1.example.org.").empty());
    CHECK(check_host_name("300.1.1.1") == "not an IPv4 address");
    CHECK(check_host_name("x:y") == "not an IPv6 address");
    CHECK(check_host_name(std::string(64, 'a')) == "host name label longer than 63 characters");
    CHECK(check_host_name("a/b") == "character '/' in host name");
}
