// One chaos run (see chaos_run.hpp): the plan drawn from the seed, the rig
// (chaos target, session, bridge, embedded vscsi with a tag audit), the
// turn-by-turn loop, the midlayer's workload and the invariants.
#include "chaos_run.hpp"

#include "bridge/bridge.hpp"
#include "vscsi/embedded_vscsi.hpp"
#include "chaos_audit.hpp"
#include "chaos_plan.hpp"
#include "iscsi/session.hpp"
#include "test/support/chaos_blocks.hpp"
#include "test/support/chaos_target.hpp"
#include "test/support/manual_clock.hpp"

#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <deque>
#include <iostream>
#include <sstream>

namespace ivs::test::chaos {

current_run_info current_run;

namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

constexpr int midlayer_retries = 3;

const char* status_name(vscsi::vscsi_status s)
{
    switch (s) {
    case vscsi::vscsi_status::done: return "DONE";
    case vscsi::vscsi_status::sense: return "SENSE";
    case vscsi::vscsi_status::reset: return "RESET";
    default: return "ERR";
    }
}

// A midlayer command: its buffer stays allocated until the run ends, so
// bytes landing in it after its completion are seen (it is poisoned then).
struct midlayer_command {
    command_key key;
    std::vector<std::byte> buf;
    std::size_t index = 0;
    bool health = false;
    bool done = false;
    vscsi::scsi_completion result{};
};

class rig {
public:
    rig(const run_options& o, const plan& p, run_result& out);
    ~rig();
    void run();

private:
    void fail(const std::string& symptom, const std::string& detail);
    void note(const std::string& line);
    bool pump(const std::function<bool()>& done, const std::string& what);
    void hung(const std::string& what);
    void issue_main();
    midlayer_command& issue(const planned_command& c, std::size_t index, bool health,
                            std::optional<std::uint64_t> at = std::nullopt);
    std::uint64_t free_lba(const planned_command& c);
    void completed(midlayer_command& m, const vscsi::scsi_completion& c);
    void verify(const midlayer_command& m);
    void health();
    void final_checks();
    void teardown();

    const run_options& opt_;
    const plan& plan_;
    run_result& out_;
    chaos_target target_;
    boost::asio::io_context io_;
    vscsi::embedded_vscsi vs_;
    std::unique_ptr<vscsi::vscsi_device> dev_;
    std::unique_ptr<audit_device> audit_;
    std::unique_ptr<iscsi::session> session_;
    std::unique_ptr<bridge::bridge> bridge_;
    std::vector<bridge::slot> slots_;
    std::deque<midlayer_command> cmds_;
    std::size_t next_main_ = 0;
    std::size_t main_done_ = 0;
    std::size_t in_flight_ = 0;
    std::uint32_t next_generation_ = 1;
    rng lba_rng_;
    std::optional<command_key> victim_key_;
    bool stopping_ = false;
    bool tearing_down_ = false;
    // Session and bridge timers run on a clock that moves only when nothing
    // else can: a run is the same every time, however busy the machine.
    std::shared_ptr<manual_clock> clock_ = std::make_shared<manual_clock>();
    steady::time_point start_;               // wall clock
    iscsi::clock::time_point last_progress_; // the run's clock
    unsigned logins_at_progress_ = 0;
};

// A log sink whose lines go to the journal, after `prefix`.
log::sink journal_sink(std::function<void(const std::string&)> note, std::string prefix)
{
    return log::sink([note = std::move(note), prefix = std::move(prefix)](log::level l, std::string_view line) {
        note(prefix + std::string(log::name(l)) + ": " + std::string(line));
    });
}

vscsi::embedded_vscsi_config vscsi_config(log::sink log)
{
    vscsi::embedded_vscsi_config c;
    c.targets = 4;
    c.luns = 8;
    c.max_transfer = max_transfer;
    c.log = std::move(log);
    return c;
}

rig::rig(const run_options& o, const plan& p, run_result& out)
    : opt_(o), plan_(p), out_(out),
      target_(static_cast<std::uint32_t>(o.seed), p.tp, p.target_seed, lun_count, lun_blocks),
      vs_(vscsi_config(journal_sink([this](const std::string& l) { note(l); }, "vscsi "))), lba_rng_(p.lba_seed)
{
    if (opt_.verbose)
        target_.set_trace([this](const std::string& l) { note(l); });
    target_.plan_fault(p.kind, o.persistent, p.fault_seed);

    if (auto ec = vs_.open(dev_))
        throw std::runtime_error("cannot open the embedded vscsi: " + ec.message());
    audit_ = std::make_unique<audit_device>(*dev_);

    iscsi::session_config cfg;
    cfg.target_portal = {"chaos.target.test", "3260"};
    cfg.login.initiator_name = "iqn.2026-11.org.iscsi-vscsi.test:chaos";
    cfg.login.target_name = "iqn.2026-11.org.iscsi-vscsi.test:disk";
    cfg.login.proposals.default_time2wait = 0;
    cfg.login.proposals.default_time2retain = 0;
    cfg.recover = true;
    // The default timeouts (the ones a user gets): on the run's clock a
    // minute costs no more than a millisecond.
    cfg.clock = clock_;
    cfg.connector = [this](const iscsi::portal&) { return target_.connect(); };
    cfg.log = journal_sink([this](const std::string& l) { note(l); }, "session ");
    session_ = std::make_unique<iscsi::session>(io_, cfg);
    session_->on_event([this](const iscsi::session_event& e) {
        static const char* names[] = {"scsi async event", "reconnecting", "reconnected", "failed"};
        note(std::string("session event: ") + names[static_cast<int>(e.what)] +
             (e.error ? " (" + e.error.message() + ")" : ""));
    });

    bridge::bridge_options bo;
    bo.geometry = {vs_.config().targets, vs_.config().luns};
    bo.max_transfer = max_transfer;
    bo.clock = clock_;
    bo.log = journal_sink([this](const std::string& l) { note(l); }, "bridge ");
    bridge_ = std::make_unique<bridge::bridge>(io_, *audit_, bo);
}

rig::~rig() { teardown(); }

void rig::note(const std::string& line)
{
    if (opt_.verbose)
        out_.journal.push_back(line);
}

void rig::fail(const std::string& symptom, const std::string& detail)
{
    if (out_.failures.size() < 8)
        out_.failures.push_back({symptom, detail});
    note("FAILURE " + symptom + ": " + detail);
    stopping_ = true;
}

// Turn by turn: the initiator runs every handler that is ready, then the
// target answers what arrived. When neither moves, only the timers of the
// session and the bridge can: the run's clock moves to the next one (the
// Asio handlers left, e.g. the bridge's readiness re-arm, get 2 ms of real
// time when no timer is armed). The hang bound is on the run's clock, so a
// run does not depend on the machine's speed.
bool rig::pump(const std::function<bool()>& done, const std::string& what)
{
    for (;;) {
        if (done())
            return true;
        if (stopping_)
            return false;
        bool moved = false;
        for (;;) {
            if (io_.stopped())
                io_.restart();
            if (io_.poll() == 0)
                break;
            moved = true;
        }
        moved |= target_.step();
        if (!moved && !done() && !target_.on_quiescent()) {
            // Nothing can move without time passing: on to the next timer.
            if (clock_->next_in() != manual_clock::duration::max()) {
                clock_->advance(clock_->next_in());
            } else {
                if (io_.stopped())
                    io_.restart();
                io_.run_one_for(2ms);
            }
        }
        if (target_.logins() > opt_.max_logins) {
            fail("livelock", what + ": " + std::to_string(target_.logins()) + " logins (a reconnect loop)");
            return false;
        }
        if (clock_->now() - last_progress_ > opt_.progress_limit || steady::now() - start_ > opt_.run_limit) {
            hung(what);
            return false;
        }
    }
}

void rig::hung(const std::string& what)
{
    std::vector<std::string> waiting;
    for (const auto& m : cmds_)
        if (!m.done)
            waiting.push_back(m.key.describe() + (m.health ? " (health)" : ""));
    const unsigned reconnects = target_.logins() - logins_at_progress_;
    std::ostringstream d;
    if (steady::now() - start_ > opt_.run_limit)
        d << what << " did not end within the wall-clock limit of " << opt_.run_limit.count() << " ms; "
          << waiting.size();
    else
        d << what << " did not end: no vscsi completion for " << opt_.progress_limit.count()
          << " ms on the run's clock; " << waiting.size();
    d << " midlayer commands waiting";
    if (!waiting.empty())
        d << " (first: " << waiting.front() << ")";
    d << "; " << audit_->unanswered().size() << " vscsi tags unanswered, bridge outstanding " << bridge_->outstanding()
      << ", session tasks " << session_->tasks_in_flight() << ", session "
      << (session_->logged_in() ? "logged in" : "not logged in") << ", " << reconnects
      << " logins since the last completion";
    std::string symptom = "hang";
    if (reconnects >= 3)
        symptom = "livelock";
    else if (bridge_->outstanding() > 0 && session_->tasks_in_flight() == 0)
        symptom = "missing-t2i";
    fail(symptom, d.str());
}

std::uint64_t rig::free_lba(const planned_command& c)
{
    auto free = [&](std::uint64_t lba) {
        for (const auto& m : cmds_) {
            if (m.done || m.key.op == 'N' || m.key.lun != c.lun)
                continue;
            if (lba < m.key.lba + m.key.blocks && m.key.lba < lba + c.blocks)
                return false;
        }
        // No second command with the victim's identity: the fault follows it.
        return !(victim_key_ && victim_key_->lun == c.lun && victim_key_->op == c.op && victim_key_->lba == lba &&
                 victim_key_->blocks == c.blocks);
    };
    for (int tries = 0; tries < 64; ++tries) {
        const std::uint64_t lba = lba_rng_.below(static_cast<std::uint32_t>(lun_blocks - c.blocks + 1));
        if (free(lba))
            return lba;
    }
    for (std::uint64_t lba = 0; lba + c.blocks <= lun_blocks; ++lba)
        if (free(lba))
            return lba;
    // Cannot happen (see lun_blocks). Never throw from here: this runs in
    // completions, inside the session's read loop.
    fail("harness", "no free range on LUN " + std::to_string(c.lun) + " for " + std::to_string(c.blocks) + " blocks");
    return 0;
}

midlayer_command& rig::issue(const planned_command& c, std::size_t index, bool health, std::optional<std::uint64_t> at)
{
    midlayer_command& m = cmds_.emplace_back();
    m.index = index;
    m.health = health;
    m.key.lun = c.lun;
    m.key.op = c.op;
    if (c.op != 'N') {
        m.key.blocks = c.blocks;
        m.key.lba = at ? *at : free_lba(c);
    }
    vscsi::scsi_command sc;
    sc.target = slots_.at(c.lun).target;
    sc.lun = slots_.at(c.lun).lun;
    // As a kernel's midlayer does, a command that ends in RESET (the
    // transport gave up on it, it may work again) is issued again, with a
    // new tag, a few times.
    sc.retries = midlayer_retries;
    if (c.op == 'N') {
        sc.cdblen = 6; // TEST UNIT READY
    } else {
        const bool write = c.op == 'W';
        if (c.cdb16) {
            sc.cdb[0] = write ? 0x8a : 0x88;
            for (int i = 0; i < 8; ++i)
                sc.cdb[2 + i] = static_cast<std::uint8_t>(m.key.lba >> (56 - 8 * i));
            for (int i = 0; i < 4; ++i)
                sc.cdb[10 + i] = static_cast<std::uint8_t>(c.blocks >> (24 - 8 * i));
            sc.cdblen = 16;
        } else {
            sc.cdb[0] = write ? 0x2a : 0x28;
            for (int i = 0; i < 4; ++i)
                sc.cdb[2 + i] = static_cast<std::uint8_t>(m.key.lba >> (24 - 8 * i));
            sc.cdb[7] = static_cast<std::uint8_t>(c.blocks >> 8);
            sc.cdb[8] = static_cast<std::uint8_t>(c.blocks);
            sc.cdblen = 10;
        }
        m.buf.resize(std::size_t{c.blocks} * block_size);
        if (write) {
            const std::uint32_t gen = next_generation_++;
            for (std::uint32_t b = 0; b < c.blocks; ++b)
                fill_block(std::span(m.buf).subspan(b * block_size, block_size),
                           block_id{static_cast<std::uint32_t>(opt_.seed), c.lun, m.key.lba + b, gen});
            sc.dir = vscsi::vscsi_dir::write;
            sc.data_out = m.buf;
        } else {
            poison(m.buf);
            sc.dir = vscsi::vscsi_dir::read;
            sc.data_in = m.buf;
        }
        target_.forget(m.key);
    }
    if (!health && index == plan_.victim) {
        victim_key_ = m.key;
        target_.arm(m.key);
    }
    ++in_flight_;
    note("midlayer: issue #" + std::to_string(index) + (health ? " (health) " : " ") + m.key.describe());
    midlayer_command* pm = &m;
    if (auto ec = vs_.submit(sc, [this, pm](const vscsi::scsi_completion& comp) { completed(*pm, comp); })) {
        fail("harness", "the embedded vscsi refused " + m.key.describe() + ": " + ec.message());
        --in_flight_;
        pm->done = true;
    }
    return m;
}

void rig::issue_main()
{
    while (!stopping_ && !tearing_down_ && in_flight_ < plan_.qd && next_main_ < plan_.main.size()) {
        const std::size_t i = next_main_++;
        issue(plan_.main[i], i, false);
    }
}

void rig::completed(midlayer_command& m, const vscsi::scsi_completion& c)
{
    if (m.done) {
        fail("double-t2i", "a second completion for " + m.key.describe());
        return;
    }
    m.done = true;
    m.result = c;
    --in_flight_;
    note("midlayer: complete #" + std::to_string(m.index) + " " + m.key.describe() + ": " + status_name(c.status) +
         " residual " + std::to_string(c.residual));
    if (tearing_down_)
        return;
    last_progress_ = clock_->now();
    logins_at_progress_ = target_.logins();
    ++out_.commands;
    if (c.status != vscsi::vscsi_status::done)
        ++out_.errors;
    verify(m);
    // The midlayer reuses its buffers at once: nothing may land in or be
    // sent from them now.
    poison(m.buf);
    if (!m.health) {
        ++main_done_;
        issue_main();
    }
}

void rig::verify(const midlayer_command& m)
{
    const auto& c = m.result;
    if (c.status != vscsi::vscsi_status::done) {
        // Only the victim may end in an error: the rest of the I/O goes on
        // (on a new connection if need be), retried as the midlayer does.
        if (m.health)
            fail("unhealthy", m.key.describe() + " issued after the fault ended " + status_name(c.status) +
                                  " (the session did not recover)");
        // Except beside a target that advertised a window it does not have
        // (maxcmdsn_beyond): the session may not shrink MaxCmdSN again
        // (RFC 7143 §4.2.2.1), so commands past the target's real window can
        // fail too, each with an error and never with wrong data (checked
        // below for every DONE). doc/reliability.md, "Still open".
        else if (m.index != plan_.victim && plan_.kind != fault_kind::maxcmdsn_beyond)
            fail("collateral-error", m.key.describe() + " (#" + std::to_string(m.index) + ", not the victim #" +
                                         std::to_string(plan_.victim) + ") ended " + status_name(c.status) + " after " +
                                         std::to_string(midlayer_retries) + " retries");
        return;
    }
    if (m.key.op == 'N')
        return;
    const execution* e = target_.executed(m.key);
    const std::size_t datalen = m.buf.size();
    if (!e) {
        fail(m.key.op == 'R' ? "phantom-done" : "lost-write",
             m.key.describe() + " completed DONE but the target never " +
                 (m.key.op == 'R' ? "answered it with data and status" : "stored it"));
        return;
    }
    if (m.key.op == 'R') {
        if (c.residual != e->declared_residual) {
            fail("short-read", m.key.describe() + " completed DONE with residual " + std::to_string(c.residual) +
                                   " where the target declared " + std::to_string(e->declared_residual));
            return;
        }
        const std::size_t n = datalen - std::min(datalen, c.residual);
        const auto truth = target_.lun_bytes(m.key.lun, m.key.lba, m.key.blocks);
        for (std::size_t off = 0; off < n; off += block_size) {
            const std::size_t len = std::min<std::size_t>(block_size, n - off);
            if (!std::equal(m.buf.begin() + off, m.buf.begin() + off + len, truth.begin() + off)) {
                fail("wrong-bytes", m.key.describe() + " completed DONE: block " + std::to_string(off / block_size) +
                                        " holds " + describe_block(std::span(m.buf).subspan(off, len)) +
                                        ", the target has " + describe_block(truth.subspan(off, len)));
                return;
            }
        }
        return;
    }
    if (e->lied)
        return; // the target said GOOD before it had the data: nothing to hold the initiator to
    const std::size_t n = datalen - std::min(datalen, c.residual);
    if (e->stored_bytes < n) {
        fail("lost-write", m.key.describe() + " completed DONE (residual " + std::to_string(c.residual) +
                               ") but the target stored " + std::to_string(e->stored_bytes) + " of its " +
                               std::to_string(datalen) + " bytes and declared a residual of " +
                               std::to_string(e->declared_residual));
        return;
    }
    const auto stored = target_.lun_bytes(m.key.lun, m.key.lba, m.key.blocks);
    for (std::size_t off = 0; off < n; off += block_size)
        if (!std::equal(m.buf.begin() + off, m.buf.begin() + off + block_size, stored.begin() + off)) {
            fail("wrong-bytes-written", m.key.describe() + " completed DONE: block " +
                                            std::to_string(off / block_size) + " on the target holds " +
                                            describe_block(stored.subspan(off, block_size)));
            return;
        }
}

// After the fault: the session must still carry I/O. One WRITE and its
// READ back per LUN, as a midlayer would retry them (RESET three times).
void rig::health()
{
    target_.disarm();
    for (std::uint16_t lun = 0; lun < lun_count && !stopping_; ++lun) {
        const planned_command w{'W', lun, 8, lun == 1};
        midlayer_command& wm = issue(w, 1000 + lun, true);
        if (!pump([&] { return wm.done; }, "a health-check WRITE"))
            return;
        const planned_command r{'R', lun, 8, lun == 1};
        midlayer_command& rm = issue(r, 1100 + lun, true, wm.key.lba);
        if (!pump([&] { return rm.done; }, "a health-check READ"))
            return;
    }
}

void rig::final_checks()
{
    out_.logins = target_.logins();
    out_.fired = target_.fired();
    for (const auto& p : audit_->problems())
        fail(p.symptom, p.detail);
    if (!stopping_ && !audit_->unanswered().empty())
        fail("missing-t2i", std::to_string(audit_->unanswered().size()) + " dequeued vscsi tags never answered");
    for (const auto& f : target_.findings())
        fail(f.symptom, f.detail);
    if (target_.fired() == 0 && out_.failures.empty())
        fail("harness", "the fault never fired (no suitable victim exchange)");
}

void rig::run()
{
    start_ = steady::now();
    last_progress_ = clock_->now();
    note("plan: " + out_.plan);
    std::optional<std::error_code> started;
    std::string message;
    session_->start([&](std::error_code ec, const std::string& m) {
        started = ec;
        message = m;
    });
    if (!pump([&] { return started.has_value(); }, "the first login"))
        return final_checks();
    if (*started) {
        fail("harness", "the first login failed: " + message);
        return final_checks();
    }
    if (auto ec = bridge_->add_session(*session_, {0, 1}, slots_)) {
        fail("harness", "add_session: " + ec.message());
        return final_checks();
    }
    bridge_->start();
    issue_main();
    if (pump([&] { return main_done_ == plan_.main.size(); }, "the workload"))
        health();
    if (!stopping_) {
        std::optional<std::error_code> out;
        session_->logout([&](std::error_code ec) { out = ec; });
        if (pump([&] { return out.has_value(); }, "the logout") && *out)
            fail("unhealthy", "the logout failed: " + out->message());
    }
    final_checks();
}

void rig::teardown()
{
    if (tearing_down_)
        return;
    tearing_down_ = true;
    // Bridge before the session and the device (its shutdown answers
    // through the device); then nothing can write into midlayer buffers.
    bridge_.reset();
    session_.reset();
    audit_.reset();
    dev_.reset();
    for (const auto& m : cmds_)
        if (m.key.op == 'R' && m.done)
            if (const long at = first_unpoisoned(m.buf); at >= 0) {
                out_.failures.push_back({"late-bytes", m.key.describe() + ": bytes landed at offset " +
                                                           std::to_string(at) + " of its buffer after its T2I"});
                break;
            }
}

} // namespace

run_result run_one(const run_options& o)
{
    run_result out;
    out.seed = o.seed;
    out.persistent = o.persistent;
    const plan p = make_plan(o.seed, o.kind);
    out.kind = p.kind;
    out.plan = describe(p);
    current_run = {o.seed, o.persistent, info(p.kind).name.data(), true};
    const auto t0 = steady::now();
    {
        rig r(o, p, out);
        r.run();
    }
    out.took = std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - t0);
    current_run.active = false;
    return out;
}

} // namespace ivs::test::chaos
