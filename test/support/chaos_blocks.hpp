// Self-describing 512-byte blocks for the chaos tests: each block says which
// run, LUN, LBA and write generation it belongs to, and the rest of it is a
// stream derived from those, so a block from another command, another LUN, an
// older write or a poisoned buffer is told apart from the right one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace ivs::test::chaos {

inline constexpr std::uint32_t block_size = 512;

struct block_id {
    std::uint32_t run = 0; // the seed's low bits: blocks of another run differ
    std::uint16_t lun = 0;
    std::uint64_t lba = 0;
    std::uint32_t generation = 0; // 0: the LUN's initial contents; each WRITE a new one
    friend bool operator==(const block_id&, const block_id&) = default;
};

// Writes the block `id` describes into `out` (block_size bytes).
void fill_block(std::span<std::byte> out, const block_id& id);
// The block's identity when it is a well-formed block of this kind (header
// and body agree), else nullopt.
std::optional<block_id> read_block(std::span<const std::byte> block);

// The midlayer's poison: what a buffer holds before any data lands in it.
inline constexpr std::byte poison_byte{0xdb};
void poison(std::span<std::byte> buf);
// Offset of the first byte that is not poison, or -1.
long first_unpoisoned(std::span<const std::byte> buf);

// "lun 1 lba 40 gen 3", "poison", or "garbage" for one block.
std::string describe_block(std::span<const std::byte> block);

} // namespace ivs::test::chaos
