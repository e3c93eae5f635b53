#include "vscsi/retry_rules.hpp"

#include "scsi/sense.hpp"

#include <array>
#include <cerrno>

namespace ivs::vscsi {

namespace {

using v = retry_verdict;
using t = transfer;
namespace k = scsi::key;

constexpr vscsi_status done = vscsi_status::done;
constexpr vscsi_status sense = vscsi_status::sense;

// NOT READY, ASC 04h: the logical unit is on its way to ready (SPC-4 Annex
// D); OpenBSD waits a second and retries these, Linux retries them too.
constexpr retry_rule not_ready_in_progress(int ascq, const char* why)
{
    return {sense, k::not_ready, 0x04, ascq, t::any, false, v::retry_after_delay, EIO, why};
}

constexpr std::array rules{
    retry_rule{done, any_value, any_value, any_value, t::whole, false, v::end, 0, "completed"},
    retry_rule{done, any_value, any_value, any_value, t::partial, false, v::end, EIO,
               "a short transfer leaves part of the buffer undefined"},
    retry_rule{vscsi_status::reset, any_value, any_value, any_value, t::any, false, v::retry, EIO,
               "vscsi RESET (XS_RESET): re-issued while retries remain"},
    retry_rule{vscsi_status::err, any_value, any_value, any_value, t::any, false, v::end, EIO,
               "vscsi ERR (XS_DRIVER_STUFFUP): never retried"},
    retry_rule{sense, unknown_format, any_value, any_value, t::any, false, v::end, EIO,
               "sense data in no known format"},
    retry_rule{sense, any_value, any_value, any_value, t::any, true, v::end, EIO,
               "a deferred error: an earlier command failed"},
    retry_rule{sense, k::no_sense, any_value, any_value, t::whole, false, v::end, 0, "NO SENSE, all data moved"},
    retry_rule{sense, k::recovered_error, any_value, any_value, t::whole, false, v::end, 0,
               "RECOVERED ERROR, all data moved"},
    // The kernel counts a NO SENSE / RECOVERED ERROR that moved nothing as
    // a whole transfer; bytes that did not arrive are never shown here.
    retry_rule{sense, k::no_sense, any_value, any_value, t::partial, false, v::end, EIO,
               "NO SENSE without all the data"},
    retry_rule{sense, k::recovered_error, any_value, any_value, t::partial, false, v::end, EIO,
               "RECOVERED ERROR without all the data"},
    not_ready_in_progress(0x01, "NOT READY, becoming ready"),
    not_ready_in_progress(0x04, "NOT READY, format in progress"),
    not_ready_in_progress(0x05, "NOT READY, rebuild in progress"),
    not_ready_in_progress(0x06, "NOT READY, recalculation in progress"),
    not_ready_in_progress(0x07, "NOT READY, operation in progress"),
    not_ready_in_progress(0x08, "NOT READY, long write in progress"),
    not_ready_in_progress(0x09, "NOT READY, self-test in progress"),
    not_ready_in_progress(0x0a, "NOT READY, asymmetric access state transition"),
    retry_rule{sense, k::not_ready, 0x3a, any_value, t::any, false, v::end, ENOMEDIUM, "NOT READY, medium not present"},
    retry_rule{sense, k::not_ready, any_value, any_value, t::any, false, v::end, EIO, "NOT READY"},
    retry_rule{sense, k::medium_error, any_value, any_value, t::any, false, v::end, EIO, "MEDIUM ERROR: never retried"},
    retry_rule{sense, k::hardware_error, any_value, any_value, t::any, false, v::end, EIO,
               "HARDWARE ERROR: never retried"},
    retry_rule{sense, k::illegal_request, any_value, any_value, t::any, false, v::end, EINVAL, "ILLEGAL REQUEST"},
    retry_rule{sense, k::unit_attention, any_value, any_value, t::any, false, v::retry, EIO,
               "UNIT ATTENTION: the unit reported a change, the command was not run"},
    retry_rule{sense, k::data_protect, any_value, any_value, t::any, false, v::end, EROFS, "DATA PROTECT"},
    // OpenBSD ends BLANK CHECK without an error; for a disk that would show
    // bytes that never arrived.
    retry_rule{sense, 0x8, any_value, any_value, t::any, false, v::end, EIO, "BLANK CHECK"},
    retry_rule{sense, 0xa, any_value, any_value, t::any, false, v::end, EIO, "COPY ABORTED"},
    // ABORTED COMMAND 10h: protection information check failed; the data is
    // bad, not the transport (Linux fails it at once).
    retry_rule{sense, k::aborted_command, 0x10, any_value, t::any, false, v::end, EIO,
               "ABORTED COMMAND, protection information check failed"},
    retry_rule{sense, k::aborted_command, any_value, any_value, t::any, false, v::retry, EIO,
               "ABORTED COMMAND: transient, re-issued"},
    retry_rule{sense, 0xd, any_value, any_value, t::any, false, v::end, ENOSPC, "VOLUME OVERFLOW"},
    retry_rule{sense, 0xe, any_value, any_value, t::any, false, v::end, EIO, "MISCOMPARE"},
    retry_rule{sense, any_value, any_value, any_value, t::any, false, v::end, EIO, "other sense keys"},
    // Any other status value: the kernel treats it like ERR.
    retry_rule{vscsi_status::err, any_value, any_value, any_value, t::any, false, v::end, EIO, "anything else"},
};

struct sense_fields {
    int key = unknown_format;
    int asc = 0;
    int ascq = 0;
    bool deferred = false;
};

sense_fields fields_of(const scsi::fixed_sense& s) noexcept
{
    sense_fields f;
    switch (s[0] & 0x7f) {
    case 0x70:
    case 0x71:
        f.key = s[2] & 0x0f;
        f.asc = s[12];
        f.ascq = s[13];
        f.deferred = (s[0] & 0x7f) == 0x71;
        break;
    case 0x72:
    case 0x73:
        f.key = s[1] & 0x0f;
        f.asc = s[2];
        f.ascq = s[3];
        f.deferred = (s[0] & 0x7f) == 0x73;
        break;
    default: break;
    }
    return f;
}

bool matches(int want, int have) noexcept { return want == any_value || want == have; }

bool matches(const retry_rule& r, const scsi_completion& c, const sense_fields& f) noexcept
{
    const bool known =
        c.status == done || c.status == sense || c.status == vscsi_status::reset || c.status == vscsi_status::err;
    const vscsi_status status = known ? c.status : vscsi_status::err;
    if (r.status != status)
        return false;
    if (r.moved == t::whole && c.residual != 0)
        return false;
    if (r.moved == t::partial && c.residual == 0)
        return false;
    if (status != sense)
        return true;
    if (r.deferred)
        return f.deferred && f.key != unknown_format;
    return matches(r.sense_key, f.key) &&
           (f.key == unknown_format || (matches(r.asc, f.asc) && matches(r.ascq, f.ascq)));
}

} // namespace

std::span<const retry_rule> retry_rules() noexcept { return rules; }

const retry_rule& match_retry_rule(const scsi_completion& c) noexcept
{
    const sense_fields f = c.status == sense ? fields_of(c.sense) : sense_fields{};
    for (const auto& r : rules)
        if (matches(r, c, f))
            return r;
    return rules.back();
}

int completion_error(const scsi_completion& c) noexcept { return match_retry_rule(c).error; }

} // namespace ivs::vscsi
