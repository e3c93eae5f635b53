// One iSCSI session's LUNs as disks on a host, from login to logout: the
// lifecycle `attach`, `serve` and `bench` share.
//
//   attach():  log in (RFC 7143 §6) → the LUNs (given, or REPORT LUNS) →
//              map them onto the bridge → probe (the midlayer attaches sdN)
//              → export (FUSE)
//   detach():  unexport → flush (SYNCHRONIZE CACHE through the session) →
//              detach the disks → unmap → log out (§11.14)
//
// A step that fails undoes the ones before it, in reverse, so a failed
// attach leaves nothing behind. Each step waits on its event (the io
// thread's answer, the midlayer's idle signal), bounded by a timeout.
// Calls come from one thread at a time, never the host's io thread.
#pragma once

#include "app/host.hpp"
#include "bridge/lun_map.hpp"
#include "iscsi/session.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

namespace ivs::app {

struct disk_attachment_options {
    iscsi::session_config session;
    std::vector<std::uint64_t> luns;  // empty: every LUN REPORT LUNS lists
    std::filesystem::path export_dir; // empty: no FUSE export
    std::string export_prefix;        // file names are export_prefix + "lun<N>"
    // A disk that cannot be exported fails the attach; false: it is logged
    // and left out (serve, where several targets share a directory).
    bool export_all = true;
    // The attach fails unless the midlayer attaches at least one disk.
    bool require_disk = false;
    std::string log_prefix; // in front of every line, e.g. "target lab (iqn...): "
    std::chrono::milliseconds probe_timeout{60000};
    std::chrono::milliseconds flush_timeout{30000};
    std::chrono::milliseconds detach_timeout{10000};
    std::chrono::milliseconds logout_timeout{15000};
    // Called on the io thread when the target reports REPORTED LUNS DATA HAS
    // CHANGED (AsyncEvent 0 with sense 3F/0E, or a command's UNIT ATTENTION
    // 3F/0E through the bridge): the owner runs rescan() from its own thread
    // (never the io thread, whose loop the rescan needs).
    std::function<void()> on_lun_change;
};

// One remote LUN: where it sits on vscsi and what became of it.
struct attached_lun {
    std::uint64_t remote = 0;
    bridge::slot where;
    std::string device; // "sd0"; empty when no driver took it (or the kernel probes)
    std::uint32_t block_size = 0;
    std::uint64_t block_count = 0; // 0: capacity unknown
    std::string export_name;       // file name in export_dir; empty: not exported

    [[nodiscard]] std::uint64_t bytes() const noexcept { return block_count * block_size; }
};

class disk_attachment {
public:
    disk_attachment(host& h, disk_attachment_options options);
    ~disk_attachment(); // detach()
    disk_attachment(const disk_attachment&) = delete;
    disk_attachment& operator=(const disk_attachment&) = delete;

    // True when attached; false with `error` (one line, without
    // log_prefix) after undoing what was done.
    bool attach(std::string& error);
    // SYNCHRONIZE CACHE(10) to every mapped LUN through the session (the one
    // flush path): {} or the first failure; timed_out after flush_timeout.
    std::error_code flush();
    // The reverse of attach, each step bounded. Idempotent.
    void detach();
    // REPORT LUNS again and the disks brought in line (bridge/lun_rescan.hpp):
    // gone LUNs unexported, detached and unmapped (their outstanding commands
    // answered), new ones mapped, probed and exported. True with a one-line
    // `summary`; false with `error` when not attached or REPORT LUNS failed.
    bool rescan(std::string& summary);

    [[nodiscard]] bool attached() const noexcept { return attached_; }
    [[nodiscard]] const disk_attachment_options& options() const noexcept { return options_; }
    [[nodiscard]] const std::vector<attached_lun>& luns() const noexcept { return luns_; }

    // On the io thread only: the session (null before login and after
    // logout) and its state ("logging in", "logged in", "reconnecting",
    // "failed", "login failed", "detached").
    [[nodiscard]] iscsi::session* session() noexcept { return session_.get(); }
    [[nodiscard]] const std::string& state() const noexcept { return *state_; }

private:
    bool login(std::string& error);
    bool find_luns(std::string& error);
    bool map(std::string& error);
    bool probe(std::string& error);
    bool export_disks(std::string& error);
    bool export_one(attached_lun& l, std::string& error);
    void info(const std::string& line) const;
    void warn(const std::string& line) const;

    host& host_;
    disk_attachment_options options_;
    std::unique_ptr<iscsi::session> session_; // created, used and destroyed on the io thread
    std::shared_ptr<std::string> state_;      // io thread; shared with the session's event handler
    std::vector<attached_lun> luns_;
    bool logged_in_ = false;
    bool mapped_ = false;
    bool probed_ = false;
    bool mounted_ = false;
    bool attached_ = false;
};

} // namespace ivs::app
