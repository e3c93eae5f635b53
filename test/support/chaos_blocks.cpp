// Block patterns of the chaos tests (see chaos_blocks.hpp).
#include "test/support/chaos_blocks.hpp"

#include "pdu/bytes.hpp"

#include <algorithm>
#include <cstring>

namespace ivs::test::chaos {

namespace {

constexpr std::uint32_t magic = 0x43484153; // "CHAS"
constexpr std::size_t header_size = 24;

std::uint64_t mix(std::uint64_t x) noexcept
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

void fill_body(std::span<std::byte> out, const block_id& id)
{
    std::uint64_t s = mix(id.run ^ (std::uint64_t{id.lun} << 32)) ^ mix(id.lba * 0x9e3779b97f4a7c15ull + id.generation);
    for (std::size_t i = header_size; i < block_size; i += 8) {
        s = mix(s + i);
        pdu::store64(out.data() + i, s);
    }
}

} // namespace

void fill_block(std::span<std::byte> out, const block_id& id)
{
    pdu::store32(out.data(), magic);
    pdu::store32(out.data() + 4, id.run);
    pdu::store16(out.data() + 8, id.lun);
    pdu::store16(out.data() + 10, 0);
    pdu::store64(out.data() + 12, id.lba);
    pdu::store32(out.data() + 20, id.generation);
    fill_body(out.first(block_size), id);
}

std::optional<block_id> read_block(std::span<const std::byte> block)
{
    if (block.size() < block_size || pdu::load32(block.data()) != magic)
        return std::nullopt;
    block_id id;
    id.run = pdu::load32(block.data() + 4);
    id.lun = pdu::load16(block.data() + 8);
    id.lba = pdu::load64(block.data() + 12);
    id.generation = pdu::load32(block.data() + 20);
    std::byte want[block_size];
    fill_block(want, id);
    if (std::memcmp(want, block.data(), block_size) != 0)
        return std::nullopt;
    return id;
}

void poison(std::span<std::byte> buf) { std::fill(buf.begin(), buf.end(), poison_byte); }

long first_unpoisoned(std::span<const std::byte> buf)
{
    const auto it = std::find_if(buf.begin(), buf.end(), [](std::byte b) { return b != poison_byte; });
    return it == buf.end() ? -1 : static_cast<long>(it - buf.begin());
}

std::string describe_block(std::span<const std::byte> block)
{
    if (const auto id = read_block(block))
        return "lun " + std::to_string(id->lun) + " lba " + std::to_string(id->lba) + " gen " +
               std::to_string(id->generation) + " run " + std::to_string(id->run);
    if (first_unpoisoned(block.first(std::min<std::size_t>(block.size(), block_size))) < 0)
        return "poison (no data landed)";
    return "garbage (neither a block nor poison)";
}

} // namespace ivs::test::chaos
