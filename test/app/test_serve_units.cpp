// serve's pieces without a target: configuration blocks to session settings,
// reload comparison, file permissions, and the control socket protocol.
#include "app/control_socket.hpp"
#include "app/serve_target.hpp"
#include "test/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

using namespace ivs;
using namespace ivs::app;
using namespace ivs::config;
namespace fs = std::filesystem;

namespace {

void write_file(const fs::path& p, const std::string& text,
                fs::perms mode = fs::perms::owner_read | fs::perms::owner_write)
{
    std::ofstream(p, std::ios::trunc) << text;
    fs::permissions(p, mode);
}

conf parse(const std::string& text)
{
    conf c;
    std::string error;
    REQUIRE_FALSE(parse_conf_text(text, "test.conf", c, error));
    return c;
}

} // namespace

TEST_CASE("a target block becomes the session settings", "[serve]")
{
    test::temp_dir d("serve-unit");
    write_file(d.path / "a.secret", "initiator-secret\n");
    write_file(d.path / "b.secret", "target-secret\n");
    const conf c = parse("initiatorname iqn.2026-11.org.example:host\nisid en 32473 17\n"
                         "target t {\n targetaddr 192.0.2.1 port 3261\n targetname iqn.2026-11.org.example:t\n"
                         " chap user alice secret-file \"" +
                         (d.path / "a.secret").string() +
                         "\"\n"
                         " mutual-chap user filer secret-file \"" +
                         (d.path / "b.secret").string() +
                         "\"\n"
                         " chap-algorithms md5\n header-digest crc32c\n max-burst-length 1048576\n"
                         " immediate-data no\n replacement-timeout 30\n nop-interval 0\n}\n"
                         "target d {\n discovery\n targetaddr 192.0.2.2\n}\n");
    iscsi::session_config s;
    std::string error;
    REQUIRE(make_session_config(c, c.targets[0], {}, s, error));
    CHECK(s.target_portal.host == "192.0.2.1");
    CHECK(s.target_portal.port == "3261");
    CHECK(s.login.initiator_name == "iqn.2026-11.org.example:host");
    CHECK(s.login.target_name == "iqn.2026-11.org.example:t");
    CHECK(s.login.type == iscsi::session_type::normal);
    CHECK(s.login.isid == ((std::uint64_t{1} << 46) | (std::uint64_t{32473} << 16) | 17));
    REQUIRE(s.login.chap);
    CHECK(s.login.chap->name == "alice");
    CHECK(s.login.chap->secret.same_as(iscsi::chap_secret("initiator-secret")));
    REQUIRE(s.login.mutual_chap);
    CHECK(s.login.mutual_chap->secret.same_as(iscsi::chap_secret("target-secret")));
    CHECK(s.login.chap_algorithms == std::vector{iscsi::chap_algorithm::md5});
    CHECK(s.login.proposals.header_digest == iscsi::digest_offer::crc32c);
    CHECK(s.login.proposals.data_digest == iscsi::digest_offer::none);
    CHECK(s.login.proposals.max_burst_length == 1048576);
    CHECK_FALSE(s.login.proposals.immediate_data);
    CHECK(s.replacement_timeout == std::chrono::seconds(30));
    CHECK(s.nop_interval == std::chrono::milliseconds(0));
    CHECK(s.recover);

    REQUIRE(make_session_config(c, c.targets[1], {}, s, error));
    CHECK(s.login.type == iscsi::session_type::discovery);
    CHECK(s.login.target_name.empty());
    CHECK(s.target_portal.port == "3260");
    CHECK_FALSE(s.recover);

    // A secret file that vanished: file:line of the block.
    fs::remove(d.path / "a.secret");
    CHECK_FALSE(make_session_config(c, c.targets[0], {}, s, error));
    CHECK(error.find("test.conf:3: target t: ") == 0);
}

TEST_CASE("same_target tells a changed block from an unchanged one", "[serve]")
{
    const std::string base = "target t {\n targetaddr 192.0.2.1\n targetname iqn.2026-11.org.example:t\n";
    const conf a = parse(base + "}\n");
    const conf b = parse("# moved down\n\n" + base + "}\n");
    CHECK(same_target(a.targets[0], b.targets[0]));
    for (const char* change :
         {" luns 1\n", " header-digest crc32c\n", " disabled\n", " export \"/mnt/x\"\n", " command-timeout 5\n"})
        CHECK_FALSE(same_target(a.targets[0], parse(base + change + "}\n").targets[0]));
    CHECK_FALSE(
        same_target(a.targets[0],
                    parse("target t {\n targetaddr 192.0.2.9\n targetname iqn.2026-11.org.example:t\n}\n").targets[0]));
}

TEST_CASE("load_serve_conf: a 0644 configuration is fine, a readable secret or a writable file is not", "[serve]")
{
    test::temp_dir d("serve-unit");
    const fs::path secret = d.path / "s.secret";
    write_file(secret, "secret-secret\n");
    const fs::path part = d.path / "part.conf";
    write_file(part, "addr = 192.0.2.1\n",
               fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read);
    const fs::path file = d.path / "c.conf";
    write_file(file,
               "include \"" + part.string() +
                   "\"\n"
                   "target t {\n targetaddr $addr\n targetname iqn.2026-11.org.example:t\n"
                   " chap user u secret-file \"" +
                   secret.string() + "\"\n}\n",
               fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read);
    conf c;
    std::string error;
    CHECK_FALSE(load_serve_conf(file, c, error)); // like OpenBSD's 0644 /etc/iscsi.conf
    CHECK(c.targets.size() == 1);

    fs::permissions(secret, fs::perms::others_read, fs::perm_options::add);
    CHECK(load_serve_conf(file, c, error) == make_error_code(conf_errc::insecure_file));
    CHECK(error == file.string() + ":2: target t: " + secret.string() +
                       ": holds a secret and is readable by group or others (mode 0604); make it private, e.g. "
                       "chmod 600");
    fs::permissions(secret, fs::perms::others_read, fs::perm_options::remove);

    fs::permissions(file, fs::perms::group_write, fs::perm_options::add);
    CHECK(load_serve_conf(file, c, error) == make_error_code(conf_errc::insecure_file));
    CHECK(error == file.string() + ": writable by group or others (mode 0664)");
    fs::permissions(file, fs::perms::group_write, fs::perm_options::remove);

    fs::permissions(part, fs::perms::others_write, fs::perm_options::add); // an included file too
    CHECK(load_serve_conf(file, c, error) == make_error_code(conf_errc::syntax));
    CHECK(error == file.string() + ":1: include: cannot read \"" + part.string() +
                       "\": writable by group or others (mode 0646)\n" + file.string() +
                       ":3: macro \"addr\" is not defined");
}

TEST_CASE("the control socket answers one request per connection", "[serve]")
{
    test::temp_dir d("serve-unit");
    const fs::path path = d.path / "ctl.sock";
    std::string error;
    {
        control_server server;
        REQUIRE_FALSE(server.open(path, error));
        struct stat st {};
        REQUIRE(::lstat(path.c_str(), &st) == 0);
        CHECK((st.st_mode & 0777) == 0600);

        // A second server on the same path is refused while the first answers.
        control_server second;
        CHECK(second.open(path, error) == std::errc::address_in_use);

        server.start([](const std::string& request, bool& ok) -> std::string {
            if (request == "status")
                return "all well\n";
            ok = false;
            return "unknown request\n";
        });
        std::string answer;
        REQUIRE_FALSE(control_request(path, "status", answer));
        CHECK(answer == "ok\nall well\n");
        answer.clear();
        REQUIRE_FALSE(control_request(path, "bogus", answer));
        CHECK(answer == "error: unknown request\n");

        // A line over the limit is never handed to the handler.
        answer.clear();
        REQUIRE_FALSE(control_request(path, std::string(max_control_line * 2, 'x'), answer));
        CHECK(answer == "error: malformed request\n");
        server.stop();
    }
    CHECK_FALSE(fs::exists(path));
    std::string answer;
    CHECK(control_request(path, "status", answer));

    // A stale socket file (its server died) is replaced; another file is not.
    {
        int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        std::strcpy(sa.sun_path, path.c_str());
        REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
        ::close(fd);
    }
    {
        control_server server;
        CHECK_FALSE(server.open(path, error));
    }
    write_file(path, "not a socket");
    control_server server;
    CHECK(server.open(path, error) == std::errc::file_exists);
}

TEST_CASE("initiatoraddr becomes the session's local address: the target's own, else the global one", "[serve]")
{
    const conf c = parse("initiatoraddr 127.0.0.2\n"
                         "target a {\n targetaddr 192.0.2.1\n targetname iqn.2026-11.org.example:a\n}\n"
                         "target b {\n targetaddr 192.0.2.1\n targetname iqn.2026-11.org.example:b\n"
                         " initiatoraddr fe80::1%lo\n}\n"
                         "target n {\n targetaddr 192.0.2.1\n targetname iqn.2026-11.org.example:n\n"
                         " initiatoraddr localhost inet\n}\n");
    iscsi::session_config s;
    std::string error;
    REQUIRE(make_session_config(c, c.targets[0], {}, s, error));
    CHECK(s.local_address == "127.0.0.2");
    REQUIRE(make_session_config(c, c.targets[1], {}, s, error));
    CHECK(s.local_address == "fe80::1%lo"); // a literal as written, its scope kept
    REQUIRE(make_session_config(c, c.targets[2], {}, s, error));
    CHECK(s.local_address == "127.0.0.1"); // a name resolved in its family (/etc/hosts)

    const conf none = parse("target a {\n targetaddr 192.0.2.1\n targetname iqn.2026-11.org.example:a\n}\n");
    REQUIRE(make_session_config(none, none.targets[0], {}, s, error));
    CHECK(s.local_address.empty());

    const conf bad = parse("target a {\n targetaddr 192.0.2.1\n targetname iqn.2026-11.org.example:a\n"
                           " initiatoraddr no-such-host.invalid\n}\n");
    CHECK_FALSE(make_session_config(bad, bad.targets[0], {}, s, error));
    CHECK(error.starts_with("test.conf:1: target a: initiatoraddr: cannot resolve no-such-host.invalid"));
}

TEST_CASE("same_target: a changed initiatoraddr is a changed block", "[serve]")
{
    const std::string base = "target t {\n targetaddr 192.0.2.1\n targetname iqn.2026-11.org.example:t\n";
    const conf a = parse(base + " initiatoraddr 127.0.0.2\n}\n");
    CHECK(same_target(a.targets[0], parse(base + " initiatoraddr 127.0.0.2\n}\n").targets[0]));
    CHECK_FALSE(same_target(a.targets[0], parse(base + " initiatoraddr 127.0.0.3\n}\n").targets[0]));
    CHECK_FALSE(same_target(a.targets[0], parse(base + "}\n").targets[0]));
    CHECK_FALSE(same_target(a.targets[0], parse(base + " initiatoraddr 127.0.0.2 inet\n}\n").targets[0]));
}
