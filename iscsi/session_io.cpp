// Full feature phase of a session (RFC 7143 §3.2, §4.2, §11): commands and
// their data, status, NOP, text, task management, async events, rejects.
#include "iscsi/session_impl.hpp"

#include "iscsi/codes.hpp"
#include "pdu/bhs.hpp"
#include "pdu/bytes.hpp"
#include "pdu/lun.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace ivs::iscsi {

namespace {
constexpr std::size_t max_queued_pdus = 1 << 16;
} // namespace

std::uint64_t task_cookie(std::uint32_t itt) noexcept { return (std::uint64_t{1} << 32) | itt; }

void session::impl::log_warning(const char* what, std::error_code ec) const
{
    std::string line = what;
    if (ec)
        line += ": " + ec.message();
    log_line(log::level::warning, line);
}

// ---- sequence numbers (§4.2.2) ----

bool session::impl::window_open() const noexcept { return cmd_sn_ <= max_cmd_sn_; }

std::uint32_t session::impl::next_cmd_sn(bool immediate)
{
    const std::uint32_t sn = cmd_sn_.value();
    if (!immediate)
        ++cmd_sn_;
    return sn;
}

bool session::impl::update_sn(std::uint32_t exp_cmd_sn, std::uint32_t max_cmd_sn)
{
    // §4.2.2.1: MaxCmdSN < ExpCmdSN - 1 means both are to be ignored.
    if (pdu::serial32{max_cmd_sn} < pdu::serial32{exp_cmd_sn - 1})
        return true;
    // ExpCmdSN is the next CmdSN the target expects: beyond the next one we
    // assign, it counts commands never sent, and the window it opens is not
    // the target's. The CmdSN state is lost: recover the session.
    if (pdu::serial32{exp_cmd_sn} > cmd_sn_) {
        protocol_failure(session_errc::protocol_error, "ExpCmdSN beyond the next CmdSN");
        return false;
    }
    if (pdu::serial32{exp_cmd_sn} > exp_cmd_sn_)
        exp_cmd_sn_ = pdu::serial32{exp_cmd_sn};
    if (pdu::serial32{max_cmd_sn} > max_cmd_sn_) {
        max_cmd_sn_ = pdu::serial32{max_cmd_sn};
        if (!waiting_.empty())
            pump();
    }
    return true;
}

// StatSN of a status-bearing PDU (§4.2.2.2): must be the next expected one.
bool session::impl::accept_stat_sn(std::uint32_t stat_sn)
{
    const pdu::serial32 sn{stat_sn};
    if (sn == exp_stat_sn_ || sn > exp_stat_sn_) {
        if (sn > exp_stat_sn_) {
            // ERL 0 cannot recover a lost status (§6.1.3): recover the session.
            protocol_failure(session_errc::stat_sn_gap, "StatSN skipped");
            return false;
        }
        exp_stat_sn_ = sn + 1;
    }
    return true; // an older StatSN (a retransmission) changes nothing
}

void session::impl::protocol_failure(std::error_code ec, const char* what, std::uint32_t culprit)
{
    log_warning(what, ec);
    if (conn_ && conn_->is_open()) {
        culprit_itt_ = culprit;
        conn_->close(ec);
    }
}

// ---- submission ----

void session::impl::submit(const scsi_request& request, scsi_completion done)
{
    scsi_result failed;
    // Commands queue while the session is up or being reinstated.
    bool accepted = false;
    switch (state_) {
    case session_state::full_feature:
    case session_state::logout_requested:
    case session_state::recovering: accepted = true; break;
    case session_state::connecting:
    case session_state::login:
    case session_state::redirect: accepted = ever_logged_in_; break;
    default: break;
    }
    if (!accepted || replacement_expired_) {
        failed.error = state_ == session_state::failed || replacement_expired_ ? session_errc::session_failed
                       : state_ == session_state::closed || state_ == session_state::logging_out
                           ? session_errc::session_closed
                           : session_errc::not_logged_in;
        done(failed);
        return;
    }
    std::span<const std::byte> data_out;
    if (request.direction == data_direction::write)
        data_out = request.lease ? request.lease->data_out() : request.write_buffer;
    const bool bad_buffers =
        (request.direction == data_direction::read && request.read_buffer.size() < request.expected_length) ||
        (request.direction == data_direction::write && data_out.size() < request.expected_length);
    if (request.cdb_length == 0 || request.cdb_length > pdu::max_cdb_size || bad_buffers ||
        request.lun > pdu::max_flat_lun) {
        failed.error = session_errc::bad_command;
        done(failed);
        return;
    }
    session_task* t = tasks_.allocate();
    if (!t) {
        failed.error = session_errc::too_many_tasks;
        done(failed);
        return;
    }
    scsi_task& s = t->work.emplace<scsi_task>();
    s.request = request;
    s.data_out = data_out;
    s.done = std::move(done);
    if (request.lease)
        lease_link::bind(*request.lease, weak_from_this(), t->itt);
    progress(s);
    last_itt_ = t->itt;
    ++counters_.commands;
    waiting_.push_back(t->itt);
    pump();
}

// Nothing is sent without a connection in the full feature phase.
bool session::impl::can_send() const noexcept
{
    return state_ == session_state::full_feature && conn_ && conn_->is_open();
}

bool session::impl::isolation_holds()
{
    if (!isolating_)
        return false;
    bool suspects = false;
    tasks_.for_each([&](session_task& t) {
        if (const scsi_task* s = t.as<scsi_task>())
            suspects |= s->suspect;
    });
    isolating_ = suspects;
    return isolating_;
}

void session::impl::pump()
{
    while (!waiting_.empty() && can_send()) {
        auto next = waiting_.begin();
        if (isolation_holds()) {
            // Suspects of a failed connection: one SCSI command outstanding
            // at a time (see connection_lost); other tasks still go.
            bool busy = false;
            tasks_.for_each([&](session_task& t) {
                if (const scsi_task* s = t.as<scsi_task>(); s && t.sent && !s->response_ready)
                    busy = true;
            });
            if (busy)
                next = std::find_if(waiting_.begin(), waiting_.end(), [&](std::uint32_t itt) {
                    const session_task* t = tasks_.find(itt);
                    return !t || !std::holds_alternative<scsi_task>(t->work);
                });
            if (next == waiting_.end())
                return;
        }
        session_task* t = tasks_.find(*next);
        if (!t) {
            waiting_.erase(next);
            continue;
        }
        if (!t->immediate && !window_open())
            return; // §4.2.2.1: wait for MaxCmdSN to grow
        waiting_.erase(next);
        send_task(*t);
    }
}

void session::impl::send_task(session_task& t)
{
    if (!conn_)
        return; // callers check can_send(); a closing connection drops what it is given
    t.cmd_sn = next_cmd_sn(t.immediate);
    t.sent = true;
    std::visit(
        [&](auto& work) {
            using kind = std::decay_t<decltype(work)>;
            if constexpr (std::is_same_v<kind, scsi_task>) {
                send_scsi(t, work);
            } else if constexpr (std::is_same_v<kind, tmf_task>) {
                work.deadline = deadline_after(config_.tmf_timeout);
                work.request.initiator_task_tag = t.itt;
                work.request.cmd_sn = t.cmd_sn;
                work.request.exp_stat_sn = exp_stat_sn_.value();
                if (session_task* ref = tasks_.find(work.request.referenced_task_tag); ref && !work.ref_cmd_sn_known)
                    work.request.ref_cmd_sn = ref->cmd_sn;
                pdu::bhs_bytes bhs;
                work.request.encode(bhs);
                conn_->send(bhs, {}, {});
            } else if constexpr (std::is_same_v<kind, nop_task>) {
                work.deadline = deadline_after(config_.command_timeout);
                pdu::nop_out nop;
                nop.immediate = true;
                nop.initiator_task_tag = t.itt;
                nop.cmd_sn = t.cmd_sn;
                nop.exp_stat_sn = exp_stat_sn_.value();
                pdu::bhs_bytes bhs;
                nop.encode(bhs);
                conn_->send(bhs, {}, {});
            } else if constexpr (std::is_same_v<kind, text_task>) {
                work.deadline = deadline_after(config_.command_timeout);
                if (work.continue_ttt != pdu::reserved_tag)
                    send_text(t, std::exchange(work.continue_ttt, pdu::reserved_tag), {});
                else
                    send_text(t, pdu::reserved_tag, work.request);
            } else {
                pdu::logout_request req;
                req.immediate = true;
                req.reason = pdu::logout_reason::close_session;
                req.initiator_task_tag = t.itt;
                req.cid = config_.login.cid;
                req.cmd_sn = t.cmd_sn;
                req.exp_stat_sn = exp_stat_sn_.value();
                pdu::bhs_bytes bhs;
                req.encode(bhs);
                conn_->send(bhs, {}, {});
            }
        },
        t.work);
}

void session::impl::send_scsi(session_task& t, scsi_task& s)
{
    if (!std::exchange(s.went_out, true))
        progress(s); // the wait for the window is bounded apart (check_command_timeouts)
    const scsi_request& r = s.request;
    pdu::scsi_command cmd;
    cmd.read_bit = r.direction == data_direction::read;
    cmd.write_bit = r.direction == data_direction::write;
    cmd.attribute = r.attribute;
    cmd.lun = pdu::encode_lun(static_cast<std::uint16_t>(r.lun));
    cmd.initiator_task_tag = t.itt;
    cmd.expected_data_transfer_length = r.direction == data_direction::none ? 0 : r.expected_length;
    cmd.cmd_sn = t.cmd_sn;
    cmd.exp_stat_sn = exp_stat_sn_.value();
    (void)cmd.set_cdb(std::span<const std::byte>(r.cdb.data(), r.cdb_length));

    // Unsolicited data (§4.2.5.2): immediate data in the command PDU up to
    // min(FirstBurstLength, target's MaxRecvDataSegmentLength), then Data-Out
    // PDUs up to FirstBurstLength when InitialR2T=No.
    std::uint32_t immediate = 0;
    std::uint32_t unsolicited = 0;
    if (cmd.write_bit && r.expected_length > 0) {
        const std::uint32_t first_burst = std::min(r.expected_length, params_.first_burst_length);
        if (params_.immediate_data)
            immediate = std::min(first_burst, params_.target_max_recv_data_segment_length);
        if (!params_.initial_r2t)
            unsolicited = first_burst;
        else
            unsolicited = immediate;
    }
    cmd.final_bit = unsolicited <= immediate;

    if (!data_out_available(t, s, 0, unsolicited))
        return;
    std::array<std::byte, pdu::max_ahs_size> ahs;
    const std::size_t ahs_len = cmd.encode_ahs(ahs);
    pdu::bhs_bytes bhs;
    cmd.encode(bhs);
    ++s.writes_pending;
    s.data_out_bytes = unsolicited;
    conn_->send(bhs, std::span<const std::byte>(ahs.data(), ahs_len), s.data_out.first(immediate), task_cookie(t.itt));
    if (unsolicited > immediate)
        send_data_out(t, s, pdu::reserved_tag, immediate, unsolicited - immediate);
}

// One Data-Out sequence (§11.7): PDUs of at most the target's
// MaxRecvDataSegmentLength, DataSN from 0, F on the last.
void session::impl::send_data_out(session_task& t, scsi_task& s, std::uint32_t ttt, std::uint32_t offset,
                                  std::uint32_t length)
{
    if (!data_out_available(t, s, offset, length))
        return;
    pdu::data_out d;
    d.lun = pdu::encode_lun(static_cast<std::uint16_t>(s.request.lun));
    d.initiator_task_tag = t.itt;
    d.target_transfer_tag = ttt;
    const std::uint32_t chunk_max = std::max<std::uint32_t>(params_.target_max_recv_data_segment_length, 512);
    std::uint32_t sent = 0;
    std::uint32_t data_sn = 0;
    while (sent < length) {
        const std::uint32_t n = std::min(chunk_max, length - sent);
        d.data_sn = data_sn++;
        d.buffer_offset = offset + sent;
        d.final_bit = sent + n == length;
        d.exp_stat_sn = exp_stat_sn_.value();
        pdu::bhs_bytes bhs;
        d.encode(bhs);
        ++s.writes_pending;
        conn_->send(bhs, {}, s.data_out.subspan(offset + sent, n), task_cookie(t.itt));
        sent += n;
    }
    counters_.bytes_written += length;
}

bool session::impl::data_out_available(session_task& t, scsi_task& s, std::uint32_t offset, std::uint32_t length)
{
    if (std::size_t{offset} + length <= s.data_out.size())
        return true;
    // The caller's lease took its data back and lent too little in its
    // place: other bytes are never sent. Recovery reissues the command,
    // charged to it (§6.3.5).
    protocol_failure(session_errc::bad_command, "a WRITE's data is shorter than the command", t.itt);
    return false;
}

void session::impl::on_sent(std::uint64_t cookie)
{
    auto self = shared_from_this();
    session_task* t = tasks_.find(static_cast<std::uint32_t>(cookie));
    scsi_task* s = t ? t->as<scsi_task>() : nullptr;
    if (!s || s->writes_pending == 0)
        return;
    if (--s->writes_pending == 0 && s->response_ready)
        complete_scsi(*t, *s);
}

// ---- completion ----

void session::impl::complete_scsi(session_task& t, scsi_task& s)
{
    if (s.writes_pending > 0) {
        s.response_ready = true; // the caller's buffer is still being written
        return;
    }
    scsi_completion done = std::move(s.done);
    scsi_result result = s.result;
    if (s.request.lease)
        lease_link::unbind(*s.request.lease); // the caller may lend it to its next command
    tasks_.release(&t);
    if (isolating_)
        pump(); // the next suspect (or the first command after them)
    if (done)
        done(result);
}

void session::impl::finish_task(session_task& t, std::error_code ec)
{
    if (scsi_task* s = t.as<scsi_task>()) {
        s->result.error = ec;
        s->writes_pending = 0; // only called once the connection dropped its queue
        complete_scsi(t, *s);
        return;
    }
    task_work work = std::move(t.work);
    tasks_.release(&t);
    std::visit(
        [&](auto& w) {
            using kind = std::decay_t<decltype(w)>;
            if constexpr (std::is_same_v<kind, tmf_task>) {
                if (w.done)
                    w.done(ec, pdu::tmf_response::function_rejected);
            } else if constexpr (std::is_same_v<kind, text_task>) {
                if (w.done)
                    w.done(ec, {});
            } else if constexpr (!std::is_same_v<kind, scsi_task>) {
                if (w.done)
                    w.done(ec);
            }
        },
        work);
}

// ---- incoming PDUs ----

// §11.7: a Data-In header is checked before any of its bytes land. At ERL 0
// with DataPDUInOrder=Yes (we offer Yes and the result function is OR,
// §13.19) each Data-In of a command carries the next DataSN and starts
// exactly where the previous one ended, zero-length ones included.
std::error_code session::impl::check_data_in(const pdu::data_in& d, session_task*& t, scsi_task*& s, const char*& what)
{
    t = tasks_.find(d.initiator_task_tag);
    s = t ? t->as<scsi_task>() : nullptr;
    if (!s || !t->sent) {
        what = "Data-In for an unknown task";
        return session_errc::unknown_task;
    }
    const std::size_t capacity = std::min<std::size_t>(s->request.read_buffer.size(), s->request.expected_length);
    if (s->request.direction != data_direction::read ||
        std::size_t{d.buffer_offset} + d.data_segment_length > capacity) {
        what = "Data-In beyond the expected data length";
        return session_errc::data_overflow;
    }
    if (d.data_sn != s->next_data_sn) {
        what = "Data-In DataSN out of order";
        return session_errc::data_out_of_order;
    }
    if (d.buffer_offset != s->received) {
        what = "Data-In offset out of order";
        return session_errc::data_out_of_order;
    }
    return {};
}

// §11.4.5, §11.7.4: a status that says the command completed (GOOD,
// CONDITION MET) must account for exactly the bytes transferred: the
// expected data transfer length less an underflow residual. Anything else
// would hand the caller bytes that never arrived (READ) or report data as
// written that the target never took (WRITE).
std::error_code session::impl::check_transfer(const scsi_task& s, std::uint8_t status, bool underflow, bool,
                                              std::uint32_t residual) const
{
    constexpr std::uint8_t good = 0x00, condition_met = 0x04; // SAM-5 status codes the RFC names
    if (s.request.direction == data_direction::none || (status != good && status != condition_met))
        return {};
    const std::uint32_t length = s.request.expected_length;
    if (underflow && residual > length)
        return session_errc::transfer_mismatch;
    const std::uint32_t expected = underflow ? length - residual : length;
    const std::uint32_t transferred = s.request.direction == data_direction::read ? s.received : s.data_out_bytes;
    return transferred == expected ? std::error_code{} : make_error_code(session_errc::transfer_mismatch);
}

connection_receiver::destination session::impl::data_destination(const pdu::bhs_bytes& bhs, std::uint32_t length)
{
    rx_data_in_.reset();
    if (pdu::raw_opcode(bhs) != static_cast<std::uint8_t>(pdu::opcode::data_in))
        return {}; // small segments (sense, text, reject) stay in the reader
    pdu::data_in d;
    if (auto ec = pdu::data_in::decode(bhs, d))
        return {{}, ec};
    session_task* t = nullptr;
    scsi_task* s = nullptr;
    const char* what = "";
    if (auto ec = check_data_in(d, t, s, what)) {
        log_warning(what, ec);
        culprit_itt_ = s ? t->itt : pdu::reserved_tag; // the connection closes with ec
        return {{}, ec};
    }
    s->landing = s->request.read_buffer.subspan(d.buffer_offset, length);
    s->landing_lent = false;
    if (buffer_lease* lease = s->request.lease; lease && length > 0) {
        const std::span<std::byte> lent = lease->data_in_destination(d.buffer_offset, length);
        if (lent.size() == length) {
            s->landing = lent;
            s->landing_lent = true;
        }
    }
    rx_data_in_ = d;
    return {s->landing, {}};
}

// ---- zero copy (buffer_lease.hpp) ----

std::span<std::byte> buffer_lease::data_in_destination(std::uint32_t, std::uint32_t) { return {}; }
void buffer_lease::data_in_landed(std::uint32_t, std::span<const std::byte>) {}
std::span<const std::byte> buffer_lease::data_out() { return {}; }

void buffer_lease::withdraw()
{
    if (auto s = std::static_pointer_cast<session::impl>(session_.lock()))
        s->withdraw(task_tag_, *this);
}

void session::impl::withdraw(std::uint32_t itt, buffer_lease& lease)
{
    session_task* t = tasks_.find(itt);
    scsi_task* s = t ? t->as<scsi_task>() : nullptr;
    if (!s || s->request.lease != &lease)
        return;
    // The reader writes the rest of a segment into the lent memory as it
    // arrives, and queued PDUs point at the lent data: closing the socket
    // ends both at once (nothing queued leaves, no read is left pending).
    bool drop = s->landing_lent;
    if (s->request.direction == data_direction::write) {
        drop = drop || s->writes_pending > 0;
        const std::span<const std::byte> again = lease.data_out();
        s->data_out = again.size() >= s->request.expected_length ? again : std::span<const std::byte>{};
    }
    s->landing_lent = false;
    if (drop && conn_)
        conn_->close(session_errc::connection_closed);
}

void session::impl::on_pdu(const pdu::bhs_bytes& bhs, std::span<const std::byte>, std::span<const std::byte> data)
{
    auto self = shared_from_this(); // a completion may destroy the session facade
    switch (static_cast<pdu::opcode>(pdu::raw_opcode(bhs))) {
    case pdu::opcode::login_response: return on_login_response(bhs, data);
    case pdu::opcode::scsi_response: return on_scsi_response(bhs, data);
    case pdu::opcode::data_in: {
        // Decoded in data_destination() when a data segment followed.
        std::optional<pdu::data_in> d = std::exchange(rx_data_in_, std::nullopt);
        if (d)
            return on_data_in(*d, true);
        d.emplace();
        if (auto ec = pdu::data_in::decode(bhs, *d))
            return protocol_failure(ec, "bad Data-In");
        return on_data_in(*d, false);
    }
    case pdu::opcode::r2t: return on_r2t(bhs);
    case pdu::opcode::nop_in: return on_nop_in(bhs, data);
    case pdu::opcode::text_response: return on_text_response(bhs, data);
    case pdu::opcode::task_mgmt_response: return on_tmf_response(bhs);
    case pdu::opcode::logout_response: return on_logout_response(bhs);
    case pdu::opcode::async_message: return on_async_message(bhs, data);
    case pdu::opcode::reject: return on_reject(bhs, data);
    default: protocol_failure(session_errc::protocol_error, "unexpected PDU from the target");
    }
}

void session::impl::on_scsi_response(const pdu::bhs_bytes& bhs, std::span<const std::byte> data)
{
    pdu::scsi_response r;
    if (auto ec = pdu::scsi_response::decode(bhs, r))
        return protocol_failure(ec, "bad SCSI Response");
    if (!accept_stat_sn(r.stat_sn))
        return;
    if (!update_sn(r.exp_cmd_sn, r.max_cmd_sn))
        return;
    session_task* t = tasks_.find(r.initiator_task_tag);
    scsi_task* s = t ? t->as<scsi_task>() : nullptr;
    if (!s || !t->sent)
        return protocol_failure(session_errc::unknown_task, "SCSI Response for an unknown task");
    if (r.response == pdu::scsi_service_response::command_completed) {
        if (check_transfer(*s, r.status, r.residual_underflow, r.residual_overflow, r.residual_count))
            return protocol_failure(session_errc::transfer_mismatch, "SCSI Response does not match the data", t->itt);
        // §11.4.6: ExpDataSN counts the Data-In PDUs sent (tgtd leaves it 0).
        if (s->request.direction == data_direction::read && r.exp_data_sn != 0 && r.exp_data_sn != s->next_data_sn)
            return protocol_failure(session_errc::data_out_of_order,
                                    "SCSI Response ExpDataSN does not match the Data-In", t->itt);
    }
    scsi_result& res = s->result;
    res.response = r.response;
    res.status = r.status;
    res.residual_overflow = r.residual_overflow;
    res.residual_underflow = r.residual_underflow;
    res.residual = r.residual_count;
    res.data_in_bytes = s->received;
    if (!data.empty()) {
        pdu::sense_data_segment seg;
        if (auto ec = pdu::parse_sense_data_segment(data, seg))
            return protocol_failure(ec, "bad sense data in SCSI Response");
        res.sense_length = static_cast<std::uint16_t>(std::min(seg.sense.size(), res.sense.size()));
        std::memcpy(res.sense.data(), seg.sense.data(), res.sense_length);
    } else {
        res.sense_length = 0;
    }
    complete_scsi(*t, *s);
}

void session::impl::on_data_in(const pdu::data_in& d, bool checked)
{
    session_task* t = nullptr;
    scsi_task* s = nullptr;
    const char* what = "";
    if (checked) { // by data_destination(), before the data landed
        t = tasks_.find(d.initiator_task_tag);
        s = t ? t->as<scsi_task>() : nullptr;
    } else if (auto ec = check_data_in(d, t, s, what)) {
        return protocol_failure(ec, what, s ? t->itt : pdu::reserved_tag);
    }
    if (!s)
        return protocol_failure(session_errc::unknown_task, "Data-In for an unknown task");
    // The segment is complete: nothing more lands where data_destination put it.
    const std::span<const std::byte> landed = s->landing;
    s->landing = {};
    s->landing_lent = false;
    ++s->next_data_sn;
    s->received += d.data_segment_length; // only what landed
    progress(*s);
    counters_.bytes_read += d.data_segment_length;
    if (!update_sn(d.exp_cmd_sn, d.max_cmd_sn))
        return;
    if (s->request.lease && d.data_segment_length > 0) {
        auto self = shared_from_this();
        const std::uint32_t itt = t->itt;
        s->request.lease->data_in_landed(d.buffer_offset,
                                         landed.size() == d.data_segment_length
                                             ? landed
                                             : s->request.read_buffer.subspan(d.buffer_offset, d.data_segment_length));
        if (tasks_.find(itt) != t || conn_ == nullptr)
            return; // the lease ended the task or the session
    }
    if (!d.status_bit)
        return;
    // Status collapsed into the last Data-In (§11.7.3).
    if (!accept_stat_sn(d.stat_sn))
        return;
    if (check_transfer(*s, d.status, d.residual_underflow, d.residual_overflow, d.residual_count))
        return protocol_failure(session_errc::transfer_mismatch, "Data-In status does not match the data", t->itt);
    scsi_result& res = s->result;
    res.status = d.status;
    res.residual_overflow = d.residual_overflow;
    res.residual_underflow = d.residual_underflow;
    res.residual = d.residual_count;
    res.data_in_bytes = s->received;
    complete_scsi(*t, *s);
}

void session::impl::on_r2t(const pdu::bhs_bytes& bhs)
{
    pdu::r2t r;
    if (auto ec = pdu::r2t::decode(bhs, r))
        return protocol_failure(ec, "bad R2T");
    if (!update_sn(r.exp_cmd_sn, r.max_cmd_sn))
        return;
    session_task* t = tasks_.find(r.initiator_task_tag);
    scsi_task* s = t ? t->as<scsi_task>() : nullptr;
    if (!s || !t->sent || s->request.direction != data_direction::write)
        return protocol_failure(session_errc::unknown_task, "R2T for an unknown task");
    if (r.r2t_sn != s->next_r2t_sn)
        return protocol_failure(session_errc::r2t_out_of_order, "R2TSN out of order", t->itt);
    if (std::uint64_t{r.buffer_offset} + r.desired_data_transfer_length > s->request.expected_length ||
        r.desired_data_transfer_length > params_.max_burst_length)
        return protocol_failure(session_errc::r2t_out_of_range, "R2T beyond the expected data length", t->itt);
    // At ERL 0 every byte is asked for once (§11.8): a target asking again and
    // again would make us queue without bound.
    if (std::uint64_t{s->r2t_bytes} + r.desired_data_transfer_length > s->request.expected_length)
        return protocol_failure(session_errc::r2t_out_of_range, "R2Ts ask for more than the expected data length",
                                t->itt);
    progress(*s);
    s->r2t_bytes += r.desired_data_transfer_length;
    s->data_out_bytes += r.desired_data_transfer_length;
    ++s->next_r2t_sn;
    send_data_out(*t, *s, r.target_transfer_tag, r.buffer_offset, r.desired_data_transfer_length);
}

void session::impl::on_nop_in(const pdu::bhs_bytes& bhs, std::span<const std::byte> data)
{
    pdu::nop_in n;
    if (auto ec = pdu::nop_in::decode(bhs, n))
        return protocol_failure(ec, "bad NOP-In");
    if (n.initiator_task_tag != pdu::reserved_tag) {
        // The answer to our ping: StatSN advances (§11.19).
        if (!accept_stat_sn(n.stat_sn))
            return;
        if (!update_sn(n.exp_cmd_sn, n.max_cmd_sn))
            return;
        session_task* t = tasks_.find(n.initiator_task_tag);
        if (!t || !t->as<nop_task>())
            return protocol_failure(session_errc::unknown_task, "NOP-In for an unknown ping");
        finish_task(*t, {});
        return;
    }
    if (!update_sn(n.exp_cmd_sn, n.max_cmd_sn))
        return;
    if (n.target_transfer_tag == pdu::reserved_tag || !conn_)
        return;
    // A target ping: answer with a NOP-Out echoing the TTT and the LUN (§11.18.3).
    pdu::nop_out reply;
    reply.immediate = true;
    reply.lun = n.lun;
    reply.initiator_task_tag = pdu::reserved_tag;
    reply.target_transfer_tag = n.target_transfer_tag;
    reply.cmd_sn = cmd_sn_.value();
    reply.exp_stat_sn = exp_stat_sn_.value();
    // A target that pings faster than it reads our answers would grow the
    // send queue without bound: that is a broken peer.
    if (conn_->queued() > max_queued_pdus)
        return protocol_failure(session_errc::protocol_error, "target pings faster than it reads the answers");
    // The echoed ping data is bounded by what the target receives (§11.18,
    // §13.12): a longer echo would break its framing.
    const std::size_t echo = std::min<std::size_t>(data.size(), params_.target_max_recv_data_segment_length);
    reply.data_segment_length = static_cast<std::uint32_t>(echo);
    pdu::bhs_bytes out;
    reply.encode(out);
    conn_->send_owned(out, std::vector<std::byte>(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(echo)));
}

void session::impl::on_text_response(const pdu::bhs_bytes& bhs, std::span<const std::byte> data)
{
    pdu::text_response r;
    if (auto ec = pdu::text_response::decode(bhs, r))
        return protocol_failure(ec, "bad Text Response");
    if (!accept_stat_sn(r.stat_sn))
        return;
    if (!update_sn(r.exp_cmd_sn, r.max_cmd_sn))
        return;
    session_task* t = tasks_.find(r.initiator_task_tag);
    text_task* x = t ? t->as<text_task>() : nullptr;
    if (!x || !t->sent)
        return protocol_failure(session_errc::unknown_task, "Text Response for an unknown task");
    // Until F=1 the answer goes on; tgtd cuts pairs at PDU boundaries without
    // setting C, so the whole sequence is reassembled as one text.
    if (auto ec = x->answer.add(data, r.continue_bit || !r.final_bit))
        return finish_task(*t, ec);
    if (!r.final_bit) {
        // More to come: ask for it with an empty Text Request echoing the
        // TTT (§11.10.4). Never beyond MaxCmdSN (§4.2.2.1): it goes as an
        // immediate command, which takes no place in the window. A target
        // may not open the window during a long answer at all (tgtd keeps
        // MaxCmdSN of a discovery session where login left it), so waiting
        // for the window could wait for ever.
        if (r.target_transfer_tag == pdu::reserved_tag)
            return protocol_failure(session_errc::protocol_error, "Text Response without F and without TTT");
        x->continue_ttt = r.target_transfer_tag;
        t->immediate = true;
        waiting_.push_front(t->itt);
        pump();
        return;
    }
    if (!x->answer.complete())
        return protocol_failure(session_errc::protocol_error, "Text Response final with C bit");
    pdu::text_list pairs = x->answer.take_pairs();
    auto done = std::move(x->done);
    tasks_.release(t);
    if (done)
        done({}, pairs);
}

void session::impl::send_text(session_task& t, std::uint32_t ttt, std::span<const std::byte> data)
{
    pdu::text_request req;
    req.immediate = t.immediate;
    req.final_bit = true;
    req.initiator_task_tag = t.itt;
    req.target_transfer_tag = ttt;
    req.cmd_sn = t.cmd_sn;
    req.exp_stat_sn = exp_stat_sn_.value();
    pdu::bhs_bytes bhs;
    req.encode(bhs);
    if (conn_)
        conn_->send(bhs, {}, data);
}

void session::impl::on_tmf_response(const pdu::bhs_bytes& bhs)
{
    pdu::task_mgmt_response r;
    if (auto ec = pdu::task_mgmt_response::decode(bhs, r))
        return protocol_failure(ec, "bad Task Management Response");
    if (!accept_stat_sn(r.stat_sn))
        return;
    if (!update_sn(r.exp_cmd_sn, r.max_cmd_sn))
        return;
    session_task* t = tasks_.find(r.initiator_task_tag);
    tmf_task* m = t ? t->as<tmf_task>() : nullptr;
    if (!m)
        return protocol_failure(session_errc::unknown_task, "Task Management Response for an unknown task");
    const pdu::task_mgmt_request req = m->request;
    auto done = std::move(m->done);
    tasks_.release(t);
    // Tasks the function ended get no response of their own (§4.2.3.2, §11.5.1).
    if (r.response == pdu::tmf_response::function_complete) {
        std::vector<session_task*> ended;
        tasks_.for_each([&](session_task& task) {
            scsi_task* s = task.as<scsi_task>();
            if (!s || !task.sent || s->response_ready)
                return;
            const bool hit = (req.function == pdu::tmf_function::abort_task && task.itt == req.referenced_task_tag) ||
                             (req.function == pdu::tmf_function::logical_unit_reset &&
                              pdu::encode_lun(static_cast<std::uint16_t>(s->request.lun)) == req.lun);
            if (hit)
                ended.push_back(&task);
        });
        for (session_task* task : ended) {
            if (!task->in_use)
                continue;
            // Not finish_task(): Data-Out of the task may still be queued on
            // the live connection; complete_scsi() waits until it is written.
            scsi_task& s = *task->as<scsi_task>();
            s.result.error = session_errc::task_aborted;
            complete_scsi(*task, s);
        }
    }
    if (done)
        done({}, r.response);
}

void session::impl::on_reject(const pdu::bhs_bytes& bhs, std::span<const std::byte> data)
{
    pdu::reject r;
    if (auto ec = pdu::reject::decode(bhs, r))
        return protocol_failure(ec, "bad Reject");
    if (!accept_stat_sn(r.stat_sn))
        return;
    if (!update_sn(r.exp_cmd_sn, r.max_cmd_sn))
        return;
    pdu::bhs_bytes rejected;
    if (auto ec = pdu::rejected_header(data, rejected))
        return protocol_failure(ec, "Reject without the rejected header");
    const auto op = static_cast<pdu::opcode>(pdu::raw_opcode(rejected));
    const std::uint32_t itt = (std::uint32_t{std::to_integer<std::uint8_t>(rejected[16])} << 24) |
                              (std::uint32_t{std::to_integer<std::uint8_t>(rejected[17])} << 16) |
                              (std::uint32_t{std::to_integer<std::uint8_t>(rejected[18])} << 8) |
                              std::uint32_t{std::to_integer<std::uint8_t>(rejected[19])};
    session_task* t = tasks_.find(itt);
    char op_hex[8];
    std::snprintf(op_hex, sizeof op_hex, "0x%02x", static_cast<unsigned>(pdu::raw_opcode(rejected)));
    log_line(log::level::warning,
             std::string("target rejected a PDU (opcode ") + op_hex + ", " + reject_reason_message(r.reason) + ")");
    // A rejected command never executed and gets no response (§7.3,
    // §11.17.1): end it. Anything else (Data-Out, SNACK, digest errors)
    // needs recovery.
    if (!t || op == pdu::opcode::data_out || op == pdu::opcode::snack_request ||
        r.reason == pdu::reject_reason::data_digest_error)
        return protocol_failure(session_errc::rejected, "target rejected a PDU that needs recovery",
                                t ? t->itt : pdu::reserved_tag);
    scsi_task* s = t->as<scsi_task>();
    if (s && r.reason == pdu::reject_reason::waiting_for_logout)
        return; // the target will log us out; the task is reissued afterwards
    // §7.3: the target does not count the CmdSN of a rejected non-immediate
    // command; every later command would wait behind it. Plug the hole with
    // ABORT TASK naming it (§11.5.1), before anything else is sent.
    const std::uint32_t rejected_sn = pdu::load32(rejected.data() + 24);
    if (!pdu::raw_immediate(rejected) && t->sent && rejected_sn == t->cmd_sn && pdu::serial32{rejected_sn} < cmd_sn_)
        plug_cmd_sn_hole(itt, rejected_sn, pdu::load64(rejected.data() + 8)); // the LUN field
    if (s) {
        // The connection lives on and may still send the command's
        // Data-Out from the caller's buffer: complete once it is written.
        s->result.error = session_errc::rejected;
        complete_scsi(*t, *s);
        return;
    }
    finish_task(*t, session_errc::rejected);
}

void session::impl::plug_cmd_sn_hole(std::uint32_t itt, std::uint32_t cmd_sn, std::uint64_t lun)
{
    session_task* t = can_send() ? tasks_.allocate() : nullptr;
    if (!t)
        return; // the connection is going: the next login starts CmdSN anew
    t->immediate = true;
    tmf_task& m = t->work.emplace<tmf_task>();
    m.request.function = pdu::tmf_function::abort_task;
    m.request.lun = lun;
    m.request.referenced_task_tag = itt;
    m.request.ref_cmd_sn = cmd_sn;
    m.ref_cmd_sn_known = true;
    m.done = [self = shared_from_this(), cmd_sn](std::error_code ec, pdu::tmf_response r) {
        if (!ec && r == pdu::tmf_response::function_complete)
            return;
        self->log_line(log::level::warning, "the target did not take ABORT TASK for the rejected CmdSN " +
                                                std::to_string(cmd_sn) +
                                                "; later commands wait until their timeout recovers the session");
    };
    send_task(*t);
}

void session::impl::on_async_message(const pdu::bhs_bytes& bhs, std::span<const std::byte> data)
{
    pdu::async_message m;
    if (auto ec = pdu::async_message::decode(bhs, m))
        return protocol_failure(ec, "bad Asynchronous Message");
    if (!accept_stat_sn(m.stat_sn))
        return;
    if (!update_sn(m.exp_cmd_sn, m.max_cmd_sn))
        return;
    switch (m.event) {
    case pdu::async_event::scsi_async_event: {
        pdu::sense_data_segment seg;
        if (pdu::parse_sense_data_segment(data, seg))
            seg = {};
        std::uint16_t lun = 0;
        (void)pdu::decode_lun(m.lun, lun);
        if (event_handler_)
            event_handler_(session_event{session_event::kind::scsi_async_event, lun, seg.sense, {}});
        return;
    }
    case pdu::async_event::logout_requested:
        // §11.9.1 event 1: log out within Parameter3 seconds, then log in
        // again (recovery reissues the tasks).
        return logout_requested(std::chrono::seconds(m.parameter3));
    case pdu::async_event::connection_drop:
    case pdu::async_event::all_connections_drop:
        next_reconnect_delay_ = std::chrono::seconds(m.parameter2); // Time2Wait
        if (conn_)
            conn_->close(session_errc::connection_closed);
        return;
    case pdu::async_event::negotiation_requested: return renegotiate();
    case pdu::async_event::vendor_specific: return; // vendor events are ignored
    }
}

// §11.9.1 AsyncEvent 1: one Logout (close the session), nothing new on this
// connection, the logout timeout armed; a second request changes nothing.
void session::impl::logout_requested(std::chrono::seconds within)
{
    if (!fire(session_event_input::logout_requested))
        return;
    next_reconnect_delay_ = std::chrono::milliseconds(0);
    auto conn = conn_;
    send_logout([conn](std::error_code) { conn->close(session_errc::session_closed); });
    auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(config_.logout_timeout);
    if (within.count() > 0)
        timeout = std::min<std::chrono::milliseconds>(timeout, within);
    timer_.arm(timeout, [conn] { conn->close(session_errc::logout_timeout); });
}

// §11.9.1 AsyncEvent 4: answer with a Text Request (empty: we have nothing
// to offer) unless one is under way already. Keys in the answer would need
// a negotiation outside login we do not do: log out instead, which the RFC
// allows as the other answer, and log in again.
void session::impl::renegotiate()
{
    if (!can_send())
        return;
    bool text_pending = false;
    tasks_.for_each([&](session_task& t) { text_pending = text_pending || t.as<text_task>() != nullptr; });
    if (text_pending)
        return;
    session_task* t = tasks_.allocate();
    if (!t)
        return logout_requested(std::chrono::seconds(0));
    text_task& x = t->work.emplace<text_task>();
    x.answer = pdu::text_reassembler(pdu::text_limits{});
    x.done = [self = shared_from_this()](std::error_code ec, const pdu::text_list& keys) {
        if (!ec && keys.empty())
            return;
        self->log_line(log::level::notice, "the target asked to renegotiate (" +
                                               (ec ? ec.message() : std::to_string(keys.size()) + " keys") +
                                               "): logging out to log in again");
        if (self->can_send())
            self->logout_requested(std::chrono::seconds(0));
    };
    waiting_.push_front(t->itt);
    pump();
}

} // namespace ivs::iscsi
