// Encoding and decoding of the initiator PDUs (RFC 7143 §11.3 .. §11.18).
#include "pdu/initiator_pdus.hpp"

#include "pdu/bhs.hpp"
#include "pdu/bytes.hpp"
#include "pdu/error.hpp"

#include <algorithm>
#include <cstring>

namespace ivs::pdu {
namespace {

std::uint8_t bit(bool on, std::uint8_t mask) { return on ? mask : 0; }

constexpr std::uint8_t read_flag = 0x40;  // §11.3.1 R
constexpr std::uint8_t write_flag = 0x20; // §11.3.1 W
constexpr std::uint8_t attr_mask = 0x07;
constexpr std::uint8_t continue_flag = 0x40; // C in Text and Login
constexpr std::uint8_t transit_flag = 0x80;  // T in Login

constexpr std::size_t bidi_ahs_length = 5; // reserved byte + 4-byte length

} // namespace

std::uint8_t encode_login_flags(bool transit, bool cont, login_stage csg, login_stage nsg) noexcept
{
    return static_cast<std::uint8_t>(bit(transit, transit_flag) | bit(cont, continue_flag) |
                                     ((static_cast<std::uint8_t>(csg) & 3) << 2) |
                                     (static_cast<std::uint8_t>(nsg) & 3));
}

std::error_code decode_login_flags(std::uint8_t flags, bool& transit, bool& cont, login_stage& csg,
                                   login_stage& nsg) noexcept
{
    transit = (flags & transit_flag) != 0;
    cont = (flags & continue_flag) != 0;
    if (transit && cont)
        return errc::flags_inconsistent;
    const std::uint8_t c = (flags >> 2) & 3;
    const std::uint8_t n = flags & 3;
    if (c == 2 || (transit && n == 2))
        return errc::field_out_of_range;
    csg = static_cast<login_stage>(c);
    nsg = static_cast<login_stage>(n);
    return {};
}

// ---- NOP-Out (§11.18)

void nop_out::encode(bhs_bytes& out) const noexcept
{
    start_bhs(out, op, immediate, final_bit, 0, data_segment_length);
    store64(out.data() + 8, lun);
    store32(out.data() + 16, initiator_task_tag);
    store32(out.data() + 20, target_transfer_tag);
    store32(out.data() + 24, cmd_sn);
    store32(out.data() + 28, exp_stat_sn);
}

std::error_code nop_out::decode(const bhs_bytes& in, nop_out& out) noexcept
{
    if (auto ec = expect_opcode(in, op))
        return ec;
    out.immediate = raw_immediate(in);
    out.data_segment_length = raw_data_segment_length(in);
    out.lun = load64(in.data() + 8);
    out.initiator_task_tag = load32(in.data() + 16);
    out.target_transfer_tag = load32(in.data() + 20);
    out.cmd_sn = load32(in.data() + 24);
    out.exp_stat_sn = load32(in.data() + 28);
    return {};
}

// ---- SCSI Command (§11.3) and its AHS (§11.2.2.3, §11.2.2.4)

std::error_code scsi_command::set_cdb(std::span<const std::byte> bytes) noexcept
{
    if (bytes.size() > max_cdb_size)
        return errc::field_out_of_range;
    cdb.fill(std::byte{0});
    std::copy(bytes.begin(), bytes.end(), cdb.begin());
    cdb_length = static_cast<std::uint16_t>(bytes.size());
    return {};
}

std::size_t scsi_command::total_ahs_length() const noexcept
{
    const std::size_t length = std::min<std::size_t>(cdb_length, max_cdb_size);
    std::size_t total = 0;
    if (length > bhs_cdb_size)
        total += ahs_entry_size(length - bhs_cdb_size + 1); // +1: the reserved byte
    if (bidi_read_expected_data_transfer_length)
        total += ahs_entry_size(bidi_ahs_length);
    return total;
}

std::size_t scsi_command::encode_ahs(std::span<std::byte> out) const noexcept
{
    const std::size_t total = total_ahs_length();
    if (out.size() < total)
        return 0;
    std::fill(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(total), std::byte{0});
    std::byte* p = out.data();
    const std::size_t length = std::min<std::size_t>(cdb_length, max_cdb_size);
    if (length > bhs_cdb_size) {
        const std::size_t extra = length - bhs_cdb_size;
        store16(p, static_cast<std::uint16_t>(extra + 1));
        store8(p + 2, static_cast<std::uint8_t>(ahs_type::extended_cdb));
        std::memcpy(p + 4, cdb.data() + bhs_cdb_size, extra);
        p += ahs_entry_size(extra + 1);
    }
    if (bidi_read_expected_data_transfer_length) {
        store16(p, bidi_ahs_length);
        store8(p + 2, static_cast<std::uint8_t>(ahs_type::bidi_read_expected_data_transfer_length));
        store32(p + 4, *bidi_read_expected_data_transfer_length);
    }
    return total;
}

void scsi_command::encode(bhs_bytes& out) const noexcept
{
    start_bhs(out, op, immediate,
              static_cast<std::uint8_t>(bit(final_bit, pdu::final_bit) | bit(read_bit, read_flag) |
                                        bit(write_bit, write_flag) |
                                        (static_cast<std::uint8_t>(attribute) & attr_mask)),
              total_ahs_length(), data_segment_length);
    store64(out.data() + 8, lun);
    store32(out.data() + 16, initiator_task_tag);
    store32(out.data() + 20, expected_data_transfer_length);
    store32(out.data() + 24, cmd_sn);
    store32(out.data() + 28, exp_stat_sn);
    const std::size_t in_bhs = std::min<std::size_t>(cdb_length, bhs_cdb_size);
    std::memcpy(out.data() + 32, cdb.data(), in_bhs);
}

std::error_code scsi_command::decode(const bhs_bytes& in, std::span<const std::byte> ahs, scsi_command& out) noexcept
{
    if (auto ec = expect_opcode(in, op))
        return ec;
    if (ahs.size() != raw_total_ahs_bytes(in))
        return errc::ahs_length_inconsistent;
    const std::uint8_t flags = raw_flags(in);
    const std::uint8_t attr = flags & attr_mask;
    if (attr > static_cast<std::uint8_t>(task_attribute::aca))
        return errc::field_out_of_range;

    // Walk the AHS first so that `out` is only written on success.
    std::span<const std::byte> extended_cdb;
    bool have_extended_cdb = false;
    std::optional<std::uint32_t> bidi;
    while (!ahs.empty()) {
        ahs_entry entry;
        if (auto ec = next_ahs(ahs, entry))
            return ec;
        if (entry.code == static_cast<std::uint8_t>(ahs_type::extended_cdb)) {
            if (have_extended_cdb)
                return errc::ahs_duplicate;
            if (entry.specific.size() < 2) // AHSLength = CDB length - 15, CDB > 16 bytes
                return errc::ahs_length_inconsistent;
            extended_cdb = entry.specific.subspan(1);
            if (bhs_cdb_size + extended_cdb.size() > max_cdb_size)
                return errc::field_out_of_range;
            have_extended_cdb = true;
        } else if (entry.code == static_cast<std::uint8_t>(ahs_type::bidi_read_expected_data_transfer_length)) {
            if (bidi)
                return errc::ahs_duplicate;
            if (entry.specific.size() != bidi_ahs_length)
                return errc::ahs_length_inconsistent;
            bidi = load32(entry.specific.data() + 1);
        } else if (entry.code < ahs_first_vendor_code) {
            return errc::ahs_type_unknown; // 0 and 3..59 are reserved
        }
        // 60..63: non-iSCSI extensions, skipped.
    }

    out.immediate = raw_immediate(in);
    out.final_bit = (flags & pdu::final_bit) != 0;
    out.read_bit = (flags & read_flag) != 0;
    out.write_bit = (flags & write_flag) != 0;
    out.attribute = static_cast<task_attribute>(attr);
    out.data_segment_length = raw_data_segment_length(in);
    out.lun = load64(in.data() + 8);
    out.initiator_task_tag = load32(in.data() + 16);
    out.expected_data_transfer_length = load32(in.data() + 20);
    out.cmd_sn = load32(in.data() + 24);
    out.exp_stat_sn = load32(in.data() + 28);
    out.cdb.fill(std::byte{0});
    std::memcpy(out.cdb.data(), in.data() + 32, bhs_cdb_size);
    if (!extended_cdb.empty())
        std::memcpy(out.cdb.data() + bhs_cdb_size, extended_cdb.data(), extended_cdb.size());
    out.cdb_length = static_cast<std::uint16_t>(bhs_cdb_size + extended_cdb.size());
    out.bidi_read_expected_data_transfer_length = bidi;
    return {};
}

// ---- Task Management Function Request (§11.5)

void task_mgmt_request::encode(bhs_bytes& out) const noexcept
{
    start_bhs(out, op, immediate,
              static_cast<std::uint8_t>(pdu::final_bit | (static_cast<std::uint8_t>(function) & 0x7f)), 0, 0);
    store64(out.data() + 8, lun);
    store32(out.data() + 16, initiator_task_tag);
    store32(out.data() + 20, referenced_task_tag);
    store32(out.data() + 24, cmd_sn);
    store32(out.data() + 28, exp_stat_sn);
    store32(out.data() + 32, ref_cmd_sn);
    store32(out.data() + 36, exp_data_sn);
}

std::error_code task_mgmt_request::decode(const bhs_bytes& in, task_mgmt_request& out) noexcept
{
    if (auto ec = expect_opcode(in, op))
        return ec;
    if (raw_data_segment_length(in) != 0)
        return errc::data_segment_unexpected;
    const std::uint8_t function = raw_flags(in) & 0x7f;
    if (function < static_cast<std::uint8_t>(tmf_function::abort_task) ||
        function > static_cast<std::uint8_t>(tmf_function::task_reassign))
        return errc::field_out_of_range;
    out.immediate = raw_immediate(in);
    out.function = static_cast<tmf_function>(function);
    out.lun = load64(in.data() + 8);
    out.initiator_task_tag = load32(in.data() + 16);
    out.referenced_task_tag = load32(in.data() + 20);
    out.cmd_sn = load32(in.data() + 24);
    out.exp_stat_sn = load32(in.data() + 28);
    out.ref_cmd_sn = load32(in.data() + 32);
    out.exp_data_sn = load32(in.data() + 36);
    return {};
}

// ---- Login Request (§11.12)

void login_request::encode(bhs_bytes& out) const noexcept
{
    start_bhs(out, op, true, encode_login_flags(transit_bit, continue_bit, csg, nsg), 0, data_segment_length);
    store8(out.data() + 2, version_max);
    store8(out.data() + 3, version_min);
    store48(out.data() + 8, isid);
    store16(out.data() + 14, tsih);
    store32(out.data() + 16, initiator_task_tag);
    store16(out.data() + 20, cid);
    store32(out.data() + 24, cmd_sn);
    store32(out.data() + 28, exp_stat_sn);
}

std::error_code login_request::decode(const bhs_bytes& in, login_request& out) noexcept
{
    if (auto ec = expect_opcode(in, op))
        return ec;
    bool transit = false;
    bool cont = false;
    login_stage csg{};
    login_stage nsg{};
    if (auto ec = decode_login_flags(raw_flags(in), transit, cont, csg, nsg))
        return ec;
    out.transit_bit = transit;
    out.continue_bit = cont;
    out.csg = csg;
    out.nsg = nsg;
    out.version_max = load8(in.data() + 2);
    out.version_min = load8(in.data() + 3);
    out.data_segment_length = raw_data_segment_length(in);
    out.isid = load48(in.data() + 8);
    out.tsih = load16(in.data() + 14);
    out.initiator_task_tag = load32(in.data() + 16);
    out.cid = load16(in.data() + 20);
    out.cmd_sn = load32(in.data() + 24);
    out.exp_stat_sn = load32(in.data() + 28);
    return {};
}

// ---- Text Request (§11.10)

void text_request::encode(bhs_bytes& out) const noexcept
{
    start_bhs(out, op, immediate,
              static_cast<std::uint8_t>(bit(final_bit, pdu::final_bit) | bit(continue_bit, continue_flag)), 0,
              data_segment_length);
    store64(out.data() + 8, lun);
    store32(out.data() + 16, initiator_task_tag);
    store32(out.data() + 20, target_transfer_tag);
    store32(out.data() + 24, cmd_sn);
    store32(out.data() + 28, exp_stat_sn);
}

std::error_code text_request::decode(const bhs_bytes& in, text_request& out) noexcept
{
    if (auto ec = expect_opcode(in, op))
        return ec;
    const std::uint8_t flags = raw_flags(in);
    const bool final_set = (flags & pdu::final_bit) != 0;
    const bool continue_set = (flags & continue_flag) != 0;
    if (final_set && continue_set) // §11.10.2: C set requires F clear
        return errc::flags_inconsistent;
    out.immediate = raw_immediate(in);
    out.final_bit = final_set;
    out.continue_bit = continue_set;
    out.data_segment_length = raw_data_segment_length(in);
    out.lun = load64(in.data() + 8);
    out.initiator_task_tag = load32(in.data() + 16);
    out.target_transfer_tag = load32(in.data() + 20);
    out.cmd_sn = load32(in.data() + 24);
    out.exp_stat_sn = load32(in.data() + 28);
    return {};
}

// ---- SCSI Data-Out (§11.7)

void data_out::encode(bhs_bytes& out) const noexcept
{
    start_bhs(out, op, false, bit(final_bit, pdu::final_bit), 0, data_segment_length);
    store64(out.data() + 8, lun);
    store32(out.data() + 16, initiator_task_tag);
    store32(out.data() + 20, target_transfer_tag);
    store32(out.data() + 28, exp_stat_sn);
    store32(out.data() + 36, data_sn);
    store32(out.data() + 40, buffer_offset);
}

std::error_code data_out::decode(const bhs_bytes& in, data_out& out) noexcept
{
    if (auto ec = expect_opcode(in, op))
        return ec;
    out.final_bit = raw_final(in);
    out.data_segment_length = raw_data_segment_length(in);
    out.lun = load64(in.data() + 8);
    out.initiator_task_tag = load32(in.data() + 16);
    out.target_transfer_tag = load32(in.data() + 20);
    out.exp_stat_sn = load32(in.data() + 28);
    out.data_sn = load32(in.data() + 36);
    out.buffer_offset = load32(in.data() + 40);
    return {};
}

// ---- Logout Request (§11.14)

void logout_request::encode(bhs_bytes& out) const noexcept
{
    start_bhs(out, op, immediate,
              static_cast<std::uint8_t>(pdu::final_bit | (static_cast<std::uint8_t>(reason) & 0x7f)), 0, 0);
    store32(out.data() + 16, initiator_task_tag);
    store16(out.data() + 20, cid);
    store32(out.data() + 24, cmd_sn);
    store32(out.data() + 28, exp_stat_sn);
}

std::error_code logout_request::decode(const bhs_bytes& in, logout_request& out) noexcept
{
    if (auto ec = expect_opcode(in, op))
        return ec;
    if (raw_data_segment_length(in) != 0)
        return errc::data_segment_unexpected;
    const std::uint8_t reason = raw_flags(in) & 0x7f;
    if (reason > static_cast<std::uint8_t>(logout_reason::remove_connection_for_recovery))
        return errc::field_out_of_range;
    out.immediate = raw_immediate(in);
    out.reason = static_cast<logout_reason>(reason);
    out.initiator_task_tag = load32(in.data() + 16);
    out.cid = load16(in.data() + 20);
    out.cmd_sn = load32(in.data() + 24);
    out.exp_stat_sn = load32(in.data() + 28);
    return {};
}

// ---- SNACK Request (§11.16)

void snack_request::encode(bhs_bytes& out) const noexcept
{
    start_bhs(out, op, false, static_cast<std::uint8_t>(pdu::final_bit | (static_cast<std::uint8_t>(type) & 0x0f)), 0,
              0);
    store64(out.data() + 8, lun);
    store32(out.data() + 16, initiator_task_tag);
    store32(out.data() + 20, target_transfer_tag);
    store32(out.data() + 28, exp_stat_sn);
    store32(out.data() + 40, beg_run);
    store32(out.data() + 44, run_length);
}

std::error_code snack_request::decode(const bhs_bytes& in, snack_request& out) noexcept
{
    if (auto ec = expect_opcode(in, op))
        return ec;
    if (raw_data_segment_length(in) != 0)
        return errc::data_segment_unexpected;
    const std::uint8_t type = raw_flags(in) & 0x0f;
    if (type > static_cast<std::uint8_t>(snack_type::r_data))
        return errc::field_out_of_range;
    out.type = static_cast<snack_type>(type);
    out.lun = load64(in.data() + 8);
    out.initiator_task_tag = load32(in.data() + 16);
    out.target_transfer_tag = load32(in.data() + 20);
    out.exp_stat_sn = load32(in.data() + 28);
    out.beg_run = load32(in.data() + 40);
    out.run_length = load32(in.data() + 44);
    return {};
}

// ---- decode by opcode

namespace {

template <class T>
std::error_code decode_plain(const bhs_bytes& in, std::span<const std::byte> ahs, initiator_pdu& out)
{
    if (auto ec = check_ahs(in, ahs))
        return ec;
    T pdu;
    if (auto ec = T::decode(in, pdu))
        return ec;
    out = pdu;
    return {};
}

} // namespace

std::error_code decode_initiator_pdu(const bhs_bytes& in, std::span<const std::byte> ahs, initiator_pdu& out)
{
    const std::uint8_t code = raw_opcode(in);
    if (!is_known_opcode(code))
        return errc::unknown_opcode;
    if (is_target_opcode(code))
        return errc::wrong_direction;
    switch (static_cast<opcode>(code)) {
    case opcode::nop_out: return decode_plain<nop_out>(in, ahs, out);
    case opcode::scsi_command: {
        scsi_command pdu;
        if (auto ec = scsi_command::decode(in, ahs, pdu))
            return ec;
        out = pdu;
        return {};
    }
    case opcode::task_mgmt_request: return decode_plain<task_mgmt_request>(in, ahs, out);
    case opcode::login_request: return decode_plain<login_request>(in, ahs, out);
    case opcode::text_request: return decode_plain<text_request>(in, ahs, out);
    case opcode::data_out: return decode_plain<data_out>(in, ahs, out);
    case opcode::logout_request: return decode_plain<logout_request>(in, ahs, out);
    case opcode::snack_request: return decode_plain<snack_request>(in, ahs, out);
    default: return errc::unknown_opcode;
    }
}

void encode_pdu(const initiator_pdu& pdu, bhs_bytes& out) noexcept
{
    std::visit([&out](const auto& p) { p.encode(out); }, pdu);
}

} // namespace ivs::pdu
