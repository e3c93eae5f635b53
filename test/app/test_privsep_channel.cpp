// The privsep channel and its payload codec over a real socketpair:
// messages and descriptors arrive whole and in order, and a peer that breaks
// the framing (too long, a descriptor not announced or missing, a short
// header, garbage fields) is an error, never a crash or a leaked descriptor.
#include "app/privsep_channel.hpp"
#include "app/privsep_protocol.hpp"

#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <random>
#include <thread>

using namespace ivs::app;

namespace {

struct pair_of_channels {
    unique_fd a_fd, b_fd;
    pair_of_channels() { REQUIRE_FALSE(make_channel_pair(a_fd, b_fd)); }
};

int open_fds()
{
    int n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd"))
        ++n;
    return n;
}

// A frame as the channel writes it: type, id, length, flags (host order).
std::string raw_header(std::uint32_t type, std::uint32_t id, std::uint32_t length, std::uint32_t flags)
{
    std::uint32_t h[4] = {type, id, length, flags};
    return std::string(reinterpret_cast<const char*>(h), sizeof h);
}

void send_raw(int fd, const std::string& bytes, int pass_fd = -1)
{
    iovec iov{const_cast<char*>(bytes.data()), bytes.size()};
    alignas(cmsghdr) unsigned char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (pass_fd >= 0) {
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        std::memcpy(CMSG_DATA(c), &pass_fd, sizeof pass_fd);
    }
    REQUIRE(::sendmsg(fd, &msg, 0) == static_cast<ssize_t>(bytes.size()));
}

} // namespace

TEST_CASE("channel: messages of any size arrive whole, in order, with their type and id", "[privsep]")
{
    pair_of_channels p;
    channel a(std::move(p.a_fd), channel::max_message), b(std::move(p.b_fd), channel::max_message);
    std::mt19937 rng(3);
    std::vector<std::string> sent;
    for (std::size_t size :
         {std::size_t{0}, std::size_t{1}, std::size_t{15}, std::size_t{4096}, std::size_t{3} << 20}) {
        std::string s(size, '\0');
        for (auto& c : s)
            c = static_cast<char>(rng());
        sent.push_back(s);
    }
    std::thread writer([&] {
        for (std::size_t i = 0; i < sent.size(); ++i)
            REQUIRE_FALSE(a.send(static_cast<std::uint32_t>(100 + i), static_cast<std::uint32_t>(i), sent[i]));
    });
    for (std::size_t i = 0; i < sent.size(); ++i) {
        message m;
        REQUIRE_FALSE(b.receive(m));
        CHECK(m.type == 100 + i);
        CHECK(m.id == i);
        CHECK(m.data == sent[i]);
        CHECK_FALSE(m.fd);
    }
    writer.join();
    a.shutdown();
    message m;
    CHECK(b.receive(m) == make_error_code(channel_errc::closed));
}

TEST_CASE("channel: a descriptor passed with a message works on the other side", "[privsep]")
{
    pair_of_channels p;
    channel a(std::move(p.a_fd), 1024), b(std::move(p.b_fd), 1024);
    int pipe_fds[2];
    REQUIRE(::pipe(pipe_fds) == 0);
    REQUIRE_FALSE(a.send(7, 9, "here", pipe_fds[1]));
    ::close(pipe_fds[1]); // the receiver's copy keeps the pipe open
    message m;
    REQUIRE_FALSE(b.receive(m));
    CHECK(m.data == "here");
    REQUIRE(m.fd);
    CHECK(::write(m.fd.get(), "x", 1) == 1);
    char c = 0;
    CHECK(::read(pipe_fds[0], &c, 1) == 1);
    CHECK(c == 'x');
    m.fd.reset();
    CHECK(::read(pipe_fds[0], &c, 1) == 0); // the last writer is gone
    ::close(pipe_fds[0]);
}

TEST_CASE("channel: many senders at once, one reader", "[privsep]")
{
    pair_of_channels p;
    channel a(std::move(p.a_fd), 1 << 20), b(std::move(p.b_fd), 1 << 20);
    constexpr int senders = 4, each = 300;
    std::vector<std::thread> threads;
    for (int t = 0; t < senders; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < each; ++i)
                REQUIRE_FALSE(a.send(static_cast<std::uint32_t>(t), static_cast<std::uint32_t>(i),
                                     std::string(static_cast<std::size_t>(i * 37 % 5000), static_cast<char>('a' + t))));
        });
    std::vector<int> next(senders, 0);
    for (int n = 0; n < senders * each; ++n) {
        message m;
        REQUIRE_FALSE(b.receive(m));
        REQUIRE(m.type < senders);
        CHECK(m.id == static_cast<std::uint32_t>(next[m.type]++)); // per sender in order
        CHECK(m.data == std::string(static_cast<std::size_t>(m.id * 37 % 5000), static_cast<char>('a' + m.type)));
    }
    for (auto& t : threads)
        t.join();
}

TEST_CASE("channel: a peer that breaks the framing is refused, descriptors closed", "[privsep]")
{
    const int before = open_fds();
    SECTION("a length over the receiver's limit")
    {
        pair_of_channels p;
        const int raw = p.a_fd.get();
        channel b(std::move(p.b_fd), 100);
        send_raw(raw, raw_header(1, 0, 101, 0));
        message m;
        CHECK(b.receive(m) == make_error_code(channel_errc::too_large));
    }
    SECTION("a descriptor not announced")
    {
        pair_of_channels p;
        const int raw = p.a_fd.get();
        channel b(std::move(p.b_fd), 100);
        int pipe_fds[2];
        REQUIRE(::pipe(pipe_fds) == 0);
        send_raw(raw, raw_header(1, 0, 0, 0), pipe_fds[0]);
        ::close(pipe_fds[0]);
        ::close(pipe_fds[1]);
        message m;
        CHECK(b.receive(m) == make_error_code(channel_errc::bad_frame));
    }
    SECTION("a descriptor announced but missing, unknown flags")
    {
        pair_of_channels p;
        const int raw = p.a_fd.get();
        channel b(std::move(p.b_fd), 100);
        send_raw(raw, raw_header(1, 0, 0, 1));
        message m;
        CHECK(b.receive(m) == make_error_code(channel_errc::bad_frame));
        pair_of_channels q;
        const int raw2 = q.a_fd.get();
        channel c(std::move(q.b_fd), 100);
        send_raw(raw2, raw_header(1, 0, 0, 8));
        CHECK(c.receive(m) == make_error_code(channel_errc::bad_frame));
    }
    SECTION("a short header or short data, then the end")
    {
        pair_of_channels p;
        const int raw = p.a_fd.get();
        channel b(std::move(p.b_fd), 100);
        send_raw(raw, raw_header(1, 0, 10, 0) + "abc");
        ::shutdown(raw, SHUT_WR);
        message m;
        CHECK(b.receive(m) == make_error_code(channel_errc::closed));
        pair_of_channels q;
        const int raw2 = q.a_fd.get();
        channel c(std::move(q.b_fd), 100);
        send_raw(raw2, raw_header(1, 0, 10, 0).substr(0, 7));
        ::shutdown(raw2, SHUT_WR);
        CHECK(c.receive(m) == make_error_code(channel_errc::closed));
    }
    SECTION("sending more than any receiver takes")
    {
        pair_of_channels p;
        channel a(std::move(p.a_fd), 100);
        CHECK(a.send(1, 0, std::string(channel::max_message + 1, 'x')) == make_error_code(channel_errc::too_large));
    }
    CHECK(open_fds() == before);
}

TEST_CASE("payload: fields come back as written; a short or garbled payload fails cleanly", "[privsep]")
{
    payload_writer w;
    w.add("").add("a").add(std::string("b\0c", 3)).add(std::uint64_t{42}).add(std::uint64_t{0});
    const std::string data = w.data();
    payload_reader r(data);
    std::string s;
    std::uint64_t n = 0;
    CHECK((r.next(s) && s.empty()));
    CHECK((r.next(s) && s == "a"));
    CHECK((r.next(s) && s == std::string("b\0c", 3)));
    CHECK((r.next(n, 100) && n == 42));
    CHECK_FALSE(r.done());
    CHECK((r.next(n, 0) && n == 0));
    CHECK(r.done());
    CHECK_FALSE(r.next(s)); // past the end
    CHECK_FALSE(r.ok());

    // Every truncation fails somewhere, none reads past the end.
    for (std::size_t cut = 0; cut < data.size(); ++cut) {
        payload_reader t(std::string_view(data).substr(0, cut));
        std::string x;
        int fields = 0;
        while (t.next(x))
            ++fields;
        CHECK(fields < 5);
        CHECK_FALSE(t.ok());
    }
    // Numbers: digits only, bounded.
    for (const char* bad : {"", "-1", "1x", " 1", "101", "99999999999999999999999"}) {
        const std::string field = payload_writer().add(bad).take(); // outlives the reader's view
        payload_reader t(field);
        CHECK_FALSE(t.next(n, 100));
    }
    // A length running past the end.
    std::string lying = payload_writer().add("abcdef").data();
    lying.resize(lying.size() - 1);
    payload_reader t(lying);
    CHECK_FALSE(t.next(s));
    CHECK(s.empty());
}
