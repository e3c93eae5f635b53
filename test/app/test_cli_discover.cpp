// Integration: `iscsi-vscsi discover` against a real tgtd.
#include "test/support/process.hpp"
#include "test/support/tgtd_fixture.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>

using namespace ivs;

namespace {

std::string program()
{
    const char* p = std::getenv("IVS_PROGRAM");
    REQUIRE(p != nullptr);
    return p;
}

std::vector<std::string> lines(const std::string& text)
{
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);)
        out.push_back(l);
    return out;
}

} // namespace

TEST_CASE("discover prints one line per portal", "[cli][tgtd]")
{
    test::tgtd_fixture tgtd;
    for (int tid = 1; tid <= 3; ++tid) {
        tgtd.add_target(tid, "iqn.2026-11.org.iscsi-vscsi.test:t" + std::to_string(tid));
        tgtd.allow_initiator_address(tid);
    }
    auto r = test::run({program(), "discover", tgtd.portal()});
    INFO(r.describe({"discover"}));
    REQUIRE(r.ok());
    auto out = lines(r.out);
    REQUIRE(out.size() == 3);
    for (int tid = 1; tid <= 3; ++tid)
        CHECK(out[tid - 1] == tgtd.portal() + ",1 iqn.2026-11.org.iscsi-vscsi.test:t" + std::to_string(tid));
}

TEST_CASE("discover failures are one line that never shows the secret", "[cli][tgtd]")
{
    test::tgtd_fixture tgtd;
    auto secret = tgtd.temp_dir() / "secret";
    std::ofstream(secret) << "a-secret-of-16-bytes\n";
    auto r = test::run({program(), "discover", "127.0.0.1:1", "--chap-user", "u", "--chap-secret-file", secret.string(),
                        "--timeout", "5"});
    CHECK(r.exit_code == 1);
    CHECK(lines(r.err).size() == 1);
    CHECK(r.err.find("cannot connect") != std::string::npos);
    CHECK(r.err.find("a-secret-of") == std::string::npos);
}

TEST_CASE("discover rejects bad command lines", "[cli]")
{
    auto r = test::run({program(), "discover"});
    CHECK(r.exit_code == 2);
    r = test::run({program(), "discover", "host:99999"});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("bad portal") != std::string::npos);
    r = test::run({program(), "discover", "127.0.0.1", "--bogus"});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("unknown option --bogus") != std::string::npos);
    r = test::run({program(), "discover", "--help"});
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("--chap-secret-file") != std::string::npos);
}
