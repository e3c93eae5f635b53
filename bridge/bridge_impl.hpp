// Internals of bridge::bridge, one concern per file:
//   bridge.cpp           the facade, readiness of the device, pooled contexts;
//   bridge_dispatch.cpp  I2T: a dequeued command onto its session (submit);
//   bridge_data.cpp      data movement: the lease the session lands Data-In
//                        in and sends Data-Out from, DATA_READ, REPORT LUNS;
//   bridge_complete.cpp  the session's completion onto exactly one T2I;
//   bridge_luns.cpp      sessions and their LUNs coming and going, flushes.
#pragma once

#include "bridge/bridge.hpp"

#include "iscsi/buffer_lease.hpp"
#include "iscsi/clock.hpp"
#include "iscsi/session.hpp"
#include "vscsi/tag_table.hpp"

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace ivs::vscsi {
class direct_access;
}

namespace ivs::bridge {

// Where REPORT LUNS data from the target lands before rewriting: room for
// (report_luns_room - 8) / 8 remote LUNs.
inline constexpr std::uint32_t report_luns_room = 16384;

enum log_kind : unsigned { log_i2t = 1, log_data = 2, log_t2i = 4, log_tag = 8, log_input = 16 };

// One dequeued command, and the lease of its data memory to the session
// (bridge_data.cpp). Pooled: the buffer keeps its capacity between
// commands. Outlives the bridge while a session still owes it a completion
// (owner is then null and the completion frees it).
struct command_ctx final : iscsi::buffer_lease {
    explicit command_ctx(std::shared_ptr<iscsi::clock> c) : clock(std::move(c)), timer(*clock) {}

    // iscsi::buffer_lease
    std::span<std::byte> data_in_destination(std::uint32_t offset, std::uint32_t length) override;
    void data_in_landed(std::uint32_t offset, std::span<const std::byte> data) override;
    std::span<const std::byte> data_out() override;

    bridge::impl* owner = nullptr;
    vscsi::vscsi_i2t io{};
    iscsi::session* session = nullptr;
    iscsi::scsi_request req;
    std::vector<std::byte> buffer;
    // Zero-copy READ: the midlayer's buffer (direct_access::data_read_buffer)
    // while the command is live, else empty; Data-In lands there and
    // DATA_READ only accounts it. Once the command is answered, the midlayer
    // may free it: the lease is withdrawn and late Data-In lands in `buffer`.
    std::span<std::byte> midlayer;
    // Zero-copy WRITE: the midlayer's data (direct_access::data_write_buffer)
    // that the session sends from while the command is live. Answering it
    // early copies it into `buffer` and withdraws the lease first.
    std::span<const std::byte> midlayer_out;
    std::size_t delivered = 0;    // READ bytes handed to DATA_READ
    std::size_t landed = 0;       // REPORT LUNS bytes [0, landed) in `buffer`
    std::uint32_t generation = 0; // bumped on each reuse (stale timer guard)
    bool live = false;            // dequeued and not answered yet
    bool in_session = false;      // the session owes a completion
    bool waiting_retry = false;
    bool report_luns = false;
    bool data_failed = false; // a DATA call failed: the answer is ERR
    std::chrono::milliseconds next_delay{0};
    std::chrono::milliseconds waited{0};
    std::shared_ptr<iscsi::clock> clock; // outlives the bridge with the context
    iscsi::one_shot_timer timer;         // the retry delay
};

struct bridge::impl {
    impl(boost::asio::io_context& io_, vscsi::vscsi_device& dev_, bridge_options opt_);

    boost::asio::io_context& io;
    vscsi::vscsi_device& dev;
    vscsi::direct_access* direct; // the device's zero copy, or null (/dev/vscsi0)
    bridge_options opt;
    lun_map map;
    bridge_counters counters;
    boost::asio::posix::stream_descriptor ready;
    boost::asio::steady_timer rearm;
    std::shared_ptr<int> alive = std::make_shared<int>(0); // guards Asio handlers
    std::vector<std::unique_ptr<command_ctx>> pool;
    std::vector<command_ctx*> free_list;
    vscsi::tag_table<command_ctx> live;
    bool running = false;
    bool stopped = false;
    bool dequeuing = false;      // inside dequeue_all()
    bool completing_all = false; // inside complete_all(): no new commands
    struct added_session {
        iscsi::session* s = nullptr;
        std::function<void()> on_lun_change; // may be empty
    };
    std::vector<added_session> sessions; // added and not removed
    unsigned logged = 0;

    void log_once(unsigned kind, const std::string& what);

    // ---- readiness and contexts (bridge.cpp) ----
    void arm();
    void drain(); // the readiness fd fired
    command_ctx* acquire();
    void release(command_ctx& c);

    // ---- I2T and submission (bridge_dispatch.cpp) ----
    bool dequeue_all(); // I2T until EAGAIN; false after a device error
    void dispatch(const vscsi::vscsi_i2t& in);
    void build_request(command_ctx& c, std::uint64_t remote_lun);
    void submit(command_ctx& c);

    // ---- data movement (bridge_data.cpp) ----
    // A WRITE's data, whole, before the submit (DATA_WRITE); false: a
    // device error (the caller answers ERR).
    bool take_write_data(command_ctx& c);
    // A READ's memory: the midlayer's buffer when the device lends it.
    void lend_read_buffer(command_ctx& c, std::size_t len);
    void on_data(command_ctx& c, std::uint32_t offset, std::span<const std::byte> data);
    bool deliver(command_ctx& c, const std::byte* from, std::size_t n);
    bool complete_data(command_ctx& c, const iscsi::scsi_result& res);

    // ---- completion and T2I (bridge_complete.cpp) ----
    void answer(int tag, vscsi::vscsi_status st, const scsi::fixed_sense& sense, bool dequeue_next);
    void finish(command_ctx& c, vscsi::vscsi_status st, const scsi::fixed_sense& sense = {});
    void on_complete(command_ctx& c, const iscsi::scsi_result& res);
    void retry(command_ctx& c);
    void answer_unmapped(command_ctx& c);
    // Answers every live command of `only` (all when null) and, when
    // `where` is given, only those on these slots.
    void complete_all(iscsi::session* only, vscsi::vscsi_status st, const std::vector<slot>* where = nullptr,
                      const scsi::fixed_sense& sense = {});

    // ---- sessions and LUNs (bridge_luns.cpp) ----
    [[nodiscard]] added_session* added(const iscsi::session& s);
    std::function<void()> lun_change_handler(const iscsi::session* s) const;
};

} // namespace ivs::bridge
