// iscsi::connection over a socketpair: large data segments read into their
// destinations (scatter reads) with digests checked, small PDUs, the writer's
// gathered writes with a remainder the socket could not take, on_sent order,
// and the drain after the peer goes away (RFC 7143 §11.2, §13.1).
#include "iscsi/connection.hpp"

#include "pdu/error.hpp"
#include "test/support/framing_support.hpp"

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <thread>

using namespace ivs;
using pdu::test::bytes;
using pdu::test::make_bhs;
using pdu::test::pattern;
using pdu::test::wire_pdu;

namespace {

constexpr std::uint8_t op_data_in = 0x25;
constexpr std::uint8_t op_nop_in = 0x20;
constexpr std::uint8_t op_nop_out = 0x00;

struct recorder final : iscsi::connection_receiver {
    std::vector<bytes> sinks;                           // one destination per data segment, in order
    std::vector<std::pair<pdu::bhs_bytes, bytes>> pdus; // header and data as received
    std::vector<std::uint64_t> sent;
    std::vector<std::error_code> closed;

    destination data_destination(const pdu::bhs_bytes&, std::uint32_t length) override
    {
        if (length < 1024)
            return {}; // the reader keeps small segments
        sinks.emplace_back(length);
        return {sinks.back(), {}};
    }
    void on_pdu(const pdu::bhs_bytes& bhs, std::span<const std::byte>, std::span<const std::byte> data) override
    {
        if (data.empty() && pdu::raw_data_segment_length(bhs) != 0)
            pdus.emplace_back(bhs, sinks.back());
        else
            pdus.emplace_back(bhs, bytes(data.begin(), data.end()));
    }
    void on_sent(std::uint64_t cookie) override { sent.push_back(cookie); }
    void on_closed(std::error_code ec) override { closed.push_back(ec); }
};

struct pair_fixture {
    boost::asio::io_context io;
    std::shared_ptr<iscsi::connection> conn = std::make_shared<iscsi::connection>(io);
    int peer = -1;

    pair_fixture()
    {
        int sv[2];
        REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
        REQUIRE(!conn->adopt(sv[0]));
        peer = sv[1];
    }
    ~pair_fixture()
    {
        if (peer >= 0)
            ::close(peer);
    }
    void close_peer()
    {
        ::close(peer);
        peer = -1;
    }
};

void write_all(int fd, const bytes& b)
{
    std::size_t at = 0;
    while (at < b.size()) {
        const ssize_t n = ::write(fd, b.data() + at, b.size() - at);
        REQUIRE(n > 0);
        at += static_cast<std::size_t>(n);
    }
}

bytes read_exactly(int fd, std::size_t len)
{
    bytes b(len);
    std::size_t at = 0;
    while (at < len) {
        const ssize_t n = ::read(fd, b.data() + at, len - at);
        if (n <= 0)
            break;
        at += static_cast<std::size_t>(n);
    }
    b.resize(at);
    return b;
}

} // namespace

TEST_CASE("connection: large data segments land in their destinations, small ones many per read", "[connection]")
{
    for (bool digests : {false, true}) {
        INFO("digests=" << digests);
        pair_fixture f;
        recorder rec;
        f.conn->configure(pdu::reader_config{262144, digests, digests}, pdu::digest_settings{digests, digests});
        f.conn->start(rec);
        bytes stream;
        std::vector<std::pair<pdu::bhs_bytes, bytes>> expected;
        std::uint32_t itt = 1;
        for (std::size_t len : {65536u, 65536u, 0u, 65535u, 100u, 4096u, 0u, 70001u, 262144u, 3u, 65536u}) {
            const auto bhs = make_bhs(len == 0 ? op_nop_in : op_data_in, 0, len, itt);
            const auto data = pattern(len, static_cast<std::uint8_t>(itt++));
            const auto w = wire_pdu(bhs, {}, data, digests, digests);
            stream.insert(stream.end(), w.begin(), w.end());
            expected.emplace_back(bhs, data);
        }
        std::thread writer([&] { write_all(f.peer, stream); });
        while (rec.pdus.size() < expected.size() && rec.closed.empty())
            f.io.run_one();
        writer.join();
        CHECK(rec.closed.empty());
        CHECK(rec.pdus == expected);
        CHECK(f.conn->bytes_received() == stream.size());
        f.conn->close({});
        f.io.run();
        CHECK(rec.closed.size() == 1);
    }
}

TEST_CASE("connection: a data digest error in a directly read segment drops the connection", "[connection]")
{
    pair_fixture f;
    recorder rec;
    f.conn->configure(pdu::reader_config{262144, true, true}, pdu::digest_settings{true, true});
    f.conn->start(rec);
    const std::size_t len = 65536;
    const auto good = wire_pdu(make_bhs(op_data_in, 0, len, 1), {}, pattern(len, 1), true, true);
    auto bad = wire_pdu(make_bhs(op_data_in, 0, len, 2), {}, pattern(len, 2), true, true);
    bad[52 + len - 7] ^= std::byte{1}; // deep inside the data: read directly
    bytes stream = good;
    stream.insert(stream.end(), bad.begin(), bad.end());
    std::thread writer([&] { write_all(f.peer, stream); });
    f.io.run();
    writer.join();
    REQUIRE(rec.pdus.size() == 1);
    CHECK(rec.pdus[0].second == pattern(len, 1));
    REQUIRE(rec.closed.size() == 1);
    CHECK(rec.closed[0] == make_error_code(pdu::errc::data_digest_mismatch));
}

TEST_CASE("connection: the writer sends everything in order when the socket fills up", "[connection]")
{
    pair_fixture f;
    recorder rec;
    f.conn->start(rec);
    // 300 PDUs of 64 KiB queued in one handler pass: far more than the socket
    // buffer holds, so gathered writes leave a remainder for the reactor.
    std::vector<bytes> payloads;
    bytes expected;
    for (std::uint32_t i = 0; i < 300; ++i) {
        payloads.push_back(pattern(65536, static_cast<std::uint8_t>(i)));
        const auto bhs = make_bhs(op_nop_out, 0, 65536, i);
        const auto w = wire_pdu(bhs, {}, payloads.back(), false, false);
        expected.insert(expected.end(), w.begin(), w.end());
    }
    for (std::uint32_t i = 0; i < 300; ++i) {
        if (i % 2 == 0)
            REQUIRE(f.conn->send(make_bhs(op_nop_out, 0, 65536, i), {}, payloads[i], i + 1));
        else
            REQUIRE(f.conn->send_owned(make_bhs(op_nop_out, 0, 65536, i), payloads[i], i + 1));
    }
    CHECK(f.conn->queued() == 300);
    bytes got;
    std::thread reader([&] { got = read_exactly(f.peer, expected.size()); });
    while (rec.sent.size() < 300 && rec.closed.empty())
        f.io.run_one();
    reader.join();
    CHECK(rec.closed.empty());
    CHECK(got == expected);
    std::vector<std::uint64_t> cookies(300);
    for (std::uint64_t i = 0; i < 300; ++i)
        cookies[i] = i + 1;
    CHECK(rec.sent == cookies);
    CHECK(f.conn->queued() == 0);
    // The pool serves the next sends; a send after close is refused.
    REQUIRE(f.conn->send(make_bhs(op_nop_out, 0, 0, 7), {}, {}, 0));
    f.io.poll();
    CHECK(read_exactly(f.peer, 48) == wire_pdu(make_bhs(op_nop_out, 0, 0, 7), {}, {}, false, false));
    f.conn->close({});
    CHECK(!f.conn->send(make_bhs(op_nop_out, 0, 0, 8), {}, {}, 0));
    f.io.run();
    CHECK(rec.closed.size() == 1);
}

TEST_CASE("connection: after the peer goes away the reader still delivers what it sent", "[connection]")
{
    pair_fixture f;
    recorder rec;
    f.conn->start(rec);
    // The peer answers with a NOP-In and closes without reading.
    write_all(f.peer, wire_pdu(make_bhs(op_nop_in, 0, 0, 9), {}, {}, false, false));
    f.close_peer();
    const auto payload = pattern(65536);
    for (std::uint32_t i = 0; i < 8; ++i)
        f.conn->send(make_bhs(op_nop_out, 0, payload.size(), i), {}, payload, i + 1);
    f.io.run();
    REQUIRE(rec.pdus.size() == 1);
    CHECK(rec.pdus[0].first == make_bhs(op_nop_in, 0, 0, 9));
    CHECK(rec.sent.empty());
    CHECK(rec.closed.size() == 1);
    CHECK(!f.conn->send(make_bhs(op_nop_out, 0, 0, 1), {}, {}, 0));
}

TEST_CASE("connection: close before the writer ran ends once, without callbacks for queued PDUs", "[connection]")
{
    pair_fixture f;
    recorder rec;
    f.conn->start(rec);
    REQUIRE(f.conn->send(make_bhs(op_nop_out, 0, 0, 1), {}, {}, 1));
    f.conn->close(make_error_code(std::errc::timed_out));
    f.io.run();
    CHECK(rec.sent.empty());
    REQUIRE(rec.closed.size() == 1);
    CHECK(rec.closed[0] == make_error_code(std::errc::timed_out));
}
