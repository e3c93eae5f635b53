// Login configuration helpers (RFC 7143 §11.12.5, §13.1).
#include "iscsi/params.hpp"

#include <algorithm>
#include <cctype>

#include <random>

namespace ivs::iscsi {

std::string_view digest_offer_value(digest_offer d) noexcept
{
    switch (d) {
    case digest_offer::none: return "None";
    case digest_offer::crc32c: return "CRC32C";
    case digest_offer::crc32c_or_none: return "CRC32C,None";
    case digest_offer::none_or_crc32c: return "None,CRC32C";
    }
    return "None";
}

bool parse_digest_offer(std::string_view text, digest_offer& out) noexcept
{
    for (auto d :
         {digest_offer::none, digest_offer::crc32c, digest_offer::crc32c_or_none, digest_offer::none_or_crc32c}) {
        const std::string_view v = digest_offer_value(d);
        if (text.size() == v.size() && std::equal(text.begin(), text.end(), v.begin(), [](char a, char b) {
                return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
            })) {
            out = d;
            return true;
        }
    }
    return false;
}

std::uint64_t random_isid()
{
    // §11.12.5: T=10b (Random) with A reserved (byte 0 = 0x80); B, C and the
    // qualifier D random. The ISID only has to be unique per initiator name.
    std::random_device rd;
    const std::uint64_t bc = rd() & 0xffffffu;
    const std::uint64_t d = rd() & 0xffffu;
    return (std::uint64_t{0x80} << 40) | (bc << 16) | d;
}

} // namespace ivs::iscsi
