// The connection loop of bench/null_target: framing with pdu::pdu_reader
// (data segments read straight into the reader's buffer), login, and the full
// feature phase: SCSI commands on the null LUN, Data-In, R2T/Data-Out, NOP,
// Text (SendTargets), Task Management, Logout (RFC 7143 §11).
#include "bench/null_target_connection.hpp"

#include "bench/null_target_tx.hpp"
#include "pdu/bhs.hpp"
#include "pdu/bytes.hpp"
#include "pdu/keys.hpp"
#include "pdu/lun.hpp"
#include "pdu/reader.hpp"
#include "pdu/serial.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

namespace ivs::bench {

namespace {

// A WRITE waiting for its Data-Out (§10.7, §11.8).
struct write_task {
    bool live = false;
    std::uint32_t itt = 0;
    std::uint64_t lun = 0;
    std::uint32_t edtl = 0;            // Expected Data Transfer Length
    std::uint64_t cdb_length = 0;      // bytes the CDB asks for (residuals)
    std::uint32_t unsolicited_end = 0; // immediate + unsolicited Data-Out end here
    std::uint32_t received = 0;
    std::uint32_t next_r2t_offset = 0;
    std::uint32_t r2t_sn = 0;
    std::uint32_t outstanding_r2t = 0;
};

constexpr std::size_t max_tasks = 128;             // TTT low byte: the slot (never 0xff..ff)
constexpr std::size_t direct_read_min = 16 * 1024; // smaller data-segment rests come through rx_
constexpr std::uint32_t text_continue_ttt = 0x7fff0001;

struct residual {
    bool overflow = false, underflow = false;
    std::uint32_t count = 0;
};

// §11.4.5.1: what the command wanted versus what the initiator expected.
residual residual_of(std::uint64_t wanted, std::uint32_t edtl) noexcept
{
    residual r;
    if (wanted > edtl) {
        r.overflow = true;
        r.count = static_cast<std::uint32_t>(std::min<std::uint64_t>(wanted - edtl, UINT32_MAX));
    } else if (wanted < edtl) {
        r.underflow = true;
        r.count = static_cast<std::uint32_t>(edtl - wanted);
    }
    return r;
}

class connection {
public:
    connection(int fd, const connection_settings& s)
        : fd_(fd), settings_(s), lun_(s.lun), login_(s.target), tx_(fd), rx_(16 * 1024), text_in_(pdu::text_limits{})
    {
        pdu::reader_config rc;
        rc.max_recv_data_segment_length = std::max<std::uint32_t>(8192, s.target.max_recv_data_segment_length);
        reader_.configure(rc);
        if (max_tasks < settings_.cmd_window)
            settings_.cmd_window = max_tasks;
    }

    std::string run();

private:
    std::string fail(std::string why)
    {
        failure_ = std::move(why);
        return failure_;
    }
    std::error_code send(const pdu::bhs_bytes& bhs, std::span<const std::byte> data = {})
    {
        return tx_.queue(bhs, data);
    }
    template <class T>
    std::error_code send_pdu(const T& p, std::span<const std::byte> data = {})
    {
        pdu::bhs_bytes b;
        p.encode(b);
        return send(b, data);
    }
    template <class T>
    void stamp(T& p) noexcept
    {
        p.stat_sn = stat_sn_++;
        p.exp_cmd_sn = exp_cmd_sn_;
        p.max_cmd_sn = max_cmd_sn();
    }
    std::uint32_t max_cmd_sn() const noexcept { return exp_cmd_sn_ + settings_.cmd_window - 1; }

    // One complete PDU from the reader; false ends the connection (failure_ says why, "" for logout).
    bool on_pdu();
    bool on_login();
    bool on_command(const pdu::bhs_bytes& bhs);
    bool on_data_out(const pdu::bhs_bytes& bhs);
    bool on_text(const pdu::bhs_bytes& bhs);
    bool on_nop_out(const pdu::bhs_bytes& bhs);
    bool on_task_mgmt(const pdu::bhs_bytes& bhs);
    bool on_logout(const pdu::bhs_bytes& bhs);
    bool reject(const pdu::bhs_bytes& bhs, std::uint8_t reason);
    bool check(std::error_code ec, const char* what);

    bool send_data_in(const pdu::scsi_command& cmd, const scsi_outcome& o);
    bool send_status(std::uint32_t itt, std::uint8_t status, residual r, std::span<const std::byte> sense = {});
    bool issue_r2ts(std::size_t slot);
    bool finish_write(std::size_t slot);

    int fd_;
    connection_settings settings_;
    null_lun lun_;
    login_negotiator login_;
    session_params params_;
    pdu::pdu_reader reader_;
    tx_queue tx_;
    std::vector<std::byte> rx_;
    pdu::text_reassembler login_text_;
    pdu::text_reassembler text_in_;

    bool full_feature_ = false;
    bool logged_out_ = false;
    std::uint32_t stat_sn_ = 1;
    std::uint32_t exp_cmd_sn_ = 0;
    std::array<write_task, max_tasks> tasks_{};
    std::string failure_;
};

bool connection::check(std::error_code ec, const char* what)
{
    if (ec)
        failure_ = std::string(what) + ": " + ec.message();
    return !ec;
}

std::string connection::run()
{
    std::size_t have = 0, pos = 0;
    for (;;) {
        // Feed what is buffered; each stop is handled at once.
        while (pos < have) {
            const auto r = reader_.feed(std::span<const std::byte>(rx_.data() + pos, have - pos));
            pos += r.consumed;
            if (r.ev == pdu::pdu_reader::event::failed)
                return fail("framing: " + reader_.error().message());
            if (r.ev == pdu::pdu_reader::event::pdu_ready && !on_pdu())
                return failure_;
            if (r.ev == pdu::pdu_reader::event::need_more)
                break;
        }
        if (auto ec = tx_.flush())
            return fail("send: " + ec.message());
        if (logged_out_)
            return {};
        // The rest of a large data segment lands straight in the reader's
        // buffer (§11.2 framing); small ones come with the next PDUs in one
        // recv into rx_ (a recv of its own per 4 KiB Data-Out halved the rate).
        auto direct = reader_.direct_read_target();
        if (direct.size() >= direct_read_min) {
            const ssize_t n = ::recv(fd_, direct.data(), direct.size(), 0);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                return n == 0 ? std::string("connection closed mid-PDU")
                              : fail(std::string("recv: ") + std::strerror(errno));
            const auto r = reader_.commit_direct(static_cast<std::size_t>(n));
            if (r.ev == pdu::pdu_reader::event::failed)
                return fail("framing: " + reader_.error().message());
            if (r.ev == pdu::pdu_reader::event::pdu_ready && !on_pdu())
                return failure_;
            continue;
        }
        const ssize_t n = ::recv(fd_, rx_.data(), rx_.size(), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0)
            return {}; // the initiator closed
        if (n < 0)
            return fail(std::string("recv: ") + std::strerror(errno));
        have = static_cast<std::size_t>(n);
        pos = 0;
    }
}

bool connection::on_pdu()
{
    const pdu::bhs_bytes& bhs = reader_.bhs();
    const auto op = static_cast<pdu::opcode>(pdu::raw_opcode(bhs));
    if (!full_feature_) {
        if (op != pdu::opcode::login_request) {
            failure_ = "a PDU other than Login Request before the full feature phase";
            return false;
        }
        return on_login();
    }
    // §4.2.2.1: non-immediate commands take the next CmdSN, in order, within the window.
    if (op != pdu::opcode::data_out && op != pdu::opcode::snack_request) {
        const std::uint32_t cmd_sn = pdu::load32(bhs.data() + 24);
        if (!pdu::raw_immediate(bhs)) {
            if (cmd_sn != exp_cmd_sn_) {
                failure_ =
                    "CmdSN " + std::to_string(cmd_sn) + " where " + std::to_string(exp_cmd_sn_) + " was expected";
                return false;
            }
            ++exp_cmd_sn_;
        }
    }
    switch (op) {
    case pdu::opcode::scsi_command:
        if (params_.discovery)
            return reject(bhs, pdu::reject_reason::protocol_error); // §4.3: no SCSI in discovery
        return on_command(bhs);
    case pdu::opcode::data_out: return on_data_out(bhs);
    case pdu::opcode::nop_out: return on_nop_out(bhs);
    case pdu::opcode::text_request: return on_text(bhs);
    case pdu::opcode::task_mgmt_request: return on_task_mgmt(bhs);
    case pdu::opcode::logout_request: return on_logout(bhs);
    case pdu::opcode::snack_request: return reject(bhs, pdu::reject_reason::snack_reject); // ErrorRecoveryLevel 0
    default:
        failure_ = "unexpected opcode " + std::to_string(pdu::raw_opcode(bhs)) + " in the full feature phase";
        return false;
    }
}

bool connection::reject(const pdu::bhs_bytes& bhs, std::uint8_t reason)
{
    pdu::reject r;
    r.reason = reason;
    stamp(r);
    r.data_segment_length = pdu::bhs_size;
    return check(send_pdu(r, bhs), "send Reject");
}

// ---- login (§6, §11.12) ----

bool connection::on_login()
{
    pdu::login_request req;
    if (!check(pdu::login_request::decode(reader_.bhs(), req), "Login Request"))
        return false;
    login_negotiator::answer a;
    if (login_text_.add(reader_.data(), req.continue_bit)) {
        a = login_.reject(req, iscsi::login_status::initiator_error);
    } else if (!login_text_.complete()) {
        a = login_.on_partial(req);
    } else {
        a = login_.on_request(req, login_text_.pairs());
        login_text_.reset();
    }
    // §11.13.4: StatSN counts from the first Login Response on.
    a.rsp.stat_sn = stat_sn_++;
    a.rsp.exp_cmd_sn = req.cmd_sn;
    a.rsp.max_cmd_sn = req.cmd_sn + settings_.cmd_window - 1;
    a.rsp.data_segment_length = static_cast<std::uint32_t>(a.text.size());
    if (!check(send_pdu(a.rsp, a.text), "send Login Response"))
        return false;
    if (a.failed) {
        (void)tx_.flush();
        failure_ = "login failed with status " + std::to_string(a.rsp.status_class) + "/" +
                   std::to_string(a.rsp.status_detail);
        return false;
    }
    if (a.full_feature) {
        // §13.1: digests start with the first PDU after the final Login Response.
        if (!check(tx_.flush(), "send Login Response"))
            return false;
        params_ = login_.params();
        full_feature_ = true;
        exp_cmd_sn_ = req.cmd_sn;
        pdu::reader_config rc = reader_.config();
        rc.header_digest = params_.header_digest;
        rc.data_digest = params_.data_digest;
        reader_.configure(rc);
        tx_.set_digests({params_.header_digest, params_.data_digest});
        tx_.reserve_zeros(std::min(params_.initiator_mrdsl, params_.max_burst_length));
    }
    return true;
}

// ---- SCSI (§11.3, §11.4, §11.7) ----

bool connection::send_status(std::uint32_t itt, std::uint8_t status, residual r, std::span<const std::byte> sense)
{
    pdu::scsi_response rsp;
    rsp.status = status;
    rsp.initiator_task_tag = itt;
    rsp.residual_overflow = r.overflow;
    rsp.residual_underflow = r.underflow;
    rsp.residual_count = r.count;
    stamp(rsp);
    // §11.4.7.2: sense data behind a 2-byte SenseLength.
    std::array<std::byte, 2 + fixed_sense_size> segment{};
    std::span<const std::byte> data;
    if (!sense.empty()) {
        pdu::store16(segment.data(), static_cast<std::uint16_t>(sense.size()));
        std::memcpy(segment.data() + 2, sense.data(), sense.size());
        data = std::span<const std::byte>(segment.data(), 2 + sense.size());
    }
    rsp.data_segment_length = static_cast<std::uint32_t>(data.size());
    return check(send_pdu(rsp, data), "send SCSI Response");
}

bool connection::send_data_in(const pdu::scsi_command& cmd, const scsi_outcome& o)
{
    const std::uint64_t wanted = o.data_in_length();
    const auto total = static_cast<std::uint32_t>(std::min<std::uint64_t>(wanted, cmd.expected_data_transfer_length));
    const residual r = residual_of(wanted, cmd.expected_data_transfer_length);
    if (total == 0)
        return send_status(cmd.initiator_task_tag, scsi::status::good, r);
    // §11.7: PDUs of at most the initiator's MaxRecvDataSegmentLength, F at the
    // end of each sequence (MaxBurstLength), status in the last (§11.7.3).
    const std::uint32_t segment = std::min(params_.initiator_mrdsl, params_.max_burst_length);
    pdu::data_in d;
    d.lun = cmd.lun;
    d.initiator_task_tag = cmd.initiator_task_tag;
    d.exp_cmd_sn = exp_cmd_sn_;
    d.max_cmd_sn = max_cmd_sn();
    std::uint32_t offset = 0, in_burst = 0;
    while (offset < total) {
        const std::uint32_t len = std::min({segment, total - offset, params_.max_burst_length - in_burst});
        const bool last = offset + len == total;
        in_burst += len;
        d.final_bit = last || in_burst == params_.max_burst_length;
        if (d.final_bit)
            in_burst = 0;
        d.buffer_offset = offset;
        d.data_segment_length = len;
        if (last) {
            d.status_bit = true;
            d.status = scsi::status::good;
            d.residual_overflow = r.overflow;
            d.residual_underflow = r.underflow;
            d.residual_count = r.count;
            d.stat_sn = stat_sn_++;
        }
        pdu::bhs_bytes b;
        d.encode(b);
        const std::error_code ec =
            o.reads_zeros() ? tx_.queue_zeros(b, len) : tx_.queue(b, o.data.subspan(offset, len));
        if (!check(ec, "send Data-In"))
            return false;
        ++d.data_sn;
        offset += len;
    }
    return true;
}

bool connection::on_command(const pdu::bhs_bytes& bhs)
{
    pdu::scsi_command cmd;
    if (!check(pdu::scsi_command::decode(bhs, reader_.ahs(), cmd), "SCSI Command"))
        return false;
    const std::uint32_t immediate = reader_.data_segment_length();
    // §13.11, §13.13: immediate data only when negotiated, within FirstBurstLength and the EDTL.
    if (immediate != 0 && (!params_.immediate_data || !cmd.write_bit || immediate > cmd.expected_data_transfer_length ||
                           immediate > params_.first_burst_length)) {
        failure_ = "unexpected or oversized immediate data";
        return false;
    }
    if (!cmd.final_bit && (params_.initial_r2t || !cmd.write_bit)) {
        failure_ = "unsolicited Data-Out announced (F=0) where none is allowed";
        return false;
    }
    std::uint16_t lun = 0;
    const bool lun_exists = !pdu::decode_lun(cmd.lun, lun) && lun == 0;
    const scsi_outcome o = lun_.execute(cmd.cdb_bytes(), lun_exists);
    if (o.status != scsi::status::good)
        return send_status(cmd.initiator_task_tag, o.status, {}, o.sense); // later Data-Out is ignored
    if (o.write_length == 0 || cmd.expected_data_transfer_length == 0) {
        if (o.write_length != 0 || !cmd.write_bit)
            return send_data_in(cmd, o);
        return send_status(cmd.initiator_task_tag, scsi::status::good,
                           residual_of(0, cmd.expected_data_transfer_length));
    }
    // A WRITE: take the immediate data, expect unsolicited Data-Out up to
    // FirstBurstLength when F=0 (§13.13), solicit the rest with R2Ts.
    std::size_t slot = 0;
    while (slot < settings_.cmd_window && tasks_[slot].live)
        ++slot;
    if (slot == settings_.cmd_window) {
        failure_ = "more WRITEs in flight than the command window";
        return false;
    }
    write_task& t = tasks_[slot];
    t = write_task{};
    t.live = true;
    t.itt = cmd.initiator_task_tag;
    t.lun = cmd.lun;
    t.edtl = cmd.expected_data_transfer_length;
    t.cdb_length = o.write_length;
    t.received = immediate;
    t.unsolicited_end = cmd.final_bit ? immediate : std::min(t.edtl, params_.first_burst_length);
    t.next_r2t_offset = t.unsolicited_end;
    if (t.received == t.edtl)
        return finish_write(slot);
    return issue_r2ts(slot);
}

bool connection::issue_r2ts(std::size_t slot)
{
    write_task& t = tasks_[slot];
    while (t.outstanding_r2t < params_.max_outstanding_r2t && t.next_r2t_offset < t.edtl) {
        pdu::r2t r;
        r.lun = t.lun;
        r.initiator_task_tag = t.itt;
        r.target_transfer_tag = (t.r2t_sn << 8) | static_cast<std::uint32_t>(slot);
        r.stat_sn = stat_sn_; // not advanced by R2T (§11.8.3)
        r.exp_cmd_sn = exp_cmd_sn_;
        r.max_cmd_sn = max_cmd_sn();
        r.r2t_sn = t.r2t_sn++;
        r.buffer_offset = t.next_r2t_offset;
        r.desired_data_transfer_length = std::min(params_.max_burst_length, t.edtl - t.next_r2t_offset);
        t.next_r2t_offset += r.desired_data_transfer_length;
        ++t.outstanding_r2t;
        if (!check(send_pdu(r), "send R2T"))
            return false;
    }
    return true;
}

bool connection::finish_write(std::size_t slot)
{
    write_task& t = tasks_[slot];
    t.live = false;
    return send_status(t.itt, scsi::status::good, residual_of(t.cdb_length, t.edtl));
}

bool connection::on_data_out(const pdu::bhs_bytes& bhs)
{
    pdu::data_out d;
    if (!check(pdu::data_out::decode(bhs, d), "Data-Out"))
        return false;
    std::size_t slot = max_tasks;
    if (d.target_transfer_tag != pdu::reserved_tag) {
        const std::size_t s = d.target_transfer_tag & 0xff;
        if (s < max_tasks && tasks_[s].live && tasks_[s].itt == d.initiator_task_tag)
            slot = s;
    } else {
        for (std::size_t s = 0; s < settings_.cmd_window; ++s)
            if (tasks_[s].live && tasks_[s].itt == d.initiator_task_tag)
                slot = s;
    }
    if (slot == max_tasks)
        return true; // a task that ended (CHECK CONDITION, aborted): discard (§11.7)
    write_task& t = tasks_[slot];
    const std::uint64_t end = std::uint64_t{d.buffer_offset} + d.data_segment_length;
    const bool solicited = d.target_transfer_tag != pdu::reserved_tag;
    if (end > t.edtl || (!solicited && end > t.unsolicited_end) || d.data_segment_length > t.edtl - t.received) {
        failure_ = "Data-Out outside the task's transfer";
        return false;
    }
    t.received += d.data_segment_length;
    if (solicited && d.final_bit && t.outstanding_r2t > 0)
        --t.outstanding_r2t;
    if (t.received == t.edtl)
        return finish_write(slot);
    return issue_r2ts(slot);
}

// ---- other requests ----

bool connection::on_nop_out(const pdu::bhs_bytes& bhs)
{
    pdu::nop_out n;
    if (!check(pdu::nop_out::decode(bhs, n), "NOP-Out"))
        return false;
    if (n.initiator_task_tag == pdu::reserved_tag)
        return true; // an answer to a NOP-In of ours (we send none): no reply (§11.18)
    // §11.19: the reply echoes the ping data, bounded by the initiator's MRDSL.
    auto data = reader_.data().first(std::min<std::size_t>(reader_.data().size(), params_.initiator_mrdsl));
    pdu::nop_in r;
    r.lun = n.lun;
    r.initiator_task_tag = n.initiator_task_tag;
    stamp(r);
    r.data_segment_length = static_cast<std::uint32_t>(data.size());
    return check(send_pdu(r, data), "send NOP-In");
}

bool connection::on_text(const pdu::bhs_bytes& bhs)
{
    pdu::text_request t;
    if (!check(pdu::text_request::decode(bhs, t), "Text Request"))
        return false;
    pdu::text_response r;
    r.lun = t.lun;
    r.initiator_task_tag = t.initiator_task_tag;
    if (!check(text_in_.add(reader_.data(), t.continue_bit), "Text Request keys"))
        return false;
    std::vector<std::byte> out;
    if (!text_in_.complete()) {
        // §6.1, §11.10: more text follows; ask for it.
        r.final_bit = false;
        r.target_transfer_tag = text_continue_ttt;
    } else {
        for (const auto& kv : text_in_.pairs()) {
            std::error_code ec;
            if (kv.key == "SendTargets") {
                // §13.3, Appendix C: All, our name, or (Normal session) "" for this target.
                if (kv.value == "All" || kv.value == settings_.target.iqn || (kv.value.empty() && !params_.discovery)) {
                    ec = pdu::append_pair(out, "TargetName", settings_.target.iqn);
                    if (!ec)
                        ec = pdu::append_pair(out, "TargetAddress", settings_.target.portal + ",1");
                }
            } else {
                // No renegotiation in the full feature phase.
                ec = pdu::append_pair(out, kv.key,
                                      pdu::find_key(kv.key) ? pdu::value_reject : pdu::value_not_understood);
            }
            if (!check(ec, "Text Response"))
                return false;
        }
        text_in_.reset();
    }
    stamp(r);
    r.data_segment_length = static_cast<std::uint32_t>(out.size());
    return check(send_pdu(r, out), "send Text Response");
}

bool connection::on_task_mgmt(const pdu::bhs_bytes& bhs)
{
    pdu::task_mgmt_request q;
    if (!check(pdu::task_mgmt_request::decode(bhs, q), "Task Management Request"))
        return false;
    pdu::task_mgmt_response r;
    r.initiator_task_tag = q.initiator_task_tag;
    switch (q.function) {
    case pdu::tmf_function::abort_task:
        for (auto& t : tasks_)
            if (t.live && t.itt == q.referenced_task_tag)
                t.live = false;
        break;
    case pdu::tmf_function::task_reassign:
        r.response = pdu::tmf_response::task_allegiance_reassignment_not_supported; // ErrorRecoveryLevel 0
        break;
    case pdu::tmf_function::clear_aca: break;
    default: // task sets, LU and target resets: every pending WRITE ends
        for (auto& t : tasks_)
            t.live = false;
        break;
    }
    stamp(r);
    return check(send_pdu(r), "send Task Management Response");
}

bool connection::on_logout(const pdu::bhs_bytes& bhs)
{
    pdu::logout_request q;
    if (!check(pdu::logout_request::decode(bhs, q), "Logout Request"))
        return false;
    pdu::logout_response r;
    r.initiator_task_tag = q.initiator_task_tag;
    if (q.reason == pdu::logout_reason::remove_connection_for_recovery)
        r.response = pdu::logout_response_code::recovery_not_supported;
    stamp(r);
    logged_out_ = true; // §11.14: the connection closes once the response is out
    return check(send_pdu(r), "send Logout Response");
}

} // namespace

std::string serve_connection(int fd, const connection_settings& settings)
{
    std::string why;
    {
        connection c(fd, settings);
        why = c.run();
    }
    ::close(fd);
    return why;
}

} // namespace ivs::bench
