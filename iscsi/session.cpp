// Session life cycle: connect, login (with redirects), logout, and ERL 0
// recovery by reinstating the session and reissuing its commands
// (RFC 7143 §6.3.5, §7.1, §11.14), each step a move of the transition table
// in session_state.cpp.
#include "iscsi/session_impl.hpp"

#include "pdu/lun.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <random>

namespace ivs::iscsi {

namespace asio = boost::asio;

// ---- portals ----

bool parse_portal(std::string_view text, portal& out)
{
    portal p;
    if (text.empty())
        return false;
    if (text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos || close == 1)
            return false;
        p.host = std::string(text.substr(1, close - 1));
        text.remove_prefix(close + 1);
        if (!text.empty()) {
            if (text.front() != ':' || text.size() == 1)
                return false;
            p.port = std::string(text.substr(1));
        }
    } else if (std::count(text.begin(), text.end(), ':') > 1) {
        p.host = std::string(text); // a bare IPv6 literal
    } else {
        const auto colon = text.find(':');
        p.host = std::string(text.substr(0, colon));
        if (colon != std::string_view::npos) {
            p.port = std::string(text.substr(colon + 1));
            if (p.port.empty())
                return false;
        }
        if (p.host.empty())
            return false;
    }
    if (!std::all_of(p.port.begin(), p.port.end(), [](char c) { return c >= '0' && c <= '9'; }) || p.port.size() > 5 ||
        std::stoul(p.port) == 0 || std::stoul(p.port) > 65535)
        return false;
    out = std::move(p);
    return true;
}

std::string format_portal(const portal& p)
{
    if (p.host.find(':') != std::string::npos)
        return "[" + p.host + "]:" + p.port;
    return p.host + ":" + p.port;
}

void scsi_request::set_cdb(std::span<const std::byte> bytes)
{
    cdb_length = static_cast<std::uint16_t>(std::min(bytes.size(), cdb.size()));
    std::copy_n(bytes.begin(), cdb_length, cdb.begin());
}

// ---- session facade ----

session::session(asio::io_context& io, session_config config) : impl_(std::make_shared<impl>(io, std::move(config))) {}

session::~session()
{
    impl_->event_handler_ = nullptr;
    impl_->shutdown();
}

void session::start(std::function<void(std::error_code, const std::string&)> done) { impl_->start(std::move(done)); }
void session::submit(const scsi_request& request, scsi_completion done) { impl_->submit(request, std::move(done)); }
void session::abort_task(std::uint32_t tag, tmf_completion done) { impl_->abort_task(tag, std::move(done)); }
void session::lun_reset(std::uint64_t lun, tmf_completion done)
{
    impl_->submit_tmf(pdu::tmf_function::logical_unit_reset,
                      pdu::encode_lun(static_cast<std::uint16_t>(std::min<std::uint64_t>(lun, pdu::max_flat_lun))),
                      pdu::reserved_tag, std::move(done));
}
std::uint32_t session::last_task_tag() const noexcept { return impl_->last_itt_; }
void session::ping(std::function<void(std::error_code)> done) { impl_->ping(std::move(done)); }
void session::send_targets(std::function<void(std::error_code, const pdu::text_list&)> done)
{
    impl_->send_targets(std::move(done));
}
void session::logout(std::function<void(std::error_code)> done) { impl_->logout(std::move(done)); }
void session::on_event(std::function<void(const session_event&)> handler)
{
    impl_->event_handler_ = std::move(handler);
}
bool session::logged_in() const noexcept { return impl_->state_ == session_state::full_feature; }
const session_params& session::params() const noexcept { return impl_->params_; }
std::uint16_t session::tsih() const noexcept { return impl_->tsih_; }
const session_counters& session::counters() const noexcept { return impl_->counters_; }
std::size_t session::tasks_in_flight() const noexcept { return impl_->tasks_.in_use(); }

// ---- the transition table at work ----

session::impl::impl(asio::io_context& io, session_config config)
    : io_(io), config_(std::move(config)), clock_(config_.clock ? config_.clock : make_steady_clock(io)),
      timer_(*clock_), replacement_timer_(*clock_), tick_timer_(*clock_)
{
    current_portal_ = config_.target_portal;
    home_portal_ = config_.target_portal;
}

bool session::impl::fire(session_event_input on, std::error_code why)
{
    const session_transition* t = find_transition(state_, on, can_reinstate());
    if (!t) {
        log_line(log::level::debug,
                 std::string("ignored: ") + std::string(name(on)) + " in state " + std::string(name(state_)));
        return false;
    }
    std::string line = std::string(name(state_)) + " -> " + std::string(name(t->to)) + " on " + std::string(name(on)) +
                       " (" + std::string(t->rfc) + ")";
    if (why)
        line += ": " + why.message();
    state_ = t->to;
    log_line(log::level::debug, line);
    return true;
}

void session::impl::log_line(log::level level, std::string_view line) const
{
    // Several sessions share one log: each line names its target.
    const std::string& who =
        config_.login.target_name.empty() ? format_portal(config_.target_portal) : config_.login.target_name;
    std::string text = "session " + who + ": ";
    text.append(line);
    config_.log(level, text);
}

void session::impl::emit(session_event::kind what, std::error_code ec)
{
    if (event_handler_)
        event_handler_(session_event{what, 0, {}, ec});
}

// ---- login ----

void session::impl::start(std::function<void(std::error_code, const std::string&)> done)
{
    if (!fire(session_event_input::start)) {
        done(session_errc::protocol_error, "session already started");
        return;
    }
    start_done_ = std::move(done);
    start_ticks();
    connect();
}

// In state connecting or redirect: a new connection to current_portal_.
void session::impl::connect()
{
    auto conn = std::make_shared<connection>(io_);
    conn_ = conn;
    auto self = shared_from_this();
    asio::co_spawn(
        io_,
        [self, conn]() -> asio::awaitable<void> {
            std::error_code ec;
            if (self->config_.connector) {
                const int fd = self->config_.connector(self->current_portal_);
                ec = fd < 0 ? std::error_code(errno, std::system_category()) : conn->adopt(fd);
            } else {
                ec = co_await conn->connect(self->current_portal_.host, self->current_portal_.port,
                                            self->config_.connect_timeout, self->config_.local_address);
            }
            if (self->conn_ != conn)
                co_return; // shut down meanwhile
            if (ec) {
                self->conn_.reset();
                std::string why = conn->failure_detail();
                if (why.empty()) {
                    why = ec.message();
                    if (!self->config_.local_address.empty())
                        why += " (from local address " + self->config_.local_address + ")";
                }
                self->connect_failed(ec, "cannot connect to " + format_portal(self->current_portal_) + ": " + why);
                co_return;
            }
            self->connected(conn);
        },
        asio::detached);
}

void session::impl::connected(std::shared_ptr<connection> conn)
{
    if (!fire(session_event_input::connected))
        return;
    keep_alive_ = shared_from_this();
    conn->start(*this);
    // Login (§6.3): CmdSN starts anew, ExpStatSN is learned from the first response.
    exp_stat_sn_ = pdu::serial32{0};
    login_.emplace(config_.login, cmd_sn_.value(), 0);
    if (login_->state() == login_state::failed) // a configuration error
        return login_failed(login_->error(), login_->error_message());
    auto req = login_->next_request();
    pdu::bhs_bytes bhs;
    req.header.encode(bhs);
    conn->send_owned(bhs, std::move(req.data));
    timer_.arm(config_.login_timeout, [self = shared_from_this(), conn] {
        if (self->conn_ == conn && self->state_ == session_state::login)
            conn->close(session_errc::login_timeout); // on_closed() reports it
    });
}

void session::impl::on_login_response(const pdu::bhs_bytes& bhs, std::span<const std::byte> data)
{
    pdu::login_response r;
    if (auto ec = pdu::login_response::decode(bhs, r))
        return protocol_failure(ec, "bad Login Response");
    if (state_ != session_state::login || !login_)
        return protocol_failure(session_errc::protocol_error, "Login Response outside login");
    switch (login_->on_response(r, data)) {
    case login_step::send_next: {
        auto req = login_->next_request();
        pdu::bhs_bytes out;
        req.header.encode(out);
        conn_->send_owned(out, std::move(req.data));
        return;
    }
    case login_step::complete: {
        timer_.cancel();
        params_ = login_->params();
        tsih_ = login_->tsih();
        exp_stat_sn_ = pdu::serial32{r.stat_sn} + 1;
        exp_cmd_sn_ = pdu::serial32{r.exp_cmd_sn};
        max_cmd_sn_ = pdu::serial32{r.max_cmd_sn};
        cmd_sn_ = pdu::serial32{r.exp_cmd_sn};
        login_.reset();
        pdu::reader_config rx;
        rx.max_recv_data_segment_length = params_.max_recv_data_segment_length;
        rx.header_digest = params_.header_digest;
        rx.data_digest = params_.data_digest;
        conn_->configure(rx, {params_.header_digest, params_.data_digest});
        if (fire(session_event_input::login_complete))
            enter_full_feature();
        return;
    }
    case login_step::redirect: {
        if (++redirects_ > config_.max_redirects)
            return login_failed(session_errc::redirect_loop, "login failed: too many redirects");
        timer_.cancel();
        current_portal_.host = login_->redirect_target().host;
        current_portal_.port = std::to_string(login_->redirect_target().port);
        // 0x0102, target moved permanently: recovery goes there too from now on.
        if (login_->status() == 0x0102)
            home_portal_ = current_portal_;
        log_line(log::level::notice, login_->error_message());
        login_.reset();
        drop_connection(session_errc::connection_closed);
        if (fire(session_event_input::login_redirect))
            connect();
        return;
    }
    case login_step::failed:
        // A target refusing our CHAP_A list may take MD5 alone (old LIO).
        if (login_->md5_retry_suggested() && !md5_retried_) {
            md5_retried_ = true;
            config_.login.chap_algorithms = {chap_algorithm::md5};
            timer_.cancel();
            login_.reset();
            drop_connection(session_errc::connection_closed);
            if (fire(session_event_input::login_retry))
                connect();
            return;
        }
        return login_failed(login_->error(), login_->error_message());
    }
}

void session::impl::connect_failed(std::error_code ec, const std::string& message)
{
    if (fire(session_event_input::connect_failed, ec))
        after_login_failure(ec, message);
}

void session::impl::login_failed(std::error_code ec, std::string message)
{
    timer_.cancel();
    login_.reset();
    drop_connection(ec);
    if (fire(session_event_input::login_failed, ec))
        after_login_failure(ec, message.empty() ? "login failed: " + ec.message() : message);
}

// The connection of a login is abandoned: closed, and it reports nothing more.
void session::impl::drop_connection(std::error_code ec)
{
    if (!conn_)
        return;
    auto self = shared_from_this();
    conn_->close(ec);
    conn_->detach();
    conn_.reset();
    keep_alive_.reset();
}

// After connect_failed or login_failed: failed (a leading login) or
// recovering (a reinstatement keeps trying).
void session::impl::after_login_failure(std::error_code ec, const std::string& message)
{
    if (state_ == session_state::failed) {
        fail_all(ec);
        if (start_done_)
            std::exchange(start_done_, nullptr)(ec, message.empty() ? ec.message() : message);
        return;
    }
    log_line(log::level::warning, "reconnect failed: " + message);
    retry_later();
}

void session::impl::retry_later()
{
    // Capped exponential backoff with jitter: 250 ms doubling up to 30 s,
    // each wait drawn from [delay/2, delay] so initiators do not retry in step.
    const auto cap = std::min<std::chrono::milliseconds>(
        std::chrono::milliseconds(250 << std::min(reconnect_attempt_, 7u)), std::chrono::seconds(30));
    std::uniform_int_distribution<std::int64_t> jitter(cap.count() / 2, cap.count());
    ++reconnect_attempt_;
    schedule_reconnect(std::chrono::milliseconds(jitter(rng_)));
}

void session::impl::schedule_reconnect(std::chrono::milliseconds delay)
{
    timer_.arm(delay, [self = shared_from_this()] {
        if (!self->conn_ && self->fire(session_event_input::reconnect_due))
            self->connect();
    });
}

void session::impl::enter_full_feature()
{
    redirects_ = 0;
    reconnect_attempt_ = 0;
    replacement_expired_ = false;
    replacement_timer_.cancel();
    if (ever_logged_in_) {
        log_line(log::level::notice, "session reinstated with " + format_portal(current_portal_) + ", reissuing " +
                                         std::to_string(waiting_.size()) + " commands");
        ++counters_.reconnects;
        emit(session_event::kind::reconnected, {});
        if (state_ != session_state::full_feature)
            return; // the handler closed the session
    }
    ever_logged_in_ = true;
    culprit_itt_ = pdu::reserved_tag;
    reset_keepalive();
    if (start_done_)
        std::exchange(start_done_, nullptr)({}, {});
    pump();
}

// ---- logout and shutdown ----

void session::impl::on_logout_response(const pdu::bhs_bytes& bhs)
{
    pdu::logout_response r;
    if (auto ec = pdu::logout_response::decode(bhs, r))
        return protocol_failure(ec, "bad Logout Response");
    if (!accept_stat_sn(r.stat_sn))
        return;
    session_task* t = tasks_.find(r.initiator_task_tag);
    if (!t || !t->as<logout_task>())
        return protocol_failure(session_errc::unknown_task, "Logout Response for an unknown task");
    finish_task(*t, r.response == pdu::logout_response_code::closed_successfully
                        ? std::error_code{}
                        : make_error_code(session_errc::protocol_error));
}

void session::impl::logout(std::function<void(std::error_code)> done)
{
    const session_state before = state_;
    if (!fire(session_event_input::logout)) {
        shutdown();
        done({});
        return;
    }
    logout_done_ = std::move(done);
    if (before == session_state::full_feature)
        send_logout([conn = conn_](std::error_code) { conn->close(session_errc::session_closed); });
    auto conn = conn_;
    timer_.arm(config_.logout_timeout, [conn] { conn->close(session_errc::logout_timeout); });
}

void session::impl::shutdown()
{
    auto self = shared_from_this();
    fire(session_event_input::shutdown);
    timer_.cancel();
    replacement_timer_.cancel();
    tick_timer_.cancel();
    login_.reset();
    // Closing the socket ends every use of the callers' buffers at once, so
    // their commands can complete now; the connection reports nothing more.
    if (conn_) {
        conn_->close(session_errc::session_closed);
        conn_->detach();
        conn_.reset();
    }
    keep_alive_.reset();
    fail_all(session_errc::session_closed);
    if (logout_done_)
        std::exchange(logout_done_, nullptr)({});
}

void session::impl::fail_all(std::error_code ec)
{
    waiting_.clear();
    std::vector<session_task*> all;
    tasks_.for_each([&](session_task& t) { all.push_back(&t); });
    for (session_task* t : all)
        if (t->in_use)
            finish_task(*t, ec);
}

// ---- connection loss and recovery ----

void session::impl::on_closed(std::error_code ec)
{
    auto self = std::move(keep_alive_); // keeps *this alive until we return
    conn_.reset();
    switch (state_) {
    case session_state::login: login_failed(ec, "login failed: " + ec.message()); return;
    case session_state::full_feature:
    case session_state::logout_requested:
    case session_state::logging_out: connection_lost(ec); return;
    default: return;
    }
}

void session::impl::connection_lost(std::error_code ec)
{
    timer_.cancel();
    // The state leaves the full feature phase before any completion runs: a
    // completion that submits (the bridge does) queues, nothing is sent.
    if (!fire(session_event_input::connection_closed, ec))
        return;
    switch (state_) {
    case session_state::closed:
        fail_all(session_errc::session_closed);
        if (logout_done_)
            std::exchange(logout_done_, nullptr)(ec == session_errc::session_closed ? std::error_code{} : ec);
        return;
    case session_state::failed:
        fail_all(ec);
        emit(session_event::kind::failed, ec);
        return;
    case session_state::recovering: break;
    default: return;
    }
    log_line(log::level::warning, "connection lost (" + ec.message() + "), reinstating the session");
    // ERL 0 (§6.3.5): the target forgets the old session's tasks. Commands
    // are reissued in their original order, each at most max_reissues times;
    // everything else fails.
    //
    // Only a command that broke the connection may be charged a reissue,
    // else a command broken every time takes down the commands outstanding
    // beside it. The one command outstanding is charged. Of several, none
    // is, even the one whose task tag a bad PDU carried (the tag may be the
    // field that is wrong): they become suspects, reissued one at a time
    // (pump), so each is charged alone if it fails again while the others
    // complete; the one named and one that failed alone go last.
    const std::uint32_t named = std::exchange(culprit_itt_, pdu::reserved_tag);
    std::vector<std::uint32_t> outstanding;
    tasks_.for_each([&](session_task& t) {
        if (const scsi_task* s = t.as<scsi_task>(); s && t.sent && !s->response_ready)
            outstanding.push_back(t.itt);
    });
    const std::uint32_t culprit = outstanding.size() == 1 ? outstanding.front() : pdu::reserved_tag;
    const bool isolate = outstanding.size() > 1;
    std::vector<session_task*> reissue;
    std::vector<session_task*> ended;
    std::vector<session_task*> answered;
    std::vector<session_task*> spent;
    tasks_.for_each([&](session_task& t) {
        scsi_task* s = t.as<scsi_task>();
        if (!s) {
            ended.push_back(&t);
            return;
        }
        // No segment is landing any more: the connection is gone.
        s->landing = {};
        s->landing_lent = false;
        if (s->response_ready) {
            answered.push_back(&t); // its status arrived; only its Data-Out write was pending
            return;
        }
        if (!t.sent)
            return; // still waiting: it keeps its place
        if (isolate)
            s->suspect = true;
        if (culprit == t.itt && ++s->reissues > config_.max_reissues)
            spent.push_back(&t);
        else
            reissue.push_back(&t);
    });
    if (isolate)
        isolating_ = true;
    std::sort(reissue.begin(), reissue.end(), [](const session_task* a, const session_task* b) {
        return pdu::serial32{a->cmd_sn} < pdu::serial32{b->cmd_sn};
    });
    std::stable_partition(reissue.begin(), reissue.end(), [&](const session_task* t) {
        return !(t->itt == named || (t->itt == culprit && std::get<scsi_task>(t->work).suspect));
    });
    for (auto it = reissue.rbegin(); it != reissue.rend(); ++it) {
        session_task& t = **it;
        scsi_task& s = *t.as<scsi_task>();
        t.sent = false;
        s.writes_pending = 0;
        s.response_ready = false;
        s.next_data_sn = s.received = s.next_r2t_sn = s.r2t_bytes = s.data_out_bytes = 0;
        s.escalation = 0; // a new connection, a new ladder; progress_at stays
        s.result = scsi_result{};
        waiting_.push_front(t.itt);
        ++counters_.reissued;
    }
    for (session_task* t : spent) {
        if (!t->in_use)
            continue;
        char itt[16];
        std::snprintf(itt, sizeof itt, "0x%08x", static_cast<unsigned>(t->itt));
        log_line(log::level::warning, std::string("command ") + itt + " was alone on " +
                                          std::to_string(config_.max_reissues + 1) +
                                          " failed connections; it fails instead of being reissued again");
        finish_task(*t, session_errc::reissue_limit);
    }
    for (session_task* t : ended)
        if (t->in_use)
            finish_task(*t, ec);
    for (session_task* t : answered) {
        if (!t->in_use)
            continue;
        scsi_task& s = *t->as<scsi_task>();
        s.writes_pending = 0; // the connection is gone: the buffer is free
        complete_scsi(*t, s);
    }
    if (state_ != session_state::recovering)
        return; // a completion closed the session
    emit(session_event::kind::reconnecting, ec);
    if (state_ != session_state::recovering)
        return;

    // After the replacement timeout, pending commands fail and new ones fail
    // fast until the session is back.
    if (!replacement_timer_.armed())
        replacement_timer_.arm(config_.replacement_timeout,
                               [self = shared_from_this()] { self->replacement_timed_out(); });
    const auto delay =
        std::max<std::chrono::milliseconds>(next_reconnect_delay_, std::chrono::seconds(params_.default_time2wait));
    next_reconnect_delay_ = std::chrono::milliseconds(0);
    current_portal_ = home_portal_;
    schedule_reconnect(delay);
}

void session::impl::replacement_timed_out()
{
    if (!fire(session_event_input::replacement_timeout))
        return;
    replacement_expired_ = true; // keep trying in the background
    fail_all(session_errc::session_failed);
    emit(session_event::kind::failed, session_errc::session_failed);
}

// ---- non-SCSI tasks ----

void session::impl::submit_tmf(pdu::tmf_function fn, std::uint64_t lun, std::uint32_t ref_itt, tmf_completion done)
{
    if (state_ != session_state::full_feature) {
        done(session_errc::not_logged_in, pdu::tmf_response::function_rejected);
        return;
    }
    session_task* t = tasks_.allocate();
    if (!t) {
        done(session_errc::too_many_tasks, pdu::tmf_response::function_rejected);
        return;
    }
    t->immediate = true;
    tmf_task& m = t->work.emplace<tmf_task>();
    m.request.function = fn;
    m.request.lun = lun;
    m.request.referenced_task_tag = ref_itt;
    m.done = std::move(done);
    send_task(*t);
}

// ABORT TASK (§11.5.1) names the task's CmdSN in RefCmdSN: only a task sent
// on this connection has one the target knows. One not sent (waiting for
// the window or a reconnect) ends here; a tag no longer known is answered as
// the target would (task does not exist), without a stale RefCmdSN.
void session::impl::abort_task(std::uint32_t itt, tmf_completion done)
{
    session_task* t = tasks_.find(itt);
    scsi_task* s = t ? t->as<scsi_task>() : nullptr;
    if (!s || s->response_ready) {
        done({}, pdu::tmf_response::task_does_not_exist);
        return;
    }
    if (!t->sent) {
        waiting_.erase(std::remove(waiting_.begin(), waiting_.end(), itt), waiting_.end());
        finish_task(*t, session_errc::task_aborted);
        done({}, pdu::tmf_response::function_complete);
        return;
    }
    submit_tmf(pdu::tmf_function::abort_task, pdu::encode_lun(static_cast<std::uint16_t>(s->request.lun)), itt,
               std::move(done));
}

void session::impl::ping(std::function<void(std::error_code)> done)
{
    if (state_ != session_state::full_feature) {
        done(session_errc::not_logged_in);
        return;
    }
    session_task* t = tasks_.allocate();
    if (!t) {
        done(session_errc::too_many_tasks);
        return;
    }
    t->immediate = true;
    t->work.emplace<nop_task>().done = std::move(done);
    send_task(*t);
}

void session::impl::send_logout(std::function<void(std::error_code)> done)
{
    session_task* t = tasks_.allocate();
    if (!t) {
        if (conn_)
            conn_->close(session_errc::too_many_tasks);
        return;
    }
    t->immediate = true;
    t->work.emplace<logout_task>().done = std::move(done);
    send_task(*t);
}

void session::impl::send_targets(std::function<void(std::error_code, const pdu::text_list&)> done)
{
    if (state_ != session_state::full_feature) {
        done(session_errc::not_logged_in, {});
        return;
    }
    session_task* t = tasks_.allocate();
    if (!t) {
        done(session_errc::too_many_tasks, {});
        return;
    }
    text_task& x = t->work.emplace<text_task>();
    x.done = std::move(done);
    (void)pdu::append_pair(x.request, "SendTargets", "All");
    waiting_.push_back(t->itt);
    pump();
}

} // namespace ivs::iscsi
