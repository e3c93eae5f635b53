#include "config/attach_options.hpp"

#include "config/conf_values.hpp"
#include "config/initiator_name.hpp"
#include "config/options.hpp"

namespace ivs::config {

namespace {

constexpr option_spec attach_specs[] = {
    {"export", true, false, "DIR", "mount DIR with one file lun<N> per attached disk (FUSE)"},
    {"lun", true, true, "N", "attach only remote LUN N (default: all REPORT LUNS lists)"},
    {"chap-user", true, false, "NAME", "CHAP user name the initiator logs in with"},
    {"chap-secret-file", true, false, "FILE", "file holding the initiator's CHAP secret"},
    {"mutual-user", true, false, "NAME", "name the target must answer with (mutual CHAP)"},
    {"mutual-secret-file", true, false, "FILE", "file holding the target's CHAP secret"},
    {"header-digest", true, false, "LIST",
     "header digests in preference order: none, crc32c, crc32c,none or none,crc32c (default none)"},
    {"data-digest", true, false, "LIST", "data digests in preference order, as --header-digest (default none)"},
    {"initiator-name", true, false, "IQN", "initiator name (default: derived from the host name)"},
    {"initiator-address", true, false, "ADDR",
     "bind every connection to local address ADDR (IPv4 or IPv6; default: the system chooses)"},
    {"device", true, false, "PATH", "vscsi device on OpenBSD (default /dev/vscsi0)"},
    {"replacement-timeout", true, false, "SECONDS", "fail I/O after the session is lost this long (default 120)"},
    {"help", false, false, {}, "show this help"},
};

bool plausible_iscsi_name(const std::string& name)
{
    return name.size() > 4 && name.size() <= 223 &&
           (name.rfind("iqn.", 0) == 0 || name.rfind("eui.", 0) == 0 || name.rfind("naa.", 0) == 0) &&
           name.find_first_of(" \t\n") == std::string::npos;
}

bool load_identity(const parsed_options& o, const char* user_key, const char* file_key,
                   std::optional<iscsi::chap_identity>& out, std::string& error)
{
    if (o.has(user_key) != o.has(file_key)) {
        error = std::string("--") + user_key + " and --" + file_key + " go together";
        return false;
    }
    if (!o.has(user_key))
        return true;
    std::error_code ec;
    const std::string path = o.get(file_key);
    auto secret = iscsi::chap_secret::load_file(path.c_str(), ec);
    if (ec) {
        error = "cannot use secret file " + path + ": " + ec.message();
        return false;
    }
    out = iscsi::chap_identity{o.get(user_key), std::move(secret)};
    return true;
}

} // namespace

std::string attach_help()
{
    return "usage: iscsi-vscsi attach HOST[:PORT] IQN [options]\n\n"
           "Logs in to target IQN at HOST[:PORT] (default port 3260), attaches its LUNs as\n"
           "SCSI disks through vscsi(4), prints what it attached, and stays in the\n"
           "foreground until SIGINT or SIGTERM; then it flushes the disks (SYNCHRONIZE\n"
           "CACHE), detaches them, unmounts the export and logs out. SIGUSR1, or the\n"
           "target reporting REPORTED LUNS DATA HAS CHANGED, reads its LUNs again:\n"
           "new ones are attached and exported, gone ones detached.\n\noptions:\n" +
           format_options_help(attach_specs);
}

parse_outcome parse_attach_options(std::span<const std::string> args, attach_options& out, std::string& error)
{
    parsed_options o;
    if (!parse_options(args, attach_specs, o, error))
        return parse_outcome::usage_error;
    if (o.has("help"))
        return parse_outcome::help;
    if (o.positionals.size() != 2) {
        error = "expected HOST[:PORT] and IQN";
        return parse_outcome::usage_error;
    }
    auto& cfg = out.session;
    if (!iscsi::parse_portal(o.positionals[0], cfg.target_portal)) {
        error = "bad portal '" + o.positionals[0] + "' (expected HOST[:PORT])";
        return parse_outcome::bad_value;
    }
    if (!plausible_iscsi_name(o.positionals[1])) {
        error = "bad target name '" + o.positionals[1] + "' (expected iqn., eui. or naa. name)";
        return parse_outcome::bad_value;
    }
    cfg.login.target_name = o.positionals[1];
    cfg.login.initiator_name = o.get("initiator-name", default_initiator_name());
    if (!plausible_iscsi_name(cfg.login.initiator_name)) {
        error = "bad initiator name '" + cfg.login.initiator_name + "'";
        return parse_outcome::bad_value;
    }
    if (o.has("initiator-address")) {
        cfg.local_address = o.get("initiator-address");
        if (classify_address_literal(cfg.local_address) == address_literal::none) {
            error =
                "bad --initiator-address '" + cfg.local_address + "' (expected an IPv4 or IPv6 address of this host)";
            return parse_outcome::bad_value;
        }
    }
    for (const auto& v : o.all("lun")) {
        unsigned long long n = 0;
        if (!parse_unsigned(v, 0, 16383, n)) {
            error = "bad --lun '" + v + "' (0..16383)";
            return parse_outcome::bad_value;
        }
        out.luns.push_back(n);
    }
    if (o.has("header-digest") &&
        !iscsi::parse_digest_offer(o.get("header-digest"), cfg.login.proposals.header_digest)) {
        error = "bad --header-digest '" + o.get("header-digest") + "' (none, crc32c, crc32c,none or none,crc32c)";
        return parse_outcome::bad_value;
    }
    if (o.has("data-digest") && !iscsi::parse_digest_offer(o.get("data-digest"), cfg.login.proposals.data_digest)) {
        error = "bad --data-digest '" + o.get("data-digest") + "' (none, crc32c, crc32c,none or none,crc32c)";
        return parse_outcome::bad_value;
    }
    if (o.has("replacement-timeout")) {
        unsigned long long s = 0;
        if (!parse_unsigned(o.get("replacement-timeout"), 1, 86400, s)) {
            error = "bad --replacement-timeout '" + o.get("replacement-timeout") + "'";
            return parse_outcome::bad_value;
        }
        cfg.replacement_timeout = std::chrono::seconds(s);
    }
    if (o.has("mutual-user") && !o.has("chap-user")) {
        error = "mutual CHAP (--mutual-user) needs --chap-user as well";
        return parse_outcome::usage_error;
    }
    if (!load_identity(o, "chap-user", "chap-secret-file", cfg.login.chap, error) ||
        !load_identity(o, "mutual-user", "mutual-secret-file", cfg.login.mutual_chap, error))
        return parse_outcome::bad_value;
    if (o.has("export")) {
        std::error_code ec;
        out.export_dir = o.get("export");
        if (!std::filesystem::is_directory(out.export_dir, ec)) {
            error = "--export " + out.export_dir.string() + " is not a directory";
            return parse_outcome::bad_value;
        }
    }
    if (o.has("device")) {
#if defined(__OpenBSD__)
        out.device = o.get("device");
#else
        error = "--device names an OpenBSD vscsi device; this platform uses the embedded vscsi";
        return parse_outcome::bad_value;
#endif
    }
    return parse_outcome::ok;
}

} // namespace ivs::config
