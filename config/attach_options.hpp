// The command line of `iscsi-vscsi attach`, parsed and checked into the
// settings the attachment runs with.
#pragma once

#include "iscsi/session.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace ivs::config {

struct attach_options {
    iscsi::session_config session;
    std::vector<std::uint64_t> luns;  // empty: every LUN REPORT LUNS lists
    std::filesystem::path export_dir; // empty: no FUSE export
    std::string device;               // OpenBSD: /dev/vscsiN
    std::chrono::milliseconds probe_timeout{60000};
};

enum class parse_outcome {
    ok,
    help,        // --help: print attach_help()
    usage_error, // malformed command line (exit 2)
    bad_value,   // a value that cannot be used, e.g. an unreadable secret file (exit 1)
};

parse_outcome parse_attach_options(std::span<const std::string> args, attach_options& out, std::string& error);
std::string attach_help();

} // namespace ivs::config
