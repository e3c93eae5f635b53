// iscsi-vscsi.conf(5): OpenBSD iscsi.conf(5) syntax parses unchanged.
#include "config/conf.hpp"
#include "test/config/conf_parse.hpp"

#include <catch2/catch.hpp>

using namespace ivs::config;

using ivs::test::parse_ok;

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
    CHECK(c.warnings.empty()); // inet and inet6 are applied where the host is resolved
}

TEST_CASE("continuation lines, comments and quoting", "[conf]")
{
    const conf c =
        parse_ok("target t1 { # the block opens here\n"
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

using isid6 = std::array<std::uint8_t, 6>;

isid6 isid_of(const conf& c)
{
    REQUIRE(c.isid);
    return isid_bytes(*c.isid);
}

TEST_CASE("isid values are read as iscsictl(8) reads them", "[conf][isid]")
{
    // en and rand: T=01 / T=10, BASE's low 24 bits in B and C, QUALIFIER's
    // low 16 bits in D.
    conf c = parse_ok("isid en 32473 17\n");
    CHECK(c.isid->format == isid_format::en);
    CHECK(isid_of(c) == isid6{0x40, 0x00, 0x7e, 0xd9, 0x00, 0x11});
    CHECK(c.warnings.empty());
    CHECK(isid_of(parse_ok("isid rand 16777215 65535\n")) == isid6{0x80, 0xff, 0xff, 0xff, 0xff, 0xff});
    // oui: BASE holds the OUI in bits 8-29 (not shifted), QUALIFIER's bits
    // 16-23 go in C: 0xabcdef & 0x3fffff00 = 0xabcd00, 0x123456 >> 16 = 0x12.
    c = parse_ok("isid OUI 11259375 1193046\n");
    CHECK(c.isid->format == isid_format::oui);
    CHECK(isid_of(c) == isid6{0x00, 0xab, 0xcd, 0x12, 0x34, 0x56});
    CHECK(isid_of(parse_ok("isid oui 4194304 1\n")) == isid6{0x00, 0x40, 0x00, 0x00, 0x00, 0x01});
    // hexadecimal is an extension; the meaning is the same
    CHECK(isid_of(parse_ok("isid oui 0x3fffff00 0xffffff\n")) == isid6{0x3f, 0xff, 0xff, 0xff, 0xff, 0xff});
}

TEST_CASE("isid bits iscsictl(8) ignores are ignored, with a warning", "[conf][isid]")
{
    conf c = parse_ok("isid rand -1 -1\n");
    CHECK(isid_of(c) == isid6{0x80, 0xff, 0xff, 0xff, 0xff, 0xff});
    CHECK(c.warnings ==
          std::vector<std::string>{"iscsi.conf:1: isid rand: only the low 24 bits of the base and the low 16 bits of "
                                   "the qualifier are used; the others are ignored, as by iscsictl(8)"});
    c = parse_ok("isid en 16777216 65536\n");
    CHECK(isid_of(c) == isid6{0x40, 0x00, 0x00, 0x00, 0x00, 0x00});
    CHECK(c.warnings.size() == 1);
    c = parse_ok("\nisid oui 11259375 1\n"); // the low byte of BASE (0xef) is not used
    CHECK(isid_of(c) == isid6{0x00, 0xab, 0xcd, 0x00, 0x00, 0x01});
    CHECK(c.warnings ==
          std::vector<std::string>{"iscsi.conf:2: isid oui: only bits 8-29 of the base (the OUI) and bits 0-23 of "
                                   "the qualifier are used; the others are ignored, as by iscsictl(8)"});
    // a later isid replaces an earlier one
    c = parse_ok("isid en 1 2\nisid rand 3 4\n");
    CHECK(isid_of(c) == isid6{0x80, 0x00, 0x00, 0x03, 0x00, 0x04});
    CHECK(c.warnings == std::vector<std::string>{"iscsi.conf:2: isid: replaces the isid set at iscsi.conf:1"});
}

TEST_CASE("OpenBSD's target options given again: the last one counts, with a warning", "[conf]")
{
    const conf c = parse_ok("target t {\n"
                            " targetaddr 192.0.2.1\n"
                            " targetname iqn.2001-04.com.example:one\n"
                            " disabled\n"
                            " targetaddr 192.0.2.2 port \"3261\"\n"
                            " targetname iqn.2001-04.com.example:two\n"
                            " enabled\n"
                            " discovery\n"
                            " normal\n"
                            "}\n");
    REQUIRE(c.targets.size() == 1);
    const conf_target& t = c.targets[0];
    CHECK(t.target_addr.host == "192.0.2.2");
    CHECK(t.target_addr.port == 3261);
    CHECK(t.target_name == "iqn.2001-04.com.example:two");
    CHECK(t.enabled);
    CHECK(t.type == conf_session_type::normal);
    CHECK(c.warnings ==
          std::vector<std::string>{
              "iscsi.conf:5: targetaddr: replaces the setting of line 2 (iscsictl(8) keeps the last one too)",
              "iscsi.conf:6: targetname: replaces the setting of line 3 (iscsictl(8) keeps the last one too)",
              "iscsi.conf:7: enabled: replaces the setting of line 4 (iscsictl(8) keeps the last one too)",
              "iscsi.conf:9: normal: replaces the setting of line 8 (iscsictl(8) keeps the last one too)"});
}

TEST_CASE("a target named again replaces the earlier one, as iscsid(8) does", "[conf]")
{
    const conf c = parse_ok("target a {\n targetaddr 192.0.2.1\n targetname iqn.2001-04.com.example:a\n}\n"
                            "target b {\n targetaddr 192.0.2.2\n targetname iqn.2001-04.com.example:b\n}\n"
                            "target a {\n targetaddr 192.0.2.3\n targetname iqn.2001-04.com.example:c\n}\n");
    REQUIRE(c.targets.size() == 2);
    CHECK(c.targets[0].name == "b");
    CHECK(c.targets[1].name == "a");
    CHECK(c.targets[1].target_addr.host == "192.0.2.3");
    CHECK(c.warnings ==
          std::vector<std::string>{"iscsi.conf:9: target \"a\": replaces the target of the same name at iscsi.conf:1 "
                                   "(iscsid(8) keeps the last one too)"});
}

TEST_CASE("targetname in a discovery target is accepted and not used", "[conf]")
{
    const conf c = parse_ok("target portal {\n discovery\n targetaddr 192.0.2.1\n"
                            " targetname iqn.2001-04.com.example:ignored\n}\n");
    REQUIRE(c.targets.size() == 1);
    CHECK(c.targets[0].type == conf_session_type::discovery);
    CHECK(c.warnings ==
          std::vector<std::string>{"iscsi.conf:4: target \"portal\": targetname is not used by a discovery session "
                                   "(iscsid(8) does not send it either)"});
}

TEST_CASE("macros may be named like this program's extension keywords", "[conf]")
{
    // Only iscsictl(8)'s keywords are reserved; a quoted name is never a
    // keyword, and names iscsictl(8) cannot expand may still be defined.
    const conf c = parse_ok("luns = \"0,3\"\n"
                            "export = \"/mnt/x\"\n"
                            "chap = 192.0.2.5\n"
                            "nop-interval = 5\n"
                            "\"target\" = unused\n"
                            "\"\" = iqn.2001-04.com.example:dollar\n"
                            "target t {\n"
                            " targetaddr $chap\n"
                            " targetname $\n"
                            " luns $luns\n"
                            " export $export\n"
                            "}\n");
    REQUIRE(c.targets.size() == 1);
    CHECK(c.targets[0].target_addr.host == "192.0.2.5");
    CHECK(c.targets[0].target_name == "iqn.2001-04.com.example:dollar");
    CHECK(c.targets[0].luns == std::vector<std::uint16_t>{0, 3});
    CHECK(c.targets[0].export_dir == "/mnt/x");
    CHECK(c.warnings.empty());
}

TEST_CASE("strings, words and backslashes as iscsictl(8) lexes them", "[conf]")
{
    const conf c = parse_ok("note = it's\n"                // a quote inside a word
                            "target \"spans\\ lines\" {\n" // "\ " is a blank
                            " targetaddr \"192.0.2.\n"     // a newline inside quotes
                            "7\" port iscsi-target\n"      // is dropped
                            " t\\argetname iqn.2001-04.com.example:a\\\"b   \\# a comment\n"
                            " initiatoraddr * inet6\n" // the wildcard address
                            "}\n"
                            "target spare {\n disabled\n}\n"); // never used: may be empty
    REQUIRE(c.targets.size() == 2);
    const conf_target& t = c.targets[0];
    CHECK(t.name == "spans lines");
    CHECK(t.target_addr.host == "192.0.2.7");
    CHECK(t.target_addr.port == 3260);
    CHECK(t.target_name == "iqn.2001-04.com.example:a\"b");
    REQUIRE(t.initiator_addr);
    CHECK(t.initiator_addr->host == "::");
    CHECK(c.targets[1].name == "spare");
    CHECK_FALSE(c.targets[1].enabled);
    CHECK(c.targets[1].where.line == 8);
    CHECK(c.warnings.empty());
}

TEST_CASE("an empty or comment-only file is an empty configuration", "[conf]")
{
    CHECK(parse_ok("").targets.empty());
    CHECK(parse_ok("# nothing\n\n   \n# more").targets.empty());
    CHECK_FALSE(parse_ok("\n").isid);
}
