#include "scsi/cdb.hpp"

#include "scsi/opcode.hpp"

namespace ivs::scsi {
namespace {

void put_be(std::uint8_t* p, std::uint64_t v, int n) noexcept
{
    for (int i = n - 1; i >= 0; --i) {
        p[i] = static_cast<std::uint8_t>(v & 0xff);
        v >>= 8;
    }
}

cdb make(std::uint8_t opcode, std::size_t length) noexcept
{
    cdb c;
    c.bytes[0] = opcode;
    c.length = length;
    return c;
}

} // namespace

cdb test_unit_ready() noexcept { return make(op::test_unit_ready, 6); }

cdb inquiry(std::uint16_t allocation_length) noexcept
{
    cdb c = make(op::inquiry, 6);
    put_be(&c.bytes[3], allocation_length, 2);
    return c;
}

cdb report_luns(std::uint32_t allocation_length) noexcept
{
    cdb c = make(op::report_luns, 12);
    put_be(&c.bytes[6], allocation_length, 4);
    return c;
}

cdb read_capacity_10() noexcept { return make(op::read_capacity_10, 10); }

cdb read_capacity_16(std::uint32_t allocation_length) noexcept
{
    cdb c = make(op::service_action_in_16, 16);
    c.bytes[1] = op::sa_read_capacity_16;
    put_be(&c.bytes[10], allocation_length, 4);
    return c;
}

cdb synchronize_cache_10() noexcept { return make(op::synchronize_cache_10, 10); }

cdb read_write(bool write, std::uint64_t lba, std::uint32_t blocks) noexcept
{
    const bool fits10 = blocks <= 0xffff && lba <= 0xffffffffULL && lba + blocks <= 0x100000000ULL;
    if (fits10) {
        // LBA bytes 2..5, transfer length bytes 7..8.
        cdb c = make(write ? op::write_10 : op::read_10, 10);
        put_be(&c.bytes[2], lba, 4);
        put_be(&c.bytes[7], blocks, 2);
        return c;
    }
    // LBA bytes 2..9, transfer length bytes 10..13.
    cdb c = make(write ? op::write_16 : op::read_16, 16);
    put_be(&c.bytes[2], lba, 8);
    put_be(&c.bytes[10], blocks, 4);
    return c;
}

bool set_report_luns_allocation_length(std::span<std::byte> cdb, std::uint32_t allocation_length) noexcept
{
    if (cdb.size() < 10)
        return false;
    for (int i = 0; i < 4; ++i)
        cdb[6 + static_cast<std::size_t>(i)] = std::byte(allocation_length >> (24 - 8 * i));
    return true;
}

} // namespace ivs::scsi
