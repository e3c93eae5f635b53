// The chaos target's non-SCSI exchanges: task management (RFC 7143 §11.5,
// §11.6), NOP (§11.18, §11.19), Text (§11.10), Logout (§11.14), and the
// PDUs command-phase faults add (async events §11.9, rejects §11.17, ...).
#include "test/support/chaos_target_impl.hpp"

#include "pdu/bytes.hpp"
#include "pdu/lun.hpp"

#include <algorithm>

namespace ivs::test::chaos {

namespace {
constexpr std::uint32_t reserved = pdu::reserved_tag;
} // namespace

// ---- task management (§11.5, §11.6) ----

void chaos_target::impl::on_tmf(chaos_connection& c, const received_pdu& p)
{
    const auto r = p.as<pdu::task_mgmt_request>();
    pdu::task_mgmt_response rsp;
    rsp.initiator_task_tag = r.initiator_task_tag;
    rsp.response = pdu::tmf_response::function_complete;
    std::uint16_t lun = 0;
    (void)pdu::decode_lun(r.lun, lun);
    auto drop_held = [&](auto&& match) {
        // Commands waiting for their CmdSN turn are tasks too: they end, and
        // their CmdSN counts as received when its turn comes (an empty slot).
        for (auto& h : c.held)
            if (h.op() == pdu::opcode::scsi_command && match(h)) {
                pdu::nop_out slot;
                slot.initiator_task_tag = reserved;
                slot.cmd_sn = h.cmd_sn();
                pdu::bhs_bytes b;
                slot.encode(b);
                h.bhs = b; // delivered as a NOP-Out without a reply
                h.data.clear();
            }
    };
    switch (r.function) {
    case pdu::tmf_function::abort_task: {
        const bool held = std::any_of(c.held.begin(), c.held.end(), [&](const received_pdu& h) {
            return h.op() == pdu::opcode::scsi_command && h.itt() == r.referenced_task_tag;
        });
        if (c.tasks.count(r.referenced_task_tag)) {
            remove_task(c, r.referenced_task_tag);
        } else if (held) {
            drop_held([&](const received_pdu& h) { return h.itt() == r.referenced_task_tag; });
        } else if (pdu::serial32{r.ref_cmd_sn} >= pdu::serial32{c.link->exp_cmd_sn} &&
                   pdu::serial32{r.ref_cmd_sn} < pdu::serial32{r.cmd_sn} &&
                   pdu::serial32{r.ref_cmd_sn} <= pdu::serial32{c.accept_max}) {
            // §11.5.1 b): never arrived but within the window: counts as received.
            if (r.ref_cmd_sn == c.link->exp_cmd_sn) {
                ++c.link->exp_cmd_sn;
                deliver_in_order(c);
            } else {
                received_pdu slot;
                pdu::nop_out n;
                n.initiator_task_tag = reserved;
                n.cmd_sn = r.ref_cmd_sn;
                n.encode(slot.bhs);
                c.held.push_back(slot);
            }
        } else {
            rsp.response = pdu::tmf_response::task_does_not_exist;
        }
        break;
    }
    case pdu::tmf_function::abort_task_set:
    case pdu::tmf_function::clear_task_set:
    case pdu::tmf_function::logical_unit_reset: {
        std::vector<std::uint32_t> victims;
        for (const auto& [itt, t] : c.tasks)
            if (t.key.lun == lun)
                victims.push_back(itt);
        for (auto itt : victims)
            remove_task(c, itt);
        drop_held([&](const received_pdu& h) {
            std::uint16_t l = 0;
            (void)pdu::decode_lun(pdu::load64(h.bhs.data() + 8), l);
            return l == lun;
        });
        break;
    }
    case pdu::tmf_function::target_warm_reset:
    case pdu::tmf_function::target_cold_reset: {
        std::vector<std::uint32_t> victims;
        for (const auto& [itt, t] : c.tasks)
            victims.push_back(itt);
        for (auto itt : victims)
            remove_task(c, itt);
        drop_held([](const received_pdu&) { return true; });
        if (r.function == pdu::tmf_function::target_cold_reset)
            c.close_after_flush = true;
        break;
    }
    default: rsp.response = pdu::tmf_response::function_not_supported; break;
    }
    enqueue(c, make(c, rsp, true));
}

void chaos_target::impl::remove_task(chaos_connection& c, std::uint32_t itt)
{
    const auto it = c.tasks.find(itt);
    if (it == c.tasks.end())
        return;
    if (it->second.counted)
        --c.active;
    // Unsent data and R2Ts of the task go; a status already numbered stays
    // (taking it back would leave a StatSN gap).
    std::erase_if(c.outq, [&](const out_pdu& o) {
        return o.field(bhs_at::itt) == itt && !o.has_status() && (o.is_data_in() || o.is_r2t());
    });
    std::erase(c.ready, itt);
    c.tasks.erase(it);
}

// ---- NOP, Text, Logout ----

void chaos_target::impl::on_nop_out(chaos_connection& c, const received_pdu& p)
{
    const auto n = p.as<pdu::nop_out>();
    if (n.initiator_task_tag == reserved) {
        // An answer to our ping (at most our MaxRecvDataSegmentLength of its
        // data: the reader saw to that), or an empty CmdSN slot.
        if (c.ping_ttt && n.target_transfer_tag == *c.ping_ttt)
            c.ping_ttt.reset();
        return;
    }
    pdu::nop_in r;
    r.initiator_task_tag = n.initiator_task_tag;
    r.lun = n.lun;
    std::vector<std::byte> echo(p.data.begin(), p.data.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(
                                                                     p.data.size(), c.initiator_mrdsl)));
    enqueue(c, make(c, r, true, std::move(echo)));
}

void chaos_target::impl::on_text(chaos_connection& c, const received_pdu& p)
{
    c.renegotiation_expected = false;
    const auto t = p.as<pdu::text_request>();
    pdu::text_list keys;
    try {
        keys = p.text();
    } catch (const script_failure&) {
    }
    pdu::text_list reply;
    for (const auto& k : keys) {
        if (k.key == "SendTargets")
            reply.push_back({"TargetName", "iqn.2026-11.org.iscsi-vscsi.test:disk"});
        else if (k.key == "MaxRecvDataSegmentLength")
            reply.push_back({k.key, std::to_string(params.mrdsl)}); // declared, not agreed (§13.12)
        else
            reply.push_back(k); // agreed as offered
    }
    pdu::text_response r;
    r.final_bit = true;
    r.initiator_task_tag = t.initiator_task_tag;
    r.lun = t.lun;
    enqueue(c, make(c, r, true, text_bytes(reply)));
}

void chaos_target::impl::on_logout(chaos_connection& c, const received_pdu& p)
{
    const auto r = p.as<pdu::logout_request>();
    c.logout_expected = false;
    c.renegotiation_expected = false;
    c.logout_received = true;
    pdu::logout_response rsp;
    rsp.initiator_task_tag = r.initiator_task_tag;
    rsp.response = pdu::logout_response_code::closed_successfully;
    enqueue(c, make(c, rsp, true));
    c.close_after_flush = true;
}

// ---- PDUs that command-phase faults add ----

void chaos_target::impl::inject(chaos_connection& c, const chaos_task& t)
{
    auto async = [&](std::uint8_t event, std::vector<std::byte> data, std::uint16_t p1, std::uint16_t p2,
                     std::uint16_t p3) {
        pdu::async_message m;
        m.lun = pdu::encode_lun(t.key.lun);
        m.event = static_cast<pdu::async_event>(event);
        m.async_vcode = event == 255 ? 1 : 0;
        m.parameter1 = p1;
        m.parameter2 = p2;
        m.parameter3 = p3;
        enqueue(c, make(c, m, true, std::move(data)));
        c.outq.back().fault = true;
    };
    switch (*kind) {
    case fault_kind::async_luns_changed: return async(0, sense_segment(fixed_sense(0x06, 0x3f, 0x0e)), 0, 0, 0);
    case fault_kind::async_capacity_changed: return async(0, sense_segment(fixed_sense(0x06, 0x2a, 0x09)), 0, 0, 0);
    case fault_kind::async_logout_request: c.logout_expected = true; return async(1, {}, 0, 0, 1);
    case fault_kind::async_logout_twice:
        c.logout_expected = true;
        async(1, {}, 0, 0, 1);
        return async(1, {}, 0, 0, 1);
    case fault_kind::async_connection_drop:
        c.close_after_flush = true;
        return async(2, {}, 0, 0, 0); // CID 0, Time2Wait 0, Time2Retain 0
    case fault_kind::async_session_drop: c.close_after_flush = true; return async(3, {}, 0, 0, 0);
    case fault_kind::async_renegotiate: c.renegotiation_expected = true; return async(4, {}, 0, 0, 1);
    case fault_kind::async_vendor: return async(255, std::vector<std::byte>(16, std::byte{0x5a}), 0, 0, 0);
    case fault_kind::async_reserved: return async(5, {}, 0, 0, 0);
    case fault_kind::nop_in_unknown_itt: {
        pdu::nop_in n;
        n.initiator_task_tag = 0x0badbeef;
        enqueue(c, make(c, n, true));
        break;
    }
    case fault_kind::nop_ping_oversized: {
        pdu::nop_in n;
        n.target_transfer_tag = c.next_ttt++;
        n.lun = pdu::encode_lun(t.key.lun);
        c.ping_ttt = n.target_transfer_tag;
        const std::size_t size = std::min<std::size_t>(params.mrdsl + 512, c.initiator_mrdsl);
        std::vector<std::byte> data(size);
        for (std::size_t i = 0; i < size; ++i)
            data[i] = std::byte(i * 7);
        enqueue(c, make(c, n, false, std::move(data)));
        break;
    }
    case fault_kind::unknown_opcode: {
        out_pdu o;
        o.bhs[0] = std::byte{0x2a};
        o.bhs[1] = std::byte{0x80};
        o.set_field(bhs_at::itt, reserved);
        o.set_field(bhs_at::stat_sn, c.link->stat_sn);
        o.set_field(bhs_at::exp_cmd_sn, c.link->exp_cmd_sn);
        o.set_field(bhs_at::max_cmd_sn, c.accept_max);
        enqueue(c, std::move(o));
        break;
    }
    case fault_kind::reject_truncated: {
        pdu::scsi_command cmd = t.cmd;
        pdu::bhs_bytes b;
        cmd.encode(b);
        pdu::reject r;
        r.reason = pdu::reject_reason::protocol_error;
        enqueue(c, make(c, r, true, std::vector<std::byte>(b.begin(), b.begin() + 20)));
        break;
    }
    default: return;
    }
    c.outq.back().fault = true;
}

void chaos_target::impl::send_reject(chaos_connection& c, std::uint8_t reason, std::span<const std::byte> rejected)
{
    pdu::reject r;
    r.reason = reason;
    enqueue(c, make(c, r, true, std::vector<std::byte>(rejected.begin(), rejected.end())));
    c.outq.back().fault = true;
}

} // namespace ivs::test::chaos
