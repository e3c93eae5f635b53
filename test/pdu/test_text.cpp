// Text key=value segments (RFC 7143 §6.1): parsing, serialization, limits,
// duplicates and multi-PDU reassembly.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "pdu/text.hpp"

using namespace ivs::pdu;

namespace {

std::vector<std::byte> bytes(std::string_view s)
{
    std::vector<std::byte> v(s.size());
    for (std::size_t i = 0; i < s.size(); ++i)
        v[i] = std::byte(s[i]);
    return v;
}

std::error_code parse(std::string_view s, text_list& out, const text_limits& l = {})
{
    return parse_text(bytes(s), out, l);
}

std::string pair(std::string_view k, std::string_view v)
{
    std::string s(k);
    s += '=';
    s += v;
    s += '\0';
    return s;
}

} // namespace

TEST_CASE("text: parse a login response in order", "[text]")
{
    const std::string in = pair("TargetPortalGroupTag", "1") + pair("HeaderDigest", "None") +
                           pair("MaxRecvDataSegmentLength", "262144") + pair("TargetAlias", "");
    text_list out;
    REQUIRE_FALSE(parse(in, out));
    REQUIRE(out.size() == 4);
    CHECK(out[0] == text_pair{"TargetPortalGroupTag", "1"});
    CHECK(out[1] == text_pair{"HeaderDigest", "None"});
    CHECK(out[2] == text_pair{"MaxRecvDataSegmentLength", "262144"});
    CHECK(out[3] == text_pair{"TargetAlias", ""});
    REQUIRE(find_pair(out, "HeaderDigest"));
    CHECK(find_pair(out, "HeaderDigest")->value == "None");
    CHECK(find_pair(out, "DataDigest") == nullptr);
}

TEST_CASE("text: value holds everything after the first '='", "[text]")
{
    text_list out;
    REQUIRE_FALSE(parse(pair("X-com.example.k", "a=b,c:d/[e]"), out));
    REQUIRE(out.size() == 1);
    CHECK(out[0].value == "a=b,c:d/[e]");
}

TEST_CASE("text: empty input and padding NULs", "[text]")
{
    text_list out;
    CHECK_FALSE(parse("", out));
    CHECK(out.empty());
    REQUIRE_FALSE(parse(pair("A", "1") + std::string(3, '\0'), out));
    CHECK(out.size() == 1);
}

TEST_CASE("text: missing trailing NUL", "[text]")
{
    text_list out;
    CHECK(parse("HeaderDigest=None", out) == errc::missing_nul);
    CHECK(parse(pair("A", "1") + "B=2", out) == errc::missing_nul);
    CHECK(out.empty());
}

TEST_CASE("text: key syntax", "[text]")
{
    CHECK_FALSE(check_key("HeaderDigest"));
    CHECK_FALSE(check_key("CHAP_A"));
    CHECK_FALSE(check_key("X-com.example.key+@_1"));
    CHECK_FALSE(check_key("X#IANA-key"));
    CHECK(check_key("") == errc::key_syntax);
    CHECK_FALSE(check_key("iSCSIProtocolLevel")); // §13.24, despite §6.1's capital rule
    CHECK(check_key("_Key") == errc::key_syntax);
    CHECK(check_key(".Key") == errc::key_syntax);
    CHECK(check_key("1Key") == errc::key_syntax);
    CHECK(check_key("Bad Key") == errc::key_syntax);
    CHECK(check_key("Bad#Key") == errc::key_syntax);
    CHECK(check_key("X#") == errc::key_syntax);
    CHECK(check_key("X-") == errc::key_syntax);
    CHECK(check_key("Key\xc3\xa9") == errc::key_syntax);

    text_list out;
    CHECK(parse(pair("", "v"), out) == errc::key_syntax);
    CHECK(parse(std::string("NoEquals\0", 9), out) == errc::key_syntax);
    CHECK(parse(pair("-bad", "v"), out) == errc::key_syntax);
}

TEST_CASE("text: key length limit at 63", "[text]")
{
    const std::string k63 = "K" + std::string(62, 'k');
    const std::string k64 = k63 + "k";
    CHECK_FALSE(check_key(k63));
    CHECK(check_key(k64) == errc::key_too_long);
    text_list out;
    CHECK_FALSE(parse(pair(k63, "1"), out));
    CHECK(parse(pair(k64, "1"), out) == errc::key_too_long);
}

TEST_CASE("text: value length limits, default and per key", "[text]")
{
    text_list out;
    CHECK_FALSE(parse(pair("TargetAlias", std::string(255, 'a')), out));
    CHECK(parse(pair("TargetAlias", std::string(256, 'a')), out) == errc::value_too_long);
    // CHAP_C is a large-binary-value: 8192 allowed by default.
    CHECK_FALSE(parse(pair("CHAP_C", "0x" + std::string(8190, 'a')), out));
    CHECK(parse(pair("CHAP_C", "0x" + std::string(8191, 'a')), out) == errc::value_too_long);

    text_limits l;
    l.max_value = 10;
    const value_limit longer[] = {{"TargetAddress", 20}};
    l.long_values = longer;
    CHECK_FALSE(parse(pair("TargetAlias", std::string(10, 'a')), out, l));
    CHECK(parse(pair("TargetAlias", std::string(11, 'a')), out, l) == errc::value_too_long);
    CHECK_FALSE(parse(pair("TargetAddress", std::string(20, 'a')), out, l));
    CHECK(parse(pair("TargetAddress", std::string(21, 'a')), out, l) == errc::value_too_long);
    CHECK(parse(pair("CHAP_C", std::string(11, 'a')), out, l) == errc::value_too_long);
    CHECK(max_value_length("TargetAddress", l) == 20);
    CHECK(max_value_length("Other", l) == 10);
}

TEST_CASE("text: total limit at the edge", "[text]")
{
    text_limits l;
    l.max_total = 16;
    const std::string exact = pair("A", std::string(12, 'v')); // 1 + 1 + 12 + 1 = 15
    const std::string edge = exact + std::string(1, '\0');     // 16
    text_list out;
    CHECK_FALSE(parse(edge, out, l));
    CHECK(parse(edge + std::string(1, '\0'), out, l) == errc::text_too_long);
}

TEST_CASE("text: duplicates", "[text]")
{
    const std::string in = pair("TargetName", "iqn.2001-04.com.example:a") + pair("TargetAddress", "10.0.0.1:3260,1") +
                           pair("TargetAddress", "10.0.0.2:3260,2") + pair("TargetName", "iqn.2001-04.com.example:b") +
                           pair("TargetAddress", "10.0.0.1:3260,1");
    text_list out;
    CHECK(parse(in, out) == errc::duplicate_key);
    CHECK(out.empty());
    REQUIRE_FALSE(parse(in, out, discovery_limits()));
    CHECK(out.size() == 5);
    CHECK(check_duplicates(out) == errc::duplicate_key);
    CHECK_FALSE(check_duplicates(out, sendtargets_repeatable_keys));

    // Only the listed keys may repeat.
    CHECK(parse(in + pair("TargetAlias", "x") + pair("TargetAlias", "y"), out, discovery_limits()) ==
          errc::duplicate_key);
}

TEST_CASE("text: serialize and round trip", "[text]")
{
    const text_list pairs = {{"InitiatorName", "iqn.2024-01.org.example:init"},
                             {"SessionType", "Normal"},
                             {"TargetAlias", ""},
                             {"CHAP_A", "5"}};
    std::vector<std::byte> out;
    REQUIRE_FALSE(serialize_text(pairs, out));
    const std::string expect = pair("InitiatorName", "iqn.2024-01.org.example:init") + pair("SessionType", "Normal") +
                               pair("TargetAlias", "") + pair("CHAP_A", "5");
    CHECK(out == bytes(expect));
    text_list back;
    REQUIRE_FALSE(parse_text(out, back));
    CHECK(back == pairs);
}

TEST_CASE("text: serialize rejects what parse would", "[text]")
{
    std::vector<std::byte> out;
    CHECK(append_pair(out, "bad key", "v") == errc::key_syntax);
    CHECK(append_pair(out, "Key", std::string("a\0b", 3)) == errc::value_syntax);
    CHECK(append_pair(out, "Key", std::string(256, 'a')) == errc::value_too_long);
    CHECK(out.empty());
    CHECK(serialize_text({{"A", "1"}, {"A", "2"}}, out) == errc::duplicate_key);
    CHECK(out.empty());

    text_limits l;
    l.max_total = 8;
    CHECK_FALSE(append_pair(out, "A", "12345", l)); // 8 bytes: exactly the limit
    CHECK(out.size() == 8);
    CHECK(append_pair(out, "B", "", l) == errc::text_too_long);
    CHECK(out.size() == 8);
    out.clear();
    // A failing pair leaves earlier output of this call undone.
    CHECK(serialize_text({{"A", "1"}, {"B", "123456"}}, out, l) == errc::text_too_long);
    CHECK(out.empty());
}

TEST_CASE("text: reassembly across PDUs with the C bit", "[text][reassembly]")
{
    const std::string all =
        pair("TargetName", "iqn.2001-04.com.example:storage") + pair("TargetAddress", "192.0.2.1:3260,1");
    text_reassembler r(discovery_limits());
    // A pair split in the middle of its key, then of its value.
    const auto b = bytes(all);
    REQUIRE_FALSE(r.add(std::span(b).subspan(0, 5), true));
    CHECK_FALSE(r.complete());
    REQUIRE_FALSE(r.add(std::span(b).subspan(5, 30), true));
    REQUIRE_FALSE(r.add(std::span<const std::byte>(), true)); // empty C=1 segment
    CHECK(r.buffered() == 35);
    REQUIRE_FALSE(r.add(std::span(b).subspan(35), false));
    REQUIRE(r.complete());
    REQUIRE(r.pairs().size() == 2);
    CHECK(r.pairs()[1] == text_pair{"TargetAddress", "192.0.2.1:3260,1"});
    CHECK(r.buffered() == 0);

    // The next add starts a new LTDS.
    REQUIRE_FALSE(r.add(bytes(pair("A", "1")), false));
    REQUIRE(r.pairs().size() == 1);
    const auto taken = r.take_pairs();
    CHECK(taken == text_list{{"A", "1"}});
    CHECK(r.pairs().empty());
}

TEST_CASE("text: reassembly split exactly at the NUL", "[text][reassembly]")
{
    text_reassembler r;
    REQUIRE_FALSE(r.add(bytes("HeaderDigest=None"), true));
    REQUIRE_FALSE(r.add(bytes(std::string(1, '\0') + pair("DataDigest", "None")), false));
    REQUIRE(r.complete());
    CHECK(r.pairs().size() == 2);
}

TEST_CASE("text: reassembly errors", "[text][reassembly]")
{
    SECTION("final piece without NUL")
    {
        text_reassembler r;
        REQUIRE_FALSE(r.add(bytes(pair("A", "1")), true));
        CHECK(r.add(bytes("B=2"), false) == errc::missing_nul);
        CHECK_FALSE(r.complete());
        // Sticky until reset.
        CHECK(r.add(bytes(pair("C", "3")), false) == errc::missing_nul);
        r.reset();
        CHECK_FALSE(r.add(bytes(pair("C", "3")), false));
        CHECK(r.complete());
    }
    SECTION("total limit checked before growing")
    {
        text_limits l;
        l.max_total = 10;
        text_reassembler r(l);
        REQUIRE_FALSE(r.add(bytes("A=12"), true));
        REQUIRE_FALSE(r.add(bytes("34567"), true));
        CHECK(r.buffered() == 9);
        REQUIRE_FALSE(r.add(bytes(std::string(1, '\0')), true)); // exactly 10
        CHECK(r.add(bytes(std::string(1, '\0')), false) == errc::text_too_long);
        CHECK(r.buffered() == 0);
        CHECK_FALSE(r.complete());
    }
    SECTION("exactly at the limit completes")
    {
        text_limits l;
        l.max_total = 10;
        text_reassembler r(l);
        REQUIRE_FALSE(r.add(bytes("A=1234"), true));
        REQUIRE_FALSE(r.add(bytes(std::string("567\0", 4)), false));
        CHECK(r.complete());
        CHECK(r.pairs() == text_list{{"A", "1234567"}});
    }
}
