// The scripted fake target: blocking socket I/O with poll() time limits,
// PDU framing through pdu::pdu_reader / pdu::outgoing_pdu, and the canned
// exchanges (login, logout, status, Data-In, R2T, Data-Out collection).
#include "test/support/scripted_target.hpp"

#include "pdu/bhs.hpp"
#include "pdu/bytes.hpp"
#include "pdu/serial.hpp"
#include "pdu/writer.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sstream>

namespace ivs::test {

namespace {

std::string hex(std::uint32_t v)
{
    std::ostringstream s;
    s << "0x" << std::hex << v;
    return s.str();
}

std::string list_keys(const pdu::text_list& keys)
{
    std::string out;
    for (const auto& k : keys)
        out += (out.empty() ? "" : " ") + k.key + "=" + k.value;
    return out;
}

// Keys the target declares rather than answers (§13.12, §13.7).
bool is_target_declaration(std::string_view key) { return key == "MaxRecvDataSegmentLength" || key == "TargetAlias"; }

} // namespace

// ---- received_pdu ----

bool received_pdu::immediate() const noexcept { return pdu::raw_immediate(bhs); }
bool received_pdu::final_bit() const noexcept { return pdu::raw_final(bhs); }
std::uint32_t received_pdu::itt() const noexcept { return pdu::load32(bhs.data() + 16); }
std::uint32_t received_pdu::ttt() const noexcept { return pdu::load32(bhs.data() + 20); }
std::uint32_t received_pdu::cmd_sn() const noexcept { return pdu::load32(bhs.data() + 24); }
std::uint32_t received_pdu::exp_stat_sn() const noexcept { return pdu::load32(bhs.data() + 28); }

bool received_pdu::carries_cmd_sn() const noexcept
{
    return op() != pdu::opcode::data_out && op() != pdu::opcode::snack_request;
}

pdu::scsi_command received_pdu::command() const
{
    pdu::scsi_command out;
    if (auto ec = pdu::scsi_command::decode(bhs, ahs, out))
        throw script_failure("cannot decode " + describe() + ": " + ec.message());
    return out;
}

pdu::text_list received_pdu::text() const
{
    pdu::text_list out;
    if (auto ec = pdu::parse_text(data, out, pdu::discovery_limits()))
        throw script_failure("bad text in " + describe() + ": " + ec.message());
    return out;
}

std::string received_pdu::describe() const
{
    return "PDU opcode " + hex(pdu::raw_opcode(bhs)) + " ITT " + hex(itt()) + " with " + std::to_string(data.size()) +
           " data bytes";
}

// ---- life cycle ----

scripted_target::scripted_target()
{
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
        throw std::runtime_error(std::string("socketpair: ") + std::strerror(errno));
    target_fd_ = fds[0];
    initiator_fd_ = fds[1];
    rx_.resize(64 * 1024);
}

scripted_target::~scripted_target()
{
    if (target_fd_ >= 0)
        ::shutdown(target_fd_, SHUT_RDWR); // wakes a script blocked in poll()
    if (thread_.joinable())
        thread_.join();
    if (target_fd_ >= 0)
        ::close(target_fd_);
    if (!initiator_fd_taken_ && initiator_fd_ >= 0)
        ::close(initiator_fd_);
}

int scripted_target::take_initiator_fd()
{
    if (initiator_fd_taken_) {
        errno = ECONNREFUSED;
        return -1;
    }
    initiator_fd_taken_ = true;
    return initiator_fd_;
}

void scripted_target::run(script s)
{
    thread_ = std::thread([this, s = std::move(s)] { thread_main(s); });
}

void scripted_target::thread_main(script s)
{
    try {
        s(*this);
    } catch (const script_failure& e) {
        failure_ = e.what();
    } catch (const std::exception& e) {
        failure_ = std::string("exception in the script: ") + e.what();
    }
    if (!failure_.empty())
        ::shutdown(target_fd_, SHUT_RDWR); // do not leave the initiator waiting
    finished_ = true;
}

std::string scripted_target::join()
{
    if (thread_.joinable())
        thread_.join();
    return failure_;
}

std::vector<received_pdu> scripted_target::received() const
{
    std::lock_guard lock(mutex_);
    return log_;
}

std::size_t scripted_target::received_count() const
{
    std::lock_guard lock(mutex_);
    return log_.size();
}

// ---- I/O ----

std::chrono::milliseconds scripted_target::remaining(std::chrono::steady_clock::time_point deadline) const
{
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    return std::max(left, std::chrono::milliseconds(0));
}

scripted_target::read_result scripted_target::read_some(std::chrono::steady_clock::time_point deadline)
{
    if (peer_closed_)
        return read_result::closed;
    for (;;) {
        pollfd p{target_fd_, POLLIN, 0};
        const int ready = ::poll(&p, 1, static_cast<int>(remaining(deadline).count()));
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready < 0)
            throw script_failure(std::string("poll: ") + std::strerror(errno));
        if (ready == 0)
            return read_result::timeout;
        const ssize_t n = ::read(target_fd_, rx_.data(), rx_.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            peer_closed_ = true;
            return read_result::closed;
        }
        std::size_t pos = 0;
        while (pos < static_cast<std::size_t>(n)) {
            auto r = reader_.feed(std::span<const std::byte>(rx_.data() + pos, static_cast<std::size_t>(n) - pos));
            pos += r.consumed;
            if (r.ev == pdu::pdu_reader::event::failed)
                throw script_failure("framing error from the initiator: " + reader_.error().message());
            if (r.ev == pdu::pdu_reader::event::pdu_ready) {
                received_pdu p;
                p.bhs = reader_.bhs();
                p.ahs.assign(reader_.ahs().begin(), reader_.ahs().end());
                p.data.assign(reader_.data().begin(), reader_.data().end());
                pending_.push_back(std::move(p));
            }
            if (r.ev == pdu::pdu_reader::event::need_more)
                break;
        }
        return read_result::got_pdu; // maybe none complete yet: the caller loops
    }
}

void scripted_target::check_received(const received_pdu& p)
{
    {
        std::lock_guard lock(mutex_);
        log_.push_back(p);
    }
    if (!in_full_feature_)
        return;
    // ExpStatSN acknowledges only StatSNs already sent (§4.2.2.2).
    if (pdu::sn_gt(p.exp_stat_sn(), stat_sn))
        fail("ExpStatSN " + std::to_string(p.exp_stat_sn()) + " in " + p.describe() + " beyond the next StatSN " +
             std::to_string(stat_sn));
    if (!p.carries_cmd_sn() || !count_cmd_sn)
        return;
    // §11.5.1: ABORT TASK for a task the target does not know, whose
    // RefCmdSN is in the window, makes that CmdSN received: a hole is plugged.
    if (p.op() == pdu::opcode::task_mgmt_request) {
        const auto m = p.as<pdu::task_mgmt_request>();
        const auto hole = std::find(holes_.begin(), holes_.end(), m.ref_cmd_sn);
        if (m.function == pdu::tmf_function::abort_task && hole != holes_.end()) {
            holes_.erase(hole);
            update_exp_cmd_sn();
        }
    }
    // A command sent again with a rejected CmdSN fills its hole.
    if (const auto hole = std::find(holes_.begin(), holes_.end(), p.cmd_sn()); !p.immediate() && hole != holes_.end()) {
        holes_.erase(hole);
        update_exp_cmd_sn();
        return;
    }
    // §4.2.2.1: one connection delivers commands in CmdSN order, each within
    // the window; immediate ones carry the next CmdSN without taking it.
    if (p.cmd_sn() != next_cmd_sn_)
        fail("CmdSN " + std::to_string(p.cmd_sn()) + " in " + p.describe() + ", expected " +
             std::to_string(next_cmd_sn_));
    if (!p.immediate()) {
        if (!advertised_max_ || pdu::sn_gt(p.cmd_sn(), *advertised_max_))
            fail("CmdSN " + std::to_string(p.cmd_sn()) + " beyond the advertised MaxCmdSN " +
                 (advertised_max_ ? std::to_string(*advertised_max_) : std::string("(none)")));
        ++next_cmd_sn_;
        update_exp_cmd_sn();
    }
}

void scripted_target::update_exp_cmd_sn()
{
    exp_cmd_sn = next_cmd_sn_;
    for (std::uint32_t h : holes_)
        if (pdu::serial32{h} < pdu::serial32{exp_cmd_sn})
            exp_cmd_sn = h;
}

void scripted_target::note_reject(std::span<const std::byte> data)
{
    if (!in_full_feature_ || data.size() < pdu::bhs_size)
        return;
    pdu::bhs_bytes rejected;
    std::copy_n(data.begin(), pdu::bhs_size, rejected.begin());
    received_pdu p;
    p.bhs = rejected;
    if (!p.carries_cmd_sn() || p.immediate() || !(pdu::serial32{p.cmd_sn()} < pdu::serial32{next_cmd_sn_}))
        return;
    // §7.3: the CmdSN of a rejected non-immediate command is not received.
    if (std::find(holes_.begin(), holes_.end(), p.cmd_sn()) == holes_.end())
        holes_.push_back(p.cmd_sn());
    update_exp_cmd_sn();
}

received_pdu scripted_target::next()
{
    const auto deadline = std::chrono::steady_clock::now() + io_limit;
    while (pending_.empty()) {
        switch (read_some(deadline)) {
        case read_result::got_pdu: break;
        case read_result::timeout: fail("timed out waiting for a PDU from the initiator"); break;
        case read_result::closed: fail("the initiator closed the connection");
        }
    }
    return take_pending();
}

std::optional<received_pdu> scripted_target::try_next(std::chrono::milliseconds wait)
{
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (pending_.empty())
        if (read_some(deadline) != read_result::got_pdu)
            return std::nullopt;
    return take_pending();
}

received_pdu scripted_target::take_pending()
{
    received_pdu p = std::move(pending_.front());
    pending_.pop_front();
    if (p.op() == pdu::opcode::data_out && p.data.size() > mrdsl)
        fail(p.describe() + " exceeds MaxRecvDataSegmentLength " + std::to_string(mrdsl));
    check_received(p);
    return p;
}

received_pdu scripted_target::expect(pdu::opcode op)
{
    received_pdu p = next();
    if (p.op() != op)
        fail("expected opcode " + hex(static_cast<std::uint8_t>(op)) + ", got " + p.describe());
    return p;
}

void scripted_target::expect_silence(std::chrono::milliseconds quiet)
{
    const auto deadline = std::chrono::steady_clock::now() + quiet;
    while (pending_.empty()) {
        switch (read_some(deadline)) {
        case read_result::got_pdu: break;
        case read_result::timeout: return;
        case read_result::closed: fail("the initiator closed the connection while it should stay quiet");
        }
    }
    received_pdu p = std::move(pending_.front());
    pending_.pop_front();
    check_received(p);
    fail("unexpected " + p.describe() + " while the initiator should stay quiet");
}

void scripted_target::expect_closed()
{
    const auto deadline = std::chrono::steady_clock::now() + io_limit;
    for (;;) {
        if (!pending_.empty()) {
            received_pdu p = std::move(pending_.front());
            pending_.pop_front();
            {
                std::lock_guard lock(mutex_);
                log_.push_back(p);
            }
            fail("unexpected " + p.describe() + " instead of a close");
        }
        switch (read_some(deadline)) {
        case read_result::got_pdu: break;
        case read_result::timeout: fail("the initiator did not close the connection"); break;
        case read_result::closed: return;
        }
    }
}

void scripted_target::drain_until_closed()
{
    const auto deadline = std::chrono::steady_clock::now() + io_limit;
    for (;;) {
        while (!pending_.empty()) {
            std::lock_guard lock(mutex_);
            log_.push_back(std::move(pending_.front()));
            pending_.pop_front();
        }
        switch (read_some(deadline)) {
        case read_result::got_pdu: break;
        case read_result::timeout: fail("the initiator did not close the connection");
        case read_result::closed: return;
        }
    }
}

void scripted_target::send_raw(const pdu::bhs_bytes& header, std::span<const std::byte> data)
{
    pdu::bhs_bytes bhs = header;
    if (pdu::raw_opcode(bhs) == static_cast<std::uint8_t>(pdu::opcode::reject) && in_full_feature_) {
        const std::size_t holes = holes_.size();
        note_reject(data);
        if (holes_.size() != holes) {
            // The Reject itself already says the command was not received.
            pdu::store32(bhs.data() + 28, exp_cmd_sn);
            pdu::store32(bhs.data() + 32, max_cmd_sn());
        }
    }
    if (pdu::is_target_opcode(pdu::raw_opcode(bhs))) {
        const std::uint32_t max = pdu::load32(bhs.data() + 32);
        if (!advertised_max_ || pdu::sn_gt(max, *advertised_max_))
            advertised_max_ = max;
    }
    pdu::outgoing_pdu frame;
    if (auto ec = frame.assemble(bhs, {}, data, {}))
        fail("cannot frame a PDU: " + ec.message());
    for (auto piece : frame.buffers())
        send_bytes(piece);
}

void scripted_target::send_bytes(std::span<const std::byte> piece)
{
    const auto deadline = std::chrono::steady_clock::now() + io_limit;
    while (!piece.empty()) {
        pollfd p{target_fd_, POLLOUT, 0};
        const int ready = ::poll(&p, 1, static_cast<int>(remaining(deadline).count()));
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready <= 0)
            fail("timed out sending to the initiator");
        const ssize_t n = ::send(target_fd_, piece.data(), piece.size(), MSG_NOSIGNAL);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) {
            // The initiator dropped the connection, typically on this very
            // PDU's header (a malformed-PDU test): what it does next is
            // checked by expect()/expect_closed().
            return;
        }
        if (n < 0)
            fail(std::string("send to the initiator: ") + std::strerror(errno));
        piece = piece.subspan(static_cast<std::size_t>(n));
    }
}

void scripted_target::close() { ::shutdown(target_fd_, SHUT_RDWR); }

std::uint32_t scripted_target::max_cmd_sn() const noexcept
{
    return fixed_max_cmd_sn ? *fixed_max_cmd_sn : exp_cmd_sn + window - 1;
}

std::uint32_t scripted_target::advertise_max_cmd_sn() noexcept
{
    const std::uint32_t m = max_cmd_sn();
    if (!advertised_max_ || pdu::sn_gt(m, *advertised_max_))
        advertised_max_ = m;
    return m;
}

// ---- canned exchanges ----

std::vector<received_pdu> scripted_target::login(const login_script& ls)
{
    std::vector<received_pdu> requests;
    in_full_feature_ = false;
    advertised_max_.reset();
    stat_sn = ls.first_stat_sn;
    pdu::login_request first{};
    pdu::text_reassembler incoming;
    std::vector<std::byte> out_text; // our split answer still being sent (§6.1)
    std::size_t out_offset = 0;
    bool sent_tpgt = false;

    for (;;) {
        received_pdu p = expect(pdu::opcode::login_request);
        requests.push_back(p);
        const auto req = p.as<pdu::login_request>();
        if (requests.size() == 1) {
            first = req;
            exp_cmd_sn = req.cmd_sn;
        } else {
            // §11.12: same ITT, ISID and CmdSN throughout; ExpStatSN follows our StatSN.
            if (req.initiator_task_tag != first.initiator_task_tag || req.isid != first.isid)
                fail("Login Request with a changed ITT or ISID");
            if (req.cmd_sn != first.cmd_sn)
                fail("Login Request CmdSN changed from " + std::to_string(first.cmd_sn) + " to " +
                     std::to_string(req.cmd_sn));
            if (req.exp_stat_sn != stat_sn)
                fail("Login Request ExpStatSN " + std::to_string(req.exp_stat_sn) + ", expected " +
                     std::to_string(stat_sn));
        }
        if (!p.immediate())
            fail("Login Request without the I bit"); // §11.12

        pdu::login_response rsp;
        rsp.csg = req.csg;
        rsp.isid = req.isid;
        rsp.initiator_task_tag = req.initiator_task_tag;
        stamp(rsp, true);

        bool transit = false;
        if (out_offset < out_text.size()) {
            if (!p.data.empty() || req.continue_bit || req.transit_bit)
                fail("expected an empty Login Request (T=0, C=0) asking for the rest of our text");
        } else {
            if (auto ec = incoming.add(p.data, req.continue_bit))
                fail("bad login text: " + ec.message());
            if (!incoming.complete()) {
                send(rsp); // §6.1: acknowledge a piece of the initiator's text
                continue;
            }
            const pdu::text_list keys = incoming.take_pairs();
            pdu::text_list reply;
            if (req.csg == pdu::login_stage::security_negotiation) {
                const pdu::text_pair* am = pdu::find_pair(keys, "AuthMethod");
                if (!am || am->value.find("None") == std::string::npos)
                    fail("security stage without AuthMethod=None: " + list_keys(keys));
                reply.push_back({"AuthMethod", "None"});
                transit = req.transit_bit && req.nsg == pdu::login_stage::operational_negotiation;
            } else if (req.csg == pdu::login_stage::operational_negotiation) {
                for (const auto& k : keys) {
                    if (is_target_declaration(k.key))
                        continue;
                    const pdu::text_pair* mine = pdu::find_pair(ls.operational, k.key);
                    reply.push_back({k.key, mine ? mine->value : k.value});
                }
                if (!keys.empty())
                    for (const auto& k : ls.operational)
                        if (is_target_declaration(k.key)) {
                            reply.push_back(k);
                            if (k.key == "MaxRecvDataSegmentLength")
                                mrdsl = static_cast<std::uint32_t>(std::stoul(k.value));
                        }
                transit = req.transit_bit && req.nsg == pdu::login_stage::full_feature_phase;
            } else {
                fail("Login Request in stage " + std::to_string(static_cast<int>(req.csg)));
            }
            if (!sent_tpgt) {
                reply.push_back({"TargetPortalGroupTag", "1"}); // §13.9: in the first response
                sent_tpgt = true;
            }
            out_text = text_bytes(reply);
            out_offset = 0;
        }

        // Our text, in pieces when asked (§6.1: C=1 pieces carry T=0).
        const std::size_t left = out_text.size() - out_offset;
        const bool split = ls.max_response_text > 0 && rsp.csg == pdu::login_stage::operational_negotiation;
        const std::size_t n = split ? std::min(left, ls.max_response_text) : left;
        const std::vector<std::byte> answer(out_text.begin() + static_cast<std::ptrdiff_t>(out_offset),
                                            out_text.begin() + static_cast<std::ptrdiff_t>(out_offset + n));
        out_offset += n;
        rsp.continue_bit = out_offset < out_text.size();
        // T only when this request asked for it (§11.13.1); the last piece of a
        // split text answers an empty T=0 request, so the stage changes on the
        // initiator's next request.
        rsp.transit_bit = !rsp.continue_bit && transit;
        rsp.nsg = rsp.transit_bit ? req.nsg : pdu::login_stage::security_negotiation;
        rsp.data_segment_length = static_cast<std::uint32_t>(answer.size());
        const bool final = rsp.transit_bit && req.nsg == pdu::login_stage::full_feature_phase;
        if (final)
            rsp.tsih = ls.tsih;
        send(rsp, answer);
        if (!rsp.continue_bit) {
            out_text.clear();
            out_offset = 0;
        }
        if (final)
            break;
    }
    enter_full_feature(mrdsl);
    return requests;
}

void scripted_target::enter_full_feature(std::uint32_t target_mrdsl)
{
    // Full feature phase: the initiator's data segments are bounded by our declaration.
    mrdsl = target_mrdsl;
    next_cmd_sn_ = exp_cmd_sn;
    holes_.clear();
    pdu::reader_config rx;
    rx.max_recv_data_segment_length = mrdsl;
    reader_.configure(rx);
    in_full_feature_ = true;
}

received_pdu scripted_target::login_status(std::uint8_t status_class, std::uint8_t status_detail,
                                           const pdu::text_list& keys)
{
    received_pdu p = expect(pdu::opcode::login_request);
    const auto req = p.as<pdu::login_request>();
    exp_cmd_sn = req.cmd_sn;
    pdu::login_response rsp;
    rsp.csg = req.csg;
    rsp.isid = req.isid;
    rsp.initiator_task_tag = req.initiator_task_tag;
    rsp.status_class = status_class;
    rsp.status_detail = status_detail;
    stamp(rsp, true);
    const auto text = text_bytes(keys);
    rsp.data_segment_length = static_cast<std::uint32_t>(text.size());
    send(rsp, text);
    return p;
}

void scripted_target::logout() { answer_logout(expect(pdu::opcode::logout_request)); }

void scripted_target::answer_logout(const received_pdu& p)
{
    const auto req = p.as<pdu::logout_request>();
    if (req.reason != pdu::logout_reason::close_session)
        fail("Logout Request with reason " + std::to_string(static_cast<int>(req.reason)));
    pdu::logout_response rsp;
    rsp.initiator_task_tag = req.initiator_task_tag;
    stamp(rsp, true);
    send(rsp);
    expect_closed();
}

pdu::task_mgmt_request scripted_target::answer_tmf(pdu::tmf_response response)
{
    const auto req = expect(pdu::opcode::task_mgmt_request).as<pdu::task_mgmt_request>();
    pdu::task_mgmt_response r;
    r.initiator_task_tag = req.initiator_task_tag;
    r.response = response;
    stamp(r, true);
    send(r);
    return req;
}

void scripted_target::send_status(std::uint32_t itt, std::uint8_t status, std::span<const std::byte> sense,
                                  std::uint32_t underflow)
{
    pdu::scsi_response r;
    r.initiator_task_tag = itt;
    r.status = status;
    r.residual_underflow = underflow > 0;
    r.residual_count = underflow;
    stamp(r, true);
    std::vector<std::byte> data;
    if (!sense.empty())
        data = sense_segment(sense);
    r.data_segment_length = static_cast<std::uint32_t>(data.size());
    send(r, data);
}

void scripted_target::send_data_in(std::uint32_t itt, std::uint32_t data_sn, std::uint32_t offset,
                                   std::span<const std::byte> data, bool status, std::uint32_t underflow)
{
    pdu::data_in d;
    d.initiator_task_tag = itt;
    d.data_sn = data_sn;
    d.buffer_offset = offset;
    d.data_segment_length = static_cast<std::uint32_t>(data.size());
    d.final_bit = status;
    d.status_bit = status;
    d.residual_underflow = status && underflow > 0;
    d.residual_count = status ? underflow : 0;
    stamp(d, status);
    send(d, data);
}

void scripted_target::send_data_in_header(std::uint32_t itt, std::uint32_t data_sn, std::uint32_t offset,
                                          std::uint32_t length, bool status)
{
    pdu::data_in d;
    d.initiator_task_tag = itt;
    d.data_sn = data_sn;
    d.buffer_offset = offset;
    d.data_segment_length = length;
    d.final_bit = true;
    d.status_bit = status;
    stamp(d, status);
    pdu::bhs_bytes bhs;
    d.encode(bhs);
    send_bytes(bhs);
}

void scripted_target::send_r2t(std::uint32_t itt, std::uint32_t ttt, std::uint32_t r2t_sn, std::uint32_t offset,
                               std::uint32_t length)
{
    pdu::r2t r;
    r.initiator_task_tag = itt;
    r.target_transfer_tag = ttt;
    r.r2t_sn = r2t_sn;
    r.buffer_offset = offset;
    r.desired_data_transfer_length = length;
    stamp(r, false); // §11.8: R2T carries the next StatSN without taking it
    send(r);
}

std::vector<std::byte> scripted_target::collect_data_out(std::uint32_t itt, std::uint32_t ttt, std::uint32_t offset,
                                                         std::uint32_t length)
{
    std::vector<std::byte> out;
    for (std::uint32_t data_sn = 0;; ++data_sn) {
        received_pdu p = expect(pdu::opcode::data_out);
        const auto d = p.as<pdu::data_out>();
        const std::string where =
            "Data-Out DataSN " + std::to_string(d.data_sn) + " offset " + std::to_string(d.buffer_offset);
        if (d.initiator_task_tag != itt || d.target_transfer_tag != ttt)
            fail(where + ": ITT " + hex(d.initiator_task_tag) + " TTT " + hex(d.target_transfer_tag) + ", expected " +
                 hex(itt) + " / " + hex(ttt));
        // §11.7.5: DataSN counts from 0 in each sequence; offsets are contiguous here.
        if (d.data_sn != data_sn)
            fail(where + ": expected DataSN " + std::to_string(data_sn));
        if (d.buffer_offset != offset + out.size())
            fail(where + ": expected offset " + std::to_string(offset + out.size()));
        if (p.data.empty())
            fail(where + ": empty");
        out.insert(out.end(), p.data.begin(), p.data.end());
        if (out.size() > length)
            fail(where + ": beyond the " + std::to_string(length) + " bytes asked for");
        const bool last = out.size() == length;
        if (d.final_bit != last)
            fail(where + (last ? ": F bit missing on the last PDU" : ": F bit before the end"));
        if (last)
            return out;
    }
}

// ---- helpers ----

std::vector<std::byte> fixed_sense(std::uint8_t key, std::uint8_t asc, std::uint8_t ascq)
{
    std::vector<std::byte> s(18);
    s[0] = std::byte{0x70};
    s[2] = std::byte{key};
    s[7] = std::byte{10}; // additional sense length
    s[12] = std::byte{asc};
    s[13] = std::byte{ascq};
    return s;
}

std::vector<std::byte> sense_segment(std::span<const std::byte> sense)
{
    std::vector<std::byte> out(2 + sense.size());
    pdu::store16(out.data(), static_cast<std::uint16_t>(sense.size()));
    std::copy(sense.begin(), sense.end(), out.begin() + 2);
    return out;
}

std::vector<std::byte> text_bytes(const pdu::text_list& keys)
{
    std::vector<std::byte> out;
    for (const auto& k : keys)
        if (auto ec = pdu::append_pair(out, k.key, k.value))
            throw script_failure("cannot encode " + k.key + ": " + ec.message());
    return out;
}

} // namespace ivs::test
