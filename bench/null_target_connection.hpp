// bench/null_target: one iSCSI connection (a session of its own, no MC/S),
// served on the calling thread with blocking socket I/O: login, then the full
// feature phase (RFC 7143 §4.2) until logout, EOF or a protocol error.
#pragma once

#include "bench/null_target_login.hpp"
#include "bench/null_target_scsi.hpp"

#include <string>

namespace ivs::bench {

struct connection_settings {
    target_settings target;
    lun_geometry lun;
    std::uint32_t cmd_window = 128; // MaxCmdSN = ExpCmdSN + window - 1 (§4.2.2.1)
};

// Serves the connected socket `fd` (and closes it). Returns "" after a logout
// or the initiator's close, else why the connection was dropped.
std::string serve_connection(int fd, const connection_settings& settings);

} // namespace ivs::bench
