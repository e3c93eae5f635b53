// Value encodings of text keys (RFC 7143 §6.1.1, §6.2): numbers in decimal,
// hex and base64, binary values, booleans, lists, ranges, special answers.
#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <vector>

#include "pdu/text.hpp"

using namespace ivs::pdu;

namespace {

std::vector<std::byte> bytes(std::initializer_list<int> l)
{
    std::vector<std::byte> v;
    for (int b : l)
        v.push_back(std::byte(b));
    return v;
}

std::uint64_t num(std::string_view s)
{
    std::uint64_t n = 12345;
    const auto ec = parse_number(s, n);
    INFO(s << ": " << ec.message());
    REQUIRE_FALSE(ec);
    return n;
}

std::error_code num_err(std::string_view s)
{
    std::uint64_t n = 0;
    return parse_number(s, n);
}

} // namespace

TEST_CASE("values: decimal numbers", "[values]")
{
    CHECK(num("0") == 0);
    CHECK(num("8192") == 8192);
    CHECK(num("18446744073709551615") == UINT64_MAX);
    CHECK(num_err("18446744073709551616") == errc::number_out_of_range);
    CHECK(num_err("99999999999999999999999") == errc::number_out_of_range);
    CHECK(num_err("") == errc::value_syntax);
    CHECK(num_err("012") == errc::value_syntax); // decimal-constant has no leading zero
    CHECK(num_err("-1") == errc::value_syntax);
    CHECK(num_err("1 ") == errc::value_syntax);
    CHECK(num_err("12a") == errc::value_syntax);
}

TEST_CASE("values: hex numbers", "[values]")
{
    CHECK(num("0x0") == 0);
    CHECK(num("0x2000") == 8192);
    CHECK(num("0XfF") == 255);
    CHECK(num("0xabc") == 0xabc); // odd digit count
    CHECK(num("0xffffffffffffffff") == UINT64_MAX);
    CHECK(num("0x0000ffffffffffffffff") == UINT64_MAX); // leading zeros are not significant
    CHECK(num_err("0x10000000000000000") == errc::number_out_of_range);
    CHECK(num_err("0x") == errc::value_syntax);
    CHECK(num_err("0xg") == errc::value_syntax);
}

TEST_CASE("values: base64 numbers", "[values]")
{
    CHECK(num("0bAA==") == 0);
    CHECK(num("0bIAA=") == 8192); // 0x20 0x00
    CHECK(num("0BIAA") == 8192);  // padding optional
    CHECK(num("0b//////////8=") == UINT64_MAX);
    CHECK(num_err("0bAQAAAAAAAAAA") == errc::number_out_of_range); // 9 bytes, 0x01...
    CHECK(num_err("0b") == errc::value_syntax);
    CHECK(num_err("0bA") == errc::value_syntax);    // 6 bits cannot make a byte
    CHECK(num_err("0bIA=A") == errc::value_syntax); // padding in the middle
    CHECK(num_err("0bIA=") == errc::value_syntax);  // wrong padding length
    CHECK(num_err("0bIA*=") == errc::value_syntax);
}

TEST_CASE("values: numbers in a range", "[values]")
{
    std::uint64_t n = 0;
    CHECK_FALSE(parse_number("512", 512, 16777215, n));
    CHECK(n == 512);
    CHECK_FALSE(parse_number("16777215", 512, 16777215, n));
    CHECK(parse_number("511", 512, 16777215, n) == errc::number_out_of_range);
    CHECK(parse_number("16777216", 512, 16777215, n) == errc::number_out_of_range);
    CHECK(n == 16777215); // untouched on error
    CHECK(format_number(262144) == "262144");
}

TEST_CASE("values: numeric ranges", "[values]")
{
    std::uint64_t lo = 0, hi = 0;
    REQUIRE_FALSE(parse_range("1~65535", lo, hi));
    CHECK(lo == 1);
    CHECK(hi == 65535);
    REQUIRE_FALSE(parse_range("0x10~0x10", lo, hi));
    CHECK(lo == 16);
    CHECK(hi == 16);
    CHECK(parse_range("5~4", lo, hi) == errc::value_syntax);
    CHECK(parse_range("5", lo, hi) == errc::value_syntax);
    CHECK(parse_range("~5", lo, hi) == errc::value_syntax);
}

TEST_CASE("values: binary hex", "[values][binary]")
{
    std::vector<std::byte> out;
    REQUIRE_FALSE(parse_binary("0x00ff10", out));
    CHECK(out == bytes({0x00, 0xff, 0x10}));
    REQUIRE_FALSE(parse_binary("0Xabc", out)); // implied leading zero nibble
    CHECK(out == bytes({0x0a, 0xbc}));
    CHECK(parse_binary("0x", out) == errc::value_syntax);
    CHECK(parse_binary("0x12z4", out) == errc::value_syntax);
    CHECK(parse_binary("1234", out) == errc::value_syntax); // decimal is not a binary-value
    CHECK(parse_binary("", out) == errc::value_syntax);
    // Bound on decoded bytes, at the edge and one over.
    CHECK_FALSE(parse_binary("0x" + std::string(32, 'a'), out, 16));
    CHECK(out.size() == 16);
    CHECK(parse_binary("0x" + std::string(33, 'a'), out, 16) == errc::value_too_long);
}

TEST_CASE("values: binary base64 with and without padding", "[values][binary]")
{
    std::vector<std::byte> out;
    REQUIRE_FALSE(parse_binary("0bTWFu", out));
    CHECK(out == bytes({'M', 'a', 'n'}));
    REQUIRE_FALSE(parse_binary("0bTWE=", out));
    CHECK(out == bytes({'M', 'a'}));
    REQUIRE_FALSE(parse_binary("0bTQ==", out));
    CHECK(out == bytes({'M'}));
    REQUIRE_FALSE(parse_binary("0bTQ", out));
    CHECK(out == bytes({'M'}));
    REQUIRE_FALSE(parse_binary("0b+/+/", out));
    CHECK(out == bytes({0xfb, 0xff, 0xbf}));
    CHECK(parse_binary("0bTQ===", out) == errc::value_syntax);
    CHECK(parse_binary("0b====", out) == errc::value_syntax);
    CHECK(parse_binary("0bT", out) == errc::value_syntax);
    CHECK(parse_binary("0bTW-u", out) == errc::value_syntax);
    CHECK_FALSE(parse_binary("0bTWFu", out, 3));
    CHECK(parse_binary("0bTWFuTQ==", out, 3) == errc::value_too_long);
}

TEST_CASE("values: encode and decode round trip", "[values][binary]")
{
    CHECK(encode_hex(bytes({0x00, 0xab, 0x10})) == "0x00ab10");
    CHECK(encode_hex({}) == "0x");
    CHECK(encode_base64(bytes({'M', 'a', 'n'})) == "0bTWFu");
    CHECK(encode_base64(bytes({'M', 'a'})) == "0bTWE=");
    CHECK(encode_base64(bytes({'M'})) == "0bTQ==");

    std::mt19937 rng(99);
    for (std::size_t len = 1; len < 80; ++len) {
        std::vector<std::byte> v(len);
        for (auto& b : v)
            b = std::byte(rng() & 0xff);
        std::vector<std::byte> a, b;
        REQUIRE_FALSE(parse_binary(encode_hex(v), a));
        REQUIRE_FALSE(parse_binary(encode_base64(v), b));
        CHECK(a == v);
        CHECK(b == v);
    }
}

TEST_CASE("values: booleans", "[values]")
{
    bool b = false;
    REQUIRE_FALSE(parse_bool("Yes", b));
    CHECK(b);
    REQUIRE_FALSE(parse_bool("No", b));
    CHECK_FALSE(b);
    CHECK(parse_bool("yes", b) == errc::value_syntax);
    CHECK(parse_bool("", b) == errc::value_syntax);
    CHECK(parse_bool("Yes ", b) == errc::value_syntax);
    CHECK(bool_value(true) == "Yes");
    CHECK(bool_value(false) == "No");
}

TEST_CASE("values: lists", "[values]")
{
    std::vector<std::string_view> items;
    REQUIRE_FALSE(parse_list("CRC32C,None", items));
    CHECK(items == std::vector<std::string_view>{"CRC32C", "None"});
    REQUIRE_FALSE(parse_list("CHAP", items));
    CHECK(items.size() == 1);
    CHECK(parse_list("", items) == errc::value_syntax);
    CHECK(parse_list("a,,b", items) == errc::value_syntax);
    CHECK(parse_list("a,", items) == errc::value_syntax);
    CHECK(items.empty());
    const std::string_view l[] = {"CHAP", "None"};
    CHECK(join_list(l) == "CHAP,None");
}

TEST_CASE("values: special answers", "[values]")
{
    CHECK(is_special_answer("NotUnderstood"));
    CHECK(is_special_answer("Irrelevant"));
    CHECK(is_special_answer("Reject"));
    CHECK_FALSE(is_special_answer("None")); // an ordinary list value
    CHECK_FALSE(is_special_answer("reject"));
}
