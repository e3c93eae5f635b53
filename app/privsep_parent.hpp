// `serve`'s privileged parent after the fork: it stays root (on Linux it
// still mounts and unmounts FUSE; on OpenBSD it looks up the sd(4) disks in
// use) and does only what the worker cannot: it reads the configuration and
// the CHAP secrets at start and on reload and hands them over, resolves
// host names, mounts the export directories the configuration names, and
// says who uses a disk. Everything the worker asks is checked against the
// configuration the parent read: a mount of any other directory is refused.
#pragma once

#include "app/conf_bundle.hpp"
#include "app/privsep_channel.hpp"
#include "log/log.hpp"

#include <filesystem>
#include <string>

#include <sys/types.h>

namespace ivs::app {

// The largest message the parent takes from the worker: small requests only.
inline constexpr std::size_t max_from_worker = 64 * 1024;

struct parent_options {
    std::filesystem::path conf_file;
    std::filesystem::path socket; // the control socket, removed when the worker is gone
    std::string device;           // the vscsi device (OpenBSD: whose disks are looked up)
    pid_t worker = -1;
    log::sink log;
};

// Sends `initial` (the configuration read before the fork), then answers
// the worker until it exits: SIGHUP reads the configuration again and sends
// it, SIGTERM and SIGINT are passed on to the worker. At the end the FUSE
// mounts left are undone and the socket removed. Returns the worker's exit
// status (1 when it died of a signal). SIGHUP, SIGTERM, SIGINT and SIGCHLD
// must be blocked on entry.
int run_parent(channel& ch, const parent_options& o, const conf_bundle& initial, const config::conf& parsed);

} // namespace ivs::app
