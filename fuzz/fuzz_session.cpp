// libFuzzer target for iscsi::session in the full feature phase: the input
// is the target's byte stream after a successful login (RFC 7143 §3.4, §11).
//
// The harness answers the initiator's Login Requests itself (security stage
// AuthMethod=None, operational stage echoing the offers, first StatSN
// login_stat_sn), submits a READ(16) and a WRITE(16) of 4 KiB (ITTs 0x00010000
// and 0x00010001 on a fresh session), writes the input (at most 16 KiB) into
// the socketpair, then closes its end. recover=false, so the EOF ends the
// session: every command must then complete exactly once; a missing or a
// second completion, a hang or a sanitizer report is a finding.
#include "iscsi/session.hpp"
#include "pdu/bhs.hpp"
#include "pdu/reader.hpp"
#include "pdu/writer.hpp"

#include <boost/asio/io_context.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <optional>
#include <span>
#include <vector>

using namespace ivs;

namespace {

constexpr std::size_t max_input = 16 * 1024;
constexpr std::uint32_t login_stat_sn = 0x100;
constexpr std::size_t handler_bound = 20000;

void check(bool ok)
{
    if (!ok)
        std::abort();
}

// The target's end of the socketpair, non-blocking.
struct target_end {
    int fd = -1;
    pdu::pdu_reader reader;
    std::uint32_t stat_sn = login_stat_sn;
    bool logged_in = false;
    bool tpgt_sent = false;

    void send_all(std::span<const std::byte> bytes)
    {
        while (!bytes.empty()) {
            const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                return; // buffer full or peer gone: the rest is lost, which is fine
            bytes = bytes.subspan(static_cast<std::size_t>(n));
        }
    }

    void send_pdu(const pdu::bhs_bytes& bhs, std::span<const std::byte> data)
    {
        pdu::outgoing_pdu frame;
        check(!frame.assemble(bhs, {}, data, {}));
        for (auto piece : frame.buffers())
            send_all(piece);
    }

    // Answers one Login Request (§11.13): same ITT, ISID and stage, the
    // transit the initiator asked for, its offers echoed (valid under every
    // result function) and the declarations of tgtd.
    void answer_login()
    {
        pdu::login_request req;
        if (pdu::login_request::decode(reader.bhs(), req))
            return;
        pdu::text_list keys;
        if (pdu::parse_text(reader.data(), keys, pdu::discovery_limits()))
            return;
        pdu::text_list reply;
        if (req.csg == pdu::login_stage::security_negotiation) {
            reply.push_back({"AuthMethod", "None"});
        } else {
            // InitialR2T=Yes, ImmediateData=No: the WRITE waits for an R2T.
            for (const auto& k : keys)
                if (k.key == "InitialR2T" || k.key == "ImmediateData")
                    reply.push_back({k.key, k.key == "InitialR2T" ? "Yes" : "No"});
                else if (k.key != "MaxRecvDataSegmentLength")
                    reply.push_back(k);
            reply.push_back({"MaxRecvDataSegmentLength", "8192"});
        }
        if (!tpgt_sent) {
            reply.push_back({"TargetPortalGroupTag", "1"});
            tpgt_sent = true;
        }
        std::vector<std::byte> text;
        for (const auto& k : reply)
            check(!pdu::append_pair(text, k.key, k.value));
        pdu::login_response rsp;
        rsp.csg = req.csg;
        rsp.transit_bit = req.transit_bit;
        rsp.nsg = req.transit_bit ? req.nsg : pdu::login_stage::security_negotiation;
        rsp.isid = req.isid;
        rsp.initiator_task_tag = req.initiator_task_tag;
        rsp.stat_sn = stat_sn++;
        rsp.exp_cmd_sn = req.cmd_sn;
        rsp.max_cmd_sn = req.cmd_sn + 31;
        rsp.data_segment_length = static_cast<std::uint32_t>(text.size());
        if (req.transit_bit && req.nsg == pdu::login_stage::full_feature_phase) {
            rsp.tsih = 0x0101;
            logged_in = true;
        }
        pdu::bhs_bytes bhs;
        rsp.encode(bhs);
        send_pdu(bhs, text);
    }

    // Reads what the initiator sent; answers Login Requests until logged in.
    // Returns the number of bytes read.
    std::size_t drain()
    {
        std::array<std::byte, 16384> buf;
        std::size_t total = 0;
        for (;;) {
            const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                return total;
            total += static_cast<std::size_t>(n);
            std::span<const std::byte> in(buf.data(), static_cast<std::size_t>(n));
            while (!in.empty() && !logged_in) {
                const auto r = reader.feed(in);
                in = in.subspan(r.consumed);
                if (r.ev == pdu::pdu_reader::event::failed)
                    std::abort(); // the initiator framed a bad Login Request
                if (r.ev == pdu::pdu_reader::event::pdu_ready &&
                    pdu::raw_opcode(reader.bhs()) == static_cast<std::uint8_t>(pdu::opcode::login_request))
                    answer_login();
                if (r.ev == pdu::pdu_reader::event::need_more)
                    break;
            }
        }
    }
};

// FUZZ_SESSION_TRACE=1 prints each completion (to check what a seed reaches).
struct completion_count {
    const char* name;
    int calls = 0;

    void operator()(const iscsi::scsi_result& r)
    {
        ++calls;
        if (std::getenv("FUZZ_SESSION_TRACE"))
            std::fprintf(stderr, "%s: error '%s' response %u status %u data-in %u\n", name, r.error.message().c_str(),
                         r.response, r.status, r.data_in_bytes);
    }
};

// Runs handlers and services the target end until `done`, until nothing
// happens for idle_limit milliseconds (pending timers get that long), or
// until handler_bound handlers ran.
template <class Pred>
bool run(boost::asio::io_context& io, target_end& t, Pred done, int idle_limit = 200)
{
    std::size_t handlers = 0;
    int idle = 0;
    while (!done() && handlers < handler_bound && idle < idle_limit) {
        if (io.stopped())
            io.restart();
        const std::size_t n = io.poll();
        handlers += n;
        if (n > 0 || t.drain() > 0) {
            idle = 0;
            continue;
        }
        ++idle;
        handlers += io.run_one_for(std::chrono::milliseconds(1));
    }
    return done();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size > max_input)
        return 0;
    int fds[2];
    check(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
    const int buffer = 1 << 20;
    for (int fd : fds) {
        ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
        ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
    }
    target_end target;
    target.fd = fds[0];
    check(::fcntl(target.fd, F_SETFL, O_NONBLOCK) == 0);

    boost::asio::io_context io;
    iscsi::session_config cfg;
    cfg.target_portal = {"fuzz.target", "3260"};
    cfg.login.initiator_name = "iqn.2026-11.org.iscsi-vscsi.fuzz:initiator";
    cfg.login.target_name = "iqn.2026-11.org.iscsi-vscsi.fuzz:disk";
    cfg.recover = false;
    cfg.nop_interval = std::chrono::milliseconds(0);
    cfg.command_timeout = std::chrono::milliseconds(0);
    cfg.logout_timeout = std::chrono::milliseconds(50);
    bool connected = false;
    cfg.connector = [&](const iscsi::portal&) {
        if (connected) {
            errno = ECONNREFUSED;
            return -1;
        }
        connected = true;
        return fds[1];
    };

    std::vector<std::byte> read_buf(4096), write_buf(4096, std::byte{0x5a});
    completion_count read_done{"READ"}, write_done{"WRITE"};
    {
        iscsi::session s(io, cfg);
        std::optional<std::error_code> login;
        s.start([&](std::error_code ec, const std::string&) { login = ec; });
        check(run(io, target, [&] { return login.has_value(); }));
        check(!*login);

        auto rw16 = [](bool write, std::span<std::byte> buf) {
            iscsi::scsi_request r;
            std::array<std::byte, 16> cdb{};
            cdb[0] = std::byte{static_cast<unsigned char>(write ? 0x8a : 0x88)};
            cdb[13] = std::byte{8}; // 8 blocks of 512 bytes
            r.set_cdb(cdb);
            r.expected_length = 4096;
            r.direction = write ? iscsi::data_direction::write : iscsi::data_direction::read;
            if (write)
                r.write_buffer = buf;
            else
                r.read_buffer = buf;
            return r;
        };
        s.submit(rw16(false, read_buf), [&](const iscsi::scsi_result& r) { read_done(r); });
        s.submit(rw16(true, write_buf), [&](const iscsi::scsi_result& r) { write_done(r); });
        run(
            io, target, [] { return false; }, 2); // let the commands go out

        target.send_all(std::span<const std::byte>(reinterpret_cast<const std::byte*>(data), size));
        ::shutdown(target.fd, SHUT_WR);
        // recover=false: the EOF fails whatever the input left open.
        const bool all = run(io, target, [&] { return read_done.calls > 0 && write_done.calls > 0; });
        check(all);
        check(read_done.calls == 1 && write_done.calls == 1);
    }
    // Destroying the session must not complete anything a second time.
    run(
        io, target, [] { return false; }, 2);
    check(read_done.calls == 1 && write_done.calls == 1);
    ::close(target.fd);
    return 0;
}
