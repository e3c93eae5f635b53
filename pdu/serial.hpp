// Serial number arithmetic, RFC 1982 with SERIAL_BITS = 32 (RFC 7143 §4.2.2.1).
// The one helper for CmdSN, ExpCmdSN, MaxCmdSN, StatSN, DataSN and R2TSN.
#pragma once

#include <cstdint>

namespace ivs::pdu {

class serial32 {
public:
    constexpr serial32() noexcept = default;
    constexpr explicit serial32(std::uint32_t v) noexcept : v_(v) {}

    constexpr std::uint32_t value() const noexcept { return v_; }

    // a < b per RFC 1982 §3.2; pairs exactly 2^31 apart are unordered (both false).
    friend constexpr bool operator<(serial32 a, serial32 b) noexcept
    {
        return a.v_ != b.v_ &&
               ((a.v_ < b.v_ && b.v_ - a.v_ < 0x80000000u) || (a.v_ > b.v_ && a.v_ - b.v_ > 0x80000000u));
    }
    friend constexpr bool operator>(serial32 a, serial32 b) noexcept { return b < a; }
    friend constexpr bool operator<=(serial32 a, serial32 b) noexcept { return a == b || a < b; }
    friend constexpr bool operator>=(serial32 a, serial32 b) noexcept { return a == b || b < a; }
    friend constexpr bool operator==(serial32 a, serial32 b) noexcept = default;

    // Addition of n in [0, 2^31 - 1] (RFC 1982 §3.1).
    constexpr serial32 operator+(std::uint32_t n) const noexcept { return serial32{v_ + n}; }
    constexpr serial32& operator+=(std::uint32_t n) noexcept
    {
        v_ += n;
        return *this;
    }
    constexpr serial32& operator++() noexcept
    {
        ++v_;
        return *this;
    }

    // Signed distance b - a, meaningful when the two are ordered.
    friend constexpr std::int32_t distance(serial32 a, serial32 b) noexcept
    {
        return static_cast<std::int32_t>(b.v_ - a.v_);
    }

private:
    std::uint32_t v_ = 0;
};

// Serial comparison on plain integers, for code holding raw header fields.
constexpr bool sn_gt(std::uint32_t a, std::uint32_t b) noexcept { return serial32{a} > serial32{b}; }

} // namespace ivs::pdu
