// The chaos tests' one source of randomness: splitmix64, with its own range
// reduction, so a seed means the same run with every compiler and standard
// library (std::uniform_int_distribution is implementation-defined).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace ivs::test::chaos {

class rng {
public:
    explicit rng(std::uint64_t seed) noexcept : state_(seed) {}

    std::uint64_t next() noexcept
    {
        std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    // Uniform in [0, n) (n > 0); the tiny modulo bias does not matter here.
    std::uint32_t below(std::uint32_t n) noexcept { return static_cast<std::uint32_t>(next() % n); }
    // True with probability per_mille / 1000.
    bool chance(std::uint32_t per_mille) noexcept { return below(1000) < per_mille; }
    template <class T>
    const T& pick(std::span<const T> from) noexcept
    {
        return from[below(static_cast<std::uint32_t>(from.size()))];
    }
    // An independent stream derived from this one (for one concern).
    rng fork(std::uint64_t salt) noexcept { return rng(next() ^ (salt * 0xd1b54a32d192ed03ull)); }

private:
    std::uint64_t state_;
};

} // namespace ivs::test::chaos
