// A fault-injecting TCP proxy for integration tests: listens on a loopback
// port, forwards every connection to a target portal (e.g. tgtd_fixture's),
// and on request damages the target->initiator stream: flips bits, cuts a
// connection after K more bytes, holds data back for a while, or closes
// everything at once. It runs in a thread of its own (plain sockets, poll);
// faults are switched from any thread and apply from the next byte on.
//
//   test::fault_proxy proxy(tgtd.host(), tgtd.port());
//   cfg.target_portal = {proxy.host(), std::to_string(proxy.port())};
//   proxy.flip_every(1 << 20);        // one bit in every MiB from the target
//   ... proxy.truncate_after(100000); proxy.delay(2s); proxy.close_all();
//
// Byte offsets count the target->initiator bytes of each connection from its
// first byte (flip_every) or from the moment the fault is set (flip_once,
// truncate_after), so a login at the start of a connection can be spared.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace ivs::test {

struct fault_proxy_counters {
    std::uint64_t connections = 0; // accepted initiator connections
    std::uint64_t bits_flipped = 0;
    std::uint64_t truncations = 0;  // connections cut by truncate_after
    std::uint64_t to_initiator = 0; // bytes forwarded target->initiator
    std::uint64_t to_target = 0;    // bytes forwarded initiator->target
};

class fault_proxy {
public:
    // Listens on 127.0.0.1 (an ephemeral port); throws std::runtime_error.
    fault_proxy(std::string target_host, std::uint16_t target_port);
    ~fault_proxy();
    fault_proxy(const fault_proxy&) = delete;
    fault_proxy& operator=(const fault_proxy&) = delete;

    const std::string& host() const { return host_; }
    std::uint16_t port() const { return port_; }

    // Flips one bit in every `n`-th target->initiator byte of each connection
    // (bytes n-1, 2n-1, ...); 0 stops it.
    void flip_every(std::uint64_t n);
    // Flips one bit in the target->initiator byte `k` bytes from now (on the
    // current connection, or the next one if none is open).
    void flip_once(std::uint64_t k);
    // Forwards `k` more target->initiator bytes, then closes both sides of
    // that connection.
    void truncate_after(std::uint64_t k);
    // Holds every byte (both directions) this long before forwarding it;
    // zero forwards at once.
    void delay(std::chrono::milliseconds d);
    // Closes every open connection (both sides) now.
    void close_all();
    // Switches every fault off.
    void clear();

    fault_proxy_counters counters() const;

private:
    struct state;
    void run();
    void wake();

    std::string host_ = "127.0.0.1";
    std::uint16_t port_ = 0;
    std::string target_host_;
    std::uint16_t target_port_;
    int listen_fd_ = -1;
    int wake_fd_[2] = {-1, -1};
    std::atomic<bool> stop_{false};

    // Faults and counters, shared with the proxy thread.
    mutable std::mutex mutex_;
    std::uint64_t flip_every_ = 0;
    std::int64_t flip_once_ = -1;      // bytes to go, -1: none
    std::int64_t truncate_after_ = -1; // bytes to go, -1: none
    std::chrono::milliseconds delay_{0};
    bool close_all_ = false;
    fault_proxy_counters counters_{};

    std::thread thread_;
};

} // namespace ivs::test
