// The chaos fault catalog and the mutations of a victim's reply and R2Ts.
#include "test/support/chaos_faults.hpp"

#include "pdu/bytes.hpp"
#include "pdu/opcode.hpp"
#include "pdu/target_pdus.hpp"

#include <algorithm>
#include <stdexcept>

namespace ivs::test::chaos {

namespace {

using K = fault_kind;
using N = victim_need;
using P = fault_phase;

constexpr fault_info catalog[] = {
    // header fields
    {K::datain_itt_other, "datain_itt_other", "header", N::read, P::reply,
     "a Data-In (without status) carries the ITT of another READ still waiting for its data (an unknown "
     "ITT when there is none)"},
    {K::response_itt_unknown, "response_itt_unknown", "header", N::any, P::reply,
     "the status-bearing PDU carries an ITT the initiator never used"},
    {K::r2t_itt_other, "r2t_itt_other", "header", N::write_r2t, P::r2t,
     "an R2T carries the ITT of a READ in flight (an unknown ITT when there is none)"},
    {K::r2t_ttt_reserved, "r2t_ttt_reserved", "header", N::write_r2t, P::r2t,
     "an R2T carries the reserved Target Transfer Tag 0xffffffff"},
    {K::nop_in_unknown_itt, "nop_in_unknown_itt", "header", N::any, P::command,
     "a NOP-In answers a ping the initiator never sent (unknown ITT)"},
    {K::unknown_opcode, "unknown_opcode", "header", N::any, P::command, "a PDU with the reserved opcode 0x2a arrives"},
    {K::sense_length_lie, "sense_length_lie", "header", N::any, P::command,
     "CHECK CONDITION whose SenseLength runs past the data segment"},
    {K::nop_ping_oversized, "nop_ping_oversized", "header", N::any, P::command,
     "a target ping (NOP-In with a TTT) carries more data than the target's own MaxRecvDataSegmentLength", false},
    // offsets
    {K::datain_offset_gap, "datain_offset_gap", "offset", N::read_multi, P::reply,
     "a Data-In's BufferOffset skips 512 bytes ahead"},
    {K::datain_offset_overlap, "datain_offset_overlap", "offset", N::read_multi, P::reply,
     "a Data-In's BufferOffset goes 512 bytes back"},
    {K::datain_offset_past_edtl, "datain_offset_past_edtl", "offset", N::read, P::reply,
     "a Data-In's BufferOffset is the Expected Data Transfer Length"},
    {K::r2t_offset_past_edtl, "r2t_offset_past_edtl", "offset", N::write_r2t, P::r2t,
     "an R2T asks for data at the Expected Data Transfer Length"},
    // lengths
    {K::datain_short_good, "datain_short_good", "length", N::read, P::reply,
     "the last 512 bytes are never sent; status GOOD without a residual"},
    {K::datain_dsl_over_mrdsl, "datain_dsl_over_mrdsl", "length", N::read, P::reply,
     "a Data-In's DataSegmentLength exceeds the initiator's MaxRecvDataSegmentLength"},
    {K::datain_dsl_lie, "datain_dsl_lie", "length", N::read, P::reply,
     "a Data-In's DataSegmentLength is 1024 more than the bytes that follow (framing lost)"},
    {K::r2t_over_burst, "r2t_over_burst", "length", N::write_r2t_multi, P::r2t,
     "an R2T's DesiredDataTransferLength exceeds MaxBurstLength"},
    {K::r2t_zero_length, "r2t_zero_length", "length", N::write_r2t, P::r2t, "an R2T asks for zero bytes"},
    {K::read_underflow, "read_underflow", "length", N::read, P::execution,
     "an honest short READ: half the data, GOOD with U and the right residual", false},
    {K::write_underflow, "write_underflow", "length", N::write_r2t, P::execution,
     "an honest short WRITE: the target takes about half, GOOD with U and the residual", false},
    {K::residual_bogus, "residual_bogus", "length", N::read, P::reply,
     "the status claims an underflow residual larger than the transfer"},
    // sequence numbers
    {K::statsn_skip, "statsn_skip", "sn", N::any, P::reply, "the status skips 3 StatSNs"},
    {K::statsn_stale, "statsn_stale", "sn", N::any, P::reply,
     "the status carries the previous StatSN again (and does not take one)"},
    {K::expcmdsn_ahead, "expcmdsn_ahead", "sn", N::any, P::reply,
     "ExpCmdSN (and MaxCmdSN) 5 beyond what the target received"},
    {K::expcmdsn_behind, "expcmdsn_behind", "sn", N::any, P::reply, "ExpCmdSN and MaxCmdSN 1000 back", false},
    {K::maxcmdsn_closed, "maxcmdsn_closed", "sn", N::any, P::reply,
     "MaxCmdSN = ExpCmdSN - 1 (window closed; a NOP-In reopens it later)", false},
    {K::maxcmdsn_invalid, "maxcmdsn_invalid", "sn", N::any, P::reply,
     "MaxCmdSN < ExpCmdSN - 1 (both must be ignored, §4.2.2.1)", false},
    {K::maxcmdsn_beyond, "maxcmdsn_beyond", "sn", N::any, P::reply,
     "MaxCmdSN 1000 beyond what the target accepts (commands past its window are dropped)"},
    {K::datasn_skip, "datasn_skip", "sn", N::read_multi, P::reply, "a Data-In's DataSN skips one"},
    {K::datasn_repeat, "datasn_repeat", "sn", N::read_multi, P::reply, "a Data-In repeats the previous DataSN"},
    {K::expdatasn_wrong, "expdatasn_wrong", "sn", N::read, P::reply,
     "the SCSI Response's ExpDataSN counts one Data-In more than was sent"},
    {K::r2tsn_skip, "r2tsn_skip", "sn", N::write_r2t, P::r2t, "the first R2T has R2TSN 1"},
    {K::r2tsn_repeat, "r2tsn_repeat", "sn", N::write_r2t_multi, P::r2t, "the second R2T repeats R2TSN 0"},
    // flags
    {K::datain_s_without_f, "datain_s_without_f", "flags", N::read_multi, P::reply,
     "a middle Data-In has the S bit without the F bit"},
    {K::residual_both_flags, "residual_both_flags", "flags", N::any, P::reply,
     "the status has both the O and the U bit"},
    {K::datain_ack_bit, "datain_ack_bit", "flags", N::read_multi, P::reply,
     "a Data-In has the A bit (DataACK) at ErrorRecoveryLevel 0"},
    // order
    {K::datain_swap, "datain_swap", "order", N::read_multi, P::reply, "two Data-In PDUs swapped"},
    {K::status_before_data, "status_before_data", "order", N::read, P::reply,
     "the SCSI Response goes out before the Data-In"},
    {K::write_status_early, "write_status_early", "order", N::write_r2t, P::r2t,
     "GOOD status right after the first R2T, before the data it asks for"},
    // truncation
    {K::datain_truncated_close, "datain_truncated_close", "truncation", N::read, P::reply,
     "the connection closes in the middle of a Data-In's data segment"},
    {K::header_truncated_close, "header_truncated_close", "truncation", N::any, P::reply,
     "the connection closes after 20 bytes of the status PDU's header"},
    // duplication
    {K::datain_duplicate, "datain_duplicate", "duplication", N::read, P::reply, "a Data-In sent twice"},
    {K::status_duplicate, "status_duplicate", "duplication", N::any, P::reply, "the status PDU sent twice"},
    {K::r2t_duplicate, "r2t_duplicate", "duplication", N::write_r2t, P::r2t, "an R2T sent twice"},
    // status and data
    {K::status_without_data, "status_without_data", "status", N::read, P::reply,
     "GOOD status without any Data-In and without a residual"},
    {K::data_after_status, "data_after_status", "status", N::read, P::reply, "a Data-In after the command's status"},
    {K::zero_length_final, "zero_length_final", "status", N::read, P::reply,
     "the last data segment replaced by a zero-length final Data-In at the end offset"},
    {K::target_failure, "target_failure", "status", N::any, P::command,
     "SCSI Response with iSCSI Response 0x01 (target failure)", false},
    {K::busy, "busy", "status", N::any, P::command, "SCSI status BUSY", false},
    // rejects
    {K::reject_command, "reject_command", "reject", N::any, P::command,
     "the SCSI Command is rejected; its CmdSN is not counted (a hole, as on a real target)"},
    {K::reject_data_out, "reject_data_out", "reject", N::write_r2t, P::data_out,
     "a Data-Out of the victim is rejected and its data dropped"},
    {K::reject_truncated, "reject_truncated", "reject", N::any, P::command,
     "a Reject whose data segment holds 20 bytes instead of a header"},
    // asynchronous events
    {K::async_luns_changed, "async_luns_changed", "async", N::any, P::command,
     "AsyncEvent 0, sense 3F/0E REPORTED LUNS DATA HAS CHANGED", false},
    {K::async_capacity_changed, "async_capacity_changed", "async", N::any, P::command,
     "AsyncEvent 0, sense 2A/09 CAPACITY DATA HAS CHANGED", false},
    {K::async_logout_request, "async_logout_request", "async", N::any, P::command,
     "AsyncEvent 1 (logout requested, Parameter3 1 s)", false},
    {K::async_logout_twice, "async_logout_twice", "async", N::any, P::command, "AsyncEvent 1 twice", false},
    {K::async_connection_drop, "async_connection_drop", "async", N::any, P::command,
     "AsyncEvent 2 (connection dropped, Time2Wait 0), then the close"},
    {K::async_session_drop, "async_session_drop", "async", N::any, P::command,
     "AsyncEvent 3 (all connections dropped, Time2Wait 0), then the close"},
    {K::async_renegotiate, "async_renegotiate", "async", N::any, P::command,
     "AsyncEvent 4 (renegotiation requested, Parameter3 1 s)", false},
    {K::async_vendor, "async_vendor", "async", N::any, P::command, "AsyncEvent 255 (vendor specific) with data", false},
    {K::async_reserved, "async_reserved", "async", N::any, P::command, "AsyncEvent 5 (reserved)"},
    // stalls
    {K::stall_command, "stall_command", "stall", N::any, P::command,
     "the command is never answered (task management still is)", false},
    {K::stall_connection, "stall_connection", "stall", N::any, P::command,
     "the target stops answering anything on the connection"},
    {K::stall_mid_data, "stall_mid_data", "stall", N::read_multi, P::reply,
     "half the Data-In, then nothing more for the command", false},
    // resets
    {K::drop_on_command, "drop_on_command", "reset", N::any, P::command,
     "the connection drops when the command arrives"},
    {K::drop_mid_data, "drop_mid_data", "reset", N::read_multi, P::reply,
     "the connection drops after half the Data-In"},
    {K::drop_after_status, "drop_after_status", "reset", N::any, P::reply,
     "the connection drops right after the command's status"},
};

std::size_t data_in_count(const std::vector<out_pdu>& v)
{
    return static_cast<std::size_t>(std::count_if(v.begin(), v.end(), [](const out_pdu& p) { return p.is_data_in(); }));
}

// Index of the n-th Data-In (0-based), or npos.
std::size_t nth_data_in(const std::vector<out_pdu>& v, std::size_t n)
{
    for (std::size_t i = 0; i < v.size(); ++i)
        if (v[i].is_data_in() && n-- == 0)
            return i;
    return std::string_view::npos;
}

std::size_t status_index(const std::vector<out_pdu>& v)
{
    for (std::size_t i = v.size(); i-- > 0;)
        if (v[i].has_status())
            return i;
    return std::string_view::npos;
}

// A Data-In after the first, chosen by the seed (the reply has two or more).
std::size_t later_data_in(fault_context& ctx, const std::vector<out_pdu>& v)
{
    const std::size_t n = data_in_count(v);
    return nth_data_in(v, 1 + ctx.random->below(static_cast<std::uint32_t>(n - 1)));
}

// The last Data-In that carries data.
std::size_t last_data(const std::vector<out_pdu>& v)
{
    for (std::size_t i = v.size(); i-- > 0;)
        if (v[i].is_data_in() && !v[i].data.empty())
            return i;
    return std::string_view::npos;
}

constexpr std::uint8_t flag_s = 0x01, flag_u = 0x02, flag_o = 0x04, flag_a = 0x40, flag_f = 0x80;

void set_flags(out_pdu& p, std::uint8_t set, std::uint8_t clear = 0)
{
    const auto f = std::to_integer<std::uint8_t>(p.bhs[bhs_at::flags]);
    p.bhs[bhs_at::flags] = std::byte{static_cast<std::uint8_t>((f & ~clear) | set)};
}

// A SCSI Response GOOD (no residual) standing in for a status-bearing Data-In.
out_pdu response_from(const out_pdu& with_status)
{
    pdu::scsi_response r;
    r.initiator_task_tag = with_status.field(bhs_at::itt);
    r.stat_sn = with_status.field(bhs_at::stat_sn);
    r.exp_cmd_sn = with_status.field(bhs_at::exp_cmd_sn);
    r.max_cmd_sn = with_status.field(bhs_at::max_cmd_sn);
    r.status = 0;
    out_pdu out;
    r.encode(out.bhs);
    return out;
}

} // namespace

std::span<const fault_info> fault_catalog() { return catalog; }

const fault_info& info(fault_kind k)
{
    for (const auto& f : catalog)
        if (f.kind == k)
            return f;
    throw std::logic_error("fault kind missing from the catalog");
}

std::optional<fault_kind> parse_fault(std::string_view name)
{
    for (const auto& f : catalog)
        if (f.name == name)
            return f.kind;
    return std::nullopt;
}

// ---- out_pdu ----

std::uint8_t out_pdu::opcode() const noexcept { return pdu::raw_opcode(bhs); }
bool out_pdu::is_data_in() const noexcept { return opcode() == static_cast<std::uint8_t>(pdu::opcode::data_in); }
bool out_pdu::is_r2t() const noexcept { return opcode() == static_cast<std::uint8_t>(pdu::opcode::r2t); }
bool out_pdu::has_status() const noexcept
{
    return opcode() == static_cast<std::uint8_t>(pdu::opcode::scsi_response) ||
           (is_data_in() && (std::to_integer<std::uint8_t>(bhs[1]) & flag_s) != 0);
}
std::uint32_t out_pdu::field(std::size_t offset) const noexcept { return pdu::load32(bhs.data() + offset); }
void out_pdu::set_field(std::size_t offset, std::uint32_t v) noexcept { pdu::store32(bhs.data() + offset, v); }
void out_pdu::set_dsl(std::uint32_t n) noexcept { pdu::store24(bhs.data() + 5, n); }
void out_pdu::set_data(std::vector<std::byte> d)
{
    data = std::move(d);
    set_dsl(static_cast<std::uint32_t>(data.size()));
}

// ---- mutations ----

bool mutate_reply(fault_kind k, fault_context& ctx, std::vector<out_pdu>& reply)
{
    const std::size_t npos = std::string_view::npos;
    const std::size_t st = status_index(reply);
    const std::size_t n_data = data_in_count(reply);
    auto mark = [](out_pdu& p) -> out_pdu& {
        p.fault = true;
        return p;
    };
    switch (k) {
    case K::datain_itt_other: {
        const std::size_t i = nth_data_in(reply, ctx.random->below(static_cast<std::uint32_t>(n_data)));
        if (i == npos)
            return false;
        // Without its status: a whole, GOOD reply under another READ's ITT
        // would be a lie no initiator can see. As it is, the other READ
        // (whose own Data-In comes later) sees DataSN or offset repeat.
        out_pdu& p = mark(reply[i]);
        p.set_field(bhs_at::itt, ctx.other_read_itt ? *ctx.other_read_itt : 0x0badf00d);
        set_flags(p, 0, flag_s | flag_o | flag_u);
        p.set_field(bhs_at::stat_sn, 0);
        p.set_field(bhs_at::residual, 0);
        return true;
    }
    case K::response_itt_unknown:
        if (st == npos)
            return false;
        mark(reply[st]).set_field(bhs_at::itt, 0x0badf00d);
        return true;
    case K::datain_offset_gap:
    case K::datain_offset_overlap: {
        if (n_data < 2)
            return false;
        out_pdu& p = mark(reply[later_data_in(ctx, reply)]);
        const std::uint32_t off = p.field(bhs_at::buffer_offset);
        p.set_field(bhs_at::buffer_offset, k == K::datain_offset_gap ? off + 512 : off - 512);
        return true;
    }
    case K::datain_offset_past_edtl: {
        const std::size_t i = nth_data_in(reply, ctx.random->below(static_cast<std::uint32_t>(n_data)));
        if (i == npos)
            return false;
        mark(reply[i]).set_field(bhs_at::buffer_offset, ctx.edtl);
        return true;
    }
    case K::datain_short_good: {
        const std::size_t i = last_data(reply);
        if (i == npos)
            return false;
        std::vector<std::byte> d = reply[i].data;
        d.resize(d.size() - std::min<std::size_t>(512, d.size()));
        mark(reply[i]).set_data(std::move(d));
        return true;
    }
    case K::datain_dsl_over_mrdsl: {
        const std::size_t i = nth_data_in(reply, 0);
        if (i == npos)
            return false;
        // The header alone must end it: the initiator reads no further.
        mark(reply[i]).set_dsl(std::min<std::uint32_t>(ctx.initiator_mrdsl + 512, 0xffffff));
        return true;
    }
    case K::datain_dsl_lie: {
        const std::size_t i = nth_data_in(reply, 0);
        if (i == npos)
            return false;
        out_pdu& p = mark(reply[i]);
        p.set_dsl(static_cast<std::uint32_t>(p.data.size() + 1024));
        return true;
    }
    case K::residual_bogus:
        if (st == npos)
            return false;
        set_flags(mark(reply[st]), flag_u, flag_o);
        reply[st].set_field(bhs_at::residual, ctx.edtl + 4096);
        return true;
    case K::statsn_skip:
        if (st == npos)
            return false;
        mark(reply[st]).set_field(bhs_at::stat_sn, reply[st].field(bhs_at::stat_sn) + 3);
        return true;
    case K::statsn_stale:
        if (st == npos)
            return false;
        mark(reply[st]).set_field(bhs_at::stat_sn, reply[st].field(bhs_at::stat_sn) - 1);
        --*ctx.next_stat_sn; // the next status takes the StatSN this one did not
        return true;
    case K::expcmdsn_ahead:
    case K::expcmdsn_behind:
    case K::maxcmdsn_closed:
    case K::maxcmdsn_invalid:
    case K::maxcmdsn_beyond: {
        if (st == npos)
            return false;
        out_pdu& p = mark(reply[st]);
        const std::uint32_t exp = p.field(bhs_at::exp_cmd_sn);
        const std::uint32_t max = p.field(bhs_at::max_cmd_sn);
        switch (k) {
        case K::expcmdsn_ahead:
            p.set_field(bhs_at::exp_cmd_sn, exp + 5);
            p.set_field(bhs_at::max_cmd_sn, max + 5);
            break;
        case K::expcmdsn_behind:
            p.set_field(bhs_at::exp_cmd_sn, exp - 1000);
            p.set_field(bhs_at::max_cmd_sn, max - 1000);
            break;
        case K::maxcmdsn_closed: p.set_field(bhs_at::max_cmd_sn, exp - 1); break;
        case K::maxcmdsn_invalid: p.set_field(bhs_at::max_cmd_sn, exp - 5); break;
        default: p.set_field(bhs_at::max_cmd_sn, max + 1000); break;
        }
        return true;
    }
    case K::datasn_skip:
    case K::datasn_repeat: {
        if (n_data < 2)
            return false;
        out_pdu& p = mark(reply[later_data_in(ctx, reply)]);
        const std::uint32_t sn = p.field(bhs_at::data_sn);
        p.set_field(bhs_at::data_sn, k == K::datasn_skip ? sn + 1 : sn - 1);
        return true;
    }
    case K::expdatasn_wrong:
        if (st == npos || reply[st].is_data_in())
            return false;
        mark(reply[st]).set_field(bhs_at::exp_data_sn, reply[st].field(bhs_at::exp_data_sn) + 1);
        return true;
    case K::datain_s_without_f: {
        if (n_data < 2)
            return false;
        const std::size_t i = nth_data_in(reply, 0);
        set_flags(mark(reply[i]), flag_s, flag_f);
        return true;
    }
    case K::residual_both_flags:
        if (st == npos)
            return false;
        set_flags(mark(reply[st]), flag_o | flag_u);
        return true;
    case K::datain_ack_bit: {
        if (n_data < 2)
            return false;
        set_flags(mark(reply[nth_data_in(reply, 0)]), flag_a);
        return true;
    }
    case K::datain_swap: {
        if (n_data < 2)
            return false;
        const std::size_t j = later_data_in(ctx, reply);
        std::size_t i = j;
        while (i-- > 0 && !reply[i].is_data_in()) {
        }
        std::swap(reply[i], reply[j]);
        mark(reply[i]);
        mark(reply[j]);
        return true;
    }
    case K::status_before_data: {
        if (st == npos || reply[st].is_data_in() || n_data == 0)
            return false;
        out_pdu s = std::move(reply[st]);
        reply.erase(reply.begin() + static_cast<std::ptrdiff_t>(st));
        reply.insert(reply.begin(), std::move(s));
        mark(reply.front());
        return true;
    }
    case K::datain_truncated_close: {
        const std::size_t i = last_data(reply);
        if (i == npos)
            return false;
        out_pdu& p = mark(reply[i]);
        p.cut = pdu::bhs_size + p.data.size() / 2;
        reply.resize(i + 1);
        return true;
    }
    case K::header_truncated_close:
        if (st == npos)
            return false;
        mark(reply[st]).cut = 20;
        reply.resize(st + 1);
        return true;
    case K::datain_duplicate: {
        const std::size_t i = nth_data_in(reply, ctx.random->below(static_cast<std::uint32_t>(n_data)));
        if (i == npos)
            return false;
        out_pdu copy = reply[i];
        if (copy.has_status()) {
            // Duplicate the data, not the status: the copy goes first, without S/F.
            set_flags(copy, 0, flag_s | flag_f | flag_o | flag_u);
            copy.set_field(bhs_at::stat_sn, 0);
            copy.set_field(bhs_at::residual, 0);
        }
        reply.insert(reply.begin() + static_cast<std::ptrdiff_t>(i), mark(copy));
        return true;
    }
    case K::status_duplicate:
        if (st == npos)
            return false;
        reply.insert(reply.begin() + static_cast<std::ptrdiff_t>(st) + 1, reply[st]);
        mark(reply[st + 1]);
        return true;
    case K::status_without_data: {
        if (st == npos || n_data == 0)
            return false;
        out_pdu s = reply[st].is_data_in() ? response_from(reply[st]) : reply[st];
        reply.clear();
        reply.push_back(std::move(s));
        mark(reply.back());
        return true;
    }
    case K::data_after_status: {
        const std::size_t i = nth_data_in(reply, 0);
        if (i == npos || st == npos)
            return false;
        out_pdu copy = reply[i];
        set_flags(copy, 0, flag_s | flag_o | flag_u);
        copy.set_field(bhs_at::stat_sn, 0);
        copy.set_field(bhs_at::residual, 0);
        reply.push_back(mark(copy));
        return true;
    }
    case K::zero_length_final: {
        const std::size_t i = last_data(reply);
        if (i == npos)
            return false;
        out_pdu& p = mark(reply[i]);
        p.set_field(bhs_at::buffer_offset, p.field(bhs_at::buffer_offset) + static_cast<std::uint32_t>(p.data.size()));
        p.set_data({});
        set_flags(p, flag_f);
        return true;
    }
    case K::drop_mid_data: {
        if (n_data < 2)
            return false;
        const std::size_t keep = nth_data_in(reply, n_data / 2 - 1);
        reply.resize(keep + 1);
        mark(reply.back()).close_after = true;
        return true;
    }
    case K::drop_after_status:
        if (reply.empty())
            return false;
        mark(reply.back()).close_after = true;
        return true;
    default: return false;
    }
}

bool mutate_r2ts(fault_kind k, fault_context& ctx, std::vector<out_pdu>& r2ts)
{
    if (r2ts.empty())
        return false;
    out_pdu& p = r2ts.front();
    p.fault = true;
    switch (k) {
    case K::r2t_itt_other: p.set_field(bhs_at::itt, ctx.other_read_itt ? *ctx.other_read_itt : 0x0badf00d); return true;
    case K::r2t_ttt_reserved: p.set_field(bhs_at::ttt, 0xffffffff); return true;
    case K::r2t_offset_past_edtl: p.set_field(bhs_at::buffer_offset, ctx.edtl); return true;
    case K::r2t_over_burst: p.set_field(bhs_at::desired_length, ctx.max_burst + 512); return true;
    case K::r2t_zero_length: p.set_field(bhs_at::desired_length, 0); return true;
    case K::r2tsn_skip: p.set_field(bhs_at::r2t_sn, p.field(bhs_at::r2t_sn) + 1); return true;
    case K::r2tsn_repeat:
        // Called for the victim's second R2T.
        p.set_field(bhs_at::r2t_sn, p.field(bhs_at::r2t_sn) - 1);
        return true;
    case K::r2t_duplicate: r2ts.push_back(p); return true;
    default: p.fault = false; return false;
    }
}

} // namespace ivs::test::chaos
