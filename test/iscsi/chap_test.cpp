// CHAP (RFC 7143 §12.1.3, RFC 1994): algorithms, binary values, known answers, the
// initiator's exchange one-way and mutual against a simulated target.
#include "iscsi/chap.hpp"
#include "pdu/text.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unistd.h>
#include <vector>

using namespace ivs::iscsi;

namespace {

std::vector<std::uint8_t> bytes_0_to_15()
{
    std::vector<std::uint8_t> v(16);
    for (std::size_t i = 0; i < v.size(); ++i)
        v[i] = static_cast<std::uint8_t>(i);
    return v;
}

std::string hex_of(const std::vector<std::uint8_t>& v) { return ivs::pdu::encode_hex(std::as_bytes(std::span(v))); }
std::string base64_of(const std::vector<std::uint8_t>& v)
{
    return ivs::pdu::encode_base64(std::as_bytes(std::span(v)));
}

chap_initiator_config one_way_config(std::vector<chap_algorithm> algs = chap_default_algorithms())
{
    chap_initiator_config c;
    c.initiator = {"iqn.2024-01.org.example:init", chap_secret("SecretSecret12")};
    c.algorithms = std::move(algs);
    return c;
}

chap_initiator_config mutual_config()
{
    auto c = one_way_config();
    c.target = chap_identity{"iqn.2024-01.org.example:tgt", chap_secret("TargetSecret34")};
    return c;
}

// A temporary file holding `content`, removed at scope exit.
struct temp_file {
    std::string path;
    explicit temp_file(std::string_view content)
    {
        char tmpl[] = "/tmp/ivs_chap_secret_XXXXXX";
        const int fd = ::mkstemp(tmpl);
        REQUIRE(fd >= 0);
        path = tmpl;
        REQUIRE(::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()));
        ::close(fd);
    }
    ~temp_file() { ::unlink(path.c_str()); }
};

} // namespace

TEST_CASE("CHAP algorithm numbers, names and digest lengths", "[chap]")
{
    CHECK(chap_algorithm_from_number(5) == chap_algorithm::md5);
    CHECK(chap_algorithm_from_number(6) == chap_algorithm::sha1);
    CHECK(chap_algorithm_from_number(7) == chap_algorithm::sha256);
    CHECK(chap_algorithm_from_number(8) == chap_algorithm::sha3_256);
    CHECK_FALSE(chap_algorithm_from_number(4));
    CHECK_FALSE(chap_algorithm_from_number(9));

    CHECK(chap_algorithm_from_name("MD5") == chap_algorithm::md5);
    CHECK(chap_algorithm_from_name("sha1") == chap_algorithm::sha1);
    CHECK(chap_algorithm_from_name("SHA-256") == chap_algorithm::sha256);
    CHECK(chap_algorithm_from_name(" sha3-256 ") == chap_algorithm::sha3_256);
    CHECK(chap_algorithm_from_name("7") == chap_algorithm::sha256);
    CHECK_FALSE(chap_algorithm_from_name("sha512"));
    CHECK_FALSE(chap_algorithm_from_name(""));

    CHECK(chap_algorithm_name(chap_algorithm::sha3_256) == "SHA3-256");
    CHECK(chap_digest_length(chap_algorithm::md5) == 16);
    CHECK(chap_digest_length(chap_algorithm::sha1) == 20);
    CHECK(chap_digest_length(chap_algorithm::sha256) == 32);
    CHECK(chap_digest_length(chap_algorithm::sha3_256) == 32);
    for (const auto a : {chap_algorithm::md5, chap_algorithm::sha1, chap_algorithm::sha256, chap_algorithm::sha3_256})
        CHECK(chap_algorithm_available(a));

    // Default offer leaves out 7 (tgtd computes SHA-1 for it) and ends with MD5.
    const auto defaults = chap_default_algorithms();
    CHECK(chap_algorithm_list(defaults) == "8,6,5");

    std::vector<chap_algorithm> list;
    REQUIRE_FALSE(chap_parse_algorithm_list("sha256, md5", list));
    CHECK(chap_algorithm_list(list) == "7,5");
    CHECK(chap_parse_algorithm_list("md5,md5", list) == chap_errc::algorithm_unknown);
    CHECK(chap_parse_algorithm_list("md5,,sha1", list) == chap_errc::algorithm_unknown);
    CHECK(chap_parse_algorithm_list("", list) == chap_errc::algorithm_unknown);
    CHECK(chap_algorithm_list(list) == "7,5"); // unchanged on failure
}

TEST_CASE("CHAP_C and CHAP_I value forms (RFC 7143 §6.1)", "[chap]")
{
    std::vector<std::uint8_t> c;
    const std::vector<std::uint8_t> deadbeef01{0xde, 0xad, 0xbe, 0xef, 0x01};
    REQUIRE_FALSE(chap_parse_challenge("0xdeadbeef01", c));
    CHECK(c == deadbeef01);
    REQUIRE_FALSE(chap_parse_challenge("0XDEADBEEF01", c));
    CHECK(c == deadbeef01);
    REQUIRE_FALSE(chap_parse_challenge("0b3q2+7wE=", c));
    CHECK(c == deadbeef01);
    REQUIRE_FALSE(chap_parse_challenge("0x123", c)); // odd digit count: 0x0123
    CHECK(c == std::vector<std::uint8_t>{0x01, 0x23});
    REQUIRE_FALSE(chap_parse_challenge("0x" + std::string(2048, '7'), c));
    CHECK(c.size() == 1024);

    CHECK(chap_parse_challenge("", c) == chap_errc::missing_key);
    CHECK(chap_parse_challenge("0x", c) == chap_errc::bad_challenge);
    CHECK(chap_parse_challenge("0b", c) == chap_errc::bad_challenge);
    CHECK(chap_parse_challenge("deadbeef", c) == chap_errc::bad_challenge);
    CHECK(chap_parse_challenge("0xdeadbeeg", c) == chap_errc::bad_challenge);
    CHECK(chap_parse_challenge("0b3q2+7w!=", c) == chap_errc::bad_challenge);
    CHECK(chap_parse_challenge("0x" + std::string(2049, '7'), c) == chap_errc::challenge_too_long);

    std::uint8_t id = 0;
    REQUIRE_FALSE(chap_parse_identifier("0", id));
    CHECK(id == 0);
    REQUIRE_FALSE(chap_parse_identifier("255", id));
    CHECK(id == 255);
    REQUIRE_FALSE(chap_parse_identifier("0x2A", id));
    CHECK(id == 42);
    CHECK(chap_parse_identifier("256", id) == chap_errc::bad_identifier);
    CHECK(chap_parse_identifier("", id) == chap_errc::missing_key);
    CHECK(chap_parse_identifier("4 2", id) == chap_errc::bad_identifier);
    CHECK(id == 42); // unchanged on failure
}

TEST_CASE("CHAP responses match independently computed digests", "[chap]")
{
    // Expected values from: printf '\x2aSecretSecret12\x00\x01...\x0f' | openssl dgst -<alg>
    const chap_secret secret("SecretSecret12");
    const auto challenge = bytes_0_to_15();
    std::vector<std::uint8_t> r;

    REQUIRE_FALSE(chap_compute_response(chap_algorithm::md5, 0x2a, secret, challenge, r));
    CHECK(hex_of(r) == "0xdd01862d0ae09203af1730aaf7b27aa0");
    REQUIRE_FALSE(chap_compute_response(chap_algorithm::sha1, 0x2a, secret, challenge, r));
    CHECK(hex_of(r) == "0x83dcff3acb7f26a8df161c351545ee13b54fe13f");
    REQUIRE_FALSE(chap_compute_response(chap_algorithm::sha256, 0x2a, secret, challenge, r));
    CHECK(hex_of(r) == "0xb3614b4bd559bc83e3b5c1f0aea4c8837df24d2393a79d06c068aa8980e909ee");
    REQUIRE_FALSE(chap_compute_response(chap_algorithm::sha3_256, 0x2a, secret, challenge, r));
    CHECK(hex_of(r) == "0xcc49f75fd87edbdb108683aba4accd58bbbcb47c791d28fa46d20312a610d9c6");

    // id 0, secret "abc", challenge de ad be ef
    const std::vector<std::uint8_t> c2{0xde, 0xad, 0xbe, 0xef};
    REQUIRE_FALSE(chap_compute_response(chap_algorithm::md5, 0, chap_secret("abc"), c2, r));
    CHECK(hex_of(r) == "0x3e55282fe60836092a9af4e3f22accdf");

    CHECK(chap_compute_response(chap_algorithm::md5, 0, chap_secret(), c2, r) == chap_errc::secret_empty);
}

TEST_CASE("one-way CHAP: the initiator answers the target's challenge", "[chap]")
{
    const std::string challenge_hex = hex_of(bytes_0_to_15());
    const std::string challenge_b64 = base64_of(bytes_0_to_15());

    SECTION("hex challenge, each algorithm")
    {
        const struct {
            const char* chap_a;
            const char* expected;
        } cases[] = {
            {"5", "0xdd01862d0ae09203af1730aaf7b27aa0"},
            {"6", "0x83dcff3acb7f26a8df161c351545ee13b54fe13f"},
            {"7", "0xb3614b4bd559bc83e3b5c1f0aea4c8837df24d2393a79d06c068aa8980e909ee"},
            {"8", "0xcc49f75fd87edbdb108683aba4accd58bbbcb47c791d28fa46d20312a610d9c6"},
        };
        for (const auto& c : cases) {
            chap_initiator ini(one_way_config(
                {chap_algorithm::sha256, chap_algorithm::sha3_256, chap_algorithm::sha1, chap_algorithm::md5}));
            std::string offer;
            REQUIRE_FALSE(ini.offer(offer));
            CHECK(offer == "7,8,6,5");
            chap_reply reply;
            REQUIRE_FALSE(ini.respond(c.chap_a, "42", challenge_hex, reply));
            CHECK(reply.n == "iqn.2024-01.org.example:init");
            CHECK(reply.r == c.expected);
            CHECK(reply.i.empty());
            CHECK(reply.c.empty());
            CHECK(ini.done());
            CHECK(ini.algorithm() == chap_algorithm_from_name(c.chap_a));
        }
    }

    SECTION("base64 challenge and hex identifier")
    {
        chap_initiator ini(one_way_config());
        std::string offer;
        REQUIRE_FALSE(ini.offer(offer));
        CHECK(offer == "8,6,5");
        chap_reply reply;
        REQUIRE_FALSE(ini.respond("5", "0x2a", challenge_b64, reply));
        CHECK(reply.r == "0xdd01862d0ae09203af1730aaf7b27aa0");
    }

    SECTION("the target's choice must be one we offered")
    {
        for (const char* chosen : {"7", "9", "Reject", "5,6", "0x10", "-5"}) {
            chap_initiator ini(one_way_config()); // offers 8,6,5
            std::string offer;
            REQUIRE_FALSE(ini.offer(offer));
            chap_reply reply;
            CHECK(ini.respond(chosen, "1", challenge_hex, reply) == chap_errc::algorithm_not_offered);
            CHECK_FALSE(ini.done());
        }
    }

    SECTION("bad challenges and identifiers")
    {
        const struct {
            const char* chap_i;
            std::string chap_c;
            chap_errc expected;
        } cases[] = {
            {"1", "", chap_errc::missing_key},
            {"", challenge_hex, chap_errc::missing_key},
            {"1", "0x", chap_errc::bad_challenge},
            {"1", "0b", chap_errc::bad_challenge},
            {"1", "0xZZ", chap_errc::bad_challenge},
            {"1", "00010203", chap_errc::bad_challenge},
            {"1", "0b@@@@", chap_errc::bad_challenge},
            {"1", "0x" + std::string(2 * 1025, 'a'), chap_errc::challenge_too_long},
            {"1", "0b" + std::string(1368, 'A'), chap_errc::challenge_too_long}, // 1026 bytes
            {"256", challenge_hex, chap_errc::bad_identifier},
            {"0x100", challenge_hex, chap_errc::bad_identifier},
            {"-1", challenge_hex, chap_errc::bad_identifier},
            {"one", challenge_hex, chap_errc::bad_identifier},
            {"99999999999999999999", challenge_hex, chap_errc::bad_identifier},
        };
        for (const auto& c : cases) {
            chap_initiator ini(one_way_config());
            std::string offer;
            REQUIRE_FALSE(ini.offer(offer));
            chap_reply reply;
            CAPTURE(c.chap_i, c.chap_c.substr(0, 16));
            CHECK(ini.respond("5", c.chap_i, c.chap_c, reply) == c.expected);
        }
    }

    SECTION("the 1024-byte maximum challenge is accepted")
    {
        chap_initiator ini(one_way_config());
        std::string offer;
        REQUIRE_FALSE(ini.offer(offer));
        chap_reply reply;
        CHECK_FALSE(ini.respond("5", "255", "0x" + std::string(2 * 1024, 'f'), reply));
    }

    SECTION("steps out of order")
    {
        chap_initiator ini(one_way_config());
        chap_reply reply;
        CHECK(ini.respond("5", "1", challenge_hex, reply) == chap_errc::out_of_order);
        chap_initiator ini2(one_way_config());
        std::string offer;
        REQUIRE_FALSE(ini2.offer(offer));
        REQUIRE_FALSE(ini2.respond("5", "1", challenge_hex, reply));
        CHECK(ini2.verify_target("x", "0x00") == chap_errc::out_of_order); // not mutual
        CHECK(ini2.offer(offer) == chap_errc::out_of_order);
    }
}

TEST_CASE("CHAP configuration checks", "[chap]")
{
    std::string offer;
    {
        auto cfg = mutual_config();
        cfg.target->secret = chap_secret("SecretSecret12"); // same as the initiator's
        chap_initiator ini(std::move(cfg));
        const auto ec = ini.offer(offer);
        CHECK(ec == chap_errc::mutual_same_secret);
        CHECK(ec.message().find("SecretSecret12") == std::string::npos);
    }
    {
        chap_initiator ini(one_way_config({}));
        CHECK(ini.offer(offer) == chap_errc::empty_offer);
    }
    {
        auto cfg = one_way_config();
        cfg.initiator.secret = chap_secret("");
        chap_initiator ini(std::move(cfg));
        CHECK(ini.offer(offer) == chap_errc::secret_empty);
    }
    {
        auto cfg = mutual_config();
        cfg.target->name.clear();
        chap_initiator ini(std::move(cfg));
        CHECK(ini.offer(offer) == chap_errc::name_empty);
    }
}

namespace {

// The target's side of the exchange, built from the same primitives.
struct simulated_target {
    chap_algorithm alg;
    chap_identity initiator_account; // how the target knows the initiator
    chap_identity own;               // the target's mutual credentials
    std::uint8_t id = 0;
    std::vector<std::uint8_t> challenge;

    simulated_target(chap_algorithm a, chap_identity initiator, chap_identity target)
        : alg(a), initiator_account(std::move(initiator)), own(std::move(target))
    {}

    std::error_code challenge_keys(std::string& chap_i, std::string& chap_c)
    {
        if (auto ec = chap_make_challenge(alg, {}, id, challenge))
            return ec;
        chap_i = std::to_string(id);
        chap_c = hex_of(challenge);
        return {};
    }

    // Checks the initiator's answer and computes the target's own response.
    std::error_code answer(const chap_reply& reply, std::string& chap_n, std::string& chap_r)
    {
        if (reply.n != initiator_account.name)
            return chap_errc::target_name_mismatch;
        if (auto ec = chap_verify_response(alg, id, initiator_account.secret, challenge, reply.r))
            return ec;
        std::uint8_t their_id = 0;
        std::vector<std::uint8_t> their_challenge;
        if (auto ec = chap_parse_identifier(reply.i, their_id))
            return ec;
        if (auto ec = chap_parse_challenge(reply.c, their_challenge))
            return ec;
        if (their_challenge == challenge)
            return chap_errc::reflected_challenge;
        std::vector<std::uint8_t> r;
        if (auto ec = chap_compute_response(alg, their_id, own.secret, their_challenge, r))
            return ec;
        chap_n = own.name;
        chap_r = hex_of(r);
        return {};
    }
};

} // namespace

TEST_CASE("mutual CHAP end to end against a simulated target", "[chap]")
{
    for (const auto alg :
         {chap_algorithm::md5, chap_algorithm::sha1, chap_algorithm::sha256, chap_algorithm::sha3_256}) {
        CAPTURE(chap_algorithm_name(alg));
        auto cfg = mutual_config();
        cfg.algorithms = {alg};
        simulated_target tgt{alg, cfg.initiator, *cfg.target};
        chap_initiator ini(cfg);

        std::string offer, chap_i, chap_c, chap_n, chap_r;
        REQUIRE_FALSE(ini.offer(offer));
        REQUIRE_FALSE(tgt.challenge_keys(chap_i, chap_c));
        chap_reply reply;
        REQUIRE_FALSE(ini.respond(offer, chap_i, chap_c, reply));
        CHECK_FALSE(ini.done());
        // Our challenge: at least 16 bytes and as long as the digest.
        std::vector<std::uint8_t> ours;
        REQUIRE_FALSE(chap_parse_challenge(reply.c, ours));
        CHECK(ours.size() == std::max<std::size_t>(16, chap_digest_length(alg)));

        REQUIRE_FALSE(tgt.answer(reply, chap_n, chap_r));
        CHECK_FALSE(ini.verify_target(chap_n, chap_r));
        CHECK(ini.done());
    }
}

TEST_CASE("mutual CHAP catches a target without the right secret or name", "[chap]")
{
    auto cfg = mutual_config();
    cfg.algorithms = {chap_algorithm::sha256};
    std::string offer, chap_i, chap_c, chap_n, chap_r;
    chap_reply reply;

    auto run_to_step3 = [&](chap_initiator& ini, simulated_target& tgt) {
        REQUIRE_FALSE(ini.offer(offer));
        REQUIRE_FALSE(tgt.challenge_keys(chap_i, chap_c));
        REQUIRE_FALSE(ini.respond(offer, chap_i, chap_c, reply));
        REQUIRE_FALSE(tgt.answer(reply, chap_n, chap_r));
    };

    SECTION("wrong target secret")
    {
        simulated_target tgt{chap_algorithm::sha256, cfg.initiator, {cfg.target->name, chap_secret("NotTheSecret56")}};
        chap_initiator ini(cfg);
        run_to_step3(ini, tgt);
        CHECK(ini.verify_target(chap_n, chap_r) == chap_errc::target_response_mismatch);
        CHECK_FALSE(ini.done());
    }
    SECTION("wrong target name")
    {
        simulated_target tgt{
            chap_algorithm::sha256, cfg.initiator, {"iqn.2024-01.org.example:other", cfg.target->secret}};
        chap_initiator ini(cfg);
        run_to_step3(ini, tgt);
        CHECK(ini.verify_target(chap_n, chap_r) == chap_errc::target_name_mismatch);
    }
    SECTION("malformed or truncated target response")
    {
        simulated_target tgt{chap_algorithm::sha256, cfg.initiator, *cfg.target};
        for (const std::string bad : {"0x00", "0xnothex", "garbage", "0b"}) {
            chap_initiator ini(cfg);
            run_to_step3(ini, tgt);
            CHECK(ini.verify_target(chap_n, bad) == chap_errc::bad_response);
        }
        chap_initiator ini(cfg);
        run_to_step3(ini, tgt);
        CHECK(ini.verify_target(chap_n, chap_r.substr(0, chap_r.size() - 2)) == chap_errc::bad_response);
        chap_initiator ini2(cfg);
        run_to_step3(ini2, tgt);
        CHECK(ini2.verify_target(chap_n, "") == chap_errc::missing_key);
    }
    SECTION("the target's response with one bit flipped")
    {
        simulated_target tgt{chap_algorithm::sha256, cfg.initiator, *cfg.target};
        chap_initiator ini(cfg);
        run_to_step3(ini, tgt);
        std::string flipped = chap_r;
        flipped.back() = flipped.back() == '0' ? '1' : '0';
        CHECK(ini.verify_target(chap_n, flipped) == chap_errc::target_response_mismatch);
    }
}

TEST_CASE("mutual CHAP refuses to send back the target's own challenge", "[chap]")
{
    auto cfg = mutual_config();
    cfg.algorithms = {chap_algorithm::md5};
    const auto target_challenge = bytes_0_to_15(); // 16 bytes, the MD5 challenge length
    // A random source that yields id 7 followed by exactly the target's challenge.
    cfg.random = [&](std::span<std::uint8_t> out) {
        if (out.size() != target_challenge.size() + 1)
            return false;
        out[0] = 7;
        std::memcpy(out.data() + 1, target_challenge.data(), target_challenge.size());
        return true;
    };
    chap_initiator ini(cfg);
    std::string offer;
    REQUIRE_FALSE(ini.offer(offer));
    chap_reply reply;
    CHECK(ini.respond("5", "3", hex_of(target_challenge), reply) == chap_errc::reflected_challenge);

    // A failing random source is reported, not papered over.
    auto cfg2 = mutual_config();
    cfg2.random = [](std::span<std::uint8_t>) { return false; };
    chap_initiator ini2(cfg2);
    REQUIRE_FALSE(ini2.offer(offer));
    CHECK(ini2.respond("5", "3", hex_of(target_challenge), reply) == chap_errc::random_failure);
}

TEST_CASE("CHAP secrets: comparison and loading from a file", "[chap]")
{
    CHECK(chap_secret("abc").same_as(chap_secret("abc")));
    CHECK_FALSE(chap_secret("abc").same_as(chap_secret("abd")));
    CHECK_FALSE(chap_secret("abc").same_as(chap_secret("abcd")));

    chap_secret a("original");
    chap_secret b(a);
    chap_secret c(std::move(a));
    CHECK(a.empty());
    CHECK(b.same_as(c));
    b = chap_secret("other");
    CHECK_FALSE(b.same_as(c));

    std::error_code ec;
    const auto expect_secret = [&](std::string_view content, std::string_view expected) {
        temp_file f(content);
        const auto s = chap_secret::load_file(f.path.c_str(), ec);
        CHECK_FALSE(ec);
        CHECK(s.same_as(chap_secret(expected)));
    };
    expect_secret("TopSecret123\n", "TopSecret123");
    expect_secret("TopSecret123", "TopSecret123");
    expect_secret("TopSecret123\r\n", "TopSecret123");
    expect_secret("TopSecret123\n\n", "TopSecret123\n"); // only one newline goes
    expect_secret(" spaced \n", " spaced ");
    expect_secret(std::string(1024, 'k'), std::string(1024, 'k'));

    for (const std::string_view empty : {std::string_view(""), std::string_view("\n")}) {
        temp_file f(empty);
        const auto s = chap_secret::load_file(f.path.c_str(), ec);
        CHECK(ec == chap_errc::secret_empty);
        CHECK(s.empty());
    }
    {
        temp_file f(std::string(1025, 'k'));
        chap_secret::load_file(f.path.c_str(), ec);
        CHECK(ec == chap_errc::secret_too_long);
    }
    chap_secret::load_file("/nonexistent/ivs/secret", ec);
    CHECK(ec == chap_errc::secret_file_unreadable);
}

TEST_CASE("CHAP error category", "[chap]")
{
    const std::error_code ec = chap_errc::target_response_mismatch;
    CHECK(std::string(ec.category().name()) == "iscsi-chap");
    for (int v = 1; v <= static_cast<int>(chap_errc::out_of_order); ++v) {
        const auto msg = std::error_code(v, chap_category()).message();
        CAPTURE(v);
        CHECK(msg.rfind("CHAP: ", 0) == 0);
    }
    CHECK(std::error_code(999, chap_category()).message() == "unknown iscsi-chap error");
}
