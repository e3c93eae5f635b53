// A private tgtd (Linux SCSI target framework) for integration tests.
//
// Each fixture starts its own `tgtd -f -C N --iscsi portal=HOST:PORT` with a
// control port N of its own (tgtd's unix socket /var/run/tgtd/socket.N) and a
// free portal port, in its own temp directory, so several fixtures can run at
// once. It is configured through tgtadm (fork/exec, no shell); every failure
// throws std::runtime_error carrying tgtadm's output and the tail of tgtd's log.
//
// The destructor SIGKILLs tgtd (it ignores SIGTERM), reaps it, and removes the
// temp dir, tgtd's socket files and the network namespace, so cleanup also
// happens when a Catch2 assertion unwinds. If the test program itself dies,
// tgtd dies with it (PR_SET_PDEATHSIG).
//
// Quirks found by hand (tgt 1.0.85): with -f tgtd stays in the foreground and
// logs to stderr; it answers tgtadm within milliseconds; a second tgtd on the
// same control port exits 1 ("another tgtd is using .../socket.N.lock"); a
// portal that cannot be bound is only logged ("failed to create/bind to
// portal") and tgtd keeps running without it; SIGKILL leaves socket.N and
// socket.N.lock behind (a later tgtd on N replaces them); -C must be <= 32767.
//
// kill()/start()/restart() simulate a target crash: tgtd is SIGKILLed and a
// new one comes up on the same portal and control port with the same
// targets, LUNs (same backing files), ACLs, accounts and parameters, replayed
// from the record of the configuration calls made so far.
#pragma once

#include "test/support/process.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <sys/types.h>
#include <vector>

namespace ivs::test {

struct tgtd_options {
    // Run tgtd inside a network namespace created for this fixture, reached
    // over a veth pair with a private 169.254.x.y/30 (host side .1, target .2).
    // Lets a test add nftables faults inside the namespace (netns_exec()).
    bool own_netns = false;
};

// One iSCSI connection as `tgtadm --op show --mode conn` reports it.
struct tgtd_connection {
    std::uint64_t session = 0;
    std::uint32_t connection = 0;
    std::string initiator; // initiator IQN
    std::string address;   // initiator IP address
};

class tgtd_fixture {
public:
    explicit tgtd_fixture(tgtd_options opts = {});
    ~tgtd_fixture();
    tgtd_fixture(const tgtd_fixture&) = delete;
    tgtd_fixture& operator=(const tgtd_fixture&) = delete;

    // Where initiators connect: "127.0.0.1" (or the namespace address) and port.
    const std::string& host() const { return host_; }
    std::uint16_t port() const { return port_; }
    std::string portal() const; // "host:port"
    std::string url() const;    // "iscsi://host:port"
    // libiscsi URL of one LUN, with optional CHAP credentials.
    std::string lun_url(const std::string& iqn, int lun, const std::string& user = "",
                        const std::string& password = "") const;

    pid_t pid() const { return tgtd_.pid(); }
    int control_port() const { return control_port_; }
    const std::filesystem::path& temp_dir() const { return dir_; }
    const std::filesystem::path& log_path() const { return log_; }
    const std::string& netns() const { return netns_; } // "" on loopback
    const std::string& netns_host_address() const { return host_side_; }

    // Targets, LUNs, ACLs.
    void add_target(int tid, const std::string& iqn);
    // Binds an initiator address ("ALL" or an IP) to the target's ACL.
    void allow_initiator_address(int tid, const std::string& address = "ALL");
    void allow_initiator_name(int tid, const std::string& iqn);
    void add_null_lun(int tid, int lun);
    // Creates a sparse file of `size` bytes in the temp dir as the LUN's
    // backing store (bstype rdwr) and returns its path.
    std::filesystem::path add_file_lun(int tid, int lun, std::uint64_t size);
    // Backing file of a LUN made by add_file_lun(); throws if there is none.
    const std::filesystem::path& lun_path(int tid, int lun) const;

    // CHAP: incoming = the initiator authenticates to the target (one-way);
    // outgoing = the target authenticates back (mutual CHAP).
    void add_incoming_account(int tid, const std::string& user, const std::string& password);
    void add_outgoing_account(int tid, const std::string& user, const std::string& password);

    // Per-target negotiation parameters (e.g. "MaxRecvDataSegmentLength").
    void set_target_param(int tid, const std::string& key, const std::string& value);
    std::map<std::string, std::string> target_params(int tid);

    // Sessions and connections logged in to a target.
    std::vector<tgtd_connection> connections(int tid);
    // Drops one connection from the target side.
    void close_connection(int tid, std::uint64_t session, std::uint32_t connection);

    // Runs `tgtadm -C N --lld iscsi ARGS...`; returns stdout, throws on failure.
    std::string tgtadm(const std::vector<std::string>& args);
    // Runs a command inside the fixture's namespace (`ip netns exec`); throws
    // if there is no namespace or the command fails. Returns stdout.
    std::string netns_exec(const std::vector<std::string>& argv);

    std::string log_tail(std::size_t bytes = 2000) const;

    // Target crash and recovery. kill() SIGKILLs tgtd and reaps it (the
    // portal stops answering); start() brings a new tgtd up on the same
    // portal and control port and replays the configuration; restart() is
    // kill(), a pause of `down`, then start(). start() throws if tgtd is
    // running or the portal cannot be bound again within a few seconds.
    void kill();
    void start();
    void restart(std::chrono::milliseconds down);
    bool running() const { return tgtd_.pid() > 0; }

private:
    enum class launch_result { ready, control_port_taken, portal_taken };
    bool try_start();
    launch_result launch();
    // tgtadm() for a configuration change, recorded for start() to replay.
    void configure(const std::vector<std::string>& args);
    void create_netns();
    void stop() noexcept;
    [[noreturn]] void fail(const std::string& what) const;

    std::filesystem::path dir_;
    std::filesystem::path log_;
    std::string host_ = "127.0.0.1";
    std::uint16_t port_ = 0;
    int control_port_ = 0;
    child_process tgtd_;
    std::string netns_;
    std::string veth_host_;
    std::string host_side_;
    std::set<std::string> accounts_;
    std::map<std::pair<int, int>, std::filesystem::path> lun_files_;
    std::vector<std::vector<std::string>> config_calls_;
};

} // namespace ivs::test
