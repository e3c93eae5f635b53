// Helpers for the PDU codec tests: byte vectors written as hex text.
#pragma once

#include "pdu/opcode.hpp"

#include <catch2/catch.hpp>

#include <cstddef>
#include <stdexcept>
#include <string_view>
#include <vector>

namespace ivs::pdu::test {

// "01 c1 00 00 ..." -> bytes; spaces, '|' and newlines are separators.
inline std::vector<std::byte> hex(std::string_view text)
{
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9')
            return c - '0';
        if (c >= 'a' && c <= 'f')
            return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
            return c - 'A' + 10;
        return -1;
    };
    std::vector<std::byte> out;
    int high = -1;
    for (char c : text) {
        const int v = nibble(c);
        if (v < 0) {
            if (high >= 0)
                throw std::invalid_argument("odd hex digit count");
            continue;
        }
        if (high < 0) {
            high = v;
        } else {
            out.push_back(std::byte(high << 4 | v));
            high = -1;
        }
    }
    if (high >= 0)
        throw std::invalid_argument("odd hex digit count");
    return out;
}

inline bhs_bytes bhs_hex(std::string_view text)
{
    const auto bytes = hex(text);
    REQUIRE(bytes.size() == bhs_size);
    bhs_bytes out{};
    for (std::size_t i = 0; i < bhs_size; ++i)
        out[i] = bytes[i];
    return out;
}

template <class T>
bhs_bytes encoded(const T& pdu)
{
    bhs_bytes out;
    out.fill(std::byte{0xee}); // encode must overwrite every byte
    pdu.encode(out);
    return out;
}

} // namespace ivs::pdu::test
