// iscsi-vscsi.conf(5): every error is "file:line: reason" and fails the parse.
#include "config/conf.hpp"

#include <catch2/catch.hpp>

using namespace ivs::config;
using namespace std::string_literals;

namespace {

std::string error_of(std::string_view text, std::string_view name = "vol.conf")
{
    conf c;
    c.initiator_name = "stale";
    std::string error;
    const std::error_code ec = parse_conf(text, name, {}, c, error);
    CHECK(ec == conf_errc::syntax);
    CHECK(c.targets.empty());
    CHECK(c.initiator_name.empty()); // nothing half-parsed is left in `out`
    return error;
}

// A valid block with `extra` lines inserted after its first line; the
// inserted text starts on line 2.
std::string block(std::string_view extra)
{
    return "target t {\n" + std::string(extra) + "\n targetaddr 192.0.2.1\n targetname iqn.2001-04.com.example:t\n}\n";
}

} // namespace

TEST_CASE("unknown keywords", "[conf][errors]")
{
    CHECK(error_of("# line 1\n\n\n\n\n\n\n\n\n\n\n" + block(" targetadr 10.0.0.1"), "/etc/iscsi.conf") ==
          "/etc/iscsi.conf:13: unknown keyword \"targetadr\"");
    CHECK(error_of("initiator iqn.2001-04.com.example:x\n") == "vol.conf:1: unknown keyword \"initiator\"");
    CHECK(error_of(block(" port 3260")) == "vol.conf:2: unknown keyword \"port\"");
    CHECK(error_of("\ninclude_it \"x\"\n") == "vol.conf:2: unknown keyword \"include_it\"");
}

TEST_CASE("macro errors", "[conf][errors]")
{
    CHECK(error_of("a=1\n\ninitiatorname $foo\n") == "vol.conf:3: macro \"foo\" is not defined");
    CHECK(error_of("a=1\n" + block(" targetaddr $b")) == "vol.conf:3: macro \"b\" is not defined");
    CHECK(error_of("target=1.2.3.4\n") == "vol.conf:1: \"target\" is a reserved word, not a macro name");
    CHECK(error_of("inet4 = 1\n") == "vol.conf:1: \"inet4\" is a reserved word, not a macro name");
    CHECK(error_of("\"my addr\"=1.2.3.4\n") == "vol.conf:1: invalid macro name \"my addr\": it contains a blank");
    CHECK(error_of("\"luns\" 1\n") == "vol.conf:1: unexpected \"luns\", expected a keyword");
    CHECK(error_of("a=\n") == "vol.conf:1: macro \"a\": missing value");
    CHECK(error_of("bad=\"x\ny=1\n") == "vol.conf:1: unterminated quoted string"); // reported where it opened
    CHECK(error_of("q='\"'\ntarget a { targetaddr $q\n}\n") ==
          "vol.conf:2: in macro \"q\": unterminated quoted string");
    CHECK(error_of("x = $\n") == "vol.conf:1: missing macro name after '$'");
}

TEST_CASE("lexical errors", "[conf][errors]")
{
    CHECK(error_of("target a (\n") == "vol.conf:1: unexpected '('");
    CHECK(error_of("isid en 1 2 \\ x\n") == "vol.conf:1: unexpected \"x\", expected end of line"); // '\ ' is a blank
    CHECK(error_of("isid en 1 \"2\0\"\n"s) == "vol.conf:1: unexpected byte 0x00 in quoted string");
    CHECK(error_of(std::string("isid en\0 1 2\n", 13)) == "vol.conf:1: unexpected byte 0x00");
    CHECK(error_of("initiatorname \"iqn.2001-04.com.example:x\n") == "vol.conf:1: unterminated quoted string");
    CHECK(error_of("initiatorname " + std::string(9000, 'a') + "\n") == "vol.conf:1: word too long");
}

TEST_CASE("syntax errors", "[conf][errors]")
{
    CHECK(error_of("isid en 1 2 3\n") == "vol.conf:1: unexpected \"3\", expected end of line");
    CHECK(error_of("target a\n{\n") == "vol.conf:1: unexpected end of line, expected '{'\n"
                                       "vol.conf:2: unexpected '{', expected a keyword");
    CHECK(error_of("target a {\n targetaddr 192.0.2.1\n targetname iqn.2001-04.com.example:a\n") ==
          "vol.conf:1: target \"a\": missing '}' before end of file");
    CHECK(error_of("target {\n}\n") == "vol.conf:1: unexpected '{', expected name\n"
                                       "vol.conf:2: unexpected '}', expected a keyword");
    CHECK(error_of("{\n") == "vol.conf:1: unexpected '{', expected a keyword");
    CHECK(error_of(block(" targetaddr")) == "vol.conf:2: targetaddr: missing address");
    CHECK(error_of(block(" nop-timeout")) == "vol.conf:2: nop-timeout: missing number");
    CHECK(error_of(block(" = 4")) == "vol.conf:2: unexpected '=', expected a target option");
}

TEST_CASE("value errors", "[conf][errors]")
{
    CHECK(error_of(block(" max-recv-data-segment-length 511")) ==
          "vol.conf:2: max-recv-data-segment-length: 511 is out of range 512..16777215");
    CHECK(error_of(block(" max-burst-length 16777216")) ==
          "vol.conf:2: max-burst-length: 16777216 is out of range 512..16777215");
    CHECK(error_of(block(" first-burst-length lots")) == "vol.conf:2: first-burst-length: \"lots\" is not a number");
    CHECK(error_of(block(" max-outstanding-r2t 0")) == "vol.conf:2: max-outstanding-r2t: 0 is out of range 1..65535");
    CHECK(error_of(block(" nop-interval 99999999999999999999999")) ==
          "vol.conf:2: nop-interval: 99999999999999999999999 is out of range 0..3600");
    CHECK(error_of(block(" command-timeout 0")) == "vol.conf:2: command-timeout: 0 is out of range 1..86400");
    CHECK(error_of("target a {\n targetaddr 192.0.2.1 port 0\n targetname iqn.2001-04.com.example:a\n}\n") ==
          "vol.conf:2: port: 0 is out of range 1..65535");
    CHECK(error_of(block(" initiatoraddr 192.0.2.2 port 65536")) == "vol.conf:2: port: 65536 is out of range 1..65535");
    CHECK(error_of(block(" initiatoraddr 192.0.2.2 port 1 port 2")) == "vol.conf:2: initiatoraddr: port given twice");
    CHECK(error_of(block(" initiatoraddr 192.0.2.2 inet inet6")) ==
          "vol.conf:2: initiatoraddr: address family given twice");
    CHECK(error_of(block(" initial-r2t maybe")) == "vol.conf:2: initial-r2t: \"maybe\" is neither yes nor no");
    CHECK(error_of(block(" header-digest md5")) ==
          "vol.conf:2: header-digest: unknown digest \"md5\" (none or crc32c)");
    CHECK(error_of(block(" data-digest \"crc32c,crc32c\"")) == "vol.conf:2: data-digest: a digest is listed twice");
    CHECK(error_of(block(" data-digest crc32c,")) == "vol.conf:2: data-digest: missing value");
    CHECK(error_of(block(" data-digest \"crc32c,\"")) == "vol.conf:2: data-digest: empty item in list");
    CHECK(error_of(block(" luns 1,2,1")) == "vol.conf:2: luns: LUN 1 is listed twice");
    CHECK(error_of(block(" luns 16384")) == "vol.conf:2: luns: \"16384\" is not a LUN (0..16383)");
    CHECK(error_of(block(" export srv/t")) == "vol.conf:2: export: \"srv/t\" is not an absolute path");
    CHECK(error_of(block(" chap alice secret-file /x")) == "vol.conf:2: chap: expected \"user NAME secret-file PATH\"");
    CHECK(error_of(block(" chap user alice /x")) == "vol.conf:2: chap: expected \"user NAME secret-file PATH\"");
    CHECK(error_of(block(" chap user alice secret-file")) == "vol.conf:2: chap: missing secret file");
    CHECK(error_of(block(" chap user a secret-file /s\n chap-algorithms md5,sha512")) ==
          "vol.conf:3: chap-algorithms: unknown algorithm \"sha512\" (md5, sha1, sha256 or sha3-256)");
    CHECK(error_of(block(" chap user a secret-file /s\n chap-algorithms md5,MD5")) ==
          "vol.conf:3: chap-algorithms: \"MD5\" is listed twice");
}

TEST_CASE("iSCSI name checks", "[conf][errors]")
{
    CHECK(error_of("initiatorname disk0\n") ==
          "vol.conf:1: initiatorname: \"disk0\": not an iSCSI name (iqn., eui. or naa.)");
    CHECK(error_of("initiatorname iqn.foo\n") ==
          "vol.conf:1: initiatorname: \"iqn.foo\": iqn. name without a yyyy-mm. date and naming authority");
    CHECK(error_of("initiatorname eui.0123\n") ==
          "vol.conf:1: initiatorname: \"eui.0123\": eui. name without 16 hexadecimal digits");
    CHECK(error_of("initiatorname naa.0123456789abcdeZ\n") ==
          "vol.conf:1: initiatorname: \"naa.0123456789abcdeZ\": naa. name without 16 or 32 hexadecimal digits");
    CHECK(
        error_of("initiatorname \"iqn.2001-04.com.example:a b\"\n") ==
        "vol.conf:1: initiatorname: \"iqn.2001-04.com.example:a b\": iSCSI name contains a blank or control character");
    CHECK(error_of("initiatorname iqn.2001-04.com.example:" + std::string(200, 'x') + "\n") ==
          "vol.conf:1: initiatorname: \"iqn.2001-04.com.example:" + std::string(200, 'x') +
              "\": iSCSI name longer than 223 bytes");
}

TEST_CASE("repeated extension settings", "[conf][errors]")
{
    // OpenBSD's own keywords may be repeated (test_conf_openbsd.cpp); the
    // extensions may not.
    CHECK(error_of(block(" nop-interval 5\n nop-interval 6")) == "vol.conf:3: nop-interval: already set at line 2");
    CHECK(error_of(block(" luns 1\n luns 2")) == "vol.conf:3: luns: already set at line 2");
    CHECK(error_of("initiatorname iqn.2001-04.com.example:a\n\ninitiatorname iqn.2001-04.com.example:a\n") ==
          "vol.conf:3: initiatorname: already set at vol.conf:1");
}

TEST_CASE("isid errors", "[conf][errors]")
{
    CHECK(error_of("isid foo 1 2\n") == "vol.conf:1: isid: unknown type \"foo\" (oui, en or rand)");
    CHECK(error_of("isid oui x 1\n") ==
          "vol.conf:1: isid base: \"x\" is not a number from -9223372036854775808 to 9223372036854775807");
    CHECK(error_of("isid rand 1 9223372036854775808\n") ==
          "vol.conf:1: isid qualifier: \"9223372036854775808\" is not a number from -9223372036854775808 to "
          "9223372036854775807");
    CHECK(error_of("isid rand 1 --2\n") ==
          "vol.conf:1: isid qualifier: \"--2\" is not a number from -9223372036854775808 to 9223372036854775807");
    CHECK(error_of("isid\n") == "vol.conf:1: isid: missing type (oui, en or rand)");
}

TEST_CASE("block-level rules", "[conf][errors]")
{
    CHECK(error_of("target a {\n targetname iqn.2001-04.com.example:a\n}\n") ==
          "vol.conf:1: target \"a\": missing targetaddr");
    CHECK(error_of("\ntarget a {\n targetaddr 192.0.2.1\n}\n") == "vol.conf:2: target \"a\": missing targetname");
    CHECK(error_of("target a {\n disabled\n enabled\n targetaddr 192.0.2.1\n}\n") ==
          "vol.conf:1: target \"a\": missing targetname");
    CHECK(error_of(block(" mutual-chap user m secret-file /m")) == "vol.conf:1: target \"t\": mutual-chap needs chap");
    CHECK(error_of(block(" chap-algorithms md5")) == "vol.conf:1: target \"t\": chap-algorithms needs chap");
    CHECK(error_of(block(" first-burst-length 65536\n max-burst-length 4096")) ==
          "vol.conf:1: target \"t\": first-burst-length 65536 exceeds max-burst-length 4096 (RFC 7143 section 13.14)");
    CHECK(error_of("target a {\n targetaddr h\n targetname iqn.2001-04.com.example:a\n export /e\n}\n"
                   "target b {\n targetaddr h\n targetname iqn.2001-04.com.example:b\n export /e/\n}\n") ==
          "vol.conf:6: target \"b\": export directory \"/e\" is also used by target \"a\"");
}

TEST_CASE("several errors are collected, up to a limit", "[conf][errors]")
{
    CHECK(error_of("bogus\ntarget a {\n targetaddr h\n targetname iqn.2001-04.com.example:a\n frob 1\n"
                   " luns x\n}\nisid en 1\n") == "vol.conf:1: unknown keyword \"bogus\"\n"
                                                 "vol.conf:5: unknown keyword \"frob\"\n"
                                                 "vol.conf:6: luns: \"x\" is not a LUN (0..16383)\n"
                                                 "vol.conf:8: isid qualifier: missing number");
    std::string many;
    for (int i = 0; i < 100; ++i)
        many += "nonsense\n";
    const std::string error = error_of(many);
    CHECK(std::count(error.begin(), error.end(), '\n') + 1 == static_cast<long>(max_reported_errors));
    CHECK(error.rfind("vol.conf:8: unknown keyword \"nonsense\"") != std::string::npos);
}

TEST_CASE("an error after '}' on the option's line does not lose the block", "[conf][errors]")
{
    CHECK(error_of("target a { targetaddr h port x }\ntarget b {\n}\n") ==
          "vol.conf:1: port: \"x\" is not a number\n"
          "vol.conf:2: target \"b\": missing targetaddr\n"
          "vol.conf:2: target \"b\": missing targetname");
    // a failed option may be given again correctly without "already set"
    CHECK(error_of(block(" luns x\n luns 1")) == "vol.conf:2: luns: \"x\" is not a LUN (0..16383)");
}
