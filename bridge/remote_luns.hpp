// The LUNs a target offers on a session: REPORT LUNS (SPC-4 §6.33) sent
// through the session, with the UNIT ATTENTION a new I_T nexus reports
// first consumed by retrying.
#pragma once

#include <cstdint>
#include <functional>
#include <system_error>
#include <vector>

namespace ivs::iscsi {
class session;
}

namespace ivs::bridge {

// `done` gets the LUN numbers in the target's order, or an error
// (std::errc::io_error with a SCSI failure, the session's error otherwise).
void report_remote_luns(iscsi::session& s, std::function<void(std::error_code, std::vector<std::uint64_t>)> done);

} // namespace ivs::bridge
