// Liveness of a session: NOP-Out keepalive (RFC 7143 §11.18), command
// timeouts escalating ABORT TASK -> LOGICAL UNIT RESET -> connection
// recovery (§4.2.3, §7.11, §6.3.5), and the deadlines of every other task.
// One tick, from start() to shutdown, in every state: a command waiting for
// a reconnect times out too.
#include "iscsi/session_impl.hpp"

#include "pdu/lun.hpp"

#include <algorithm>
#include <cstdio>

namespace ivs::iscsi {

namespace {

std::chrono::milliseconds tick_period(const session_config& c)
{
    std::chrono::milliseconds period{1000};
    for (auto v : {c.nop_interval, c.nop_timeout, c.command_timeout, c.tmf_timeout})
        if (v.count() > 0)
            period = std::min(period, v / 4);
    return std::max(period, std::chrono::milliseconds(20));
}

std::string hex_tag(std::uint32_t itt)
{
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%08x", static_cast<unsigned>(itt));
    return buf;
}

} // namespace

void session::impl::start_ticks()
{
    if (config_.nop_interval.count() == 0 && config_.command_timeout.count() == 0 && config_.tmf_timeout.count() == 0)
        return;
    tick_timer_.arm(tick_period(config_), [self = shared_from_this()] { self->on_timer_tick(); });
}

void session::impl::reset_keepalive()
{
    last_rx_bytes_ = conn_ ? conn_->bytes_received() : 0;
    last_rx_time_ = clock_->now();
    nop_pending_ = false;
}

void session::impl::on_timer_tick()
{
    if (state_ == session_state::closed || (state_ == session_state::failed && !can_reinstate()))
        return;
    auto self = shared_from_this();
    const auto now = clock_->now();
    if (can_send())
        check_keepalive(now);
    check_task_deadlines(now);
    check_command_timeouts(now);
    if (state_ == session_state::closed)
        return;
    start_ticks();
}

// A ping goes out after nop_interval of silence. The peer is dead only when
// nothing at all arrives for nop_timeout after it: a connection busy
// receiving data whose NOP-In is queued behind that data stays up.
void session::impl::check_keepalive(clock::time_point now)
{
    if (config_.nop_interval.count() == 0)
        return;
    const std::uint64_t rx = conn_->bytes_received();
    if (rx != last_rx_bytes_) {
        last_rx_bytes_ = rx;
        last_rx_time_ = now;
    }
    if (nop_pending_) {
        if (config_.nop_timeout.count() > 0 && now - std::max(nop_sent_, last_rx_time_) >= config_.nop_timeout) {
            log_line(log::level::warning, "no answer to a NOP-Out ping for " +
                                              std::to_string(config_.nop_timeout.count()) +
                                              " ms, dropping the connection");
            nop_pending_ = false;
            conn_->close(session_errc::timeout);
        }
        return;
    }
    if (now - last_rx_time_ < config_.nop_interval)
        return;
    nop_pending_ = true;
    nop_sent_ = now;
    ping([self = shared_from_this(), conn = conn_](std::error_code) {
        if (self->conn_ == conn)
            self->nop_pending_ = false;
    });
}

// Non-SCSI tasks past their deadline: the caller hears timeout; the task
// stays without a caller so a late answer is not a protocol error.
void session::impl::check_task_deadlines(clock::time_point now)
{
    std::vector<std::uint32_t> late;
    tasks_.for_each([&](session_task& t) {
        std::visit(
            [&](auto& w) {
                using kind = std::decay_t<decltype(w)>;
                if constexpr (!std::is_same_v<kind, scsi_task> && !std::is_same_v<kind, logout_task>)
                    if (w.done && t.sent && now >= w.deadline)
                        late.push_back(t.itt);
            },
            t.work);
    });
    for (std::uint32_t itt : late) {
        session_task* t = tasks_.find(itt);
        if (!t)
            continue;
        std::visit(
            [&](auto& w) {
                using kind = std::decay_t<decltype(w)>;
                if constexpr (std::is_same_v<kind, tmf_task>) {
                    if (auto done = std::exchange(w.done, nullptr))
                        done(session_errc::timeout, pdu::tmf_response::function_rejected);
                } else if constexpr (std::is_same_v<kind, text_task>) {
                    if (auto done = std::exchange(w.done, nullptr))
                        done(session_errc::timeout, {});
                } else if constexpr (std::is_same_v<kind, nop_task>) {
                    if (auto done = std::exchange(w.done, nullptr))
                        done(session_errc::timeout);
                }
            },
            t->work);
    }
}

// A command without progress for command_timeout: one waiting (for a
// reconnect, for the window) fails at once; one outstanding on the live
// connection is aborted (§4.2.3), and each task management step that does
// not end it within tmf_timeout escalates.
void session::impl::check_command_timeouts(clock::time_point now)
{
    if (config_.command_timeout.count() == 0)
        return;
    std::vector<std::uint32_t> late;
    bool escalating = false; // a command on the connection is (about to be) aborted
    tasks_.for_each([&](session_task& t) {
        const scsi_task* s = t.as<scsi_task>();
        if (!s || s->response_ready)
            return;
        const bool stalled = now - s->progress_at >= config_.command_timeout;
        const bool step_over = s->escalation > 0 && now - s->escalated_at >= config_.tmf_timeout;
        if (t.sent && (s->escalation > 0 || stalled))
            escalating = true;
        if ((s->escalation == 0 && stalled) || step_over)
            late.push_back(t.itt);
    });
    for (std::uint32_t itt : late) {
        session_task* t = tasks_.find(itt);
        if (!t)
            continue;
        scsi_task& s = *t->as<scsi_task>();
        if (t->sent && conn_ && conn_->is_open() && state_ == session_state::logout_requested)
            continue; // the logout ends this connection soon; the command is reissued
        // A command waiting for the window behind one being aborted waits
        // for that to end: it frees the window, or drops the connection
        // within two tmf_timeout steps and recovery sends this one again.
        if (!t->sent && can_send() && escalating)
            continue;
        if (!t->sent || !can_send()) {
            log_line(log::level::warning, "command " + hex_tag(itt) + " made no progress for " +
                                              std::to_string(config_.command_timeout.count()) +
                                              " ms while waiting to be sent again; it fails");
            waiting_.erase(std::remove(waiting_.begin(), waiting_.end(), itt), waiting_.end());
            finish_task(*t, session_errc::command_timeout);
            continue;
        }
        escalate(*t, s);
    }
}

void session::impl::escalate(session_task& t, scsi_task& s)
{
    const std::uint64_t lun = pdu::encode_lun(static_cast<std::uint16_t>(s.request.lun));
    const std::uint32_t itt = t.itt;
    s.escalated_at = clock_->now();
    // A step that ends without ending the command moves on at once.
    auto next_step = [self = shared_from_this(), itt](std::uint8_t step) {
        return [self, itt, step](std::error_code, pdu::tmf_response r) {
            session_task* task = self->tasks_.find(itt);
            scsi_task* st = task ? task->as<scsi_task>() : nullptr;
            // §11.5.1 c): the task is unknown and its CmdSN, not counted yet
            // (ExpCmdSN), was outside the target's window: the command never
            // arrived and its CmdSN is a hole no later command gets past
            // (§4.2.2.1). Only a new session starts CmdSN over (§6.3.5).
            if (r == pdu::tmf_response::task_does_not_exist && step == 1 && st && st->escalation == step &&
                !st->response_ready && pdu::serial32{task->cmd_sn} >= self->exp_cmd_sn_ && self->can_send())
                return self->protocol_failure(session_errc::command_timeout,
                                              "ABORT TASK: the target never received the command (its CmdSN is a "
                                              "hole outside its window)");
            if (r != pdu::tmf_response::function_complete && st && st->escalation == step && !st->response_ready &&
                self->can_send())
                self->escalate(*task, *st);
        };
    };
    switch (s.escalation) {
    case 0:
        s.escalation = 1;
        log_line(log::level::warning, "command " + hex_tag(itt) + " made no progress, aborting it");
        submit_tmf(pdu::tmf_function::abort_task, lun, itt, next_step(1));
        return;
    case 1:
        s.escalation = 2;
        log_line(log::level::warning,
                 "ABORT TASK did not end command " + hex_tag(itt) + ", resetting LUN " + std::to_string(s.request.lun));
        submit_tmf(pdu::tmf_function::logical_unit_reset, lun, pdu::reserved_tag, next_step(2));
        return;
    default: {
        log_line(log::level::warning, "LUN reset did not end command " + hex_tag(itt) + ", recovering the session");
        // Closing the socket first ends every use of the task's buffers; the
        // other commands are reissued by the recovery that follows, without
        // counting it against them.
        culprit_itt_ = itt;
        conn_->close(session_errc::command_timeout);
        finish_task(t, session_errc::command_timeout);
        return;
    }
    }
}

} // namespace ivs::iscsi
