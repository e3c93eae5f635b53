// iscsi-vscsi.conf(5): garbage, truncated and mutated files never crash,
// never throw, and fail with "file:line: reason" lines. Deterministic seeds.
#include "config/conf.hpp"
#include "config/conf_lexer.hpp"

#include <catch2/catch.hpp>

#include <random>

using namespace ivs::config;

namespace {

const std::string sample = R"(# sample
addr = "192.0.2.1"
list = 1,2
isid en 32473 17
initiatorname iqn.2026-11.org.example:host
target disk1 {
	targetaddr $addr port 3260
	targetname "iqn.2001-04.com.example:disk1"
	chap user alice secret-file "alice.secret"
	mutual-chap user bob secret-file /etc/bob.secret
	chap-algorithms sha256,md5
	header-digest "crc32c,none"
	data-digest none
	nop-interval 5
	max-burst-length 262144
	first-burst-length 65536
	initial-r2t no
	luns $list
	export "/mnt/disk1"
}
target lab { \
	targetaddr 192.0.2.2
	discovery }
)";

// Checks the contract for one input: no exception, and either success or
// an error whose every line is "name:N: reason" with N within the text.
void check_input(const std::string& text, const conf_reader& reader = {})
{
    conf c;
    std::string error;
    std::error_code ec;
    REQUIRE_NOTHROW(ec = parse_conf(text, "f.conf", reader, c, error));
    if (!ec) {
        CHECK(error.empty());
        return;
    }
    REQUIRE(ec == conf_errc::syntax);
    REQUIRE_FALSE(error.empty());
    CHECK(c.targets.empty());
    std::size_t lines = 0;
    std::size_t start = 0;
    while (start <= error.size()) {
        std::size_t end = error.find('\n', start);
        if (end == std::string::npos)
            end = error.size();
        const std::string line = error.substr(start, end - start);
        ++lines;
        INFO(line);
        const bool named = line.rfind("f.conf:", 0) == 0 || line.rfind("inc.conf:", 0) == 0;
        CHECK(named);
        start = end + 1;
    }
    CHECK(lines <= max_reported_errors);
}

} // namespace

TEST_CASE("the sample parses", "[conf][fuzz]")
{
    conf c;
    std::string error;
    const std::error_code ec = parse_conf(sample, "f.conf", {}, c, error);
    INFO(error);
    REQUIRE_FALSE(ec);
    CHECK(c.targets.size() == 2);
}

TEST_CASE("every truncation of a valid file", "[conf][fuzz]")
{
    for (std::size_t n = 0; n <= sample.size(); ++n)
        check_input(sample.substr(0, n));
}

TEST_CASE("random byte mutations of a valid file", "[conf][fuzz]")
{
    std::mt19937 rng(20261124);
    for (int round = 0; round < 3000; ++round) {
        std::string text = sample;
        const int edits = 1 + static_cast<int>(rng() % 8);
        for (int e = 0; e < edits; ++e) {
            const std::size_t at = rng() % (text.size() + 1);
            switch (rng() % 4) {
            case 0:
                if (at < text.size())
                    text[at] = static_cast<char>(rng());
                break;
            case 1: text.insert(at, 1, "{}=,\"'\\$#\n\r\0 ("[rng() % 15]); break;
            case 2:
                if (at < text.size())
                    text.erase(at, 1 + rng() % 16);
                break;
            default: text.insert(at, text.substr(rng() % text.size(), rng() % 40)); break;
            }
        }
        check_input(text);
    }
}

TEST_CASE("random garbage and token soup", "[conf][fuzz]")
{
    std::mt19937 rng(7143);
    const char* vocabulary[] = {"target",
                                "targetaddr",
                                "targetname",
                                "include",
                                "isid",
                                "{",
                                "}",
                                "=",
                                ",",
                                "\n",
                                "\\\n",
                                "$a",
                                "$",
                                "\"",
                                "'",
                                "a=",
                                "port",
                                "inet6",
                                "luns",
                                "chap",
                                "user",
                                "secret-file",
                                "discovery",
                                "en",
                                "1",
                                "0x",
                                "#",
                                "iqn.2001-04.com.example:x",
                                "export",
                                "/x",
                                "header-digest",
                                "crc32c",
                                "99999999999999999999999999",
                                "\r\n",
                                " ",
                                "\t",
                                "initiatorname"};
    for (int round = 0; round < 3000; ++round) {
        std::string text;
        const std::size_t len = rng() % 200;
        if (round % 2 == 0) {
            for (std::size_t i = 0; i < len; ++i)
                text.push_back(static_cast<char>(rng()));
        } else {
            for (std::size_t i = 0; i < len / 4; ++i) {
                text += vocabulary[rng() % std::size(vocabulary)];
                text += (rng() % 3 == 0) ? "" : " ";
            }
        }
        check_input(text);
    }
}

TEST_CASE("garbage through includes", "[conf][fuzz]")
{
    std::mt19937 rng(3720);
    std::string included;
    const conf_reader reader = [&included](const std::filesystem::path&, std::string& text,
                                           std::string&) -> std::error_code {
        text = included;
        return {};
    };
    for (int round = 0; round < 500; ++round) {
        included = sample.substr(0, rng() % sample.size());
        if (round % 3 == 0)
            included += "\ninclude inc.conf\n"; // a loop, whatever it is called
        check_input("include inc.conf\n" + sample.substr(0, rng() % sample.size()), reader);
    }
}

TEST_CASE("the lexer terminates on any input", "[conf][fuzz]")
{
    std::mt19937 rng(1994);
    for (int round = 0; round < 2000; ++round) {
        std::string text;
        for (std::size_t i = rng() % 100; i > 0; --i)
            text.push_back(static_cast<char>(rng()));
        conf_lexer lexer(text, [](std::string_view, std::string& value) {
            value = "x $y \"q";
            return true;
        });
        std::size_t tokens = 0;
        while (lexer.next().kind != conf_token_kind::end)
            REQUIRE(++tokens <= 2 * text.size() + 4);
    }
}
