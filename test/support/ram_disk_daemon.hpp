// A test daemon for the embedded vscsi: opens the device and serves it on a
// thread of its own with in-memory disks (READ/WRITE(10/16), SYNCHRONIZE
// CACHE(10), TEST UNIT READY, INQUIRY, READ CAPACITY(10/16)), counting
// SYNCHRONIZE CACHE and able to inject MEDIUM ERROR and RESET completions.
#pragma once

#include "vscsi/embedded_vscsi.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace ivs::vscsi::test {

struct ram_lun {
    int target = 0;
    int lun = 0;
    std::uint32_t block_size = 512;
    std::uint64_t block_count = 0;
};

class ram_disk_daemon {
public:
    // Opens `dev` (REQUIREs success) and starts serving.
    ram_disk_daemon(embedded_vscsi& dev, const std::vector<ram_lun>& luns);
    ~ram_disk_daemon(); // stops the thread, then closes the device
    ram_disk_daemon(const ram_disk_daemon&) = delete;
    ram_disk_daemon& operator=(const ram_disk_daemon&) = delete;

    // VSCSI_REQPROBE issued from the daemon thread (the handle's one user).
    void request_probe(int target, int lun);

    // A copy of a disk's bytes / overwrite them (under the daemon's lock).
    std::vector<std::byte> contents(int target, int lun);
    void fill(int target, int lun, const std::vector<std::byte>& bytes);

    [[nodiscard]] std::size_t sync_count() const noexcept { return syncs_.load(); }
    [[nodiscard]] std::size_t rw_count() const noexcept { return rws_.load(); }
    // READs touching blocks first..last of target/lun get MEDIUM ERROR.
    void medium_error(int target, int lun, std::uint64_t first, std::uint64_t last);
    // The next n READ/WRITE commands complete with RESET, moving no data.
    void reset_next(int n) { resets_.store(n); }
    // The next n READ/WRITE commands complete with `sense`, moving no data.
    void sense_next(int n, const scsi::fixed_sense& sense)
    {
        {
            std::lock_guard lk(m_);
            next_sense_ = sense;
        }
        senses_.store(n);
    }
    [[nodiscard]] int senses_left() const noexcept { return senses_.load(); }
    // SYNCHRONIZE CACHE answers ILLEGAL REQUEST (no cache) when false.
    void sync_supported(bool on) { sync_supported_.store(on); }
    // While held, READ/WRITE commands are dequeued but not answered
    // (parked() counts them); on release they are executed in order.
    void hold_io(bool on) { hold_.store(on); }
    [[nodiscard]] std::size_t parked() const noexcept { return parked_count_.load(); }

private:
    struct disk {
        ram_lun geo;
        std::vector<std::byte> data;
        bool has_bad = false;
        std::uint64_t bad_first = 0, bad_last = 0; // when has_bad
    };
    void run();
    void execute(const vscsi_i2t& c);
    disk* find(int target, int lun);

    std::unique_ptr<vscsi_device> h_;
    std::mutex m_;
    std::map<std::pair<int, int>, disk> disks_;
    std::vector<std::pair<int, int>> probes_;
    std::atomic<bool> stop_{false};
    std::atomic<std::size_t> syncs_{0};
    std::atomic<std::size_t> rws_{0};
    std::atomic<int> resets_{0};
    std::atomic<int> senses_{0};
    scsi::fixed_sense next_sense_{}; // under m_
    std::atomic<bool> sync_supported_{true};
    std::atomic<bool> hold_{false};
    std::vector<vscsi_i2t> parked_; // the daemon thread's
    std::atomic<std::size_t> parked_count_{0};
    std::thread thread_;
};

} // namespace ivs::vscsi::test
