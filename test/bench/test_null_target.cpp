// Integration: bench/null_target serves libiscsi's iscsi-inq and
// iscsi-readcapacity16 and iscsi-vscsi bench (reads and writes, digests off
// and CRC32C), survives garbage on a connection, and exits on SIGTERM.
#include "test/support/json_field.hpp"
#include "test/support/process.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

using namespace ivs;

namespace {

using ivs::test::json_number;

const std::string iqn = "iqn.2026-01.org.iscsi-vscsi.test:null";

std::string env(const char* name)
{
    const char* p = std::getenv(name);
    REQUIRE(p != nullptr);
    return p;
}

// null_target on a free loopback port, stopped with SIGTERM at the end.
struct null_target_process {
    std::filesystem::path log =
        std::filesystem::temp_directory_path() / ("null_target_" + std::to_string(::getpid()) + ".log");
    test::child_process child;
    std::string portal;

    null_target_process()
    {
        std::filesystem::remove(log);
        child = test::child_process({env("IVS_NULL_TARGET"), "--port", "0", "--iqn", iqn, "--size", "1073741824"},
                                    {log, {}});
        const std::string prefix = "listening on ";
        for (int i = 0; i < 100 && portal.empty(); ++i) {
            const std::string text = test::file_tail(log);
            const auto at = text.find(prefix);
            const auto eol = at == std::string::npos ? at : text.find('\n', at);
            if (eol != std::string::npos)
                portal = text.substr(at + prefix.size(), eol - at - prefix.size());
            else
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        INFO(test::file_tail(log));
        REQUIRE(!portal.empty());
    }
    ~null_target_process()
    {
        child.kill();
        std::filesystem::remove(log);
    }
    std::string url(int lun) const { return "iscsi://" + portal + "/" + iqn + "/" + std::to_string(lun); }
    std::uint16_t port() const { return static_cast<std::uint16_t>(std::stoi(portal.substr(portal.find(':') + 1))); }

    // SIGTERM: exits 0 within a few seconds (else killed: -1).
    int stop() { return child.stop(SIGTERM, std::chrono::seconds(5)); }
};

} // namespace

TEST_CASE("null_target serves libiscsi and iscsi-vscsi bench, with and without digests", "[bench][null_target]")
{
    null_target_process t;

    SECTION("libiscsi tools")
    {
        auto inq = test::run({"iscsi-inq", t.url(0)});
        INFO(inq.describe({"iscsi-inq"}));
        REQUIRE(inq.ok());
        CHECK(inq.out.find("DIRECT_ACCESS") != std::string::npos);
        CHECK(inq.out.find("NULL TARGET") != std::string::npos);

        auto serial = test::run({"iscsi-inq", "-e", "1", "-c", "128", t.url(0)});
        INFO(serial.describe({"iscsi-inq", "-e", "1", "-c", "128"}));
        REQUIRE(serial.ok());
        CHECK(serial.out.find("ivsnull") != std::string::npos);

        auto cap = test::run({"iscsi-readcapacity16", t.url(0)});
        INFO(cap.describe({"iscsi-readcapacity16"}));
        REQUIRE(cap.ok());
        CHECK(cap.out.find("LOGICAL BLOCK LENGTH IN BYTES:512") != std::string::npos);
        CHECK(cap.out.find("RETURNED LOGICAL BLOCK ADDRESS:2097151") != std::string::npos);

        // Discovery session: SendTargets=All names the one target.
        auto ls = test::run({"iscsi-ls", "-s", "iscsi://" + t.portal});
        INFO(ls.describe({"iscsi-ls"}));
        REQUIRE(ls.ok());
        CHECK(ls.out.find(iqn) != std::string::npos);
        CHECK(ls.out.find("Lun:0") != std::string::npos);

        // A LUN that does not exist is not CONNECTED.
        auto none = test::run({"iscsi-inq", t.url(3)});
        CHECK(none.out.find("Peripheral Qualifier:CONNECTED") == std::string::npos);
    }

    SECTION("iscsi-vscsi bench")
    {
        for (const std::string digest : {"none", "crc32c"}) {
            for (const std::string mode : {"--read", "--write"}) {
                const std::vector<std::string> argv{env("IVS_PROGRAM"),
                                                    "bench",
                                                    t.portal,
                                                    iqn,
                                                    "--lun",
                                                    "0",
                                                    "--seconds",
                                                    "1",
                                                    "--bs",
                                                    "262144",
                                                    "--qd",
                                                    "4",
                                                    mode,
                                                    "--header-digest",
                                                    digest,
                                                    "--data-digest",
                                                    digest,
                                                    "--json"};
                auto r = test::run(argv, std::chrono::seconds(60));
                INFO(r.describe(argv) << "\nnull_target: " << test::file_tail(t.log));
                REQUIRE(r.ok());
                const std::string on = digest == "crc32c" ? "true" : "false";
                CHECK(r.out.find("\"header_digest\":" + on) != std::string::npos);
                CHECK(r.out.find("\"data_digest\":" + on) != std::string::npos);
                CHECK(json_number(r.out, "ios") > 0);
                CHECK(r.err.find("failed") == std::string::npos);
                CHECK(r.err.find("sd0 detached") != std::string::npos);
            }
        }
    }

    SECTION("garbage on one connection drops only that connection")
    {
        const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        REQUIRE(fd >= 0);
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(t.port());
        ::inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
        REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
        // A SCSI Command before login, then a BHS claiming a 16 MiB data segment.
        unsigned char junk[96] = {0x01, 0x80};
        junk[48] = 0x43;
        junk[48 + 5] = 0xff;
        junk[48 + 6] = 0xff;
        junk[48 + 7] = 0xff;
        CHECK(::send(fd, junk, sizeof junk, MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof junk));
        char buf[64];
        CHECK(::recv(fd, buf, sizeof buf, 0) == 0); // closed by the target
        ::close(fd);
        auto inq = test::run({"iscsi-inq", t.url(0)});
        CHECK(inq.ok());
        CHECK(test::file_tail(t.log).find("connection dropped") != std::string::npos);
    }

    CHECK(t.stop() == 0);
}
