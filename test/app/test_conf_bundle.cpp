// The configuration serve's parent hands its worker: made from real files
// (secrets read, names resolved), encoded and decoded back, and what the
// worker makes of it (the same targets, the secrets and addresses the
// parent found). Decoding garbage fails without reading past the end.
#include "app/conf_bundle.hpp"
#include "app/serve_target.hpp"
#include "iscsi/chap_secret.hpp"
#include "test/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <fstream>
#include <random>

using namespace ivs;
using namespace ivs::app;
namespace fs = std::filesystem;

TEST_CASE("conf_bundle: what the parent read, the worker parses again without files", "[privsep][bundle]")
{
    test::temp_dir d("bundle");
    d.write("s1.secret", "initiator-secret\n");
    d.write("empty.secret", ""); // private, but no secret in it
    d.write("more.conf", "target b {\n\ttargetaddr localhost inet port 3261\n\ttargetname iqn.2026-11.org.example:b\n"
                         "\tchap user u secret-file \"" +
                             (d.path / "s1.secret").string() +
                             "\"\n"
                             "\tmutual-chap user t secret-file \"" +
                             (d.path / "empty.secret").string() + "\"\n}\n");
    const fs::path file =
        d.write("main.conf", "include \"" + (d.path / "more.conf").string() +
                                 "\"\n"
                                 "target a {\n\ttargetaddr 127.0.0.1\n\ttargetname iqn.2026-11.org.example:a\n}\n"
                                 "target c {\n\tdisabled\n\ttargetaddr no-such-host.invalid\n"
                                 "\ttargetname iqn.2026-11.org.example:c\n}\n"
                                 "target v6 {\n\ttargetaddr 127.0.0.1 inet6\n"
                                 "\ttargetname iqn.2026-11.org.example:v6\n}\n");
    conf_bundle b;
    config::conf parsed;
    std::string error;
    REQUIRE_FALSE(make_conf_bundle(file, b, parsed, error));
    REQUIRE(parsed.targets.size() == 4);
    REQUIRE(b.sources.included.size() == 1);
    REQUIRE(b.secrets.size() == 2);
    CHECK(b.secrets[0].bytes == "initiator-secret");
    CHECK(b.secrets[0].error.empty());
    CHECK(b.secrets[1].bytes.empty());
    CHECK_FALSE(b.secrets[1].error.empty());
    // Enabled targets only: c is disabled and its name is not looked up.
    REQUIRE(b.addresses.size() == 3);
    CHECK(b.addresses[0].host == "localhost");
    CHECK(b.addresses[0].numeric == "127.0.0.1"); // inet: the IPv4 address
    CHECK(b.addresses[1].numeric == "127.0.0.1");
    CHECK(b.addresses[2].numeric.empty()); // an IPv4 literal is no inet6 address
    CHECK(b.addresses[2].error.find("cannot resolve 127.0.0.1 as inet6") == 0);

    std::string data = encode_conf_bundle(b);
    conf_bundle back;
    REQUIRE(decode_conf_bundle(data, back));
    config::conf again;
    REQUIRE_FALSE(config::parse_conf_sources(back.sources, again, error));
    REQUIRE(again.targets.size() == 4);
    CHECK(again.targets[0].name == "b");
    CHECK(again.targets[0].where.file == (d.path / "more.conf").string());

    // The worker's session settings: the parent's secret and address.
    const target_inputs in = inputs_from(back);
    fs::remove(d.path / "s1.secret"); // the worker never reads the files
    iscsi::session_config s;
    CHECK_FALSE(make_session_config(again, again.targets[0], in, s, error)); // the mutual secret is empty
    CHECK(error.find("cannot use secret file " + (d.path / "empty.secret").string()) != std::string::npos);
    again.targets[0].mutual_chap.reset();
    REQUIRE(make_session_config(again, again.targets[0], in, s, error));
    CHECK(s.target_portal.host == "127.0.0.1");
    CHECK(s.target_portal.port == "3261");
    REQUIRE(s.login.chap);
    CHECK(s.login.chap->secret.same_as(iscsi::chap_secret(std::string_view("initiator-secret"))));
    CHECK_FALSE(make_session_config(again, again.targets[3], in, s, error));
    CHECK(error.find("cannot resolve 127.0.0.1 as inet6") != std::string::npos);
    again.targets[1].target_addr.host = "192.0.2.1"; // not among what the parent resolved
    CHECK_FALSE(make_session_config(again, again.targets[1], in, s, error));
    CHECK(error.find("not resolved by the privileged process") != std::string::npos);
    wipe_string(data);
    CHECK(data.empty());
}

TEST_CASE("conf_bundle: decoding garbage or a cut message fails cleanly", "[privsep][bundle]")
{
    conf_bundle b;
    b.sources.file = "/etc/iscsi.conf";
    b.sources.text = "target a {\n}\n";
    b.sources.included.emplace_back("x.conf", "isid rand 1 2\n");
    b.secrets.push_back({});
    b.secrets.back().file = "/etc/s";
    b.secrets.back().bytes = "secret";
    b.addresses.push_back({"h", config::address_family::inet6, "::1", ""});
    const std::string data = encode_conf_bundle(b);
    conf_bundle out;
    REQUIRE(decode_conf_bundle(data, out));
    CHECK(out.addresses.at(0).family == config::address_family::inet6);
    for (std::size_t cut = 0; cut < data.size(); ++cut)
        CHECK_FALSE(decode_conf_bundle(std::string_view(data).substr(0, cut), out));
    CHECK_FALSE(decode_conf_bundle(data + "x", out)); // trailing bytes
    std::mt19937 rng(5);
    for (int i = 0; i < 2000; ++i) {
        std::string junk = data;
        for (int k = 0; k < 4; ++k)
            junk[rng() % junk.size()] = static_cast<char>(rng());
        (void)decode_conf_bundle(junk, out); // any answer, but no crash or overread
    }
}

TEST_CASE("resolve_host: literals and names, by family", "[privsep][bundle]")
{
    std::string numeric, error;
    CHECK(resolve_host("127.0.0.1", config::address_family::any, numeric, error));
    CHECK(numeric == "127.0.0.1");
    CHECK(resolve_host("::1", config::address_family::inet6, numeric, error));
    CHECK(numeric == "::1");
    CHECK(resolve_host("localhost", config::address_family::inet, numeric, error)); // /etc/hosts
    CHECK(numeric == "127.0.0.1");
    CHECK_FALSE(resolve_host("::1", config::address_family::inet, numeric, error));
    CHECK(numeric.empty());
    CHECK(resolve_host("127.0.0.1", config::address_family::inet, numeric, error));
    CHECK(numeric == "127.0.0.1");
    CHECK(error.find("cannot resolve ::1 as inet") == 0);
}

TEST_CASE("conf_bundle: initiatoraddr host names are resolved by the parent, literals kept", "[privsep][bundle]")
{
    test::temp_dir d("bundle");
    const fs::path file =
        d.write("main.conf", "initiatoraddr localhost inet\n"
                             "target a {\n\ttargetaddr 127.0.0.1\n\ttargetname iqn.2026-11.org.example:a\n}\n"
                             "target b {\n\ttargetaddr 127.0.0.1\n\ttargetname iqn.2026-11.org.example:b\n"
                             "\tinitiatoraddr 127.0.0.2\n}\n"
                             "target c {\n\ttargetaddr 127.0.0.1\n\ttargetname iqn.2026-11.org.example:c\n"
                             "\tinitiatoraddr no-such-host.invalid\n}\n");
    conf_bundle b;
    config::conf parsed;
    std::string error;
    REQUIRE_FALSE(make_conf_bundle(file, b, parsed, error));
    // 127.0.0.1 (the targets'), localhost as inet (a's, the global one),
    // no-such-host.invalid (c's, failed); 127.0.0.2 needs no resolving.
    REQUIRE(b.addresses.size() == 3);
    CHECK(b.addresses[1].host == "localhost");
    CHECK(b.addresses[1].family == config::address_family::inet);
    CHECK(b.addresses[1].numeric == "127.0.0.1");
    CHECK(b.addresses[2].host == "no-such-host.invalid");
    CHECK_FALSE(b.addresses[2].error.empty());

    std::string data = encode_conf_bundle(b);
    conf_bundle back;
    REQUIRE(decode_conf_bundle(data, back));
    wipe_string(data);
    config::conf again;
    REQUIRE_FALSE(config::parse_conf_sources(back.sources, again, error));
    const target_inputs in = inputs_from(back);
    iscsi::session_config s;
    REQUIRE(make_session_config(again, again.targets[0], in, s, error));
    CHECK(s.local_address == "127.0.0.1");
    REQUIRE(make_session_config(again, again.targets[1], in, s, error));
    CHECK(s.local_address == "127.0.0.2");
    CHECK_FALSE(make_session_config(again, again.targets[2], in, s, error));
    CHECK(error.find("target c: initiatoraddr: cannot resolve no-such-host.invalid") != std::string::npos);
}
