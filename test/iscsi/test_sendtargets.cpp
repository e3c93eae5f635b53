// TargetAddress and SendTargets answer parsing (RFC 7143 §13.3, §13.8).
#include <catch2/catch.hpp>

#include "iscsi/sendtargets.hpp"
#include "pdu/error.hpp"

using namespace ivs;
using namespace ivs::iscsi;

TEST_CASE("TargetAddress forms", "[sendtargets]")
{
    target_address a;
    REQUIRE_FALSE(parse_target_address("192.0.2.7:3261,5", a));
    CHECK(a.host == "192.0.2.7");
    CHECK(a.port == 3261);
    CHECK(a.portal_group_tag == std::optional<std::uint16_t>(5));

    REQUIRE_FALSE(parse_target_address("storage.example.com", a));
    CHECK(a.host == "storage.example.com");
    CHECK(a.port == 3260);
    CHECK_FALSE(a.portal_group_tag);

    REQUIRE_FALSE(parse_target_address("storage.example.com,2", a));
    CHECK(a.port == 3260);
    CHECK(a.portal_group_tag == std::optional<std::uint16_t>(2));

    REQUIRE_FALSE(parse_target_address("[2001:db8::1]:3262,1", a));
    CHECK(a.host == "2001:db8::1");
    CHECK(a.port == 3262);
    CHECK(format_host_port(a) == "[2001:db8::1]:3262");

    REQUIRE_FALSE(parse_target_address("[fe80::1],7", a));
    CHECK(a.host == "fe80::1");
    CHECK(a.port == 3260);
    CHECK(a.portal_group_tag == std::optional<std::uint16_t>(7));

    for (const char* bad : {"", ":3260", "host:", "host:0", "host:65536", "host:12x", "[::1", "[]:3260", "[::1]x",
                            "host,", "host,65536", "host,-1", "[::1]:"})
        CHECK(parse_target_address(bad, a) == pdu::errc::value_syntax);
}

TEST_CASE("SendTargets answer with several targets and portals", "[sendtargets]")
{
    const pdu::text_list answer = {
        {"TargetName", "iqn.2024-01.org.example:disk1"}, {"TargetAddress", "192.0.2.7:3260,1"},
        {"TargetAddress", "[2001:db8::7]:3260,2"},       {"TargetName", "iqn.2024-01.org.example:disk2"},
        {"TargetName", "iqn.2024-01.org.example:disk3"}, {"TargetAddress", "san.example.com"},
    };
    target_address connected{"192.0.2.1", 3260, 1};
    std::vector<sendtargets_entry> out;
    REQUIRE_FALSE(parse_sendtargets(answer, connected, out));
    REQUIRE(out.size() == 4);
    CHECK(format_sendtargets_entry(out[0]) == "192.0.2.7:3260,1 iqn.2024-01.org.example:disk1");
    CHECK(format_sendtargets_entry(out[1]) == "[2001:db8::7]:3260,2 iqn.2024-01.org.example:disk1");
    // No TargetAddress: the portal we are connected to.
    CHECK(format_sendtargets_entry(out[2]) == "192.0.2.1:3260,1 iqn.2024-01.org.example:disk2");
    // Missing port and tag: default port, tag unknown.
    CHECK(format_sendtargets_entry(out[3]) == "san.example.com:3260 iqn.2024-01.org.example:disk3");
}

TEST_CASE("SendTargets answer errors", "[sendtargets]")
{
    target_address connected{"192.0.2.1", 3260, 1};
    std::vector<sendtargets_entry> out;
    CHECK(parse_sendtargets({{"TargetAddress", "192.0.2.7"}}, connected, out) == pdu::errc::value_syntax);
    CHECK(parse_sendtargets({{"TargetName", ""}}, connected, out) == pdu::errc::value_syntax);
    CHECK(parse_sendtargets({{"TargetName", "iqn.x"}, {"TargetAddress", "[::1"}}, connected, out) ==
          pdu::errc::value_syntax);
    CHECK(parse_sendtargets({{"SendTargets", "Reject"}}, connected, out) == pdu::errc::key_not_allowed);
    REQUIRE_FALSE(parse_sendtargets({}, connected, out));
    CHECK(out.empty());
}
