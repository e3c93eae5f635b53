// iscsi-vscsi.conf(5) on disk: load_conf, includes from the file system,
// and the file checks. Works in a private temporary directory.
#include "config/conf.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

using namespace ivs::config;
namespace fs = std::filesystem;

namespace {

struct temp_dir {
    fs::path path;
    temp_dir()
    {
        std::string pattern = (fs::temp_directory_path() / "ivs-conf-XXXXXX").string();
        REQUIRE(::mkdtemp(pattern.data()) != nullptr);
        path = pattern;
    }
    ~temp_dir()
    {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    fs::path write(const std::string& name, const std::string& text, mode_t mode = 0600) const
    {
        const fs::path p = path / name;
        fs::create_directories(p.parent_path());
        std::ofstream(p, std::ios::binary) << text;
        REQUIRE(::chmod(p.c_str(), mode) == 0);
        return p;
    }
};

} // namespace

// Runs a test from another current directory.
struct current_dir {
    fs::path old = fs::current_path();
    explicit current_dir(const fs::path& p) { fs::current_path(p); }
    ~current_dir()
    {
        std::error_code ec;
        fs::current_path(old, ec);
    }
};

TEST_CASE("load_conf reads a file and the includes it names from the current directory", "[conf][files]")
{
    temp_dir dir;
    dir.write("conf.d/targets.conf", "target t {\n targetaddr $addr\n targetname iqn.2001-04.com.example:t\n"
                                     " chap user u secret-file t.secret\n}\n");
    const fs::path main = dir.write("iscsi.conf", "addr = 192.0.2.10\ninclude \"conf.d/targets.conf\"\n");
    conf c;
    std::string error;
    {
        const current_dir here(dir.path);
        const std::error_code ec = load_conf(main, c, error);
        INFO(error);
        REQUIRE_FALSE(ec);
    }
    REQUIRE(c.targets.size() == 1);
    CHECK(c.targets[0].target_addr.host == "192.0.2.10");
    CHECK(c.targets[0].where.file == "conf.d/targets.conf");
    // secret files (an extension) are relative to the file that names them
    CHECK(c.targets[0].chap->secret_file == "conf.d/t.secret");

    // From elsewhere, iscsictl(8) would not find it either.
    const current_dir root("/");
    CHECK(load_conf(main, c, error) == conf_errc::syntax);
    CHECK(error == main.string() + ":2: include: cannot read \"conf.d/targets.conf\": No such file or directory "
                                   "(a relative path is taken from the current directory, as iscsictl(8) does)");
}

TEST_CASE("load_conf failures name the file", "[conf][files]")
{
    temp_dir dir;
    conf c;
    std::string error;
    CHECK(load_conf(dir.path / "none.conf", c, error) == conf_errc::read_failed);
    CHECK(error == (dir.path / "none.conf").string() + ": No such file or directory");
    CHECK(load_conf(dir.path, c, error) == conf_errc::read_failed);
    CHECK(error == dir.path.string() + ": not a regular file");
    const fs::path big = dir.write("big.conf", std::string(max_conf_file_size + 1, '#'));
    CHECK(load_conf(big, c, error) == conf_errc::too_large);
    CHECK(error == big.string() + ": larger than 1048576 bytes");
    const fs::path gone = dir.path / "gone.conf";
    const fs::path bad = dir.write("bad.conf", "\ninclude \"" + gone.string() + "\"\n");
    CHECK(load_conf(bad, c, error) == conf_errc::syntax);
    CHECK(error == bad.string() + ":2: include: cannot read \"" + gone.string() + "\": No such file or directory");
    REQUIRE(::mkfifo((dir.path / "fifo").c_str(), 0600) == 0); // refused, not waited on
    CHECK(load_conf(dir.path / "fifo", c, error) == conf_errc::read_failed);
    CHECK(error == (dir.path / "fifo").string() + ": not a regular file");
}

TEST_CASE("parse_conf_text reads includes from the current directory", "[conf][files]")
{
    temp_dir dir;
    dir.write("part.conf", "isid en 7 8\n");
    const current_dir here(dir.path);
    conf c;
    std::string error;
    REQUIRE_FALSE(parse_conf_text("include part.conf\n", "/nonexistent/x.conf", c, error));
    REQUIRE(c.isid);
    CHECK(c.isid->base == 7);
}

TEST_CASE("check_conf_file: anyone may read a configuration file, only its owner write it", "[conf][files]")
{
    temp_dir dir;
    std::string error;
    CHECK_FALSE(check_conf_file(dir.write("ok", "x", 0600), error));
    CHECK_FALSE(check_conf_file(dir.write("etc", "x", 0644), error)); // OpenBSD's /etc/iscsi.conf
    CHECK_FALSE(check_conf_file(dir.write("ro", "x", 0444), error));
    const fs::path group_write = dir.write("gw", "x", 0664);
    CHECK(check_conf_file(group_write, error) == conf_errc::insecure_file);
    CHECK(error == group_write.string() + ": writable by group or others (mode 0664)");
    CHECK(check_conf_file(dir.write("ow", "x", 0602), error) == conf_errc::insecure_file);
    CHECK(check_conf_file(dir.path, error) == conf_errc::insecure_file);
    CHECK(error == dir.path.string() + ": not a regular file");
    CHECK(check_conf_file(dir.path / "missing", error) == conf_errc::read_failed);
    CHECK(error == (dir.path / "missing").string() + ": No such file or directory");
}

TEST_CASE("check_secret_file refuses a secret others can read, and says it holds one", "[conf][files]")
{
    temp_dir dir;
    std::string error;
    CHECK_FALSE(check_secret_file(dir.write("ok", "x", 0600), error));
    CHECK_FALSE(check_secret_file(dir.write("ro", "x", 0400), error));
    CHECK_FALSE(check_secret_file(dir.write("exec", "x", 0711), error)); // execute bits grant no access to contents
    const fs::path group_read = dir.write("gr", "x", 0640);
    CHECK(check_secret_file(group_read, error) == conf_errc::insecure_file);
    CHECK(error ==
          group_read.string() +
              ": holds a secret and is readable by group or others (mode 0640); make it private, e.g. chmod 600");
    CHECK(check_secret_file(dir.write("or", "x", 0604), error) == conf_errc::insecure_file);
    CHECK(check_secret_file(dir.write("gw", "x", 0620), error) == conf_errc::insecure_file);
    CHECK(error == (dir.path / "gw").string() + ": writable by group or others (mode 0620)");
}

TEST_CASE("load_checked_conf applies check_conf_file to the file and its includes", "[conf][files]")
{
    temp_dir dir;
    const fs::path part = dir.write("part.conf", "isid en 7 8\n", 0644);
    const fs::path main = dir.write("main.conf", "include \"" + part.string() + "\"\n", 0644);
    conf c;
    std::string error;
    CHECK_FALSE(load_checked_conf(main, c, error));
    REQUIRE(::chmod(part.c_str(), 0666) == 0);
    CHECK(load_checked_conf(main, c, error) == conf_errc::syntax);
    CHECK(error == main.string() + ":1: include: cannot read \"" + part.string() +
                       "\": writable by group or others (mode 0666)");
    REQUIRE(::chmod(main.c_str(), 0646) == 0);
    CHECK(load_checked_conf(main, c, error) == conf_errc::insecure_file);
    CHECK(error == main.string() + ": writable by group or others (mode 0646)");
    CHECK_FALSE(load_conf(main, c, error)); // the unchecked reader (attach, tests) reads it
}

TEST_CASE("check_conf_file and check_secret_file refuse a file owned by someone else", "[conf][files]")
{
    if (::geteuid() != 0) {
        WARN("not root: cannot give a file to another user; ownership case skipped");
        return;
    }
    temp_dir dir;
    const fs::path p = dir.write("foreign", "x", 0600);
    REQUIRE(::chown(p.c_str(), 4242, 4242) == 0);
    std::string error;
    CHECK(check_conf_file(p, error) == conf_errc::insecure_file);
    CHECK(error == p.string() + ": owned by uid 4242, not by root or the current user");
    CHECK(check_secret_file(p, error) == conf_errc::insecure_file);
}

TEST_CASE("load_checked_conf records what it read; parse_conf_sources parses it again without files", "[conf][files]")
{
    temp_dir d;
    d.write("sub/targets.conf", "target b {\n targetaddr $addr\n targetname iqn.2001-04.com.example:b\n}\n");
    d.write("macros.conf", "addr = 192.0.2.9\n");
    const fs::path main = d.write("main.conf", "include \"macros.conf\"\ninclude \"sub/targets.conf\"\n"
                                               "target a {\n targetaddr $addr\n targetname iqn.2001-04.com.example:a\n"
                                               " export /srv/a\n}\n");
    const current_dir cd(d.path); // relative includes: from the current directory, as iscsictl(8)
    conf first;
    conf_sources sources;
    std::string error;
    REQUIRE_FALSE(load_checked_conf(main, first, error, sources));
    CHECK(sources.file == main.string());
    REQUIRE(sources.included.size() == 2);
    CHECK(sources.included[0].first == "macros.conf");
    CHECK(sources.included[1].second.find("target b") != std::string::npos);

    // Moved away from the files: the same configuration from memory.
    const current_dir elsewhere(fs::temp_directory_path());
    d.write("sub/targets.conf", "garbage {\n", 0600); // what is on disk no longer matters
    conf again;
    REQUIRE_FALSE(parse_conf_sources(sources, again, error));
    REQUIRE(again.targets.size() == 2);
    for (std::size_t i = 0; i < 2; ++i) {
        CHECK(again.targets[i].name == first.targets[i].name);
        CHECK(again.targets[i].target_addr.host == "192.0.2.9");
        CHECK(again.targets[i].where.file == first.targets[i].where.file);
        CHECK(again.targets[i].where.line == first.targets[i].where.line);
    }
    CHECK(again.targets[1].export_dir == "/srv/a");

    // An include the sources do not hold is an error, not a read from disk.
    sources.included.pop_back();
    CHECK(parse_conf_sources(sources, again, error) == make_error_code(conf_errc::syntax));
    CHECK(error.find("sub/targets.conf") != std::string::npos);
    CHECK(error.find("not among the files") != std::string::npos);
}
