// iscsi::connection::connect with a local address (iscsi.conf(5)'s
// initiatoraddr) over real TCP on loopback: the peer sees the connection come
// from that address; an address not on this host, one of the other family or
// one that is no address fails at once with an error naming it; a
// resolver error keeps its own message.
#include "iscsi/connection.hpp"

#include "iscsi/session_error.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>

#include <chrono>
#include <optional>

using namespace ivs;
namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

using namespace std::chrono_literals;

// A listener on 127.0.0.1 (any port) that records where the first
// connection it accepts comes from.
struct listener {
    asio::io_context io;
    tcp::acceptor acceptor{io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
    tcp::socket accepted{io};
    std::optional<tcp::endpoint> peer;

    listener()
    {
        acceptor.async_accept(accepted, [this](const boost::system::error_code& ec) {
            if (!ec)
                peer = accepted.remote_endpoint();
        });
    }
    std::string port() const { return std::to_string(acceptor.local_endpoint().port()); }
};

struct outcome {
    std::optional<std::error_code> ec;
    std::string detail;
};

// connect() from `local` (to the listener's port unless `port` names another),
// with a timeout long enough that an answer within the test's 5 s shows it
// did not wait for it.
outcome connect_from(listener& l, std::shared_ptr<iscsi::connection> conn, const std::string& host,
                     const std::string& local, const std::string& port = {})
{
    outcome out;
    // Chosen outside the coroutine: GCC 12 destroys a conditional's temporary
    // passed by value across co_await twice.
    const std::string to = port.empty() ? l.port() : port;
    asio::co_spawn(
        l.io,
        [&]() -> asio::awaitable<void> {
            auto ec = co_await conn->connect(host, to, 30s, local);
            out.detail = conn->failure_detail();
            out.ec = ec;
        },
        [](std::exception_ptr e) {
            if (e)
                std::rethrow_exception(e);
        });
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while ((!out.ec || (!*out.ec && !l.peer)) && std::chrono::steady_clock::now() < deadline)
        l.io.run_one_for(100ms);
    return out;
}

} // namespace

TEST_CASE("connection: bound to a local address, the peer sees the connection come from it", "[connection][tcp]")
{
    listener l;
    auto conn = std::make_shared<iscsi::connection>(l.io);
    const auto r = connect_from(l, conn, "127.0.0.1", "127.0.0.2"); // Linux routes 127/8 on lo
    REQUIRE(r.ec);
    REQUIRE(*r.ec == std::error_code{});
    CHECK(r.detail.empty());
    REQUIRE(l.peer);
    CHECK(l.peer->address().to_string() == "127.0.0.2");
}

TEST_CASE("connection: without a local address the system chooses it", "[connection][tcp]")
{
    listener l;
    auto conn = std::make_shared<iscsi::connection>(l.io);
    const auto r = connect_from(l, conn, "127.0.0.1", "");
    REQUIRE(r.ec);
    REQUIRE(*r.ec == std::error_code{});
    REQUIRE(l.peer);
    CHECK(l.peer->address().to_string() == "127.0.0.1");
}

TEST_CASE("connection: a local address that cannot be used fails at once, naming it", "[connection][tcp]")
{
    listener l;
    auto conn = std::make_shared<iscsi::connection>(l.io);
    const auto started = std::chrono::steady_clock::now();

    SECTION("not on this host (TEST-NET-1)")
    {
        const auto r = connect_from(l, conn, "127.0.0.1", "192.0.2.1");
        REQUIRE(r.ec);
        CHECK(*r.ec == std::errc::address_not_available);
        CHECK(r.detail.starts_with("cannot bind to local address 192.0.2.1: "));
    }
    SECTION("of the other family than the target's address")
    {
        const auto r = connect_from(l, conn, "127.0.0.1", "::1");
        REQUIRE(r.ec);
        CHECK(*r.ec == std::errc::address_family_not_supported);
        CHECK(r.detail == "local address ::1 is IPv6 but 127.0.0.1 has no IPv6 address");
    }
    SECTION("not an address")
    {
        const auto r = connect_from(l, conn, "127.0.0.1", "filer.example");
        REQUIRE(r.ec);
        CHECK(*r.ec == std::errc::invalid_argument);
        CHECK(r.detail == "local address \"filer.example\" is not an IPv4 or IPv6 address");
    }
    // Failed by the bind, not by the 30 s connect timeout, and nothing reached the listener.
    CHECK(std::chrono::steady_clock::now() - started < 5s);
    CHECK_FALSE(l.peer);
}

TEST_CASE("connection: a resolver error says what the resolver said", "[connection][tcp]")
{
    listener l;
    auto conn = std::make_shared<iscsi::connection>(l.io);
    const auto out = connect_from(l, conn, "127.0.0.1", "127.0.0.2", "no-such-service");
    REQUIRE(out.ec);
    CHECK(*out.ec);
    // Not the errno that happens to have the number of Asio's addrinfo error.
    CHECK(out.detail == boost::system::error_code(asio::error::service_not_found).message());
}
