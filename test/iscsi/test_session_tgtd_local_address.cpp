// Integration: a session bound to a local address (session_config::
// local_address, iscsi.conf(5)'s initiatoraddr) against a real tgtd whose ACL
// admits only that address: the first connection, the one after a login
// redirect and the one of recovery all come from it, as tgtd reports; an
// address not on this host fails the login at once, naming it.
#include "test/support/session_harness.hpp"
#include "test/support/tgtd_fixture.hpp"

#include <catch2/catch.hpp>

using namespace ivs;

namespace {

using namespace std::chrono_literals;

const std::string target_iqn = "iqn.2026-11.org.iscsi-vscsi.test:local-address";
const std::string initiator_iqn = "iqn.2026-11.org.iscsi-vscsi.test:initiator";
const std::string local = "127.0.0.2"; // Linux routes all of 127/8 on lo

iscsi::session_config make_config(const test::tgtd_fixture& tgtd, const std::string& local_address)
{
    iscsi::session_config cfg;
    cfg.target_portal.host = tgtd.host();
    cfg.target_portal.port = std::to_string(tgtd.port());
    cfg.login.initiator_name = initiator_iqn;
    cfg.login.target_name = target_iqn;
    cfg.local_address = local_address;
    cfg.connect_timeout = 30s; // a failure sooner is not this timeout
    return cfg;
}

// tgtd with one target that admits the initiator at 127.0.0.2 only.
void add_target(test::tgtd_fixture& tgtd)
{
    tgtd.add_target(1, target_iqn);
    tgtd.add_null_lun(1, 1);
    tgtd.allow_initiator_address(1, local);
}

std::vector<std::string> peer_addresses(test::tgtd_fixture& tgtd)
{
    std::vector<std::string> out;
    for (const auto& c : tgtd.connections(1))
        out.push_back(c.address);
    return out;
}

} // namespace

TEST_CASE("a session bound to 127.0.0.2 logs in from it, and recovers from it", "[session][tgtd][local-address]")
{
    test::tgtd_fixture tgtd;
    add_target(tgtd);
    test::session_harness h;

    // The ACL refuses the address the system would choose (127.0.0.1).
    {
        iscsi::session refused(h.io, make_config(tgtd, ""));
        std::string message;
        CHECK(h.login(refused, &message) != std::error_code{});
        INFO(message);
        CHECK_FALSE(refused.logged_in());
    }

    iscsi::session s(h.io, make_config(tgtd, local));
    std::vector<iscsi::session_event::kind> events;
    s.on_event([&](const iscsi::session_event& e) { events.push_back(e.what); });
    std::string message;
    REQUIRE(h.login(s, &message) == std::error_code{});
    CHECK(peer_addresses(tgtd) == std::vector<std::string>{local});

    // The target drops the connection: ERL 0 recovery connects again, bound
    // to the same address (tgtd would refuse any other).
    const auto conns = tgtd.connections(1);
    REQUIRE(conns.size() == 1);
    tgtd.close_connection(1, conns[0].session, conns[0].connection);
    REQUIRE(h.run_until(
        [&] {
            return std::find(events.begin(), events.end(), iscsi::session_event::kind::reconnected) != events.end();
        },
        30s));
    CHECK(s.logged_in());
    CHECK(s.counters().reconnects == 1);
    CHECK(peer_addresses(tgtd) == std::vector<std::string>{local});
    REQUIRE(h.logout(s) == std::error_code{});
}

TEST_CASE("after a login redirect the session connects from its local address too", "[session][tgtd][local-address]")
{
    test::tgtd_fixture home; // where the target is
    add_target(home);
    test::tgtd_fixture portal; // answers the login with a redirect to `home` (RFC 7143 §11.13.5, 0x0101)
    portal.add_target(1, target_iqn);
    portal.allow_initiator_address(1, local);
    portal.set_target_param(1, "RedirectAddress", home.host());
    portal.set_target_param(1, "RedirectPort", std::to_string(home.port()));
    portal.set_target_param(1, "RedirectReason", "Temporary");

    test::session_harness h;
    iscsi::session s(h.io, make_config(portal, local));
    std::string message;
    REQUIRE(h.login(s, &message) == std::error_code{});
    INFO(message);
    CHECK(peer_addresses(home) == std::vector<std::string>{local});
    REQUIRE(h.logout(s) == std::error_code{});
}

TEST_CASE("a local address not on this host fails the login at once, naming it", "[session][tgtd][local-address]")
{
    test::tgtd_fixture tgtd;
    add_target(tgtd);
    test::session_harness h;
    auto cfg = make_config(tgtd, "192.0.2.1"); // TEST-NET-1, on no interface here
    cfg.recover = true;                        // a first login is not retried even so
    iscsi::session s(h.io, cfg);
    const auto started = std::chrono::steady_clock::now();
    std::string message;
    const auto ec = h.login(s, &message);
    CHECK(ec == std::errc::address_not_available);
    CHECK(message == "cannot connect to " + tgtd.portal() + ": cannot bind to local address 192.0.2.1: " +
                         std::make_error_code(std::errc::address_not_available).message());
    CHECK(std::chrono::steady_clock::now() - started < 5s);
    CHECK_FALSE(s.logged_in());
    CHECK(tgtd.connections(1).empty());
}
