// The bridge: serves a vscsi_device by turning each dequeued command (I2T)
// into a SCSI Command on the iSCSI session that owns the addressed slot
// (RFC 7143 §11.3) and answering it with exactly one T2I.
//
// Single-threaded on the io_context, like iscsi::session: every call and
// every callback happens on the io_context's thread. The readiness fd is
// waited on with an Asio descriptor; I2T is called until EAGAIN.
//
// Per command: WRITE data is taken whole (at most max_transfer) before the
// submit, since R2Ts may ask for any offset (§11.8) while DATA_WRITE only
// moves forward. READ data is handed to DATA_READ as each Data-In lands
// (§11.7), never twice when a reconnect reissues the command. Zero copy is
// the device's option (vscsi::direct_access, the embedded vscsi): the
// session then lands Data-In in the midlayer's buffer and sends Data-Out
// from the midlayer's data through the command's iscsi::buffer_lease, and
// DATA_READ / DATA_WRITE only account the bytes. Once a command is answered
// (T2I, early ones included) the midlayer's buffers are never touched
// again: the lease is withdrawn, a READ segment still arriving is stopped
// and later Data-In lands in the command's own buffer; a WRITE's remaining
// Data-Out is sent from a copy (the session drops the connection if PDUs
// pointing at the old data are still queued). BUSY and TASK SET FULL are
// retried after a growing delay; the rest maps onto DONE / SENSE / RESET /
// ERR (bridge_complete.cpp).
#pragma once

#include "bridge/lun_map.hpp"
#include "log/log.hpp"
#include "vscsi/vscsi_device.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <system_error>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace ivs::iscsi {
class clock;
class session;
} // namespace ivs::iscsi

namespace ivs::bridge {

struct bridge_options {
    lun_geometry geometry{};              // the device's targets and LUNs per target
    std::size_t max_transfer = 64 * 1024; // the device's largest datalen
    // BUSY / TASK SET FULL: first delay, doubling up to max_delay, for at
    // most retry_budget in total; then the command completes with RESET.
    std::chrono::milliseconds retry_delay{10};
    std::chrono::milliseconds retry_max_delay{500};
    std::chrono::milliseconds retry_budget{5000};
    // The retry delays' clock; empty: the steady clock with timers on the
    // io_context. Tests hand in the clock their session runs on.
    std::shared_ptr<iscsi::clock> clock;
    // Warnings (device errors are logged once each kind).
    log::sink log;
};

struct bridge_counters {
    std::uint64_t commands = 0;                            // I2Ts dequeued
    std::uint64_t commands_read = 0, commands_write = 0;   // of those, by direction
    std::uint64_t submitted = 0;                           // SCSI Commands submitted (retries included)
    std::uint64_t retries = 0;                             // BUSY / TASK SET FULL resubmissions
    std::uint64_t bytes_read = 0;                          // DATA_READ bytes (to the midlayer)
    std::uint64_t bytes_written = 0;                       // DATA_WRITE bytes (from the midlayer)
    std::uint64_t data_reads = 0, data_writes = 0;         // DATA_READ / DATA_WRITE calls that succeeded
    std::uint64_t done = 0, sense = 0, reset = 0, err = 0; // T2Is by status
    std::uint64_t device_errors = 0;                       // failed I2T / DATA / T2I calls
    std::uint64_t max_outstanding = 0;                     // most commands dequeued at once
};

class bridge {
public:
    bridge(boost::asio::io_context& io, vscsi::vscsi_device& device, bridge_options options = {});
    // shutdown(); commands still on a session complete there later harmlessly.
    ~bridge();
    bridge(const bridge&) = delete;
    bridge& operator=(const bridge&) = delete;

    // Maps the session's remote LUNs (duplicates once) onto free vscsi
    // targets; `out` gets the slot of each, in order, for request_probe.
    // std::errc::no_space_on_device / invalid_argument as lun_map::add.
    // The session must outlive remove_session() (or the bridge).
    std::error_code add_session(iscsi::session& s, const std::vector<std::uint64_t>& remote_luns,
                                std::vector<slot>& out);
    // Unmaps the session: its commands complete now with RESET and the slots
    // it had are returned (for request_detach).
    std::vector<slot> remove_session(iscsi::session& s);

    // The LUNs of a mapped session change (a rescan, bridge/lun_rescan.hpp).
    // add_luns maps more remote LUNs of `s` (lun_map::add_more) and asks the
    // device to probe each new slot (VSCSI_REQPROBE); `out` gets the slots.
    // invalid_argument for a session not added here.
    std::error_code add_luns(iscsi::session& s, const std::vector<std::uint64_t>& remote_luns, std::vector<slot>& out);
    // remove_luns unmaps these remote LUNs of `s`, answers the commands still
    // outstanding on their slots at once (CHECK CONDITION, LOGICAL UNIT NOT
    // SUPPORTED: the LUN is gone; the session's late completion is dropped),
    // asks the device to detach each slot (VSCSI_REQDETACH) and returns them.
    std::vector<slot> remove_luns(iscsi::session& s, const std::vector<std::uint64_t>& remote_luns);
    // `handler` runs (on the io thread, after the command is answered) when
    // a command of `s` ends in CHECK CONDITION with REPORTED LUNS DATA HAS
    // CHANGED (UNIT ATTENTION 3F/0Eh, SPC-4 Annex D): how a target that
    // sends no AsyncEvent tells of a LUN change. The command is answered as
    // usual (the midlayer retries a UNIT ATTENTION). Ignored for a session
    // not added here; forgotten by remove_session.
    void on_lun_change(iscsi::session& s, std::function<void()> handler);

    // Starts serving the device's readiness fd.
    void start();
    // Stops serving and completes every dequeued command at once (RESET; the
    // midlayer may retry it after a reconnect). Idempotent.
    void shutdown();

    // SYNCHRONIZE CACHE (10) to every LUN of `s` mapped here, through the
    // session; `done` gets the first failure or {} once all have answered
    // (ILLEGAL REQUEST counts as nothing to flush).
    void sync_cache(iscsi::session& s, std::function<void(std::error_code)> done);

    [[nodiscard]] const bridge_counters& counters() const noexcept;
    // Commands dequeued and not yet answered with T2I.
    [[nodiscard]] std::size_t outstanding() const noexcept;
    [[nodiscard]] const lun_map& map() const noexcept;

    struct impl;

private:
    std::unique_ptr<impl> impl_;
};

} // namespace ivs::bridge
