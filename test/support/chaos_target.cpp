// The chaos target: connections and logins, a connection's turn, CmdSN
// ordering and the window (RFC 7143 §4.2.2), sending, and what it finds.
#include "test/support/chaos_target_impl.hpp"

#include "test/support/chaos_blocks.hpp"
#include "pdu/bytes.hpp"
#include "pdu/lun.hpp"
#include "pdu/serial.hpp"

#include <algorithm>
#include <cstring>

namespace ivs::test::chaos {

namespace {

constexpr std::uint32_t reserved = pdu::reserved_tag;

std::string hex(std::uint32_t v)
{
    static const char digits[] = "0123456789abcdef";
    std::string s = "0x";
    bool started = false;
    for (int shift = 28; shift >= 0; shift -= 4) {
        const unsigned d = (v >> shift) & 0xf;
        if (d || started || shift == 0) {
            s += digits[d];
            started = true;
        }
    }
    return s;
}

std::string describe_out(const out_pdu& p)
{
    return "op " + hex(p.opcode()) + " itt " + hex(p.field(bhs_at::itt)) + " statsn " +
           std::to_string(p.field(bhs_at::stat_sn)) + " exp/max " + std::to_string(p.field(bhs_at::exp_cmd_sn)) + "/" +
           std::to_string(p.field(bhs_at::max_cmd_sn)) + " sn " + std::to_string(p.field(bhs_at::data_sn)) + " off " +
           std::to_string(p.field(bhs_at::buffer_offset)) + " len " + std::to_string(p.data.size()) +
           (p.fault ? " FAULT" : "");
}

bool is_new_request(const received_pdu& p)
{
    switch (p.op()) {
    case pdu::opcode::data_out: return false;
    case pdu::opcode::nop_out: return p.itt() != reserved; // an answer to our ping is no request
    default: return true;
    }
}

} // namespace

std::string command_key::describe() const
{
    if (op == 'N')
        return "command without data on LUN " + std::to_string(lun);
    return std::string(op == 'R' ? "READ" : "WRITE") + " LUN " + std::to_string(lun) + " LBA " + std::to_string(lba) +
           " x" + std::to_string(blocks);
}

chaos_target::impl::impl(std::uint32_t run_, const target_params& p, std::uint64_t seed, unsigned nluns,
                         std::uint64_t blocks)
    : run(run_), params(p), random(seed), lun_blocks(blocks)
{
    luns.resize(nluns);
    for (auto& l : luns) {
        l.bytes.reset(new std::byte[blocks * block_size]);
        l.ready.resize(blocks);
    }
}

std::span<std::byte> chaos_target::impl::lun_range(std::uint16_t lun, std::uint64_t lba, std::uint32_t bytes) const
{
    lun_store& l = luns.at(lun);
    for (std::uint64_t b = lba; b < lba + (bytes + block_size - 1) / block_size; ++b)
        if (!l.ready.at(b)) {
            fill_block(std::span(l.bytes.get() + b * block_size, block_size), block_id{run, lun, b, 0});
            l.ready[b] = true;
        }
    return std::span(l.bytes.get() + lba * block_size, bytes);
}

// ---- facade ----

chaos_target::chaos_target(std::uint32_t run, const target_params& params, std::uint64_t seed, unsigned luns,
                           std::uint64_t lun_blocks)
    : impl_(std::make_unique<impl>(run, params, seed, luns, lun_blocks))
{}

chaos_target::~chaos_target() = default;

int chaos_target::connect()
{
    auto& d = *impl_;
    auto c = std::make_unique<chaos_connection>();
    c->index = static_cast<unsigned>(d.conns.size());
    c->link = std::make_unique<scripted_target>();
    c->link->window = d.params.window;
    c->link->count_cmd_sn = false; // CmdSN order and window: ours, like a real target's
    c->link->stat_sn = d.params.first_stat_sn + c->index * 0x1000;
    const int fd = c->link->take_initiator_fd();
    d.log(*c, "connect: the login starts");
    d.conns.push_back(std::move(c));
    return fd;
}

bool chaos_target::step()
{
    bool moved = false;
    for (std::size_t i = 0; i < impl_->conns.size(); ++i) {
        chaos_connection& c = *impl_->conns[i];
        if (!c.closed)
            moved |= impl_->step(c);
    }
    return moved;
}

bool chaos_target::on_quiescent()
{
    auto& d = *impl_;
    bool moved = false;
    for (auto& cp : d.conns) {
        chaos_connection& c = *cp;
        if (c.closed || c.logging_in || c.black_hole)
            continue;
        if (d.check_answers(c)) {
            moved = true;
            continue;
        }
        // A window the initiator last saw smaller than it is now: a NOP-In
        // carries the new MaxCmdSN (§4.2.2.1, §11.19).
        if (pdu::serial32{c.sent_max} < pdu::serial32{d.window_max(c)}) {
            pdu::nop_in n;
            d.enqueue(c, d.make(c, n, false));
            d.flush(c);
            moved = true;
        }
    }
    return moved;
}

void chaos_target::plan_fault(fault_kind k, bool persistent, std::uint64_t detail_seed)
{
    impl_->kind = k;
    impl_->persistent = persistent;
    impl_->fault_random = rng(detail_seed);
}

void chaos_target::arm(const command_key& victim) { impl_->victim = victim; }
void chaos_target::disarm() { impl_->victim.reset(); }
unsigned chaos_target::fired() const noexcept { return impl_->fired; }

std::span<const std::byte> chaos_target::lun_bytes(std::uint16_t lun, std::uint64_t lba, std::uint32_t blocks) const
{
    return impl_->lun_range(lun, lba, blocks * block_size);
}

const execution* chaos_target::executed(const command_key& k) const
{
    const auto it = impl_->executions.find(k);
    return it == impl_->executions.end() ? nullptr : &it->second;
}

void chaos_target::forget(const command_key& k) { impl_->executions.erase(k); }
const std::vector<finding>& chaos_target::findings() const noexcept { return impl_->findings; }
unsigned chaos_target::logins() const noexcept { return static_cast<unsigned>(impl_->conns.size()); }
void chaos_target::set_trace(std::function<void(const std::string&)> sink)
{
    impl_->tracing = static_cast<bool>(sink);
    impl_->trace = std::move(sink);
}

// ---- one connection's turn ----

bool chaos_target::impl::step(chaos_connection& c)
{
    bool moved = false;
    try {
        while (!c.closed) {
            std::optional<received_pdu> p = c.link->try_next();
            if (!p)
                break;
            moved = true;
            if (tracing)
                log(c, "in  " + p->describe() + " cmdsn " + std::to_string(p->cmd_sn()) + " expstatsn " +
                           std::to_string(p->exp_stat_sn()) + (c.black_hole ? " (dropped)" : ""));
            if (c.logging_in)
                on_login(c, *p);
            else if (!c.black_hole)
                handle(c, std::move(*p));
        }
    } catch (const script_failure& e) {
        if (c.ping_ttt && std::string_view(e.what()).find("data segment length") != std::string_view::npos)
            obligation(c, std::string("the answer to a target ping is longer than the target's "
                                      "MaxRecvDataSegmentLength (RFC 7143 §11.18): ") +
                              e.what());
        violation(c, e.what());
        moved = true;
    }
    // An initiator answers an async event as it reads it; two more turns of
    // its traffic without the answer stand for Parameter3 running out (the
    // same for every run, unlike a clock).
    if (moved && c.asked && awaits_answer(c) && ++c.turns_since_asked > 2)
        check_answers(c);
    if (!c.closed && c.link->peer_closed()) {
        close(c, "the initiator closed the connection");
        moved = true;
    }
    if (!c.closed && !c.black_hole) {
        moved |= execute_ready(c);
        moved |= flush(c);
    }
    return moved;
}

void chaos_target::impl::handle(chaos_connection& c, received_pdu p)
{
    if (c.logout_received) {
        if (is_new_request(p))
            obligation(c, "new " + p.describe() + " after the Logout Request on this connection (RFC 7143 §11.14)");
        return;
    }
    switch (p.op()) {
    case pdu::opcode::data_out: return on_data_out(c, p);
    case pdu::opcode::scsi_command:
    case pdu::opcode::nop_out:
    case pdu::opcode::task_mgmt_request:
    case pdu::opcode::text_request:
    case pdu::opcode::logout_request: break;
    case pdu::opcode::snack_request: return violation(c, "SNACK at ErrorRecoveryLevel 0");
    default: return violation(c, "unexpected " + p.describe() + " in the full feature phase");
    }
    if (p.immediate()) {
        (void)deliver(c, p); // immediate delivery, CmdSN not taken (§4.2.2.1)
        return;
    }
    const std::uint32_t sn = p.cmd_sn();
    if (pdu::serial32{sn} < pdu::serial32{c.link->exp_cmd_sn}) {
        // Silently ignored, as §4.2.2.1 asks of a target.
        if (!c.faulted)
            violation(c,
                      "CmdSN " + std::to_string(sn) + " below ExpCmdSN " + std::to_string(c.link->exp_cmd_sn) +
                          " (a duplicate) in " + p.describe(),
                      false);
        return;
    }
    if (pdu::sn_gt(sn, c.accept_max)) {
        if (!c.faulted)
            violation(c,
                      "CmdSN " + std::to_string(sn) + " beyond the advertised MaxCmdSN " +
                          std::to_string(c.accept_max) + " in " + p.describe(),
                      false);
        return;
    }
    if (std::any_of(c.held.begin(), c.held.end(), [&](const received_pdu& h) { return h.cmd_sn() == sn; })) {
        violation(c, "CmdSN " + std::to_string(sn) + " twice while it waits for its turn", false);
        return;
    }
    c.held.push_back(std::move(p));
    deliver_in_order(c);
}

void chaos_target::impl::deliver_in_order(chaos_connection& c)
{
    while (!c.closed) {
        const auto it = std::find_if(c.held.begin(), c.held.end(),
                                     [&](const received_pdu& h) { return h.cmd_sn() == c.link->exp_cmd_sn; });
        if (it == c.held.end())
            return;
        const received_pdu p = std::move(*it);
        c.held.erase(it);
        if (!deliver(c, p))
            return; // rejected: its CmdSN stays a hole until the initiator fills it
        ++c.link->exp_cmd_sn;
    }
}

bool chaos_target::impl::deliver(chaos_connection& c, const received_pdu& p)
{
    switch (p.op()) {
    case pdu::opcode::scsi_command: return deliver_command(c, p);
    case pdu::opcode::task_mgmt_request: on_tmf(c, p); return true;
    case pdu::opcode::nop_out: on_nop_out(c, p); return true;
    case pdu::opcode::text_request: on_text(c, p); return true;
    case pdu::opcode::logout_request: on_logout(c, p); return true;
    default: return true;
    }
}

// ---- sending ----

std::uint32_t chaos_target::impl::window_max(const chaos_connection& c) const
{
    // Room for `window` commands, less those still running (§4.2.2.1); never
    // less than what was advertised already.
    const std::uint32_t exp = c.link->exp_cmd_sn;
    std::uint32_t max = exp + params.window - 1 - std::min(c.active, params.window);
    if (pdu::serial32{max} < pdu::serial32{c.accept_max})
        max = c.accept_max;
    return max;
}

void chaos_target::impl::enqueue(chaos_connection& c, out_pdu p) { c.outq.push_back(std::move(p)); }

bool chaos_target::impl::flush(chaos_connection& c)
{
    // The initiator drains the socketpair in its turn, and both run on this
    // thread, so a send must never wait for room: scripted_target sends once
    // the socket polls writable, which a Unix socket does only while a
    // quarter of its send buffer (212992 bytes by default) is in use,
    // counted with about 1 KiB of overhead per send. So about 40 KiB a turn
    // (and always the first PDU: the socket is empty then).
    std::size_t budget = 40 * 1024;
    bool moved = false;
    while (!c.closed && !c.outq.empty() && (budget > 0 || !moved)) {
        out_pdu p = std::move(c.outq.front());
        c.outq.pop_front();
        std::vector<std::byte> frame(pdu::bhs_size + pdu::padded4(p.data.size()));
        std::memcpy(frame.data(), p.bhs.data(), pdu::bhs_size);
        if (!p.data.empty())
            std::memcpy(frame.data() + pdu::bhs_size, p.data.data(), p.data.size());
        const std::size_t n = std::min(frame.size(), p.cut);
        if (tracing)
            log(c, "out " + describe_out(p) + (n < frame.size() ? " cut at " + std::to_string(n) : ""));
        try {
            c.link->send_bytes(std::span<const std::byte>(frame).first(n));
        } catch (const script_failure& e) {
            findings.push_back({"harness", std::string("the target could not send: ") + e.what()});
            close(c, "send failed");
            return true;
        }
        if (p.opcode() != 0x2a)
            c.sent_max = p.field(bhs_at::max_cmd_sn);
        if ((p.opcode() == static_cast<std::uint8_t>(pdu::opcode::async_message) ||
             p.opcode() == static_cast<std::uint8_t>(pdu::opcode::nop_in)) &&
            awaits_answer(c))
            c.asked = true;
        moved = true;
        budget -= std::min(budget, n + 1024);
        if (p.cut != out_pdu::whole || p.close_after) {
            close(c, "fault: the connection drops");
            return true;
        }
    }
    if (!c.closed && c.close_after_flush && c.outq.empty()) {
        close(c, "closed after its last PDU");
        moved = true;
    }
    return moved;
}

void chaos_target::impl::close(chaos_connection& c, const std::string& why)
{
    if (c.closed)
        return;
    c.closed = true;
    log(c, "close: " + why);
    c.link->close();
    c.tasks.clear();
    c.held.clear();
    c.ready.clear();
    c.outq.clear();
    c.active = 0;
}

void chaos_target::impl::violation(chaos_connection& c, const std::string& what, bool drop)
{
    if (!c.faulted)
        findings.push_back({"protocol", "connection " + std::to_string(c.index) + ": " + what});
    log(c, "initiator: " + what);
    if (drop)
        close(c, "the initiator broke the protocol");
}

void chaos_target::impl::obligation(chaos_connection& c, const std::string& what)
{
    findings.push_back({"protocol", "connection " + std::to_string(c.index) + ": " + what});
    log(c, "initiator: " + what);
}

bool chaos_target::impl::check_answers(chaos_connection& c)
{
    if (c.logout_expected) {
        obligation(c, "no Logout Request after AsyncEvent 1 (logout requested, RFC 7143 §11.9.1)");
        close(c, "the logout request's Parameter3 expired");
        return true;
    }
    if (c.renegotiation_expected) {
        obligation(c, "AsyncEvent 4 (renegotiation) answered with neither a Text Request nor a Logout "
                      "(RFC 7143 §11.9.1)");
        close(c, "the renegotiation request's Parameter3 expired");
        return true;
    }
    if (c.ping_ttt) {
        obligation(c, "no NOP-Out answered the target's ping (RFC 7143 §11.19)");
        close(c, "the ping was not answered");
        return true;
    }
    return false;
}

void chaos_target::impl::fire(chaos_connection& c, const char* where)
{
    ++fired;
    c.faulted = c.faulted || info(*kind).excuses;
    log(c, std::string("fault ") + std::string(info(*kind).name) + " fires (" + where + ")");
}

void chaos_target::impl::log(const chaos_connection& c, const std::string& line)
{
    if (tracing)
        trace("target c" + std::to_string(c.index) + ": " + line);
}

std::optional<std::uint32_t> chaos_target::impl::other_read_itt(const chaos_connection& c, std::uint32_t not_this) const
{
    for (const auto& [itt, t] : c.tasks)
        if (itt != not_this && t.key.op == 'R' && !t.stalled)
            return itt;
    return std::nullopt;
}

} // namespace ivs::test::chaos
