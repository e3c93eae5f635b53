// What the midlayer does with a command's completion: retry it or end it
// with an errno. One table, the kernel's rules row by row: OpenBSD's
// sys/scsi (scsi_xs_error, scsi_interpret_sense, sd's buf completion) and
// Linux's scsi_check_sense, where they agree; where they would show bytes
// that did not arrive, the safer answer (the row says so). I/O-free.
//
// BUSY and TASK SET FULL have no row: vscsi(4) cannot carry a SCSI status,
// so the bridge holds and retries those itself (bridge/bridge.hpp).
#pragma once

#include "vscsi/scsi_command.hpp"

#include <chrono>
#include <cstdint>
#include <span>

namespace ivs::vscsi {

enum class retry_verdict : std::uint8_t {
    end,               // the command ends here with `error`
    retry,             // re-issued at once while retries remain, else ends with `error`
    retry_after_delay, // the same after retry_policy::delay (the kernel's scsi_delay)
};

// How much of the data moved (DONE and sense rows).
enum class transfer : std::uint8_t { any, whole, partial };

// Wildcards in a row.
inline constexpr int any_value = -1;
// sense_key value of a row for sense data in no known format.
inline constexpr int unknown_format = -2;

struct retry_rule {
    vscsi_status status;
    int sense_key = any_value; // status sense only
    int asc = any_value;
    int ascq = any_value;
    transfer moved = transfer::any;
    bool deferred = false; // the row is for deferred errors (0x71 / 0x73) only
    retry_verdict verdict = retry_verdict::end;
    int error = 0; // errno when the command ends on this row (0: success)
    const char* why = "";
};

// The whole table, first match wins; the last row matches everything.
[[nodiscard]] std::span<const retry_rule> retry_rules() noexcept;

// The row a completion falls on.
[[nodiscard]] const retry_rule& match_retry_rule(const scsi_completion& c) noexcept;

// The errno a completion ends with when it is not (or no longer) retried:
// 0 or a positive errno.
[[nodiscard]] int completion_error(const scsi_completion& c) noexcept;

// sd's bound and delay: a READ, WRITE or SYNCHRONIZE CACHE is re-issued at
// most this many times (OpenBSD SD_RETRIES), waiting `delay` first where the
// row says so (scsi_delay(xs, 1): one second).
struct retry_policy {
    int retries = 4;
    std::chrono::milliseconds delay{1000};
};

} // namespace ivs::vscsi
