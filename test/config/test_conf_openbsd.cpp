// iscsi-vscsi.conf(5): OpenBSD iscsi.conf(5) syntax parses unchanged.
#include "config/conf.hpp"

#include <catch2/catch.hpp>

using namespace ivs::config;

namespace {

conf parse_ok(std::string_view text, std::string_view name = "iscsi.conf")
{
    conf c;
    std::string error;
    const std::error_code ec = parse_conf(text, name, {}, c, error);
    INFO(error);
    REQUIRE_FALSE(ec);
    REQUIRE(error.empty());
    return c;
}

} // namespace

TEST_CASE("an OpenBSD iscsi.conf with macros, isid and target blocks", "[conf]")
{
    const conf c = parse_ok(R"(# /etc/iscsi.conf as iscsid(8) reads it
filer = "10.0.0.2"
filer6="fd00::2"
vol_prefix=iqn.1994-04.org.netbsd.iscsi-target

isid en 32473 17

target disk1 {
	targetaddr $filer
	targetname "iqn.1994-04.org.netbsd.iscsi-target:target:0"
}

target "disk2" {
	targetaddr $filer6 inet6 port 3261
	initiatoraddr 10.0.0.1 inet
	targetname "iqn.1994-04.org.netbsd.iscsi-target:target:1"
	initiatorname iqn.1995-11.org.openbsd.iscsid
	disabled
}

target probe { targetaddr 10.0.0.3 port iscsi
	discovery }
)");
    REQUIRE(c.isid);
    CHECK(c.isid->format == isid_format::en);
    CHECK(c.isid->base == 32473);
    CHECK(c.isid->qualifier == 17);
    CHECK(c.initiator_name.empty());
    REQUIRE(c.targets.size() == 3);

    const conf_target& d1 = c.targets[0];
    CHECK(d1.name == "disk1");
    CHECK(d1.where.file == "iscsi.conf");
    CHECK(d1.where.line == 8);
    CHECK(d1.enabled);
    CHECK(d1.type == conf_session_type::normal);
    CHECK(d1.target_addr.host == "10.0.0.2");
    CHECK(d1.target_addr.port == 3260);
    CHECK(d1.target_addr.family == address_family::any);
    CHECK_FALSE(d1.initiator_addr);
    CHECK(d1.target_name == "iqn.1994-04.org.netbsd.iscsi-target:target:0");
    CHECK_FALSE(d1.chap);
    CHECK(d1.luns.empty());

    const conf_target& d2 = c.targets[1];
    CHECK(d2.name == "disk2");
    CHECK(d2.where.line == 13);
    CHECK_FALSE(d2.enabled);
    CHECK(d2.target_addr.host == "fd00::2");
    CHECK(d2.target_addr.family == address_family::inet6);
    CHECK(d2.target_addr.port == 3261);
    REQUIRE(d2.initiator_addr);
    CHECK(d2.initiator_addr->host == "10.0.0.1");
    CHECK(d2.initiator_addr->family == address_family::inet);
    CHECK(d2.initiator_addr->port == 0);
    CHECK(d2.initiator_name == "iqn.1995-11.org.openbsd.iscsid");

    const conf_target& p = c.targets[2];
    CHECK(p.type == conf_session_type::discovery);
    CHECK(p.target_addr.port == 3260);
    CHECK(p.target_name.empty());
}

TEST_CASE("continuation lines, comments and quoting", "[conf]")
{
    const conf c = parse_ok("target t1 { # the block opens here\n"
                            "  targetaddr \\\n"
                            "     192.0.2.7 \\\n"
                            "     port 3262   # trailing comment\n"
                            "  targetname 'iqn.2001-04.com.example:disk\\'s' \n"
                            "  # targetname iqn.2001-04.com.example:commented \\\n"
                            "  this line is still the comment\n"
                            "}\r\n"
                            "target t2 {\r\n targetaddr 192.0.2.8\r\n targetname \"iqn.2001-04.com.example:b\\\n2\"\r\n}\r\n");
    REQUIRE(c.targets.size() == 2);
    CHECK(c.targets[0].target_addr.host == "192.0.2.7");
    CHECK(c.targets[0].target_addr.port == 3262);
    CHECK(c.targets[0].target_name == "iqn.2001-04.com.example:disk's");
    CHECK(c.targets[1].where.line == 9);
    CHECK(c.targets[1].target_name == "iqn.2001-04.com.example:b2");
}

TEST_CASE("a macro holding several tokens, redefinition, and no expansion in quotes", "[conf]")
{
    const conf c = parse_ok("where = 192.0.2.1 port 3300\n"
                            "name = \"iqn.2001-04.com.example:one\"\n"
                            "target a {\n targetaddr $where\n targetname $name\n}\n"
                            "name = iqn.2001-04.com.example:two\n"
                            "target b {\n targetaddr \"$where\"\n targetname $name\n}\n");
    REQUIRE(c.targets.size() == 2);
    CHECK(c.targets[0].target_addr.host == "192.0.2.1");
    CHECK(c.targets[0].target_addr.port == 3300);
    CHECK(c.targets[0].target_name == "iqn.2001-04.com.example:one");
    CHECK(c.targets[1].target_addr.host == "$where"); // quoted: not expanded
    CHECK(c.targets[1].target_name == "iqn.2001-04.com.example:two");
}

TEST_CASE("isid formats and their RFC 7143 byte layout", "[conf]")
{
    conf c = parse_ok("isid rand 16777215 65535\n");
    REQUIRE(c.isid);
    CHECK(c.isid->format == isid_format::rand);
    auto b = isid_bytes(*c.isid);
    CHECK(b == std::array<std::uint8_t, 6>{0x80, 0xff, 0xff, 0xff, 0xff, 0xff});

    c = parse_ok("isid OUI 0x3fffff 0x123456\n");
    REQUIRE(c.isid);
    CHECK(c.isid->format == isid_format::oui);
    b = isid_bytes(*c.isid);
    CHECK(b == std::array<std::uint8_t, 6>{0x3f, 0xff, 0xff, 0x12, 0x34, 0x56});

    c = parse_ok("isid en 32473 1\n");
    b = isid_bytes(*c.isid);
    CHECK(b == std::array<std::uint8_t, 6>{0x40, 0x00, 0x7e, 0xd9, 0x00, 0x01});
}

TEST_CASE("an empty or comment-only file is an empty configuration", "[conf]")
{
    CHECK(parse_ok("").targets.empty());
    CHECK(parse_ok("# nothing\n\n   \n# more").targets.empty());
    CHECK_FALSE(parse_ok("\n").isid);
}
