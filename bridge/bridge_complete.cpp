// The session's completion of a command onto exactly one T2I per dequeued
// tag: GOOD is DONE, CHECK CONDITION is SENSE (converted to fixed format),
// BUSY and TASK SET FULL are retried after a growing delay, retryable
// session errors are RESET and the rest ERR. Also the early answers:
// unmapped slots, a session or its LUNs going away, shutdown.
#include "bridge/bridge_impl.hpp"

#include "bridge/lun_rescan.hpp"

#include "iscsi/session_error.hpp"
#include "scsi/inquiry.hpp"
#include "scsi/opcode.hpp"
#include "scsi/sense.hpp"
#include "scsi/status.hpp"
#include "vscsi/direct_access.hpp"

#include <algorithm>
#include <cstring>

namespace ivs::bridge {

using vscsi::vscsi_dir;
using vscsi::vscsi_status;

namespace {

vscsi_status session_error_status(std::error_code ec)
{
    // The midlayer retries RESET: for a command that may well work again
    // (aborted, rejected, reissued too often). The rest, a command timeout
    // included, is an error the midlayer reports.
    return ec == iscsi::session_condition::retryable ? vscsi_status::reset : vscsi_status::err;
}

} // namespace

// Exactly one T2I per dequeued tag; device errors are logged, not fatal.
// dequeue_next: I2T until EAGAIN follows at once (t2i_then_dequeue).
void bridge::impl::answer(int tag, vscsi_status st, const scsi::fixed_sense& sense, bool dequeue_next)
{
    switch (st) {
    case vscsi_status::done: ++counters.done; break;
    case vscsi_status::sense: ++counters.sense; break;
    case vscsi_status::reset: ++counters.reset; break;
    default: ++counters.err; break;
    }
    const auto ec = dequeue_next && direct ? direct->t2i_then_dequeue(tag, st, sense) : dev.t2i(tag, st, sense);
    if (ec) {
        ++counters.device_errors;
        log_once(log_t2i, "bridge: VSCSI_T2I failed: " + ec.message());
    }
}

void bridge::impl::finish(command_ctx& c, vscsi_status st, const scsi::fixed_sense& sense)
{
    if (!c.live)
        return;
    c.live = false;
    // After T2I the midlayer's buffers are gone. A READ segment still
    // arriving into them is stopped and later ones land in c.buffer; what
    // the session still has to send of a WRITE comes from a copy in
    // c.buffer. Both by withdrawing the lease (the session drops the
    // connection if it was using them).
    const bool lent = !c.midlayer.empty() || !c.midlayer_out.empty();
    c.midlayer = {};
    if (!c.midlayer_out.empty()) {
        if (c.in_session)
            std::memcpy(c.buffer.data(), c.midlayer_out.data(), c.midlayer_out.size());
        c.midlayer_out = {};
    }
    if (lent && c.in_session)
        c.withdraw();
    live.erase(c.io.tag);
    // The midlayer often queues its next command from the completion, on
    // this thread: taking it right after the T2I saves a trip through the
    // readiness fd (an epoll_wait and the re-arming epoll_ctl per command at
    // QD 1), and saying so spares the device waking the fd at all. The wait
    // on the fd stays armed, so nothing is missed. Not while complete_all()
    // answers a session's commands (it is going away).
    const bool dequeue_next = running && !completing_all && !stopped;
    answer(c.io.tag, st, sense, dequeue_next);
    if (!c.in_session && !c.waiting_retry)
        release(c);
    if (dequeue_next)
        dequeue_all();
}

void bridge::impl::on_complete(command_ctx& c, const iscsi::scsi_result& res)
{
    c.in_session = false;
    if (!c.live) {
        release(c); // answered already (shutdown, remove_session)
        return;
    }
    if (res.error)
        return finish(c, session_error_status(res.error));
    if (res.response != 0)
        return finish(c, vscsi_status::err); // target failure (§11.4.3)
    switch (res.status) {
    case scsi::status::busy:
    case scsi::status::task_set_full: return retry(c);
    case scsi::status::good:
    case scsi::status::condition_met:
        if (!complete_data(c, res))
            return finish(c, vscsi_status::err);
        // A WRITE the target did not take whole (a residual either way,
        // RFC 7143 §11.4.5): vscsi cannot report a WRITE residual, and DONE
        // would say all of it was written.
        if (c.io.direction == vscsi_dir::write &&
            ((res.residual_underflow && res.residual > 0) || res.residual_overflow)) {
            log_once(log_data, "bridge: the target wrote less than a WRITE asked; the command ends with an error");
            return finish(c, vscsi_status::err);
        }
        return finish(c, vscsi_status::done);
    case scsi::status::check_condition: {
        // The command is answered first; the owner only learns of it.
        std::function<void()> lun_change;
        if (reported_luns_changed(res.sense_data()))
            lun_change = lun_change_handler(c.session);
        auto sense = scsi::convert_sense(res.sense_data());
        if (!sense || (!c.report_luns && !complete_data(c, res)))
            finish(c, vscsi_status::err);
        else
            finish(c, vscsi_status::sense, *sense);
        if (lun_change)
            lun_change();
        return;
    }
    case scsi::status::task_aborted: return finish(c, vscsi_status::reset);
    default: // RESERVATION CONFLICT and the rest cannot be expressed
        return finish(c, vscsi_status::err);
    }
}

// BUSY / TASK SET FULL (SAM-5 §5.3): resubmit after a growing delay.
void bridge::impl::retry(command_ctx& c)
{
    if (c.waited + c.next_delay > opt.retry_budget)
        return finish(c, vscsi_status::reset);
    c.waiting_retry = true;
    c.waited += c.next_delay;
    const auto delay = c.next_delay;
    c.next_delay = std::min(c.next_delay * 2, opt.retry_max_delay);
    std::weak_ptr<int> token = alive;
    command_ctx* p = &c;
    const std::uint32_t gen = c.generation;
    c.timer.arm(delay, [this, token, p, gen] {
        if (token.expired() || p->generation != gen || !p->waiting_retry)
            return;
        p->waiting_retry = false;
        if (!p->live) {
            release(*p);
            return;
        }
        ++counters.retries;
        submit(*p);
    });
}

// ---- early answers ----

void bridge::impl::answer_unmapped(command_ctx& c)
{
    const bool evpd = c.io.cmdlen >= 2 && (c.io.cmd[1] & 0x01) != 0;
    if (c.io.cmd[0] == scsi::op::inquiry && !evpd && c.io.direction == vscsi_dir::read) {
        // SPC-4 §6.6.2: peripheral qualifier 3, type 0x1f: no LUN here.
        const auto inq = scsi::no_logical_unit_inquiry();
        const std::size_t n = std::min(inq.size(), c.io.datalen);
        if (!deliver(c, inq.data(), n))
            return finish(c, vscsi_status::err);
        return finish(c, vscsi_status::done);
    }
    finish(c, vscsi_status::sense,
           scsi::make_fixed_sense(scsi::key::illegal_request, scsi::asc::logical_unit_not_supported, 0));
}

void bridge::impl::complete_all(iscsi::session* only, vscsi_status st, const std::vector<slot>* where,
                                const scsi::fixed_sense& sense)
{
    std::vector<command_ctx*> victims;
    live.for_each([&](int, command_ctx* c) {
        const bool on_slot =
            where == nullptr || std::find(where->begin(), where->end(), slot{c->io.target, c->io.lun}) != where->end();
        if ((only == nullptr || c->session == only) && on_slot)
            victims.push_back(c);
    });
    const bool outer = !completing_all;
    completing_all = true;
    for (command_ctx* c : victims) {
        if (c->waiting_retry) {
            c->waiting_retry = false;
            c->timer.cancel();
        }
        finish(*c, st, sense);
    }
    if (outer)
        completing_all = false;
}

} // namespace ivs::bridge
