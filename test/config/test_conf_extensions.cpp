// iscsi-vscsi.conf(5): the extensions over OpenBSD's iscsi.conf(5).
#include "config/conf.hpp"

#include <catch2/catch.hpp>

using namespace ivs::config;

namespace {

conf parse_ok(std::string_view text, std::string_view name = "/etc/iscsi.conf")
{
    conf c;
    std::string error;
    const std::error_code ec = parse_conf(text, name, {}, c, error);
    INFO(error);
    REQUIRE_FALSE(ec);
    return c;
}

conf_target one_target(std::string_view body)
{
    const std::string text =
        "target t {\n targetaddr 192.0.2.1\n targetname iqn.2001-04.com.example:t\n" + std::string(body) + "\n}\n";
    const conf c = parse_ok(text);
    REQUIRE(c.targets.size() == 1);
    return c.targets[0];
}

} // namespace

TEST_CASE("global initiatorname", "[conf]")
{
    CHECK(parse_ok("initiatorname iqn.2026-11.org.example:host\n").initiator_name == "iqn.2026-11.org.example:host");
    CHECK(parse_ok("initiatorname \"eui.02004567A425678D\"\n").initiator_name == "eui.02004567A425678D");
    CHECK(parse_ok("initiatorname naa.52004567BA64678D\n").initiator_name == "naa.52004567BA64678D");
}

TEST_CASE("chap and mutual-chap with secret files resolved against the file's directory", "[conf]")
{
    const conf_target t = one_target(" chap user alice secret-file \"secrets/alice\"\n"
                                     " mutual-chap user \"target side\" secret-file /etc/iscsi/target.secret\n"
                                     " chap-algorithms sha3-256, SHA256,sha1,md5");
    REQUIRE(t.chap);
    CHECK(t.chap->user == "alice");
    CHECK(t.chap->secret_file == std::filesystem::path("/etc/secrets/alice"));
    REQUIRE(t.mutual_chap);
    CHECK(t.mutual_chap->user == "target side");
    CHECK(t.mutual_chap->secret_file == std::filesystem::path("/etc/iscsi/target.secret"));
    CHECK(t.chap_algorithms == std::vector<conf_chap_algorithm>{conf_chap_algorithm::sha3_256,
                                                                conf_chap_algorithm::sha256, conf_chap_algorithm::sha1,
                                                                conf_chap_algorithm::md5});
    CHECK(one_target(" chap user a secret-file s\n chap-algorithms \"md5\"").chap_algorithms ==
          std::vector<conf_chap_algorithm>{conf_chap_algorithm::md5});
}

TEST_CASE("digests in preference order", "[conf]")
{
    conf_target t = one_target(" header-digest crc32c\n data-digest none");
    CHECK(t.header_digest == conf_digest::crc32c);
    CHECK(t.data_digest == conf_digest::none);
    t = one_target(" header-digest \"crc32c,none\"\n data-digest None,CRC32C");
    CHECK(t.header_digest == conf_digest::crc32c_or_none);
    CHECK(t.data_digest == conf_digest::none_or_crc32c);
    t = one_target("");
    CHECK_FALSE(t.header_digest);
    CHECK_FALSE(t.data_digest);
}

TEST_CASE("timeouts and negotiated limits at the RFC 7143 bounds", "[conf]")
{
    conf_target t = one_target(" nop-interval 0\n nop-timeout 3600\n replacement-timeout 86400\n"
                               " command-timeout 1\n max-recv-data-segment-length 512\n"
                               " max-burst-length 16777215\n first-burst-length 0x10000\n"
                               " max-outstanding-r2t 65535\n initial-r2t no\n immediate-data YES");
    CHECK(t.nop_interval == 0u);
    CHECK(t.nop_timeout == 3600u);
    CHECK(t.replacement_timeout == 86400u);
    CHECK(t.command_timeout == 1u);
    CHECK(t.max_recv_data_segment_length == 512u);
    CHECK(t.max_burst_length == 16777215u);
    CHECK(t.first_burst_length == 65536u);
    CHECK(t.max_outstanding_r2t == 65535);
    CHECK(t.initial_r2t == false);
    CHECK(t.immediate_data == true);

    t = one_target("");
    CHECK_FALSE(t.nop_interval);
    CHECK_FALSE(t.max_burst_length);
    CHECK_FALSE(t.initial_r2t);
}

TEST_CASE("luns and export", "[conf]")
{
    conf_target t = one_target(" luns 5, 1,2\n export \"/srv/iscsi/t/\"");
    CHECK(t.luns == std::vector<std::uint16_t>{5, 1, 2});
    CHECK(t.export_dir == std::filesystem::path("/srv/iscsi/t"));
    t = one_target(" luns \"0, 16383\"");
    CHECK(t.luns == std::vector<std::uint16_t>{0, 16383});
    CHECK(t.export_dir.empty());
}

TEST_CASE("a discovery target with its extensions", "[conf]")
{
    const conf c = parse_ok("portal=\"192.0.2.9\"\n"
                            "target lab {\n discovery\n targetaddr $portal port 3260\n"
                            " luns 0\n export /mnt/lab\n chap user lab secret-file /etc/lab.secret\n}\n");
    REQUIRE(c.targets.size() == 1);
    CHECK(c.targets[0].type == conf_session_type::discovery);
    CHECK(c.targets[0].export_dir == std::filesystem::path("/mnt/lab"));
    CHECK(c.targets[0].luns == std::vector<std::uint16_t>{0});
}

TEST_CASE("a macro can hold a list", "[conf]")
{
    const conf c = parse_ok("wanted = 1,3\n"
                            "target t {\n targetaddr h.example\n targetname iqn.2001-04.com.example:t\n"
                            " luns $wanted\n}\n");
    CHECK(c.targets[0].luns == std::vector<std::uint16_t>{1, 3});
}

TEST_CASE("the example of iscsi-vscsi.conf(5) parses", "[conf]")
{
    const conf c = parse_ok(R"(filer="192.0.2.10"
initiatorname iqn.2026-11.org.example:host1
isid en 32473 1

target db {
	targetaddr $filer
	targetname iqn.2001-04.com.example:db
	chap user host1 secret-file "/etc/iscsi/host1.secret"
	mutual-chap user filer secret-file "/etc/iscsi/filer.secret"
	chap-algorithms sha256,md5
	header-digest crc32c
	luns 0,1
}

target scratch {
	targetaddr $filer port 3261
	targetname iqn.2001-04.com.example:scratch
	immediate-data yes
	max-burst-length 1048576
	disabled
}

target lab {
	discovery
	targetaddr lab.example.org
	export "/mnt/lab"
}
)");
    REQUIRE(c.targets.size() == 3);
    CHECK(c.initiator_name == "iqn.2026-11.org.example:host1");
    CHECK(c.targets[0].mutual_chap->user == "filer");
    CHECK(c.targets[1].target_addr.port == 3261);
    CHECK_FALSE(c.targets[1].enabled);
    CHECK(c.targets[2].type == conf_session_type::discovery);
    CHECK(c.targets[2].target_addr.host == "lab.example.org");
}
