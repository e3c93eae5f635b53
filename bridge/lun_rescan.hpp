// A session's LUNs read again (SPC-4 §6.33 REPORT LUNS) and the LUN map
// brought in line: after a REPORTED LUNS DATA HAS CHANGED event (sense
// 3F/0E, RFC 7143 §11.9.1 AsyncEvent 0) or on the operator's request. The
// session only reports the event; this is the rule; app/ wires both
// triggers to it and handles the exports.
#pragma once

#include "bridge/lun_map.hpp"

#include <cstdint>
#include <functional>
#include <span>
#include <system_error>
#include <vector>

namespace ivs::iscsi {
class session;
}

namespace ivs::bridge {

class bridge;

// Which remote LUNs to map and unmap: `reported` by the target against what
// is `mapped`; with `wanted` non-empty (LUNs the configuration names) only
// those count. Each list in the target's (resp. the map's) order, once.
struct lun_diff {
    std::vector<std::uint64_t> added;
    std::vector<std::uint64_t> removed;
    [[nodiscard]] bool empty() const noexcept { return added.empty() && removed.empty(); }
};
[[nodiscard]] lun_diff diff_luns(std::span<const std::uint64_t> mapped, std::span<const std::uint64_t> reported,
                                 std::span<const std::uint64_t> wanted = {});

// What a rescan changed: each remote LUN with its slot.
struct lun_changes {
    std::vector<std::pair<std::uint64_t, slot>> added;
    std::vector<std::pair<std::uint64_t, slot>> removed;
};

// Whether sense data (fixed or descriptor format) says REPORTED LUNS DATA
// HAS CHANGED (ASC 3Fh, ASCQ 0Eh, SPC-4 Annex D).
[[nodiscard]] bool reported_luns_changed(std::span<const std::byte> sense) noexcept;

// On the io thread: REPORT LUNS through `s`, then bridge::remove_luns for
// the gone ones (their commands answered, VSCSI_REQDETACH) and
// bridge::add_luns for the new ones (VSCSI_REQPROBE). `done` gets what
// changed, or the REPORT LUNS / mapping error (nothing changed then, except
// the removals when only the additions failed to fit).
void rescan_luns(bridge& b, iscsi::session& s, std::vector<std::uint64_t> wanted,
                 std::function<void(std::error_code, lun_changes)> done);

} // namespace ivs::bridge
