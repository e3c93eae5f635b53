// Liveness of a full feature session: NOP-Out keepalive (RFC 7143 §11.18)
// and command timeouts escalating ABORT TASK -> LOGICAL UNIT RESET ->
// connection recovery (§4.2.3, §6.3.5).
#include "iscsi/session_impl.hpp"

#include "pdu/lun.hpp"

#include <algorithm>
#include <cstdio>

namespace ivs::iscsi {

namespace {

std::chrono::milliseconds tick_period(const session_config& c)
{
    std::chrono::milliseconds period{1000};
    for (auto v : {c.nop_interval, c.nop_timeout, c.command_timeout})
        if (v.count() > 0)
            period = std::min(period, v / 4);
    return std::max(period, std::chrono::milliseconds(20));
}

} // namespace

void session::impl::start_timers()
{
    last_rx_bytes_ = conn_ ? conn_->bytes_received() : 0;
    last_rx_time_ = clock_->now();
    nop_pending_ = false;
    const auto generation = ++tick_generation_;
    if (config_.nop_interval.count() == 0 && config_.command_timeout.count() == 0)
        return;
    tick_timer_.arm(tick_period(config_), [self = shared_from_this(), generation] {
        if (self->tick_generation_ == generation)
            self->on_timer_tick();
    });
}

void session::impl::on_timer_tick()
{
    if (!can_send())
        return; // the next login starts the ticks again
    const auto now = clock_->now();
    check_keepalive(now);
    if (!can_send())
        return;
    check_command_timeouts(now);
    const auto generation = tick_generation_;
    tick_timer_.arm(tick_period(config_), [self = shared_from_this(), generation] {
        if (self->tick_generation_ == generation)
            self->on_timer_tick();
    });
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
    const auto generation = tick_generation_;
    ping([self = shared_from_this(), generation](std::error_code) {
        if (self->tick_generation_ == generation)
            self->nop_pending_ = false;
    });
}

void session::impl::check_command_timeouts(clock::time_point now)
{
    if (config_.command_timeout.count() == 0)
        return;
    std::vector<std::uint32_t> late;
    tasks_.for_each([&](session_task& t) {
        const scsi_task* s = t.as<scsi_task>();
        if (s && t.sent && !s->response_ready && now - s->sent_at >= config_.command_timeout * (1 + s->escalation))
            late.push_back(t.itt);
    });
    for (std::uint32_t itt : late) {
        if (session_task* t = tasks_.find(itt))
            escalate(*t, *t->as<scsi_task>());
        if (!can_send())
            return;
    }
}

void session::impl::escalate(session_task& t, scsi_task& s)
{
    const std::uint64_t lun = pdu::encode_lun(static_cast<std::uint16_t>(s.request.lun));
    char itt[16];
    std::snprintf(itt, sizeof itt, "0x%08x", static_cast<unsigned>(t.itt));
    switch (s.escalation) {
    case 0:
        s.escalation = 1;
        log_line(log::level::warning, std::string("command ") + itt + " timed out, aborting it");
        submit_tmf(pdu::tmf_function::abort_task, lun, t.itt, [](std::error_code, pdu::tmf_response) {});
        return;
    case 1:
        s.escalation = 2;
        log_line(log::level::warning, std::string("ABORT TASK did not end command ") + itt + ", resetting LUN " +
                                          std::to_string(s.request.lun));
        submit_tmf(pdu::tmf_function::logical_unit_reset, lun, pdu::reserved_tag,
                   [](std::error_code, pdu::tmf_response) {});
        return;
    default: {
        log_line(log::level::warning,
                 std::string("LUN reset did not end command ") + itt + ", recovering the session");
        // Closing the socket first ends every use of the task's buffers; the
        // other commands are reissued by the recovery that follows.
        conn_->close(session_errc::timeout);
        finish_task(t, session_errc::timeout);
        return;
    }
    }
}

} // namespace ivs::iscsi
