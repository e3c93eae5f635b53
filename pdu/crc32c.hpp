// CRC32C (Castagnoli) as iSCSI digests use it (RFC 7143 §13.1, RFC 3720 B.4).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace ivs::pdu {

// Digest of one buffer: initial value ~0, result complemented, as on the wire
// (stored on the wire least significant byte first: pdu::store32le).
std::uint32_t crc32c(std::span<const std::byte> data) noexcept;

// Incremental form: start with crc32c_init(), feed pieces, finish.
constexpr std::uint32_t crc32c_init = 0xffffffffu;
std::uint32_t crc32c_update(std::uint32_t state, std::span<const std::byte> data) noexcept;
constexpr std::uint32_t crc32c_final(std::uint32_t state) noexcept { return ~state; }

// The portable implementation, always built (tests compare it with ISA-L's).
std::uint32_t crc32c_update_portable(std::uint32_t state, std::span<const std::byte> data) noexcept;

// Name of the implementation in use ("isa-l" or "portable").
const char* crc32c_implementation() noexcept;

} // namespace ivs::pdu
