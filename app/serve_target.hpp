// From a `target` block of iscsi-vscsi.conf(5) to the settings one session of
// `iscsi-vscsi serve` runs with, and the checks serve makes on a whole
// configuration before using it (private config and secret files).
#pragma once

#include "config/conf.hpp"
#include "iscsi/session.hpp"

#include <filesystem>
#include <string>

namespace ivs::app {

// Loads `file` with load_checked_conf (it and its includes may be read by
// anyone, not written) and check_secret_file on every CHAP secret file it
// names; `error` gets "file:line: reason" lines.
std::error_code load_serve_conf(const std::filesystem::path& file, config::conf& out, std::string& error);

// The session settings of `t` (for a discovery block: of its discovery
// session). Reads the secret files; false with `error` ("file:line: ...")
// when one cannot be used.
bool make_session_config(const config::conf& c, const config::conf_target& t, iscsi::session_config& out, std::string& error);

// True when `a` and `b` would attach the same way (reload leaves the
// session alone).
bool same_target(const config::conf_target& a, const config::conf_target& b);

} // namespace ivs::app
