// What the FUSE export's requests in flight share (fuse/fuse_export.hpp):
// the libfuse session, the /dev/fuse file descriptors the workers read, and
// the pool of requests with their receive buffers. It lives until the last
// request in flight has been answered, which may be after the export
// stopped (a command still on a stalled session), so a late reply never
// reaches a closed or reused descriptor.
//
// Each worker reads requests into a pooled buffer of its own; a READ, WRITE,
// FLUSH or FSYNC takes that buffer along (WRITE data is sent straight from
// it, READ data lands in it) and is answered from the thread that completes
// its commands, on the descriptor it came from.
#pragma once

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include "fuse/fuse_disk.hpp"
#include "log/log.hpp"

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace ivs::fuse {

struct channel;

// One FUSE request that outlives its handler.
struct request : disk_op {
    enum class kind : std::uint8_t { read, write, sync };

    channel* owner = nullptr;
    std::byte* mem = nullptr; // the receive buffer, `cap` bytes, page aligned
    std::size_t cap = 0;
    std::vector<std::byte> big; // a read whose blocks exceed cap
    fuse_req_t req = nullptr;
    int reply_fd = -1; // the /dev/fuse descriptor it came from
    kind what = kind::read;
    std::shared_ptr<fuse_disk> disk_ref;
    bool in_flight = false; // taken by a handler, not yet answered
    request* next_free = nullptr;
};

struct channel_options {
    // Threads reading /dev/fuse; 0: none, the owner calls pump() on its own
    // thread when loop_fd() is readable.
    unsigned workers = 2;
    bool clone_fd = true;
    std::size_t buffer_size = 0;    // each receive buffer (max_write and headers)
    std::size_t idle_requests = 64; // pooled requests kept when idle
    log::sink log;
};

struct channel {
    channel(fuse_session* s, channel_options o);
    channel(const channel&) = delete;
    channel& operator=(const channel&) = delete;

    // Opens one descriptor per worker (a clone of the session's, or a dup
    // when cloning is off or fails) and starts the workers.
    void start_workers();
    // Waits for the workers; they end when the connection does. Without
    // worker threads: pump() is no longer called.
    void join_workers();

    // Without worker threads: the non-blocking descriptor to wait on, and
    // reading and handling what is there (at most `limit` requests) on the
    // calling thread. pump_result::ended once the connection is gone.
    enum class pump_result { drained, more, ended };
    [[nodiscard]] int loop_fd() const noexcept
    {
        return opts.workers > 0 || workers_.empty() ? -1 : workers_.front().fd;
    }
    pump_result pump(std::size_t limit);

    // A request for the calling worker: its current receive buffer, which
    // the worker replaces before it reads again.
    request* take_current();
    // Answered: back to the pool. The last reference gone ends the channel.
    void give(request* r);
    void unref();

    [[nodiscard]] long requests_in_flight() const noexcept { return in_flight_.load(); }

    fuse_session* se;
    channel_options opts;
    std::atomic<long> refs{1}; // the export's, plus one per request taken
    std::vector<int> fds;      // one per worker

    struct worker {
        int fd = -1;
        request* slot = nullptr; // the buffer the next request is read into
    };

private:
    ~channel();
    request* take();
    void worker_main(worker& w);

    std::atomic<long> in_flight_{0};
    std::vector<worker> workers_;
    std::vector<std::thread> threads_;
    std::mutex pool_m_;
    request* free_ = nullptr;
    std::size_t free_count_ = 0;
};

// Sets the descriptor fuse_reply_* on this thread writes to, for a scope.
class reply_fd_scope {
public:
    explicit reply_fd_scope(int fd) noexcept;
    ~reply_fd_scope();
    reply_fd_scope(const reply_fd_scope&) = delete;
    reply_fd_scope& operator=(const reply_fd_scope&) = delete;

private:
    int previous_;
};

// The custom I/O libfuse uses for this export (fuse_session_custom_io).
[[nodiscard]] const fuse_custom_io& channel_io() noexcept;

} // namespace ivs::fuse
