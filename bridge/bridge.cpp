#include "bridge/bridge.hpp"

#include "bridge/lun_rescan.hpp"

#include "iscsi/clock.hpp"
#include "iscsi/session.hpp"
#include "iscsi/session_error.hpp"
#include "scsi/cdb.hpp"
#include "scsi/inquiry.hpp"
#include "scsi/opcode.hpp"
#include "scsi/sense.hpp"
#include "scsi/status.hpp"
#include "vscsi/tag_table.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>

namespace ivs::bridge {

using vscsi::tag_table;
using vscsi::vscsi_device;
using vscsi::vscsi_dir;
using vscsi::vscsi_i2t;
using vscsi::vscsi_max_cdb;
using vscsi::vscsi_status;

namespace {

// Where REPORT LUNS data from the target lands before rewriting: room for
// (report_luns_room - 8) / 8 remote LUNs.
constexpr std::uint32_t report_luns_room = 16384;

enum log_kind : unsigned { log_i2t = 1, log_data = 2, log_t2i = 4, log_tag = 8, log_input = 16 };

} // namespace

// One dequeued command. Pooled: the buffer keeps its capacity between
// commands. Outlives the bridge while a session still owes it a completion
// (owner is then null and the completion frees it).
struct command_ctx {
    explicit command_ctx(std::shared_ptr<iscsi::clock> c) : clock(std::move(c)), timer(*clock) {}

    bridge::impl* owner = nullptr;
    vscsi_i2t io{};
    iscsi::session* session = nullptr;
    iscsi::scsi_request req;
    std::vector<std::byte> buffer;
    // Zero-copy READ: the midlayer's buffer (vscsi_device::data_read_buffer)
    // while the command is live, else empty; Data-In lands there through
    // `placement` and DATA_READ only accounts it. Once the command is
    // answered, the midlayer may free it: late Data-In lands in `buffer`.
    std::span<std::byte> midlayer;
    std::shared_ptr<iscsi::data_in_placement> placement;
    // Zero-copy WRITE: the midlayer's data (vscsi_device::data_write_buffer)
    // that the session sends from while the command is live. Answering it
    // early moves the session over to a copy in `buffer` first.
    std::span<const std::byte> midlayer_out;
    std::uint32_t task_tag = 0;      // the session's tag of the submitted command
    std::size_t delivered = 0;       // READ bytes handed to DATA_READ
    std::size_t landed = 0;          // REPORT LUNS bytes [0, landed) in `buffer`
    std::uint32_t generation = 0;    // bumped on each reuse (stale timer guard)
    bool live = false;               // dequeued and not answered yet
    bool in_session = false;         // the session owes a completion
    bool waiting_retry = false;
    bool report_luns = false;
    bool data_failed = false;        // a DATA call failed: the answer is ERR
    std::chrono::milliseconds next_delay{0};
    std::chrono::milliseconds waited{0};
    std::shared_ptr<iscsi::clock> clock; // outlives the bridge with the context
    iscsi::one_shot_timer timer;         // the retry delay
};

struct bridge::impl {
    impl(boost::asio::io_context& io_, vscsi_device& dev_, bridge_options opt_)
        : io(io_), dev(dev_), opt(std::move(opt_)), map(opt.geometry), ready(io_), rearm(io_)
    {
        if (!opt.clock)
            opt.clock = iscsi::make_steady_clock(io);
        // A duplicate of the readiness fd: the descriptor object closes its own.
        const int fd = ::dup(dev.readiness_fd());
        if (fd >= 0)
            ready.assign(fd);
        else
            log_once(log_i2t, "bridge: cannot duplicate the vscsi readiness fd");
    }

    boost::asio::io_context& io;
    vscsi_device& dev;
    bridge_options opt;
    lun_map map;
    bridge_counters counters;
    boost::asio::posix::stream_descriptor ready;
    boost::asio::steady_timer rearm;
    std::shared_ptr<int> alive = std::make_shared<int>(0);  // guards Asio handlers
    std::vector<std::unique_ptr<command_ctx>> pool;
    std::vector<command_ctx*> free_list;
    tag_table<command_ctx> live;
    bool running = false;
    bool stopped = false;
    bool dequeuing = false;    // inside dequeue_all()
    bool completing_all = false;  // inside complete_all(): no new commands
    struct added_session {
        const iscsi::session* s = nullptr;
        std::function<void()> on_lun_change;  // may be empty
    };
    std::vector<added_session> sessions;  // added and not removed
    unsigned logged = 0;

    void log_once(unsigned kind, const std::string& what)
    {
        if (logged & kind)
            return;
        logged |= kind;
        opt.log.warning(what);
    }

    // ---- readiness ----

    void arm()
    {
        if (!running || stopped || !ready.is_open())
            return;
        std::weak_ptr<int> token = alive;
        ready.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                         [this, token](const boost::system::error_code& ec) {
                             if (token.expired() || ec == boost::asio::error::operation_aborted)
                                 return;
                             drain();
                         });
    }

    // The readiness fd fired: dequeue everything, then wait again.
    void drain()
    {
        if (stopped)
            return;
        if (!dequeue_all()) {
            // Try again a little later rather than spin on the fd.
            std::weak_ptr<int> token = alive;
            rearm.expires_after(std::chrono::milliseconds(10));
            rearm.async_wait([this, token](const boost::system::error_code& e) {
                if (!token.expired() && !e)
                    arm();
            });
            return;
        }
        arm();
    }

    // I2T until EAGAIN; false after a device error. Never nested.
    bool dequeue_all()
    {
        if (dequeuing)
            return true;
        dequeuing = true;
        bool ok = true;
        while (!stopped) {
            vscsi_i2t in;
            const auto ec = dev.i2t(in);
            if (ec == std::errc::resource_unavailable_try_again)
                break;
            if (ec) {
                ++counters.device_errors;
                log_once(log_i2t, "bridge: VSCSI_I2T failed: " + ec.message());
                ok = false;
                break;
            }
            ++counters.commands;
            counters.commands_read += in.direction == vscsi_dir::read ? 1 : 0;
            counters.commands_write += in.direction == vscsi_dir::write ? 1 : 0;
            dispatch(in);
        }
        dequeuing = false;
        return ok;
    }

    // ---- contexts ----

    command_ctx* acquire()
    {
        if (free_list.empty()) {
            pool.push_back(std::make_unique<command_ctx>(opt.clock));
            free_list.push_back(pool.back().get());
        }
        command_ctx* c = free_list.back();
        free_list.pop_back();
        c->owner = this;
        ++c->generation;
        c->midlayer = {};
        c->midlayer_out = {};
        if (c->placement)
            c->placement->landing_ = false;  // the session is done with the previous command
        c->session = nullptr;
        c->delivered = 0;
        c->landed = 0;
        c->live = true;
        c->in_session = false;
        c->waiting_retry = false;
        c->report_luns = false;
        c->data_failed = false;
        c->next_delay = opt.retry_delay;
        c->waited = std::chrono::milliseconds(0);
        return c;
    }

    void release(command_ctx& c)
    {
        c.req.on_data_in = nullptr;
        c.session = nullptr;
        free_list.push_back(&c);
    }

    // ---- answering ----

    // Exactly one T2I per dequeued tag; device errors are logged, not fatal.
    // dequeue_next: I2T until EAGAIN follows at once (t2i_then_dequeue).
    void answer(int tag, vscsi_status st, const scsi::fixed_sense& sense, bool dequeue_next)
    {
        switch (st) {
        case vscsi_status::done: ++counters.done; break;
        case vscsi_status::sense: ++counters.sense; break;
        case vscsi_status::reset: ++counters.reset; break;
        default: ++counters.err; break;
        }
        if (auto ec = dequeue_next ? dev.t2i_then_dequeue(tag, st, sense) : dev.t2i(tag, st, sense)) {
            ++counters.device_errors;
            log_once(log_t2i, "bridge: VSCSI_T2I failed: " + ec.message());
        }
    }

    void finish(command_ctx& c, vscsi_status st, const scsi::fixed_sense& sense = {})
    {
        if (!c.live)
            return;
        c.live = false;
        // After T2I the midlayer's buffer is gone: a segment still arriving
        // into it is stopped, later ones land in c.buffer.
        c.midlayer = {};
        if (c.placement)
            c.placement->stop_landing();
        if (!c.midlayer_out.empty()) {
            // The midlayer's WRITE data is gone after T2I too: what the
            // session still has to send comes from a copy from now on.
            if (c.in_session) {
                std::memcpy(c.buffer.data(), c.midlayer_out.data(), c.midlayer_out.size());
                c.session->replace_write_buffer(c.task_tag, {c.buffer.data(), c.midlayer_out.size()});
            }
            c.midlayer_out = {};
        }
        live.erase(c.io.tag);
        // The midlayer often queues its next command from the completion,
        // on this thread: taking it right after the T2I saves a trip through
        // the readiness fd (an epoll_wait and the re-arming epoll_ctl per
        // command at QD 1), and saying so spares the device waking the fd
        // at all. The wait on the fd stays armed, so nothing is missed. Not
        // while complete_all() answers a session's commands (it is going away).
        const bool dequeue_next = running && !completing_all && !stopped;
        answer(c.io.tag, st, sense, dequeue_next);
        if (!c.in_session && !c.waiting_retry)
            release(c);
        if (dequeue_next)
            dequeue_all();
    }

    // ---- the hot path ----

    void dispatch(const vscsi_i2t& in)
    {
        if (live.find(in.tag)) {
            // A tag that is already live cannot be answered separately.
            ++counters.device_errors;
            log_once(log_tag, "bridge: VSCSI_I2T returned a live tag again");
            return;
        }
        command_ctx& c = *acquire();
        c.io = in;
        live.insert(in.tag, &c);
        counters.max_outstanding = std::max<std::uint64_t>(counters.max_outstanding, live.size());

        const bool dir_ok = in.direction == vscsi_dir::none || in.direction == vscsi_dir::read ||
                            in.direction == vscsi_dir::write;
        if (!dir_ok || in.cmdlen == 0 || in.cmdlen > vscsi_max_cdb || in.datalen > opt.max_transfer ||
            (in.direction == vscsi_dir::none && in.datalen != 0)) {
            log_once(log_input, "bridge: malformed command from vscsi (direction, CDB or length)");
            return finish(c, vscsi_status::err);
        }
        const std::uint8_t opcode = in.cmd[0];
        c.report_luns = opcode == scsi::op::report_luns;
        auto m = c.report_luns ? map.first_on_target(in.target) : map.at(in.target, in.lun);
        if (!m)
            return answer_unmapped(c);
        c.session = static_cast<iscsi::session*>(const_cast<void*>(m->owner));
        build_request(c, m->remote_lun);
        if (in.direction == vscsi_dir::write && in.datalen > 0) {
            // R2Ts may ask for any offset (§11.8): all of it, at once. The
            // midlayer's own buffer when the device offers it, else a copy.
            const std::span<const std::byte> mid = dev.data_write_buffer(in.tag);
            std::error_code ec;
            if (mid.size() >= in.datalen) {
                ec = dev.data_write_taken(in.tag, in.datalen);
                if (!ec) {
                    c.midlayer_out = mid.first(in.datalen);
                    c.req.write_buffer = c.midlayer_out;
                }
            } else {
                ec = dev.data_write(in.tag, std::span<std::byte>(c.buffer.data(), in.datalen));
            }
            if (ec) {
                ++counters.device_errors;
                log_once(log_data, "bridge: VSCSI_DATA_WRITE failed: " + ec.message());
                return finish(c, vscsi_status::err);
            }
            counters.bytes_written += in.datalen;
            ++counters.data_writes;
        }
        submit(c);
    }

    void build_request(command_ctx& c, std::uint64_t remote_lun)
    {
        auto& r = c.req;
        r.lun = remote_lun;
        std::array<std::byte, vscsi_max_cdb> cdb{};
        for (std::size_t i = 0; i < c.io.cmdlen; ++i)
            cdb[i] = std::byte{c.io.cmd[i]};
        std::size_t len = c.io.datalen;
        if (c.report_luns) {
            // Ask for the whole list; the midlayer's allocation length is
            // applied to the rewritten answer (SPC-4 §6.33).
            len = report_luns_room;
            scsi::set_report_luns_allocation_length(std::span<std::byte>(cdb.data(), c.io.cmdlen),
                                                    report_luns_room);
        }
        r.set_cdb(std::span<const std::byte>(cdb.data(), c.io.cmdlen));
        r.expected_length = static_cast<std::uint32_t>(len);
        if (c.buffer.size() < len)
            c.buffer.resize(len);
        r.read_buffer = {};
        r.write_buffer = {};
        r.on_data_in = nullptr;
        r.placement = nullptr;
        c.midlayer = {};
        const bool reads = c.report_luns || c.io.direction == vscsi_dir::read;
        if (len == 0) {
            r.direction = iscsi::data_direction::none;
        } else if (reads) {
            r.direction = iscsi::data_direction::read;
            r.read_buffer = std::span<std::byte>(c.buffer.data(), len);
            command_ctx* p = &c;
            if (c.report_luns) {
                // How much of the buffer holds this command's data (in order).
                r.on_data_in = [p](std::uint32_t offset, std::span<const std::byte> data) {
                    if (offset <= p->landed)
                        p->landed = std::max<std::size_t>(p->landed, std::size_t{offset} + data.size());
                };
            } else {
                r.on_data_in = [p](std::uint32_t offset, std::span<const std::byte> data) {
                    if (p->owner)
                        p->owner->on_data(*p, offset, data);
                };
                // REPORT LUNS is rewritten, so only plain READs go straight
                // to the midlayer, and only when the device can do that.
                const std::span<std::byte> mid = dev.data_read_buffer(c.io.tag);
                if (mid.size() >= len) {
                    c.midlayer = mid.first(len);
                    if (!c.placement) {
                        c.placement = std::make_shared<iscsi::data_in_placement>();
                        c.placement->destination = [p](std::uint32_t offset, std::uint32_t length) {
                            const std::span<std::byte> m = p->midlayer;  // empty once answered
                            if (!p->owner || !p->live || std::size_t{offset} + length > m.size())
                                return std::span<std::byte>{};
                            return m.subspan(offset, length);
                        };
                    }
                    r.placement = c.placement;
                }
            }
        } else {
            r.direction = iscsi::data_direction::write;
            r.write_buffer = std::span<const std::byte>(c.buffer.data(), len);
        }
    }

    void submit(command_ctx& c)
    {
        c.in_session = true;
        ++counters.submitted;
        command_ctx* p = &c;
        const std::uint32_t gen = c.generation;
        iscsi::session* s = c.session;
        s->submit(c.req, [p](const iscsi::scsi_result& res) {
            if (!p->owner) {
                delete p;  // the bridge is gone
                return;
            }
            p->owner->on_complete(*p, res);
        });
        // It may have completed at once (inside submit), c even reused since.
        if (c.generation == gen && c.in_session)
            c.task_tag = s->last_task_tag();
    }

    // Data-In as it lands, in offset order (the session checks every
    // offset): DATA_READ takes the bytes from where they landed and nowhere
    // else, so no buffer ever shows bytes this command did not receive.
    // After a reissue the data comes again from offset 0: only bytes beyond
    // those already handed over move (§6.3.5).
    void on_data(command_ctx& c, std::uint32_t offset, std::span<const std::byte> data)
    {
        if (!c.live || c.data_failed)
            return;
        if (offset > c.delivered) {
            c.data_failed = true;  // a gap: never filled from an old buffer
            log_once(log_data, "bridge: Data-In with a gap; the command ends with an error");
            return;
        }
        const std::size_t end = std::min<std::size_t>(std::size_t{offset} + data.size(), c.io.datalen);
        if (end <= c.delivered)
            return;
        const auto fresh = data.subspan(c.delivered - offset, end - c.delivered);
        // Placed straight into the midlayer's buffer (zero copy), or copied.
        const bool placed = !c.midlayer.empty() && fresh.data() == c.midlayer.data() + c.delivered;
        deliver(c, placed ? nullptr : fresh.data(), fresh.size());
    }

    // DATA_READ of n bytes: copied from `from`, or (from == nullptr) already
    // placed in the midlayer's buffer and only accounted.
    bool deliver(command_ctx& c, const std::byte* from, std::size_t n)
    {
        if (c.data_failed)
            return false;
        if (n == 0)
            return true;
        const auto ec = from ? dev.data_read(c.io.tag, std::span<const std::byte>(from, n))
                             : dev.data_read_placed(c.io.tag, n);
        if (ec) {
            c.data_failed = true;
            ++counters.device_errors;
            log_once(log_data, "bridge: VSCSI_DATA_READ failed: " + ec.message());
            return false;
        }
        c.delivered += n;
        counters.bytes_read += n;
        ++counters.data_reads;
        return true;
    }

    void on_complete(command_ctx& c, const iscsi::scsi_result& res)
    {
        c.in_session = false;
        if (!c.live) {
            release(c);  // answered already (shutdown, remove_session)
            return;
        }
        if (res.error)
            return finish(c, session_error_status(res.error));
        if (res.response != 0)
            return finish(c, vscsi_status::err);  // target failure (§11.4.3)
        switch (res.status) {
        case scsi::status::busy:
        case scsi::status::task_set_full:
            return retry(c);
        case scsi::status::good:
        case scsi::status::condition_met:
            if (!complete_data(c, res))
                return finish(c, vscsi_status::err);
            // A WRITE the target did not take whole (a residual either way,
            // RFC 7143 §11.4.5): vscsi cannot report a WRITE residual, and
            // DONE would say all of it was written.
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
        case scsi::status::task_aborted:
            return finish(c, vscsi_status::reset);
        default:  // RESERVATION CONFLICT and the rest cannot be expressed
            return finish(c, vscsi_status::err);
        }
    }

    std::function<void()> lun_change_handler(const iscsi::session* s) const
    {
        for (const auto& a : sessions)
            if (a.s == s)
                return a.on_lun_change;
        return {};
    }

    static vscsi_status session_error_status(std::error_code ec)
    {
        // The midlayer retries RESET: for a command that may well work again
        // (aborted, rejected, reissued too often). The rest, a command
        // timeout included, is an error the midlayer reports.
        return ec == iscsi::session_condition::retryable ? vscsi_status::reset : vscsi_status::err;
    }

    // At the status: REPORT LUNS is rewritten from what landed in the
    // bridge's buffer; a READ has handed over everything in on_data(), and a
    // status counting other bytes than those is an error, not a reason to
    // show what the buffer held before.
    bool complete_data(command_ctx& c, const iscsi::scsi_result& res)
    {
        if (c.report_luns) {
            const std::size_t got = std::min<std::size_t>({res.data_in_bytes, c.landed, report_luns_room});
            std::vector<std::byte> out;
            map.rewrite_report_luns(c.io.target, std::span<const std::byte>(c.buffer.data(), got),
                                    c.io.datalen, out);
            return deliver(c, out.data(), out.size());
        }
        if (c.io.direction != vscsi_dir::read)
            return true;
        return !c.data_failed && std::min<std::size_t>(res.data_in_bytes, c.io.datalen) == c.delivered;
    }

    // BUSY / TASK SET FULL (SAM-5 §5.3): resubmit after a growing delay.
    void retry(command_ctx& c)
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

    // ---- unmapped slots ----

    void answer_unmapped(command_ctx& c)
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

    // ---- shutdown ----

    // Answers every live command of `only` (all when null) and, when
    // `where` is given, only those on these slots.
    void complete_all(iscsi::session* only, vscsi_status st, const std::vector<slot>* where = nullptr,
                      const scsi::fixed_sense& sense = {})
    {
        std::vector<command_ctx*> victims;
        live.for_each([&](int, command_ctx* c) {
            const bool on_slot = where == nullptr || std::find(where->begin(), where->end(),
                                                               slot{c->io.target, c->io.lun}) != where->end();
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
};

bridge::bridge(boost::asio::io_context& io, vscsi_device& device, bridge_options options)
    : impl_(std::make_unique<impl>(io, device, std::move(options)))
{
}

bridge::~bridge()
{
    shutdown();
    // Contexts a session still owes a completion outlive us; it frees them.
    for (auto& p : impl_->pool) {
        p->timer.cancel();
        if (p->in_session) {
            p->owner = nullptr;
            p.release();
        }
    }
}

std::error_code bridge::add_session(iscsi::session& s, const std::vector<std::uint64_t>& remote_luns,
                                    std::vector<slot>& out)
{
    auto ec = impl_->map.add(&s, remote_luns, out);
    if (!ec)
        impl_->sessions.push_back({&s, {}});
    return ec;
}

std::vector<slot> bridge::remove_session(iscsi::session& s)
{
    std::erase_if(impl_->sessions, [&](const auto& a) { return a.s == &s; });
    impl_->complete_all(&s, vscsi_status::reset);
    return impl_->map.remove(&s);
}

std::error_code bridge::add_luns(iscsi::session& s, const std::vector<std::uint64_t>& remote_luns,
                                 std::vector<slot>& out)
{
    out.clear();
    const auto& v = impl_->sessions;
    if (std::none_of(v.begin(), v.end(), [&](const auto& a) { return a.s == &s; }))
        return make_error_code(std::errc::invalid_argument);
    if (auto ec = impl_->map.add_more(&s, remote_luns, out))
        return ec;
    for (const auto& where : out)
        if (auto ec = impl_->dev.request_probe(where.target, where.lun))
            impl_->opt.log.warning("bridge: VSCSI_REQPROBE failed: " + ec.message());
    return {};
}

std::vector<slot> bridge::remove_luns(iscsi::session& s, const std::vector<std::uint64_t>& remote_luns)
{
    // Unmapped first: what the midlayer sends there from now on is answered
    // here (LOGICAL UNIT NOT SUPPORTED), the commands already out likewise.
    const std::vector<slot> gone = impl_->map.remove_luns(&s, remote_luns);
    impl_->complete_all(&s, vscsi_status::sense, &gone,
                        scsi::make_fixed_sense(scsi::key::illegal_request, scsi::asc::logical_unit_not_supported, 0));
    for (const auto& where : gone)
        if (auto ec = impl_->dev.request_detach(where.target, where.lun))
            impl_->opt.log.warning("bridge: VSCSI_REQDETACH failed: " + ec.message());
    return gone;
}

void bridge::on_lun_change(iscsi::session& s, std::function<void()> handler)
{
    for (auto& a : impl_->sessions)
        if (a.s == &s)
            a.on_lun_change = std::move(handler);
}

void bridge::start()
{
    if (impl_->running || impl_->stopped)
        return;
    impl_->running = true;
    impl_->arm();
}

void bridge::shutdown()
{
    auto& d = *impl_;
    if (d.stopped)
        return;
    d.stopped = true;
    boost::system::error_code ignored;
    d.ready.cancel(ignored);
    d.rearm.cancel();
    d.complete_all(nullptr, vscsi_status::reset);
}

void bridge::sync_cache(iscsi::session& s, std::function<void(std::error_code)> done)
{
    struct state {
        std::size_t pending = 0;
        std::error_code first;
        std::function<void(std::error_code)> done;
    };
    auto st = std::make_shared<state>();
    st->done = std::move(done);
    const auto all = impl_->map.slots(&s);
    st->pending = all.size() + 1;  // +1 until every submit is made
    auto one = [st](std::error_code ec) {
        if (ec && !st->first)
            st->first = ec;
        if (--st->pending == 0 && st->done)
            st->done(st->first);
    };
    for (const auto& [where, m] : all) {
        (void)where;
        iscsi::scsi_request r;
        r.lun = m.remote_lun;
        r.set_cdb(scsi::synchronize_cache_10().as_bytes());
        s.submit(r, [one](const iscsi::scsi_result& res) {
            if (res.error)
                return one(res.error);
            // ILLEGAL REQUEST: a LUN without a cache to flush (tgtd's LUN 0
            // controller) has nothing to lose.
            const bool not_supported = res.status == scsi::status::check_condition &&
                                       scsi::sense_key(res.sense_data()) == scsi::key::illegal_request;
            one(res.good() || not_supported ? std::error_code{} : make_error_code(std::errc::io_error));
        });
    }
    one({});
}

const bridge_counters& bridge::counters() const noexcept { return impl_->counters; }
std::size_t bridge::outstanding() const noexcept { return impl_->live.size(); }
const lun_map& bridge::map() const noexcept { return impl_->map; }

} // namespace ivs::bridge
