// iscsi-vscsi discover HOST[:PORT]: a discovery session (RFC 7143 §13.3
// SessionType=Discovery) asking SendTargets=All, one line per portal.
#include "app/commands.hpp"
#include "config/conf_values.hpp"
#include "config/initiator_name.hpp"
#include "config/options.hpp"
#include "iscsi/sendtargets.hpp"
#include "iscsi/session.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <iostream>

namespace ivs::app {

namespace {

constexpr config::option_spec discover_options[] = {
    {"chap-user", true, false, "NAME", "CHAP user name (CHAP_N) to log in with"},
    {"chap-secret-file", true, false, "FILE", "file holding the CHAP secret"},
    {"initiator-name", true, false, "IQN", "initiator name (default: derived from the host name)"},
    {"initiator-address", true, false, "ADDR",
     "bind the connection to local address ADDR (IPv4 or IPv6; default: the system chooses)"},
    {"timeout", true, false, "SECONDS", "give up after this long (default 30)"},
    {"help", false, false, {}, "show this help"},
};

void print_help(std::ostream& os)
{
    os << "usage: iscsi-vscsi discover HOST[:PORT] [options]\n\n"
          "Logs in to the portal with a discovery session and prints every target\n"
          "portal it offers as 'ADDR:PORT,TPGT IQN'.\n\noptions:\n"
       << config::format_options_help(discover_options);
}

int fail(const std::string& message)
{
    std::cerr << "iscsi-vscsi: discover: " << message << '\n';
    return 1;
}

} // namespace

int run_discover(std::span<const std::string> args)
{
    config::parsed_options opts;
    std::string error;
    if (!config::parse_options(args, discover_options, opts, error)) {
        std::cerr << "iscsi-vscsi: discover: " << error << " (try --help)\n";
        return 2;
    }
    if (opts.has("help")) {
        print_help(std::cout);
        return 0;
    }
    if (opts.positionals.size() != 1) {
        std::cerr << "iscsi-vscsi: discover: expected one HOST[:PORT] (try --help)\n";
        return 2;
    }
    iscsi::session_config cfg;
    if (!iscsi::parse_portal(opts.positionals[0], cfg.target_portal))
        return fail("bad portal '" + opts.positionals[0] + "' (expected HOST[:PORT])");
    unsigned long long timeout_s = 30;
    if (opts.has("timeout") && !config::parse_unsigned(opts.get("timeout"), 1, 86400, timeout_s))
        return fail("bad --timeout '" + opts.get("timeout") + "'");
    cfg.login.type = iscsi::session_type::discovery;
    cfg.login.initiator_name = opts.get("initiator-name", config::default_initiator_name());
    cfg.recover = false;
    if (opts.has("initiator-address")) {
        cfg.local_address = opts.get("initiator-address");
        if (config::classify_address_literal(cfg.local_address) == config::address_literal::none)
            return fail("bad --initiator-address '" + cfg.local_address +
                        "' (expected an IPv4 or IPv6 address of this host)");
    }
    if (opts.has("chap-user") != opts.has("chap-secret-file"))
        return fail("--chap-user and --chap-secret-file go together");
    if (opts.has("chap-user")) {
        std::error_code ec;
        auto secret = iscsi::chap_secret::load_file(opts.get("chap-secret-file").c_str(), ec);
        if (ec)
            return fail("cannot use CHAP secret file " + opts.get("chap-secret-file") + ": " + ec.message());
        cfg.login.chap = iscsi::chap_identity{opts.get("chap-user"), std::move(secret)};
    }

    boost::asio::io_context io;
    iscsi::session session(io, cfg);
    int status = 1;
    boost::asio::steady_timer deadline(io);
    deadline.expires_after(std::chrono::seconds(timeout_s));
    deadline.async_wait([&](const boost::system::error_code& ec) {
        if (ec)
            return;
        std::cerr << "iscsi-vscsi: discover: timed out after " << timeout_s << " s\n";
        io.stop();
    });
    session.start([&](std::error_code ec, const std::string& message) {
        if (ec) {
            std::cerr << "iscsi-vscsi: discover: " << message << '\n';
            deadline.cancel();
            return;
        }
        session.send_targets([&](std::error_code ec2, const pdu::text_list& answer) {
            if (ec2) {
                std::cerr << "iscsi-vscsi: discover: SendTargets failed: " << ec2.message() << '\n';
            } else {
                iscsi::target_address connected;
                connected.host = cfg.target_portal.host;
                connected.port = static_cast<std::uint16_t>(std::stoul(cfg.target_portal.port));
                connected.portal_group_tag = session.params().target_portal_group_tag;
                std::vector<iscsi::sendtargets_entry> entries;
                if (auto e = iscsi::parse_sendtargets(answer, connected, entries)) {
                    std::cerr << "iscsi-vscsi: discover: bad SendTargets answer: " << e.message() << '\n';
                } else {
                    for (const auto& entry : entries)
                        std::cout << iscsi::format_sendtargets_entry(entry) << '\n';
                    status = 0;
                }
            }
            session.logout([&](std::error_code) { deadline.cancel(); });
        });
    });
    io.run();
    std::cout.flush();
    return status;
}

} // namespace ivs::app
