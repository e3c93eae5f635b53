// The null LUN's SCSI commands (SPC-4, SBC-3): enough of a direct-access
// block device for initiators and benchmarks, nothing stored.
#include "bench/null_target_scsi.hpp"

#include "pdu/bytes.hpp"
#include "scsi/inquiry.hpp"
#include "scsi/opcode.hpp"

#include <algorithm>
#include <cstring>

namespace ivs::bench {

namespace {

namespace op = scsi::op;

using pdu::load16;
using pdu::load32;
using pdu::load64;
using pdu::store16;
using pdu::store32;
using pdu::store64;

std::uint8_t u8(std::span<const std::byte> cdb, std::size_t i) noexcept
{
    return std::to_integer<std::uint8_t>(cdb[i]);
}

void put_ascii(std::byte* at, std::size_t width, std::string_view s) noexcept
{
    std::memset(at, ' ', width);
    std::memcpy(at, s.data(), std::min(width, s.size()));
}

constexpr std::string_view vendor = "IVS";
constexpr std::string_view product = "NULL TARGET";
constexpr std::string_view revision = "0001";

} // namespace

scsi_outcome check_condition(std::uint8_t key, std::uint8_t asc_code, std::uint8_t ascq) noexcept
{
    scsi_outcome o;
    o.status = scsi::status::check_condition;
    const scsi::fixed_sense sense = scsi::make_fixed_sense(key, asc_code, ascq);
    for (std::size_t i = 0; i < sense.size(); ++i)
        o.sense[i] = std::byte{sense[i]};
    return o;
}

null_lun::null_lun(lun_geometry g) : geo_(std::move(g)) {}

scsi_outcome null_lun::reply(std::size_t length, std::size_t allocation_length)
{
    scsi_outcome o;
    o.data = std::span<const std::byte>(buf_.data(), std::min(length, allocation_length));
    return o;
}

scsi_outcome null_lun::execute(std::span<const std::byte> cdb, bool lun_exists)
{
    const std::uint8_t opcode = u8(cdb, 0);
    if (opcode == op::inquiry)
        return inquiry(cdb, lun_exists);
    if (opcode == op::report_luns) {
        // SPC-4 §6.33: one LUN, 0, whatever the SELECT REPORT field.
        std::memset(buf_.data(), 0, 16);
        store32(buf_.data(), 8); // LUN list length
        return reply(16, load32(cdb.data() + 6));
    }
    if (!lun_exists)
        return check_condition(scsi::key::illegal_request, scsi::asc::logical_unit_not_supported);

    switch (opcode) {
    case op::test_unit_ready:
    case op::start_stop_unit:
    case op::synchronize_cache_10:
    case op::synchronize_cache_16: return {};
    case op::read_capacity_10: {
        const std::uint64_t last = geo_.blocks - 1;
        store32(buf_.data(), last > 0xffffffffu ? 0xffffffffu : static_cast<std::uint32_t>(last));
        store32(buf_.data() + 4, geo_.block_size);
        return reply(8, 8);
    }
    case op::service_action_in_16:
        if ((u8(cdb, 1) & 0x1f) != op::sa_read_capacity_16)
            return check_condition(scsi::key::illegal_request, scsi::asc::invalid_command_operation_code);
        std::memset(buf_.data(), 0, 32);
        store64(buf_.data(), geo_.blocks - 1);
        store32(buf_.data() + 8, geo_.block_size);
        return reply(32, load32(cdb.data() + 10));
    case op::mode_sense_6: return mode_sense(cdb, false);
    case op::mode_sense_10: return mode_sense(cdb, true);
    case op::read_6:
    case op::write_6: {
        // SBC-3 §5.13: 21-bit LBA; a transfer length of 0 means 256 blocks.
        const std::uint64_t lba = (std::uint64_t{u8(cdb, 1) & 0x1fu} << 16) | load16(cdb.data() + 2);
        const std::uint64_t count = u8(cdb, 4) == 0 ? 256 : u8(cdb, 4);
        return read_write(lba, count, opcode == op::write_6);
    }
    case op::read_10:
    case op::write_10: return read_write(load32(cdb.data() + 2), load16(cdb.data() + 7), opcode == op::write_10);
    case op::read_12:
    case op::write_12: return read_write(load32(cdb.data() + 2), load32(cdb.data() + 6), opcode == op::write_12);
    case op::read_16:
    case op::write_16: return read_write(load64(cdb.data() + 2), load32(cdb.data() + 10), opcode == op::write_16);
    default: return check_condition(scsi::key::illegal_request, scsi::asc::invalid_command_operation_code);
    }
}

scsi_outcome null_lun::read_write(std::uint64_t lba, std::uint64_t count, bool write)
{
    // SBC-3 §4.5: the whole range must lie on the medium.
    if (lba > geo_.blocks || count > geo_.blocks - lba)
        return check_condition(scsi::key::illegal_request, scsi::asc::lba_out_of_range);
    scsi_outcome o;
    (write ? o.write_length : o.zero_length) = count * geo_.block_size;
    return o;
}

scsi_outcome null_lun::inquiry(std::span<const std::byte> cdb, bool lun_exists)
{
    const bool evpd = (u8(cdb, 1) & 0x01) != 0;
    const std::uint8_t page = u8(cdb, 2);
    const std::size_t alloc = load16(cdb.data() + 3);
    if ((u8(cdb, 1) & 0x02) != 0 || (!evpd && page != 0)) // CmdDt, or a page without EVPD
        return check_condition(scsi::key::illegal_request, scsi::asc::invalid_field_in_cdb);
    std::byte* b = buf_.data();
    std::memset(b, 0, buf_.size());
    // Byte 0: peripheral qualifier and device type (SPC-4 §6.6.2).
    b[0] = std::byte{lun_exists ? scsi::device_type::direct_access : scsi::no_logical_unit};
    if (!evpd) {
        b[2] = std::byte{0x06};   // SPC-4
        b[3] = std::byte{0x02};   // response data format 2
        b[4] = std::byte{96 - 5}; // additional length
        b[7] = std::byte{0x02};   // CmdQue
        put_ascii(b + 8, 8, vendor);
        put_ascii(b + 16, 16, product);
        put_ascii(b + 32, 4, revision);
        return reply(96, alloc);
    }
    if (!lun_exists)
        return check_condition(scsi::key::illegal_request, scsi::asc::logical_unit_not_supported);
    b[1] = std::byte{page};
    const std::size_t serial_len = std::min<std::size_t>(geo_.serial.size(), 64);
    switch (page) {
    case 0x00: { // supported VPD pages (SPC-4 §7.8.16)
        const std::uint8_t pages[] = {0x00, 0x80, 0x83, 0xb0};
        for (std::size_t i = 0; i < sizeof pages; ++i)
            b[4 + i] = std::byte{pages[i]};
        store16(b + 2, sizeof pages);
        return reply(4 + sizeof pages, alloc);
    }
    case 0x80: // unit serial number (§7.8.18)
        store16(b + 2, static_cast<std::uint16_t>(serial_len));
        std::memcpy(b + 4, geo_.serial.data(), serial_len);
        return reply(4 + serial_len, alloc);
    case 0x83: { // device identification (§7.8.6): one T10 vendor ID designator
        std::byte* d = b + 4;
        d[0] = std::byte{0x02}; // code set: ASCII
        d[1] = std::byte{0x01}; // LU association, type 1 (T10 vendor ID)
        d[3] = std::byte{static_cast<std::uint8_t>(8 + serial_len)};
        put_ascii(d + 4, 8, vendor);
        std::memcpy(d + 12, geo_.serial.data(), serial_len);
        const std::size_t len = 4 + 8 + serial_len;
        store16(b + 2, static_cast<std::uint16_t>(len));
        return reply(4 + len, alloc);
    }
    case 0xb0: // block limits (SBC-3 §6.5.3): no limits reported
        store16(b + 2, 0x3c);
        return reply(4 + 0x3c, alloc);
    default: return check_condition(scsi::key::illegal_request, scsi::asc::invalid_field_in_cdb);
    }
}

scsi_outcome null_lun::mode_sense(std::span<const std::byte> cdb, bool ten)
{
    // SPC-4 §6.11/§6.12: no block descriptors; the caching and control pages.
    const std::uint8_t pc = u8(cdb, 2) >> 6;
    const std::uint8_t page = u8(cdb, 2) & 0x3f;
    const std::uint8_t subpage = u8(cdb, 3);
    const std::size_t alloc = ten ? load16(cdb.data() + 7) : u8(cdb, 4);
    if (pc == 3 || (page != 0x08 && page != 0x0a && page != 0x3f) || (subpage != 0 && subpage != 0xff))
        return check_condition(scsi::key::illegal_request, scsi::asc::invalid_field_in_cdb);
    std::byte* b = buf_.data();
    std::memset(b, 0, buf_.size());
    const std::size_t header = ten ? 8 : 4;
    std::size_t len = header;
    if (page == 0x08 || page == 0x3f) { // caching (SBC-3 §6.4.5)
        b[len] = std::byte{0x08};
        b[len + 1] = std::byte{0x12};
        if (pc != 1)
            b[len + 2] = std::byte{0x04}; // WCE: SYNCHRONIZE CACHE is meaningful
        len += 20;
    }
    if (page == 0x0a || page == 0x3f) { // control (SPC-4 §7.5.8)
        b[len] = std::byte{0x0a};
        b[len + 1] = std::byte{0x0a};
        len += 12;
    }
    if (ten)
        store16(b, static_cast<std::uint16_t>(len - 2));
    else
        b[0] = std::byte{static_cast<std::uint8_t>(len - 1)};
    return reply(len, alloc);
}

} // namespace ivs::bench
