// The embedded vscsi: the kernel half of OpenBSD's vscsi(4) in userland (used
// on Linux and in all tests). One instance is one vscsi0 with its scsibus.
//
// Daemon side: open() gives the single vscsi_device handle (a second open
// fails with EBUSY until the handle is destroyed, which is the last close).
// Midlayer side: thread-safe submission of SCSI commands to target/lun, with
// the kernel's openings per LUN and its maximum transfer, plus the midlayer
// probe/detach triggered by request_probe/request_detach, which attaches
// direct-access LUNs as sd0, sd1, ... and logs dmesg-style lines.
//
// Probing follows OpenBSD's scsi_probe(): (t, l) probes that LUN; (t, -1)
// probes LUN 0 and, only if a driver attached it, the LUNs REPORT LUNS lists
// (SPC devices) or 0..luns-1; (-1, -1) every target. A LUN no driver takes
// (e.g. tgtd's 0x0c controller LUN 0) is logged "not configured", so a
// bridge exposing such a target must request each LUN explicitly. Absent
// LUNs and failed commands are silent, as with SCSI_SILENT in the kernel.
//
// All state is guarded by one mutex (the kernel serialises every ioctl with
// one lock too); the readiness fd is readable exactly while commands wait.
#pragma once

#include "log/log.hpp"
#include "vscsi/retry_rules.hpp"
#include "vscsi/scsi_command.hpp"
#include "vscsi/scsi_probe.hpp"
#include "vscsi/tag_table.hpp"
#include "vscsi/vscsi_device.hpp"

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

namespace ivs::vscsi {

class readiness_signal;

struct embedded_vscsi_config {
    int targets = 256;                    // 0..targets-1, all usable
    int luns = 8;                         // per target
    int openings = 16;                    // commands in flight per LUN
    std::size_t max_transfer = 64 * 1024; // MAXPHYS
    int first_tag = 0;                    // where the tag counter starts
    int scsibus = 0;                      // N in "scsibusN" of the log lines
    probe_options probe{};                // retries of the midlayer probe
    // sd's retries: what submit_read/submit_write give each command, and
    // the wait before a retry the rules delay (vscsi/retry_rules.hpp).
    retry_policy retry{};
    // dmesg-style lines (info); written without locks held.
    log::sink log;
    // Called after a disk is attached (true) or detached (false).
    std::function<void(const attached_disk&, bool)> disk_event;
};

class embedded_vscsi {
public:
    explicit embedded_vscsi(embedded_vscsi_config config = {});
    ~embedded_vscsi(); // the device handle must have been destroyed first
    embedded_vscsi(const embedded_vscsi&) = delete;
    embedded_vscsi& operator=(const embedded_vscsi&) = delete;

    [[nodiscard]] const embedded_vscsi_config& config() const noexcept { return config_; }

    // The daemon side: the one opener. EBUSY while a handle exists.
    std::error_code open(std::unique_ptr<vscsi_device>& out);

    // Midlayer side (any thread). Errors, with nothing queued:
    // ENXIO the device is not open; EINVAL target/lun out of range, cdblen
    // not 1..16, or a buffer given for another direction; EMSGSIZE (
    // std::errc::message_size) datalen over max_transfer.
    // A command without a free opening on its LUN waits for one.
    std::error_code submit(const scsi_command& cmd, scsi_completion_handler done);
    // Blocking form: waits for the completion (must not run on the thread
    // that serves the daemon side).
    std::error_code execute(const scsi_command& cmd, scsi_completion& out);

    // READ/WRITE of whole blocks of any size, split into READ/WRITE(10)
    // (or (16) past 32-bit LBAs) commands of at most max_transfer, as the
    // kernel splits a transfer by MAXPHYS (see vscsi/scsi_split.hpp). The
    // chunks are submitted at once (the openings limit them); the completion
    // has the first failing chunk's status/sense and the summed residual.
    // EINVAL also when buf is not a multiple of block_size.
    std::error_code submit_read(int target, int lun, std::uint64_t lba, std::uint32_t block_size,
                                std::span<std::byte> buf, scsi_completion_handler done);
    std::error_code submit_write(int target, int lun, std::uint64_t lba, std::uint32_t block_size,
                                 std::span<const std::byte> buf, scsi_completion_handler done);
    std::error_code read(int target, int lun, std::uint64_t lba, std::uint32_t block_size, std::span<std::byte> buf,
                         scsi_completion& out);
    std::error_code write(int target, int lun, std::uint64_t lba, std::uint32_t block_size,
                          std::span<const std::byte> buf, scsi_completion& out);

    // Attached disks (sd devices), in attach order.
    [[nodiscard]] std::vector<attached_disk> disks() const;
    // True when no probe/detach request is queued or running.
    [[nodiscard]] bool probe_idle() const;
    // Waits until probe_idle() (woken by the midlayer's worker, no polling);
    // false when `limit` passed first.
    bool wait_probe_idle(std::chrono::milliseconds limit);

private:
    class handle;
    friend class handle;
    struct ccb;
    // Pooled: allocated when more commands than ever before are queued,
    // then reused, so the hot path allocates nothing.
    using ccb_ptr = ccb*;
    struct lun_state {
        int active = 0;              // openings in use
        std::deque<ccb_ptr> pending; // waiting for an opening
    };
    struct devevent {
        bool probe;
        int target;
        int lun;
    };
    using completion_list = std::vector<std::pair<scsi_completion_handler, scsi_completion>>;

    // daemon side (called by handle)
    std::error_code do_i2t(vscsi_i2t& out);
    // in/out both null: the daemon used the midlayer's buffer itself
    // (data_read_placed, data_write_taken).
    std::error_code do_data(int tag, vscsi_dir dir, std::byte* in, const std::byte* out, std::size_t len);
    std::span<std::byte> do_data_read_buffer(int tag);
    std::span<const std::byte> do_data_write_buffer(int tag);
    ccb* dequeued_locked(int tag, vscsi_dir dir);
    std::error_code do_t2i(int tag, vscsi_status status, const scsi::fixed_sense& sense, bool daemon_dequeues);
    std::error_code do_devevent(bool probe, int target, int lun);
    void do_close();

    std::error_code check(const scsi_command& cmd) const;
    lun_state& lun_of(const ccb& c);
    void enqueue_locked(ccb_ptr c); // assigns a tag, makes it visible
    int next_tag_locked();
    void finish_locked(ccb_ptr c); // frees its opening; c returns to the pool
    // embedded_retry.cpp: true when the retry rules re-issue the command
    // (under a new tag, at once or after the delay) instead of completing it.
    bool retry_locked(ccb_ptr c, const scsi_completion& comp);
    void retry_timer();
    // True when the readiness fd must be written once m_ is released
    // (ready_->notify()): the thread it wakes then finds m_ free.
    [[nodiscard]] bool update_readiness_locked();
    static void run_completions(completion_list& done);

    void probe_worker();
    void run_devevent(const devevent& ev);
    enum class probe_outcome { attached, absent, stop };
    probe_outcome probe_one(int target, int lun, const inquiry_data* lun0, inquiry_data* inq_out);
    void probe_target(int target);
    [[nodiscard]] bool attached_locked(int target, int lun) const;
    [[nodiscard]] scsi_executor executor();
    void detach_one(int target, int lun);
    void log(const std::string& line) const;

    embedded_vscsi_config config_;
    std::unique_ptr<readiness_signal> ready_;

    mutable std::mutex m_;
    bool open_ = false;
    unsigned tag_counter_; // wraps; converted to int tags
    std::vector<lun_state> luns_;
    std::deque<ccb_ptr> waiting_;            // visible to i2t, oldest first
    tag_table<ccb> live_;                    // waiting or in progress, by tag
    std::vector<std::unique_ptr<ccb>> ccbs_; // every ccb ever allocated
    std::vector<ccb_ptr> free_ccbs_;

    // midlayer probe/detach worker and the attached devices
    std::deque<devevent> events_;
    bool worker_busy_ = false;
    bool stopping_ = false;
    std::condition_variable events_cv_;
    std::condition_variable idle_cv_;
    std::vector<attached_disk> disks_;
    std::thread worker_;

    // commands waiting out a retry delay (no tag meanwhile), and their timer
    std::vector<std::pair<std::chrono::steady_clock::time_point, ccb_ptr>> delayed_;
    std::condition_variable retry_cv_;
    std::thread retry_timer_;
};

} // namespace ivs::vscsi
