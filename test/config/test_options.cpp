// Unit: command-line option parsing and portal syntax.
#include "config/attach_options.hpp"
#include "config/options.hpp"
#include "iscsi/session.hpp"

#include <catch2/catch.hpp>

using namespace ivs;

namespace {
constexpr config::option_spec specs[] = {
    {"lun", true, true, "N", "a LUN"},
    {"export", true, false, "DIR", "export dir"},
    {"verbose", false, false, {}, "more output"},
};

bool parse(std::vector<std::string> args, config::parsed_options& out, std::string& err)
{
    return config::parse_options(args, specs, out, err);
}
} // namespace

TEST_CASE("options: values, repeats, flags, positionals", "[options]")
{
    config::parsed_options o;
    std::string err;
    REQUIRE(parse({"host:3260", "--lun", "1", "--lun=2", "--verbose", "iqn.x", "--export", "/mnt"}, o, err));
    CHECK(o.positionals == std::vector<std::string>{"host:3260", "iqn.x"});
    CHECK(o.all("lun") == std::vector<std::string>{"1", "2"});
    CHECK(o.has("verbose"));
    CHECK(o.get("export") == "/mnt");
    CHECK(o.get("missing", "dflt") == "dflt");
    REQUIRE(parse({"--", "--lun"}, o, err));
    CHECK(o.positionals == std::vector<std::string>{"--lun"});
}

TEST_CASE("options: errors name the problem", "[options]")
{
    config::parsed_options o;
    std::string err;
    CHECK_FALSE(parse({"--nope"}, o, err));
    CHECK(err == "unknown option --nope");
    CHECK_FALSE(parse({"--lun"}, o, err));
    CHECK(err == "option --lun needs a value");
    CHECK_FALSE(parse({"--export", "a", "--export", "b"}, o, err));
    CHECK(err == "option --export given twice");
    CHECK_FALSE(parse({"--verbose=1"}, o, err));
    CHECK(err == "option --verbose takes no value");
    CHECK_FALSE(parse({"-x"}, o, err));
    CHECK(err == "unknown option -x");
    CHECK(config::format_options_help(specs).find("--lun N") != std::string::npos);
}

TEST_CASE("parse_unsigned is strict", "[options]")
{
    unsigned long long v = 0;
    CHECK(config::parse_unsigned("42", 0, 100, v));
    CHECK(v == 42);
    CHECK_FALSE(config::parse_unsigned("101", 0, 100, v));
    CHECK_FALSE(config::parse_unsigned("4x", 0, 100, v));
    CHECK_FALSE(config::parse_unsigned("", 0, 100, v));
    CHECK_FALSE(config::parse_unsigned("-1", 0, 100, v));
}

TEST_CASE("portals: names, IPv4, IPv6, ports", "[portal]")
{
    iscsi::portal p;
    REQUIRE(iscsi::parse_portal("example.org", p));
    CHECK((p.host == "example.org" && p.port == "3260"));
    REQUIRE(iscsi::parse_portal("10.1.2.3:3261", p));
    CHECK((p.host == "10.1.2.3" && p.port == "3261"));
    REQUIRE(iscsi::parse_portal("[fe80::1]:860", p));
    CHECK((p.host == "fe80::1" && p.port == "860"));
    REQUIRE(iscsi::parse_portal("[::1]", p));
    CHECK((p.host == "::1" && p.port == "3260"));
    REQUIRE(iscsi::parse_portal("::1", p));
    CHECK(p.host == "::1");
    CHECK(iscsi::format_portal(p) == "[::1]:3260");
    CHECK_FALSE(iscsi::parse_portal("", p));
    CHECK_FALSE(iscsi::parse_portal("host:", p));
    CHECK_FALSE(iscsi::parse_portal("host:0", p));
    CHECK_FALSE(iscsi::parse_portal("host:65536", p));
    CHECK_FALSE(iscsi::parse_portal("host:12ab", p));
    CHECK_FALSE(iscsi::parse_portal("[::1", p));
    CHECK_FALSE(iscsi::parse_portal(":3260", p));
}

TEST_CASE("digest offers as the command line spells them", "[options]")
{
    iscsi::digest_offer d = iscsi::digest_offer::none;
    REQUIRE(iscsi::parse_digest_offer("crc32c", d));
    CHECK(d == iscsi::digest_offer::crc32c);
    REQUIRE(iscsi::parse_digest_offer("CRC32C,None", d));
    CHECK(d == iscsi::digest_offer::crc32c_or_none);
    REQUIRE(iscsi::parse_digest_offer("none,crc32c", d));
    CHECK(d == iscsi::digest_offer::none_or_crc32c);
    REQUIRE(iscsi::parse_digest_offer("none", d));
    CHECK(d == iscsi::digest_offer::none);
    CHECK_FALSE(iscsi::parse_digest_offer("md5", d));
    CHECK_FALSE(iscsi::parse_digest_offer("crc32c,", d));
    CHECK_FALSE(iscsi::parse_digest_offer("", d));
}

TEST_CASE("attach takes digests as preference lists, as open-iscsi writes them", "[options]")
{
    const std::vector<std::string> args = {
        "192.0.2.1", "iqn.2001-04.com.example:disk", "--header-digest", "CRC32C,None", "--data-digest", "none,crc32c"};
    config::attach_options o;
    std::string error;
    REQUIRE(config::parse_attach_options(args, o, error) == config::parse_outcome::ok);
    CHECK(o.session.login.proposals.header_digest == iscsi::digest_offer::crc32c_or_none);
    CHECK(o.session.login.proposals.data_digest == iscsi::digest_offer::none_or_crc32c);

    const std::vector<std::string> bad = {"192.0.2.1", "iqn.2001-04.com.example:disk", "--data-digest", "md5"};
    CHECK(config::parse_attach_options(bad, o, error) == config::parse_outcome::bad_value);
    CHECK(error == "bad --data-digest 'md5' (none, crc32c, crc32c,none or none,crc32c)");
    CHECK(config::attach_help().find("crc32c,none") != std::string::npos);
}

TEST_CASE("attach --initiator-address takes an IPv4 or IPv6 address", "[options]")
{
    std::vector<std::string> args = {"192.0.2.1", "iqn.2001-04.com.example:disk", "--initiator-address", "127.0.0.2"};
    config::attach_options o;
    std::string error;
    REQUIRE(config::parse_attach_options(args, o, error) == config::parse_outcome::ok);
    CHECK(o.session.local_address == "127.0.0.2");
    args.back() = "fe80::1%lo";
    REQUIRE(config::parse_attach_options(args, o, error) == config::parse_outcome::ok);
    CHECK(o.session.local_address == "fe80::1%lo");

    config::attach_options none;
    REQUIRE(config::parse_attach_options(std::vector<std::string>(args.begin(), args.begin() + 2), none, error) ==
            config::parse_outcome::ok);
    CHECK(none.session.local_address.empty());

    for (const char* bad : {"127.0.0.300", "localhost", "", "::g"}) {
        args.back() = bad;
        CHECK(config::parse_attach_options(args, o, error) == config::parse_outcome::bad_value);
        CHECK(error ==
              "bad --initiator-address '" + std::string(bad) + "' (expected an IPv4 or IPv6 address of this host)");
    }
    CHECK(config::attach_help().find("--initiator-address ADDR") != std::string::npos);
}
