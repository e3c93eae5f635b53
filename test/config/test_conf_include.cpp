// iscsi-vscsi.conf(5): include, through an in-memory reader that answers
// for paths exactly as the parser asks for them.
#include "config/conf.hpp"

#include <catch2/catch.hpp>

#include <map>

using namespace ivs::config;

namespace {

struct memory_files {
    std::map<std::string, std::string> files;
    std::vector<std::string> reads;

    conf_reader reader()
    {
        return [this](const std::filesystem::path& p, std::string& text, std::string& error) -> std::error_code {
            reads.push_back(p.string());
            const auto it = files.find(p.string());
            if (it == files.end()) {
                error = "No such file or directory";
                return conf_errc::read_failed;
            }
            text = it->second;
            return {};
        };
    }
};

const std::string target_b = "target b {\n targetaddr $addr\n targetname iqn.2001-04.com.example:b\n}\n";

} // namespace

TEST_CASE("include shares macros and keeps order", "[conf][include]")
{
    memory_files fs;
    fs.files["/etc/iscsi/targets.conf"] = "include \"/etc/iscsi/more/c.conf\"\n" + target_b;
    fs.files["/etc/iscsi/more/c.conf"] = "target c {\n targetaddr $addr\n targetname iqn.2001-04.com.example:c\n}\n"
                                         "include '/etc/abs.conf'\n";
    fs.files["/etc/abs.conf"] = "isid rand 1 2\n";
    conf c;
    std::string error;
    const std::error_code ec = parse_conf("addr=192.0.2.4\n"
                                          "target a {\n targetaddr $addr\n targetname iqn.2001-04.com.example:a\n}\n"
                                          "include \"/etc/iscsi/targets.conf\"\n",
                                          "/etc/iscsi/main.conf", fs.reader(), c, error);
    INFO(error);
    REQUIRE_FALSE(ec);
    CHECK(fs.reads == std::vector<std::string>{"/etc/iscsi/targets.conf", "/etc/iscsi/more/c.conf", "/etc/abs.conf"});
    REQUIRE(c.targets.size() == 3);
    CHECK(c.targets[0].name == "a");
    CHECK(c.targets[1].name == "c");
    CHECK(c.targets[1].where.file == "/etc/iscsi/more/c.conf");
    CHECK(c.targets[1].where.line == 1);
    CHECK(c.targets[2].name == "b");
    CHECK(c.targets[2].where.file == "/etc/iscsi/targets.conf");
    CHECK(c.targets[2].where.line == 2);
    CHECK(c.targets[2].target_addr.host == "192.0.2.4");
    REQUIRE(c.isid);
}

TEST_CASE("a relative include is opened from the current directory, as iscsictl(8) opens it", "[conf][include]")
{
    memory_files fs;
    fs.files["targets.conf"] = "addr = 192.0.2.6\n";
    fs.files["sub/more.conf"] = "include \"targets.conf\"\n";
    conf c;
    std::string error;
    const std::error_code ec =
        parse_conf("include \"sub/more.conf\"\n" + target_b, "/etc/iscsi/main.conf", fs.reader(), c, error);
    INFO(error);
    REQUIRE_FALSE(ec);
    // neither /etc/iscsi/sub/more.conf nor sub/targets.conf
    CHECK(fs.reads == std::vector<std::string>{"sub/more.conf", "targets.conf"});
    CHECK(c.targets.at(0).target_addr.host == "192.0.2.6");
}

TEST_CASE("a macro defined in an included file is visible after the include", "[conf][include]")
{
    memory_files fs;
    fs.files["defs.conf"] = "addr = 192.0.2.5\n";
    conf c;
    std::string error;
    REQUIRE_FALSE(parse_conf("include defs.conf\n" + target_b, "vol.conf", fs.reader(), c, error));
    CHECK(fs.reads == std::vector<std::string>{"defs.conf"});
    CHECK(c.targets.at(0).target_addr.host == "192.0.2.5");
}

TEST_CASE("include loops are detected", "[conf][include]")
{
    memory_files fs;
    fs.files["/etc/a.conf"] = "# a\ninclude \"/etc/b.conf\"\n";
    fs.files["/etc/b.conf"] = "include \"/etc/./a.conf\"\n";
    conf c;
    std::string error;
    CHECK(parse_conf(fs.files["/etc/a.conf"], "/etc/a.conf", fs.reader(), c, error) == conf_errc::syntax);
    CHECK(error == "/etc/b.conf:1: include loop: \"/etc/./a.conf\" is already being read");

    fs.files["self.conf"] = "\n\ninclude self.conf\n";
    CHECK(parse_conf(fs.files["self.conf"], "self.conf", fs.reader(), c, error) == conf_errc::syntax);
    CHECK(error == "self.conf:3: include loop: \"self.conf\" is already being read");
}

TEST_CASE("include depth and count are bounded", "[conf][include]")
{
    memory_files fs;
    for (int i = 0; i < 40; ++i)
        fs.files["f" + std::to_string(i) + ".conf"] = "include f" + std::to_string(i + 1) + ".conf\n";
    conf c;
    std::string error;
    CHECK(parse_conf("include f0.conf\n", "top.conf", fs.reader(), c, error) == conf_errc::syntax);
    CHECK(error == "f14.conf:1: include: more than 16 nested files");

    fs.files["leaf.conf"] = "# nothing\n";
    std::string wide;
    for (int i = 0; i < 300; ++i)
        wide += "include leaf.conf\n";
    CHECK(parse_conf(wide, "wide.conf", fs.reader(), c, error) == conf_errc::syntax);
    CHECK(error.rfind("wide.conf:256: include: more than 256 files\n"
                      "wide.conf:257: include: more than 256 files\n",
                      0) == 0);
}

TEST_CASE("include failures and errors inside included files", "[conf][include]")
{
    memory_files fs;
    fs.files["/c/bad.conf"] = "\ntarget x {\n targetaddr h\n targetname nope\n}\n";
    conf c;
    std::string error;
    CHECK(parse_conf("include \"missing.conf\"\n", "/c/main.conf", fs.reader(), c, error) == conf_errc::syntax);
    CHECK(error == "/c/main.conf:1: include: cannot read \"missing.conf\": No such file or directory (a relative "
                   "path is taken from the current directory, as iscsictl(8) does)");
    CHECK(parse_conf("include \"/c/bad.conf\"\n", "/c/main.conf", fs.reader(), c, error) == conf_errc::syntax);
    CHECK(error == "/c/bad.conf:4: targetname: \"nope\": not an iSCSI name (iqn., eui. or naa.)");
    CHECK(parse_conf("include\n", "/c/main.conf", fs.reader(), c, error) == conf_errc::syntax);
    CHECK(error == "/c/main.conf:1: include: missing file name");
    CHECK(parse_conf("include \"\"\n", "/c/main.conf", fs.reader(), c, error) == conf_errc::syntax);
    CHECK(error == "/c/main.conf:1: include: empty file name");
    CHECK(parse_conf("include a b\n", "/c/main.conf", fs.reader(), c, error) == conf_errc::syntax);
    CHECK(error == "/c/main.conf:1: unexpected \"b\", expected end of line");
    CHECK(fs.reads == std::vector<std::string>{"missing.conf", "/c/bad.conf"});
    CHECK(parse_conf("include /x\n", "/c/main.conf", {}, c, error) == conf_errc::syntax);
    CHECK(error == "/c/main.conf:1: include: cannot read \"/x\": no file access");
}
