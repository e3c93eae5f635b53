// CRC32C digests (RFC 7143 §13.1) against the RFC 3720 B.4 vectors, and the
// ISA-L and portable implementations against each other.
#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <random>
#include <vector>

#include "pdu/crc32c.hpp"

using namespace ivs::pdu;

namespace {

std::array<std::byte, 32> filled(auto&& f)
{
    std::array<std::byte, 32> a{};
    for (std::size_t i = 0; i < a.size(); ++i)
        a[i] = std::byte(f(i));
    return a;
}

std::uint32_t portable(std::span<const std::byte> d) { return crc32c_final(crc32c_update_portable(crc32c_init, d)); }

} // namespace

TEST_CASE("crc32c: RFC 3720 B.4 test vectors", "[crc32c]")
{
    INFO("implementation " << crc32c_implementation());
    const auto zeros = filled([](std::size_t) { return 0x00; });
    const auto ones = filled([](std::size_t) { return 0xff; });
    const auto up = filled([](std::size_t i) { return i; });
    const auto down = filled([](std::size_t i) { return 31 - i; });

    CHECK(crc32c(zeros) == 0x8a9136aau);
    CHECK(crc32c(ones) == 0x62a8ab43u);
    CHECK(crc32c(up) == 0x46dd794eu);
    CHECK(crc32c(down) == 0x113fdb5cu);

    CHECK(portable(zeros) == 0x8a9136aau);
    CHECK(portable(ones) == 0x62a8ab43u);
    CHECK(portable(up) == 0x46dd794eu);
    CHECK(portable(down) == 0x113fdb5cu);
}

TEST_CASE("crc32c: empty input and the classic check value", "[crc32c]")
{
    CHECK(crc32c({}) == 0u);
    const char* s = "123456789";
    std::vector<std::byte> v;
    for (const char* p = s; *p; ++p)
        v.push_back(std::byte(*p));
    CHECK(crc32c(v) == 0xe3069283u);
    CHECK(portable(v) == 0xe3069283u);
}

TEST_CASE("crc32c: implementations agree on every length 0..4096", "[crc32c]")
{
    std::mt19937 rng(20240601);
    std::vector<std::byte> buf(4096 + 7);
    for (auto& b : buf)
        b = std::byte(rng() & 0xff);
    for (std::size_t len = 0; len <= 4096; ++len) {
        // Vary the alignment too.
        const std::size_t off = len % 8;
        const std::span<const std::byte> d(buf.data() + off, len);
        const auto a = crc32c(d);
        const auto b = portable(d);
        if (a != b)
            FAIL("length " << len << ": " << a << " != " << b);
    }
    SUCCEED();
}

TEST_CASE("crc32c: incremental updates equal one shot", "[crc32c]")
{
    std::mt19937 rng(7);
    std::vector<std::byte> buf(3000);
    for (auto& b : buf)
        b = std::byte(rng() & 0xff);
    const auto whole = crc32c(buf);
    for (std::size_t piece : {1u, 3u, 7u, 8u, 13u, 64u, 1000u, 2999u}) {
        std::uint32_t s = crc32c_init, p = crc32c_init;
        for (std::size_t at = 0; at < buf.size(); at += piece) {
            const std::size_t n = std::min(piece, buf.size() - at);
            const std::span<const std::byte> d(buf.data() + at, n);
            s = crc32c_update(s, d);
            p = crc32c_update_portable(p, d);
        }
        CHECK(crc32c_final(s) == whole);
        CHECK(crc32c_final(p) == whole);
    }
}
