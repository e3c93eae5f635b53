// Byte vectors for tests: written out as numbers, or read from a file.
#pragma once

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <vector>

namespace ivs::test {

// bytes({0x12, 0, 8}): one std::byte per value.
inline std::vector<std::byte> bytes(std::initializer_list<int> values)
{
    std::vector<std::byte> out;
    out.reserve(values.size());
    for (int b : values)
        out.push_back(std::byte(b));
    return out;
}

// Up to `n` bytes of `p` from `offset` (fewer at its end).
inline std::vector<std::byte> read_file_bytes(const std::filesystem::path& p, std::size_t offset, std::size_t n)
{
    std::ifstream in(p, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(offset));
    std::vector<std::byte> out(n);
    in.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(n));
    out.resize(static_cast<std::size_t>(in.gcount()));
    return out;
}

} // namespace ivs::test
