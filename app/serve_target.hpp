// From a `target` block of iscsi-vscsi.conf(5) to the settings one session of
// `iscsi-vscsi serve` runs with, and the checks serve makes on a whole
// configuration before using it (private config and secret files).
#pragma once

#include "config/conf.hpp"
#include "iscsi/session.hpp"

#include <filesystem>
#include <functional>
#include <string>

namespace ivs::app {

// Loads `file` with load_checked_conf (it and its includes may be read by
// anyone, not written) and check_secret_file on every CHAP secret file it
// names; `error` gets "file:line: reason" lines. With `sources`, what was
// read is recorded there (config::conf_sources).
std::error_code load_serve_conf(const std::filesystem::path& file, config::conf& out, std::string& error,
                                config::conf_sources* sources = nullptr);

// What make_session_config takes from outside the configuration.
struct target_inputs {
    // The CHAP secret of a secret file; false with `why`. Empty: the file is
    // read (iscsi::chap_secret::load_file).
    std::function<bool(const std::filesystem::path& file, iscsi::chap_secret& out, std::string& why)> secret;
    // The host to connect to for a target address, and the local address
    // for an initiatoraddr; false with `why`. Empty: a target's host as
    // written (the session resolves it), an initiatoraddr resolved here.
    std::function<bool(const config::conf_address& a, std::string& host, std::string& why)> address;
};

// The session settings of `t` (for a discovery block: of its discovery
// session); false with `error` ("file:line: ...") when a secret or the
// address cannot be used.
bool make_session_config(const config::conf& c, const config::conf_target& t, const target_inputs& in,
                         iscsi::session_config& out, std::string& error);

// True when `a` and `b` would attach the same way (reload leaves the
// session alone).
bool same_target(const config::conf_target& a, const config::conf_target& b);

} // namespace ivs::app
