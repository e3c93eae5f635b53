// The embedded vscsi's readiness fd: armed under the device's lock, written
// after it is released; a clear() that comes before the write leaves it
// armed, so the write is never lost nor left readable for good.
#include "vscsi/readiness_signal.hpp"

#include <catch2/catch.hpp>

#include <poll.h>

using ivs::vscsi::readiness_signal;

namespace {
bool readable(int fd)
{
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN) != 0;
}
} // namespace

TEST_CASE("readiness_signal: arm, then notify, then clear", "[vscsi]")
{
    readiness_signal r;
    CHECK_FALSE(readable(r.fd()));
    CHECK(r.arm());
    CHECK_FALSE(r.arm()); // already armed: one write is enough
    CHECK_FALSE(readable(r.fd()));
    r.notify();
    CHECK(readable(r.fd()));
    r.clear();
    CHECK_FALSE(readable(r.fd()));
    CHECK(r.arm()); // cleared: the next arm writes again
    r.notify();
    r.set(); // idempotent while armed
    r.clear();
    CHECK_FALSE(readable(r.fd()));
}

TEST_CASE("readiness_signal: a clear before the write keeps it armed", "[vscsi]")
{
    readiness_signal r;
    REQUIRE(r.arm());
    r.clear();            // the arming thread has not written yet
    CHECK_FALSE(r.arm()); // still armed: nobody else writes meanwhile
    r.notify();           // the write lands
    CHECK(readable(r.fd()));
    r.clear(); // and is consumed
    CHECK_FALSE(readable(r.fd()));
    CHECK(r.arm());
    r.notify();
    r.clear();
    CHECK_FALSE(readable(r.fd()));
}
