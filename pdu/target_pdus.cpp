// Encoding and decoding of the target PDUs (RFC 7143 §11.4 .. §11.19).
#include "pdu/target_pdus.hpp"

#include "pdu/bhs.hpp"
#include "pdu/bytes.hpp"
#include "pdu/error.hpp"

#include <algorithm>

namespace ivs::pdu {
namespace {

std::uint8_t bit(bool on, std::uint8_t mask) { return on ? mask : 0; }

// §11.4.1 SCSI Response flags
constexpr std::uint8_t bidi_overflow_flag = 0x10;  // o
constexpr std::uint8_t bidi_underflow_flag = 0x08; // u
constexpr std::uint8_t overflow_flag = 0x04;       // O (also Data-In)
constexpr std::uint8_t underflow_flag = 0x02;      // U (also Data-In)
// §11.7 Data-In flags
constexpr std::uint8_t acknowledge_flag = 0x40; // A
constexpr std::uint8_t status_flag = 0x01;      // S
// §11.11 Text Response
constexpr std::uint8_t continue_flag = 0x40; // C

// StatSN, ExpCmdSN, MaxCmdSN sit at bytes 24..35 in every target PDU that has them.
void store_sn(bhs_bytes& out, std::uint32_t stat_sn, std::uint32_t exp_cmd_sn, std::uint32_t max_cmd_sn)
{
    store32(out.data() + 24, stat_sn);
    store32(out.data() + 28, exp_cmd_sn);
    store32(out.data() + 32, max_cmd_sn);
}

template <class T>
void load_sn(const bhs_bytes& in, T& out)
{
    out.stat_sn = load32(in.data() + 24);
    out.exp_cmd_sn = load32(in.data() + 28);
    out.max_cmd_sn = load32(in.data() + 32);
}

} // namespace

// ---- NOP-In (§11.19)

void nop_in::encode(bhs_bytes& out) const noexcept
{
    start_bhs(out, op, false, final_bit, 0, data_segment_length);
    store64(out.data() + 8, lun);
    store32(out.data() + 16, initiator_task_tag);
    store32(out.data() + 20, target_transfer_tag);
    store_sn(out, stat_sn, exp_cmd_sn, max_cmd_sn);
}

std::error_code nop_in::decode(const bhs_bytes& in, nop_in& out) noexcept
{
    if (auto ec = expect_opcode(in, op))
        return ec;
    out.data_segment_length = raw_data_segment_length(in);
    out.lun = load64(in.data() + 8);
    out.initiator_task_tag = load32(in.data() + 16);
    out.target_transfer_tag = load32(in.data() + 20);
    load_sn(in, out);
    return {};
}

// ---- SCSI Response (§11.4)

void scsi_response::encode(bhs_bytes& out) const noexcept
{
    start_bhs(out, op, false,
              static_cast<std::uint8_t>(final_bit | bit(bidi_read_residual_overflow, bidi_overflow_flag) |
                                        bit(bidi_read_residual_underflow, bidi_underflow_flag) |
                                        bit(residual_overflow, overflow_flag) |
                                        bit(residual_underflow, underflow_flag)),
              0, data_segment_length);
    store8(out.data() + 2, response);
    store8(out.data() + 3, status);
    store32(out.data() + 16, initiator_task_tag);
    store32(out.data() + 20, snack_tag);
    store_sn(out, stat_sn, exp_cmd_sn, max_cmd_sn);
    store32(out.data() + 36, exp_data_sn);
    store32(out.data() + 40, bidi_read_residual_count);
    store32(out.data() + 44, residual_count);
}

std::error_code scsi_response::decode(const bhs_bytes& in, scsi_response& out) noexcept
{
    if (auto ec = expect_opcode(in, op))
        return ec;
    const std::uint8_t flags = raw_flags(in);
    // §11.4.1: o/u and O/U are pairwise exclusive.
    if ((flags & (bidi_overflow_flag | bidi_underflow_flag)) == (bidi_overflow_flag | bidi_underflow_flag) ||
        (flags & (overflow_flag | underflow_flag)) == (overflow_flag | underflow_flag))
        return errc::flags_inconsistent;
    out.bidi_read_residual_overflow = (flags & bidi_overflow_flag) != 0;
    out.bidi_read_residual_underflow = (flags & bidi_underflow_flag) != 0;
    out.residual_overflow = (flags & overflow_flag) != 0;
    out.residual_underflow = (flags & underflow_flag) != 0;
    out.response = load8(in.data() + 2);
    out.status = load8(in.data() + 3);
    out.data_segment_length = raw_data_segment_length(in);
    out.initiator_task_tag = load32(in.data() + 16);
    out.snack_tag = load32(in.data() + 20);
    load_sn(in, out);
    out.exp_data_sn = load32(in.data() + 36);
    out.bidi_read_residual_count = load32(in.data() + 40);
    out.residual_count = load32(in.data() + 44);
    return {};
}

std::error_code parse_sense_data_segment(std::span<const std::byte> data, sense_data_segment& out) noexcept
{
    if (data.empty()) {
        out = {};
        return {};
    }
    if (data.size() < 2)
        return errc::truncated;
    const std::size_t sense_length = load16(data.data());
    if (sense_length > data.size() - 2)
        return errc::truncated;
    out.sense = data.subspan(2, sense_length);
    out.remainder = data.subspan(2 + sense_length);
    return {};
}

// ---- Task Management Function Response (§11.6)

void task_mgmt_response::encode(bhs_bytes& out) const noexcept
{
    start_bhs(out, op, false, final_bit, 0, 0);
    store8(out.data() + 2, static_cast<std::uint8_t>(response));
    store32(out.data() + 16, initiator_task_tag);
    store_sn(out, stat_sn, exp_cmd_sn, max_cmd_sn);
}

std::error_code task_mgmt_response::decode(const bhs_bytes& in, task_mgmt_response& out) noexcept
{
    if (auto ec = expect_opcode(in, op))
        return ec;
    if (raw_data_segment_length(in) != 0)
        return errc::data_segment_unexpected;
    const std::uint8_t response = load8(in.data() + 2);
    if (response > static_cast<std::uint8_t>(tmf_response::function_authorization_failed) &&
        response != static_cast<std::uint8_t>(tmf_response::function_rejected))
        return errc::field_out_of_range;
    out.response = static_cast<tmf_response>(response);
    out.initiator_task_tag = load32(in.data() + 16);
    load_sn(in, out);
    return {};
}

// ---- Login Response (§11.13)

void login_response::encode(bhs_bytes& out) const noexcept
{
    start_bhs(out, op, false, encode_login_flags(transit_bit, continue_bit, csg, nsg), 0, data_segment_length);
    store8(out.data() + 2, version_max);
    store8(out.data() + 3, version_active);
    store48(out.data() + 8, isid);
    store16(out.data() + 14, tsih);
    store32(out.data() + 16, initiator_task_tag);
    store_sn(out, stat_sn, exp_cmd_sn, max_cmd_sn);
    store8(out.data() + 36, status_class);
    store8(out.data() + 37, status_detail);
}

std::error_code login_response::decode(const bhs_bytes& in, login_response& out) noexcept
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
    out.version_active = load8(in.data() + 3);
    out.data_segment_length = raw_data_segment_length(in);
    out.isid = load48(in.data() + 8);
    out.tsih = load16(in.data() + 14);
    out.initiator_task_tag = load32(in.data() + 16);
    load_sn(in, out);
    out.status_class = load8(in.data() + 36);
    out.status_detail = load8(in.data() + 37);
    return {};
}

// ---- Text Response (§11.11)

void text_response::encode(bhs_bytes& out) const noexcept
{
    start_bhs(out, op, false,
              static_cast<std::uint8_t>(bit(final_bit, pdu::final_bit) | bit(continue_bit, continue_flag)), 0,
              data_segment_length);
    store64(out.data() + 8, lun);
    store32(out.data() + 16, initiator_task_tag);
    store32(out.data() + 20, target_transfer_tag);
    store_sn(out, stat_sn, exp_cmd_sn, max_cmd_sn);
}

std::error_code text_response::decode(const bhs_bytes& in, text_response& out) noexcept
{
    if (auto ec = expect_opcode(in, op))
        return ec;
    const std::uint8_t flags = raw_flags(in);
    const bool final_set = (flags & pdu::final_bit) != 0;
    const bool continue_set = (flags & continue_flag) != 0;
    if (final_set && continue_set) // §11.11.2: C set requires F clear
        return errc::flags_inconsistent;
    out.final_bit = final_set;
    out.continue_bit = continue_set;
    out.data_segment_length = raw_data_segment_length(in);
    out.lun = load64(in.data() + 8);
    out.initiator_task_tag = load32(in.data() + 16);
    out.target_transfer_tag = load32(in.data() + 20);
    load_sn(in, out);
    return {};
}

// ---- SCSI Data-In (§11.7)

void data_in::encode(bhs_bytes& out) const noexcept
{
    const std::uint8_t status_flags =
        status_bit ? static_cast<std::uint8_t>(status_flag | bit(residual_overflow, overflow_flag) |
                                               bit(residual_underflow, underflow_flag))
                   : 0;
    start_bhs(out, op, false,
              static_cast<std::uint8_t>(bit(final_bit, pdu::final_bit) | bit(acknowledge_bit, acknowledge_flag) |
                                        status_flags),
              0, data_segment_length);
    store64(out.data() + 8, lun);
    store32(out.data() + 16, initiator_task_tag);
    store32(out.data() + 20, target_transfer_tag);
    store_sn(out, status_bit ? stat_sn : 0, exp_cmd_sn, max_cmd_sn);
    store32(out.data() + 36, data_sn);
    store32(out.data() + 40, buffer_offset);
    if (status_bit) {
        store8(out.data() + 3, status);
        store32(out.data() + 44, residual_count);
    }
}

std::error_code data_in::decode(const bhs_bytes& in, data_in& out) noexcept
{
    if (auto ec = expect_opcode(in, op))
        return ec;
    const std::uint8_t flags = raw_flags(in);
    const bool final_set = (flags & pdu::final_bit) != 0;
    const bool status_set = (flags & status_flag) != 0;
    if (status_set && !final_set) // status only in the last Data-In of a sequence
        return errc::flags_inconsistent;
    if (status_set && (flags & (overflow_flag | underflow_flag)) == (overflow_flag | underflow_flag))
        return errc::flags_inconsistent;
    out.final_bit = final_set;
    out.acknowledge_bit = (flags & acknowledge_flag) != 0;
    out.status_bit = status_set;
    // Without S, O/U, Status, StatSN and Residual Count are reserved: ignore them.
    out.residual_overflow = status_set && (flags & overflow_flag) != 0;
    out.residual_underflow = status_set && (flags & underflow_flag) != 0;
    out.status = status_set ? load8(in.data() + 3) : 0;
    out.data_segment_length = raw_data_segment_length(in);
    out.lun = load64(in.data() + 8);
    out.initiator_task_tag = load32(in.data() + 16);
    out.target_transfer_tag = load32(in.data() + 20);
    load_sn(in, out);
    if (!status_set)
        out.stat_sn = 0;
    out.data_sn = load32(in.data() + 36);
    out.buffer_offset = load32(in.data() + 40);
    out.residual_count = status_set ? load32(in.data() + 44) : 0;
    return {};
}

// ---- Logout Response (§11.15)

void logout_response::encode(bhs_bytes& out) const noexcept
{
    start_bhs(out, op, false, final_bit, 0, 0);
    store8(out.data() + 2, static_cast<std::uint8_t>(response));
    store32(out.data() + 16, initiator_task_tag);
    store_sn(out, stat_sn, exp_cmd_sn, max_cmd_sn);
    store16(out.data() + 40, time2wait);
    store16(out.data() + 42, time2retain);
}

std::error_code logout_response::decode(const bhs_bytes& in, logout_response& out) noexcept
{
    if (auto ec = expect_opcode(in, op))
        return ec;
    if (raw_data_segment_length(in) != 0)
        return errc::data_segment_unexpected;
    const std::uint8_t response = load8(in.data() + 2);
    if (response > static_cast<std::uint8_t>(logout_response_code::cleanup_failed))
        return errc::field_out_of_range;
    out.response = static_cast<logout_response_code>(response);
    out.initiator_task_tag = load32(in.data() + 16);
    load_sn(in, out);
    out.time2wait = load16(in.data() + 40);
    out.time2retain = load16(in.data() + 42);
    return {};
}

// ---- R2T (§11.8)

void r2t::encode(bhs_bytes& out) const noexcept
{
    start_bhs(out, op, false, final_bit, 0, 0);
    store64(out.data() + 8, lun);
    store32(out.data() + 16, initiator_task_tag);
    store32(out.data() + 20, target_transfer_tag);
    store_sn(out, stat_sn, exp_cmd_sn, max_cmd_sn);
    store32(out.data() + 36, r2t_sn);
    store32(out.data() + 40, buffer_offset);
    store32(out.data() + 44, desired_data_transfer_length);
}

std::error_code r2t::decode(const bhs_bytes& in, r2t& out) noexcept
{
    if (auto ec = expect_opcode(in, op))
        return ec;
    if (raw_data_segment_length(in) != 0)
        return errc::data_segment_unexpected;
    const std::uint32_t ttt = load32(in.data() + 20);
    const std::uint32_t desired = load32(in.data() + 44);
    if (ttt == reserved_tag || desired == 0)
        return errc::field_out_of_range;
    out.lun = load64(in.data() + 8);
    out.initiator_task_tag = load32(in.data() + 16);
    out.target_transfer_tag = ttt;
    load_sn(in, out);
    out.r2t_sn = load32(in.data() + 36);
    out.buffer_offset = load32(in.data() + 40);
    out.desired_data_transfer_length = desired;
    return {};
}

// ---- Asynchronous Message (§11.9)

void async_message::encode(bhs_bytes& out) const noexcept
{
    start_bhs(out, op, false, final_bit, 0, data_segment_length);
    store64(out.data() + 8, lun);
    store32(out.data() + 16, reserved_tag);
    store_sn(out, stat_sn, exp_cmd_sn, max_cmd_sn);
    store8(out.data() + 36, static_cast<std::uint8_t>(event));
    store8(out.data() + 37, async_vcode);
    store16(out.data() + 38, parameter1);
    store16(out.data() + 40, parameter2);
    store16(out.data() + 42, parameter3);
}

std::error_code async_message::decode(const bhs_bytes& in, async_message& out) noexcept
{
    if (auto ec = expect_opcode(in, op))
        return ec;
    const std::uint8_t event = load8(in.data() + 36);
    if (event > static_cast<std::uint8_t>(async_event::negotiation_requested) &&
        event != static_cast<std::uint8_t>(async_event::vendor_specific))
        return errc::field_out_of_range;
    out.data_segment_length = raw_data_segment_length(in);
    out.lun = load64(in.data() + 8);
    load_sn(in, out);
    out.event = static_cast<async_event>(event);
    out.async_vcode = load8(in.data() + 37);
    out.parameter1 = load16(in.data() + 38);
    out.parameter2 = load16(in.data() + 40);
    out.parameter3 = load16(in.data() + 42);
    return {};
}

// ---- Reject (§11.17)

void reject::encode(bhs_bytes& out) const noexcept
{
    start_bhs(out, op, false, final_bit, 0, data_segment_length);
    store8(out.data() + 2, reason);
    store32(out.data() + 16, reserved_tag);
    store_sn(out, stat_sn, exp_cmd_sn, max_cmd_sn);
    store32(out.data() + 36, data_sn_or_r2t_sn);
}

std::error_code reject::decode(const bhs_bytes& in, reject& out) noexcept
{
    if (auto ec = expect_opcode(in, op))
        return ec;
    out.reason = load8(in.data() + 2);
    out.data_segment_length = raw_data_segment_length(in);
    load_sn(in, out);
    out.data_sn_or_r2t_sn = load32(in.data() + 36);
    return {};
}

std::error_code rejected_header(std::span<const std::byte> data, bhs_bytes& out) noexcept
{
    if (data.size() < bhs_size)
        return errc::truncated;
    std::copy_n(data.begin(), bhs_size, out.begin());
    return {};
}

// ---- decode by opcode

namespace {

template <class T>
std::error_code decode_as(const bhs_bytes& in, target_pdu& out)
{
    T pdu;
    if (auto ec = T::decode(in, pdu))
        return ec;
    out = pdu;
    return {};
}

} // namespace

std::error_code decode_target_pdu(const bhs_bytes& in, std::span<const std::byte> ahs, target_pdu& out)
{
    const std::uint8_t code = raw_opcode(in);
    if (!is_known_opcode(code))
        return errc::unknown_opcode;
    if (!is_target_opcode(code))
        return errc::wrong_direction;
    if (auto ec = check_ahs(in, ahs))
        return ec;
    switch (static_cast<opcode>(code)) {
    case opcode::nop_in: return decode_as<nop_in>(in, out);
    case opcode::scsi_response: return decode_as<scsi_response>(in, out);
    case opcode::task_mgmt_response: return decode_as<task_mgmt_response>(in, out);
    case opcode::login_response: return decode_as<login_response>(in, out);
    case opcode::text_response: return decode_as<text_response>(in, out);
    case opcode::data_in: return decode_as<data_in>(in, out);
    case opcode::logout_response: return decode_as<logout_response>(in, out);
    case opcode::r2t: return decode_as<r2t>(in, out);
    case opcode::async_message: return decode_as<async_message>(in, out);
    case opcode::reject: return decode_as<reject>(in, out);
    default: return errc::unknown_opcode;
    }
}

void encode_pdu(const target_pdu& pdu, bhs_bytes& out) noexcept
{
    std::visit([&out](const auto& p) { p.encode(out); }, pdu);
}

} // namespace ivs::pdu
