// The chaos target's SCSI side: commands against the RAM LUNs, READ data as
// Data-In within the negotiated limits (§11.7), WRITE data through immediate
// data, unsolicited Data-Out and R2Ts (§11.8, §4.2.5.2), the SCSI Response
// (§11.4), and the faults that act on one command's exchange.
#include "test/support/chaos_target_impl.hpp"

#include "test/support/chaos_blocks.hpp"
#include "pdu/bytes.hpp"
#include "pdu/lun.hpp"

#include <algorithm>
#include <cstring>

namespace ivs::test::chaos {

namespace {

constexpr std::uint8_t op_tur = 0x00, op_inquiry = 0x12, op_read_capacity10 = 0x25, op_read10 = 0x28, op_write10 = 0x2a,
                       op_sync10 = 0x35, op_read16 = 0x88, op_write16 = 0x8a, op_report_luns = 0xa0;
constexpr std::uint8_t status_good = 0x00, status_check_condition = 0x02, status_busy = 0x08;

std::uint8_t cdb_at(const pdu::scsi_command& c, std::size_t i) { return std::to_integer<std::uint8_t>(c.cdb[i]); }

command_key key_of(const pdu::scsi_command& c)
{
    command_key k;
    (void)pdu::decode_lun(c.lun, k.lun);
    switch (cdb_at(c, 0)) {
    case op_read10:
    case op_write10:
        k.op = cdb_at(c, 0) == op_read10 ? 'R' : 'W';
        k.lba = pdu::load32(c.cdb.data() + 2);
        k.blocks = pdu::load16(c.cdb.data() + 7);
        break;
    case op_read16:
    case op_write16:
        k.op = cdb_at(c, 0) == op_read16 ? 'R' : 'W';
        k.lba = pdu::load64(c.cdb.data() + 2);
        k.blocks = pdu::load32(c.cdb.data() + 10);
        break;
    default: break;
    }
    return k;
}

void uncount(chaos_connection& c, chaos_task& t)
{
    if (t.counted) {
        --c.active;
        t.counted = false;
    }
}

} // namespace

bool chaos_target::impl::deliver_command(chaos_connection& c, const received_pdu& p)
{
    chaos_task t;
    t.cmd = p.command();
    t.itt = t.cmd.initiator_task_tag;
    t.cmd_sn = t.cmd.cmd_sn;
    t.key = key_of(t.cmd);
    if (c.tasks.count(t.itt)) {
        violation(c, "SCSI Command with ITT " + std::to_string(t.itt) + " of a task still running");
        return true;
    }
    t.victim = kind && victim && *victim == t.key && t.key.op != 'N' && (persistent || fired == 0);
    if (t.victim && info(*kind).phase == fault_phase::command) {
        switch (*kind) {
        case fault_kind::reject_command: {
            fire(c, "command rejected");
            const std::uint8_t reasons[] = {pdu::reject_reason::protocol_error,
                                            pdu::reject_reason::command_not_supported,
                                            pdu::reject_reason::invalid_pdu_field};
            send_reject(c, reasons[fault_random.below(3)], p.bhs);
            return false; // the CmdSN is not counted (§4.2.2.1): a hole
        }
        case fault_kind::drop_on_command:
            fire(c, "command arrived");
            close(c, "fault: drop on command");
            return true;
        case fault_kind::stall_connection:
            fire(c, "command arrived");
            c.black_hole = true;
            c.outq.clear();
            return true;
        case fault_kind::stall_command:
            fire(c, "command arrived");
            t.stalled = true;
            t.counted = true;
            ++c.active;
            c.tasks.emplace(t.itt, std::move(t));
            return true;
        case fault_kind::target_failure:
            fire(c, "command arrived");
            respond(c, t, status_good, {}, pdu::scsi_service_response::target_failure);
            return true;
        case fault_kind::busy:
            fire(c, "command arrived");
            respond(c, t, status_busy);
            return true;
        case fault_kind::sense_length_lie: {
            fire(c, "command arrived");
            pdu::scsi_response r;
            r.initiator_task_tag = t.itt;
            r.status = status_check_condition;
            std::vector<std::byte> seg = sense_segment(fixed_sense(0x03, 0x11, 0x00));
            pdu::store16(seg.data(), 200); // SenseLength past the 20-byte segment
            enqueue(c, make(c, r, true, std::move(seg)));
            c.outq.back().fault = true;
            return true;
        }
        case fault_kind::async_connection_drop:
        case fault_kind::async_session_drop:
            fire(c, "command arrived");
            inject(c, t);
            return true; // the connection goes: the command with it
        default:
            fire(c, "command arrived");
            inject(c, t); // an extra PDU; the command runs normally
            break;
        }
    }
    t.counted = true;
    ++c.active;
    const std::uint32_t itt = t.itt;
    chaos_task& live = c.tasks.emplace(itt, std::move(t)).first->second;
    if (live.key.op == 'W')
        start_write(c, live, p);
    if (!c.closed)
        c.ready.push_back(itt);
    return true;
}

bool chaos_target::impl::execute_ready(chaos_connection& c)
{
    if (c.ready.empty())
        return false;
    std::vector<std::uint32_t> order = std::move(c.ready);
    c.ready.clear();
    if (params.reorder)
        for (std::size_t i = order.size(); i > 1; --i)
            std::swap(order[i - 1], order[random.below(static_cast<std::uint32_t>(i))]);
    for (std::uint32_t itt : order) {
        if (c.closed)
            break;
        const auto it = c.tasks.find(itt);
        if (it != c.tasks.end())
            execute(c, it->second);
    }
    return true;
}

void chaos_target::impl::execute(chaos_connection& c, chaos_task& t)
{
    const std::uint32_t itt = t.itt;
    if (t.stalled)
        return;
    if (t.key.lun >= luns.size()) {
        respond(c, t, status_check_condition, fixed_sense(0x05, 0x25, 0x00)); // LOGICAL UNIT NOT SUPPORTED
        c.tasks.erase(itt);
        return;
    }
    const std::uint8_t op = cdb_at(t.cmd, 0);
    if ((t.key.op == 'R' || t.key.op == 'W') && t.key.lba + t.key.blocks > lun_blocks) {
        respond(c, t, status_check_condition, fixed_sense(0x05, 0x21, 0x00)); // LBA OUT OF RANGE
        c.tasks.erase(itt);
        return;
    }
    switch (op) {
    case op_read10:
    case op_read16: return execute_read(c, t);
    case op_write10:
    case op_write16:
        issue_r2ts(c, t);
        if (!c.closed && t.unsolicited_next == t.unsolicited_end && t.bursts.empty() && t.next_r2t_offset >= t.needed)
            finish_write(c, t);
        return;
    case op_tur:
    case op_sync10: respond(c, t, status_good); break;
    case op_inquiry: {
        std::vector<std::byte> inq(36);
        inq[2] = std::byte{0x05};
        inq[3] = std::byte{0x02};
        inq[4] = std::byte{31};
        std::memcpy(inq.data() + 8, "CHAOS   RAMDISK         0001", 28);
        respond_data(c, t, inq);
        break;
    }
    case op_read_capacity10: {
        std::vector<std::byte> cap(8);
        pdu::store32(cap.data(), static_cast<std::uint32_t>(lun_blocks - 1));
        pdu::store32(cap.data() + 4, block_size);
        respond_data(c, t, cap);
        break;
    }
    case op_report_luns: {
        std::vector<std::byte> list(8 + 8 * luns.size());
        pdu::store32(list.data(), static_cast<std::uint32_t>(8 * luns.size()));
        for (std::size_t i = 0; i < luns.size(); ++i)
            pdu::store64(list.data() + 8 + 8 * i, pdu::encode_lun(static_cast<std::uint16_t>(i)));
        respond_data(c, t, list);
        break;
    }
    default:
        respond(c, t, status_check_condition, fixed_sense(0x05, 0x20, 0x00)); // INVALID COMMAND OPERATION CODE
        break;
    }
    c.tasks.erase(itt);
}

void chaos_target::impl::respond(chaos_connection& c, chaos_task& t, std::uint8_t status,
                                 std::span<const std::byte> sense, std::uint8_t response)
{
    uncount(c, t);
    pdu::scsi_response r;
    r.initiator_task_tag = t.itt;
    r.response = response;
    r.status = status;
    std::vector<std::byte> data;
    if (!sense.empty())
        data = sense_segment(sense);
    enqueue(c, make(c, r, true, std::move(data)));
    if (t.victim && fired)
        c.outq.back().fault = true;
}

void chaos_target::impl::respond_data(chaos_connection& c, chaos_task& t, std::span<const std::byte> data)
{
    uncount(c, t);
    const std::uint32_t edtl = t.cmd.expected_data_transfer_length;
    const auto n = static_cast<std::uint32_t>(std::min<std::size_t>(edtl, data.size()));
    pdu::data_in d;
    d.initiator_task_tag = t.itt;
    d.lun = t.cmd.lun;
    d.final_bit = true;
    d.status_bit = true;
    d.residual_underflow = n < edtl;
    d.residual_count = edtl - n;
    enqueue(c, make(c, d, true, std::vector<std::byte>(data.begin(), data.begin() + n)));
}

// ---- READ ----

void chaos_target::impl::execute_read(chaos_connection& c, chaos_task& t)
{
    const std::uint32_t itt = t.itt;
    const std::uint32_t edtl = t.cmd.expected_data_transfer_length;
    const std::uint32_t want = t.key.blocks * block_size;
    std::uint32_t send = std::min(edtl, want);
    std::uint32_t under = edtl > want ? edtl - want : 0;
    const std::uint32_t over = want > edtl ? want - edtl : 0;
    if (t.victim && kind == fault_kind::read_underflow) {
        fire(c, "READ executed short");
        send = (send / 2) & ~(block_size - 1);
        under = edtl - send;
    }
    const bool stall_half = t.victim && kind == fault_kind::stall_mid_data;
    const bool separate = !params.collapse_status ||
                          (t.victim && (kind == fault_kind::status_before_data || kind == fault_kind::expdatasn_wrong));
    const std::span<const std::byte> bytes = lun_range(t.key.lun, t.key.lba, send);

    std::vector<out_pdu> reply;
    const std::uint32_t seg = std::max(block_size, std::min(params.data_in_segment, c.initiator_mrdsl));
    std::uint32_t data_sn = 0;
    std::uint32_t burst_left = params.max_burst;
    for (std::uint32_t off = 0; off < send;) {
        const std::uint32_t n = std::min({seg, send - off, burst_left});
        pdu::data_in d;
        d.initiator_task_tag = itt;
        d.lun = t.cmd.lun;
        d.data_sn = data_sn++;
        d.buffer_offset = off;
        off += n;
        burst_left -= n;
        d.final_bit = off == send || burst_left == 0; // the end of each burst (§11.7.2)
        if (burst_left == 0)
            burst_left = params.max_burst;
        const bool with_status = off == send && !separate && !stall_half;
        if (with_status) {
            uncount(c, t);
            d.status_bit = true;
            d.status = status_good;
            d.residual_underflow = under > 0;
            d.residual_overflow = over > 0;
            d.residual_count = under > 0 ? under : over;
        }
        std::vector<std::byte> chunk(bytes.begin() + (off - n), bytes.begin() + off);
        reply.push_back(make(c, d, with_status, std::move(chunk)));
    }
    if (stall_half) {
        fire(c, "half the Data-In, then silence");
        reply.resize(std::max<std::size_t>(1, reply.size() / 2));
        t.stalled = true; // holds its place in the window until task management ends it
        for (auto& o : reply)
            enqueue(c, std::move(o));
        return;
    }
    if (separate || send == 0) {
        uncount(c, t);
        pdu::scsi_response r;
        r.initiator_task_tag = itt;
        r.status = status_good;
        r.residual_underflow = under > 0;
        r.residual_overflow = over > 0;
        r.residual_count = under > 0 ? under : over;
        r.exp_data_sn = data_sn;
        reply.push_back(make(c, r, true));
    }
    if (t.victim && info(*kind).phase == fault_phase::reply) {
        fault_context ctx{edtl,         c.initiator_mrdsl, params.max_burst, other_read_itt(c, itt), &c.link->stat_sn,
                          &fault_random};
        if (mutate_reply(*kind, ctx, reply))
            fire(c, "READ reply");
    }
    execution& e = executions[t.key];
    e.declared_residual = under;
    e.stored_bytes = 0;
    e.lied = false;
    ++e.count;
    for (auto& o : reply)
        enqueue(c, std::move(o));
    c.tasks.erase(itt);
}

// ---- WRITE ----

void chaos_target::impl::start_write(chaos_connection& c, chaos_task& t, const received_pdu& p)
{
    const std::uint32_t edtl = t.cmd.expected_data_transfer_length;
    t.data.assign(edtl, std::byte{0});
    const auto imm = static_cast<std::uint32_t>(p.data.size());
    if (imm > 0 && !params.immediate_data)
        return violation(c, "immediate data although ImmediateData=No (§13.11)");
    if (imm > std::min(edtl, params.first_burst))
        return violation(c, "immediate data beyond FirstBurstLength or the transfer length (§13.14)");
    if (!t.cmd.final_bit && params.initial_r2t)
        return violation(c, "unsolicited Data-Out announced (F=0) although InitialR2T=Yes (§13.10)");
    std::copy(p.data.begin(), p.data.end(), t.data.begin());
    t.received = imm;
    t.unsolicited_next = imm;
    t.unsolicited_end = t.cmd.final_bit ? imm : std::min(edtl, params.first_burst);
    t.needed = edtl;
    if (t.victim && kind == fault_kind::write_underflow) {
        fire(c, "WRITE takes about half");
        t.needed = t.unsolicited_end + (((edtl - t.unsolicited_end) / 2) & ~(block_size - 1));
    }
    t.next_r2t_offset = t.unsolicited_end;
}

void chaos_target::impl::issue_r2ts(chaos_connection& c, chaos_task& t)
{
    if (t.stalled || t.data_rejected)
        return;
    while (!c.closed && t.bursts.size() < params.max_outstanding_r2t && t.next_r2t_offset < t.needed) {
        const std::uint32_t len = std::min(params.max_burst, t.needed - t.next_r2t_offset);
        pdu::r2t r;
        r.initiator_task_tag = t.itt;
        r.lun = t.cmd.lun;
        r.target_transfer_tag = c.next_ttt++;
        r.r2t_sn = t.next_r2t_sn++;
        r.buffer_offset = t.next_r2t_offset;
        r.desired_data_transfer_length = len;
        t.bursts.push_back({r.target_transfer_tag, r.buffer_offset, len, 0, 0});
        t.next_r2t_offset += len;
        std::vector<out_pdu> one;
        one.push_back(make(c, r, false)); // R2T carries the next StatSN without taking it (§11.8)
        bool early_status = false;
        if (t.victim && info(*kind).phase == fault_phase::r2t && !t.r2t_fault_done) {
            if (*kind == fault_kind::write_status_early) {
                early_status = t.r2t_fault_done = true;
                fire(c, "GOOD before the data");
            } else if (*kind != fault_kind::r2tsn_repeat || t.r2ts_sent == 1) {
                fault_context ctx{t.cmd.expected_data_transfer_length,
                                  c.initiator_mrdsl,
                                  params.max_burst,
                                  other_read_itt(c, t.itt),
                                  &c.link->stat_sn,
                                  &fault_random};
                if (mutate_r2ts(*kind, ctx, one)) {
                    t.r2t_fault_done = true;
                    fire(c, "R2T");
                }
            }
        }
        ++t.r2ts_sent;
        for (auto& o : one)
            enqueue(c, std::move(o));
        if (early_status) {
            uncount(c, t);
            pdu::scsi_response rsp;
            rsp.initiator_task_tag = t.itt;
            rsp.status = status_good;
            enqueue(c, make(c, rsp, true));
            c.outq.back().fault = true;
            t.status_sent = true;
            execution& e = executions[t.key];
            e = execution{0, 0, true, e.count + 1};
        }
    }
}

void chaos_target::impl::on_data_out(chaos_connection& c, const received_pdu& p)
{
    const auto d = p.as<pdu::data_out>();
    const auto it = c.tasks.find(d.initiator_task_tag);
    if (it == c.tasks.end() || it->second.key.op != 'W')
        return; // data of a task the target ended (aborted, rejected): dropped, as real targets do
    chaos_task& t = it->second;
    if (t.stalled || t.data_rejected)
        return;
    if (t.victim && kind == fault_kind::reject_data_out) {
        t.data_rejected = true;
        fire(c, "Data-Out rejected");
        send_reject(c, pdu::reject_reason::invalid_pdu_field, p.bhs);
        return;
    }
    const std::uint32_t off = d.buffer_offset;
    const auto len = static_cast<std::uint32_t>(p.data.size());
    const std::string where = "Data-Out ITT " + std::to_string(t.itt) + " TTT " +
                              std::to_string(d.target_transfer_tag) + " DataSN " + std::to_string(d.data_sn) +
                              " offset " + std::to_string(off) + " length " + std::to_string(len);
    bool burst_done = false;
    if (d.target_transfer_tag == pdu::reserved_tag) {
        if (off != t.unsolicited_next || d.data_sn != t.unsolicited_sn || std::uint64_t{off} + len > t.unsolicited_end)
            return violation(c, where + ": unsolicited data expected at offset " + std::to_string(t.unsolicited_next) +
                                    " DataSN " + std::to_string(t.unsolicited_sn) + " up to " +
                                    std::to_string(t.unsolicited_end));
        t.unsolicited_next += len;
        ++t.unsolicited_sn;
        if (d.final_bit != (t.unsolicited_next == t.unsolicited_end))
            return violation(c, where + ": F bit wrong for the unsolicited sequence");
    } else {
        const auto b = std::find_if(t.bursts.begin(), t.bursts.end(),
                                    [&](const chaos_task::burst& x) { return x.ttt == d.target_transfer_tag; });
        if (b == t.bursts.end())
            return violation(c, where + ": no R2T outstanding with this TTT");
        if (off != b->offset + b->got || d.data_sn != b->next_sn || std::uint64_t{off} + len > b->offset + b->length)
            return violation(c, where + ": the R2T asked for offset " + std::to_string(b->offset) + " length " +
                                    std::to_string(b->length) + ", " + std::to_string(b->got) + " bytes and DataSN " +
                                    std::to_string(b->next_sn) + " so far");
        b->got += len;
        ++b->next_sn;
        if (d.final_bit != (b->got == b->length))
            return violation(c, where + ": F bit wrong for the R2T's sequence");
        if (b->got == b->length) {
            t.bursts.erase(b);
            burst_done = true;
        }
    }
    std::copy(p.data.begin(), p.data.end(), t.data.begin() + off);
    t.received += len;
    if (burst_done)
        issue_r2ts(c, t);
    if (!c.closed && t.unsolicited_next == t.unsolicited_end && t.bursts.empty() && t.next_r2t_offset >= t.needed)
        finish_write(c, t);
}

void chaos_target::impl::finish_write(chaos_connection& c, chaos_task& t)
{
    const std::uint32_t itt = t.itt;
    const std::uint32_t edtl = t.cmd.expected_data_transfer_length;
    for (std::uint32_t i = 0; i < t.needed / block_size; ++i) {
        const std::span<const std::byte> b = std::span<const std::byte>(t.data).subspan(i * block_size, block_size);
        const auto id = read_block(b);
        if (!id || id->run != run || id->lun != t.key.lun || id->lba != t.key.lba + i) {
            findings.push_back({"wrong-bytes-written",
                                t.key.describe() + ": block " + std::to_string(i) + " carried " + describe_block(b)});
            break;
        }
    }
    if (t.needed > 0)
        std::memcpy(lun_range(t.key.lun, t.key.lba, t.needed).data(), t.data.data(), t.needed);
    execution& e = executions[t.key];
    e.stored_bytes = t.needed;
    e.declared_residual = edtl - t.needed;
    e.lied = false;
    if (!t.status_sent) {
        ++e.count;
        uncount(c, t);
        pdu::scsi_response r;
        r.initiator_task_tag = itt;
        r.status = status_good;
        r.residual_underflow = t.needed < edtl;
        r.residual_count = edtl - t.needed;
        std::vector<out_pdu> reply;
        reply.push_back(make(c, r, true));
        if (t.victim && info(*kind).phase == fault_phase::reply) {
            fault_context ctx{
                edtl, c.initiator_mrdsl, params.max_burst, other_read_itt(c, itt), &c.link->stat_sn, &fault_random};
            if (mutate_reply(*kind, ctx, reply))
                fire(c, "WRITE status");
        }
        for (auto& o : reply)
            enqueue(c, std::move(o));
    }
    c.tasks.erase(itt);
}

} // namespace ivs::test::chaos
