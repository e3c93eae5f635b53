// CRC32C (Castagnoli, reflected polynomial 0x82F63B78) for iSCSI digests
// (RFC 7143 §13.1; test vectors RFC 3720 B.4).
#include "pdu/crc32c.hpp"

#include <array>
#include <climits>

#ifdef IVS_HAVE_ISAL
#include <isa-l/crc.h>
#endif

namespace ivs::pdu {
namespace {

constexpr std::uint32_t castagnoli_reflected = 0x82F63B78u;

// Slicing-by-8 tables: table[0] is the byte-wise table, table[k][b] the CRC of
// byte b followed by k zero bytes.
using crc_tables = std::array<std::array<std::uint32_t, 256>, 8>;

constexpr crc_tables make_tables()
{
    crc_tables t{};
    for (std::uint32_t b = 0; b < 256; ++b) {
        std::uint32_t c = b;
        for (int i = 0; i < 8; ++i)
            c = (c & 1u) ? (c >> 1) ^ castagnoli_reflected : c >> 1;
        t[0][b] = c;
    }
    for (std::size_t k = 1; k < 8; ++k)
        for (std::size_t b = 0; b < 256; ++b)
            t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xffu];
    return t;
}

constexpr crc_tables tables = make_tables();
static_assert(tables[0][1] == 0xF26B8303u, "CRC32C byte table");

inline std::uint32_t byte_at(const std::byte* p, std::size_t i) noexcept
{
    return std::to_integer<std::uint32_t>(p[i]);
}

} // namespace

std::uint32_t crc32c_update_portable(std::uint32_t state, std::span<const std::byte> data) noexcept
{
    const std::byte* p = data.data();
    std::size_t n = data.size();
    std::uint32_t c = state;
    while (n >= 8) {
        // Fold the first four bytes into the state (little-endian order, as
        // the reflected CRC consumes them), the next four stand alone.
        const std::uint32_t lo = c ^ (byte_at(p, 0) | byte_at(p, 1) << 8 | byte_at(p, 2) << 16 | byte_at(p, 3) << 24);
        c = tables[7][lo & 0xffu] ^ tables[6][(lo >> 8) & 0xffu] ^ tables[5][(lo >> 16) & 0xffu] ^ tables[4][lo >> 24] ^
            tables[3][byte_at(p, 4)] ^ tables[2][byte_at(p, 5)] ^ tables[1][byte_at(p, 6)] ^ tables[0][byte_at(p, 7)];
        p += 8;
        n -= 8;
    }
    while (n-- > 0)
        c = (c >> 8) ^ tables[0][(c ^ byte_at(p++, 0)) & 0xffu];
    return c;
}

#ifdef IVS_HAVE_ISAL

// ISA-L's crc32_iscsi takes and returns the raw (uncomplemented) register,
// which is exactly our state: crc32_iscsi(buf, n, ~0) complemented is the digest.
std::uint32_t crc32c_update(std::uint32_t state, std::span<const std::byte> data) noexcept
{
    // The length is an int: feed very large buffers in chunks.
    constexpr std::size_t max_chunk = std::size_t{1} << 30;
    auto* p = reinterpret_cast<unsigned char*>(const_cast<std::byte*>(data.data()));
    std::size_t n = data.size();
    while (n > 0) {
        const std::size_t chunk = n < max_chunk ? n : max_chunk;
        state = crc32_iscsi(p, static_cast<int>(chunk), state);
        p += chunk;
        n -= chunk;
    }
    return state;
}

const char* crc32c_implementation() noexcept { return "isa-l"; }

#else

std::uint32_t crc32c_update(std::uint32_t state, std::span<const std::byte> data) noexcept
{
    return crc32c_update_portable(state, data);
}

const char* crc32c_implementation() noexcept { return "portable"; }

#endif

std::uint32_t crc32c(std::span<const std::byte> data) noexcept
{
    return crc32c_final(crc32c_update(crc32c_init, data));
}

} // namespace ivs::pdu
