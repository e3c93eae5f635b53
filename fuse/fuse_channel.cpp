// The FUSE export's workers, descriptors and request pool.
#include "fuse/fuse_channel.hpp"

#include <linux/fuse.h>
#include <sys/ioctl.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>
#include <string>

namespace ivs::fuse {

namespace {

constexpr std::align_val_t buffer_alignment{4096};

// The worker running on this thread, and where replies made on this thread
// go (-1: the session's own descriptor, for notifications).
thread_local channel::worker* tls_worker = nullptr;
thread_local int tls_reply_fd = -1;

// libfuse reads a request: a worker reads its own descriptor into its own
// buffer (which may be smaller than libfuse's default size).
ssize_t io_read(int fd, void* buf, size_t len, void*)
{
    if (channel::worker* w = tls_worker) {
        fd = w->fd;
        if (w->slot != nullptr && buf == w->slot->mem)
            len = std::min(len, w->slot->cap);
    }
    return ::read(fd, buf, len);
}

// libfuse sends a reply or a notification: to the descriptor the request
// came from (the kernel finds a request only on the channel that read it).
ssize_t io_writev(int fd, struct iovec* iov, int count, void*)
{
    if (tls_reply_fd >= 0)
        fd = tls_reply_fd;
    const ssize_t r = ::writev(fd, iov, count);
    if (r < 0 && errno == ENODEV)
        errno = ENOENT; // the connection is gone (unmounted, aborted): nobody waits for the reply
    return r;
}

const fuse_custom_io custom_io = {io_writev, io_read, nullptr, nullptr};

} // namespace

const fuse_custom_io& channel_io() noexcept { return custom_io; }

reply_fd_scope::reply_fd_scope(int fd) noexcept : previous_(tls_reply_fd) { tls_reply_fd = fd; }

reply_fd_scope::~reply_fd_scope() { tls_reply_fd = previous_; }

channel::channel(fuse_session* s, channel_options o) : se(s), opts(std::move(o)) {}

channel::~channel()
{
    // The connection has ended (stop() unmounted it before letting go), so
    // this only closes the session's descriptor; then ours.
    fuse_session_unmount(se);
    fuse_session_destroy(se);
    for (int fd : fds)
        ::close(fd);
    while (free_ != nullptr) {
        request* r = free_;
        free_ = r->next_free;
        ::operator delete(r->mem, buffer_alignment);
        delete r;
    }
}

void channel::start_workers()
{
    const int base = fuse_session_fd(se);
    const unsigned n = std::max(1u, opts.workers);
    const bool threads = opts.workers > 0;
    workers_.resize(n);
    for (unsigned i = 0; i < n; ++i) {
        int fd = -1;
        if (opts.clone_fd) {
            // A /dev/fuse channel of its own: its own queue of requests
            // being processed in the kernel.
            fd = ::open("/dev/fuse", O_RDWR | O_CLOEXEC);
            std::uint32_t master = static_cast<std::uint32_t>(base);
            if (fd >= 0 && ::ioctl(fd, FUSE_DEV_IOC_CLONE, &master) != 0) {
                opts.log.warning(std::string("fuse: cannot clone the /dev/fuse channel (") + std::strerror(errno) +
                                 "); the workers share one");
                ::close(fd);
                fd = -1;
                opts.clone_fd = false;
            }
        }
        if (fd < 0)
            fd = ::fcntl(base, F_DUPFD_CLOEXEC, 3);
        if (!threads && fd >= 0) // the owner's loop waits for it to be readable
            ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
        fds.push_back(fd);
        workers_[i].fd = fd;
    }
    if (threads)
        for (auto& w : workers_)
            threads_.emplace_back([this, &w] { worker_main(w); });
}

void channel::join_workers()
{
    for (auto& t : threads_)
        t.join();
    threads_.clear();
    if (opts.workers == 0) // the owner's loop has stopped: its buffer goes back
        for (auto& w : workers_)
            if (w.slot != nullptr) {
                request* r = w.slot;
                w.slot = nullptr;
                give(r);
            }
}

channel::pump_result channel::pump(std::size_t limit)
{
    worker& w = workers_.front();
    worker* const outer = tls_worker;
    tls_worker = &w;
    reply_fd_scope replies(w.fd);
    pump_result result = pump_result::more;
    for (std::size_t n = 0; n < limit;) {
        if (fuse_session_exited(se)) {
            result = pump_result::ended;
            break;
        }
        if (w.slot == nullptr)
            w.slot = take();
        fuse_buf buf{};
        buf.mem = w.slot->mem;
        buf.size = w.slot->cap;
        const int r = fuse_session_receive_buf(se, &buf);
        if (r == -EINTR)
            continue;
        if (r == -EAGAIN) {
            result = pump_result::drained;
            break;
        }
        if (r <= 0) {
            // 0: the connection ended (ENODEV).
            if (r < 0)
                opts.log.error(std::string("fuse: reading /dev/fuse: ") + std::strerror(-r));
            result = pump_result::ended;
            break;
        }
        fuse_session_process_buf(se, &buf);
        ++n;
    }
    tls_worker = outer;
    return result;
}

void channel::worker_main(worker& w)
{
    tls_worker = &w;
    reply_fd_scope replies(w.fd);
    while (!fuse_session_exited(se)) {
        if (w.slot == nullptr)
            w.slot = take();
        fuse_buf buf{};
        buf.mem = w.slot->mem;
        buf.size = w.slot->cap;
        const int r = fuse_session_receive_buf(se, &buf);
        if (r == -EINTR)
            continue;
        if (r <= 0) {
            // 0: the connection ended (ENODEV); the other workers see it too.
            if (r < 0)
                opts.log.error(std::string("fuse: reading /dev/fuse: ") + std::strerror(-r));
            break;
        }
        fuse_session_process_buf(se, &buf);
    }
    if (w.slot != nullptr) {
        request* r = w.slot;
        w.slot = nullptr;
        give(r);
    }
    tls_worker = nullptr;
}

request* channel::take()
{
    refs.fetch_add(1, std::memory_order_relaxed);
    {
        std::lock_guard lk(pool_m_);
        if (free_ != nullptr) {
            request* r = free_;
            free_ = r->next_free;
            --free_count_;
            r->next_free = nullptr;
            return r;
        }
    }
    auto* r = new request;
    r->owner = this;
    r->cap = opts.buffer_size;
    r->mem = static_cast<std::byte*>(::operator new(r->cap, buffer_alignment));
    return r;
}

request* channel::take_current()
{
    worker* w = tls_worker;
    request* r = w->slot;
    w->slot = nullptr;
    r->reply_fd = w->fd;
    r->in_flight = true;
    in_flight_.fetch_add(1, std::memory_order_relaxed);
    return r;
}

void channel::give(request* r)
{
    if (r->in_flight) {
        r->in_flight = false;
        in_flight_.fetch_sub(1, std::memory_order_relaxed);
    }
    r->req = nullptr;
    r->disk_ref.reset();
    std::vector<std::byte>().swap(r->big);    // a rare large read
    std::vector<std::byte>().swap(r->bounce); // a read-modify-write
    bool keep = false;
    {
        std::lock_guard lk(pool_m_);
        if (free_count_ < opts.idle_requests) {
            r->next_free = free_;
            free_ = r;
            ++free_count_;
            keep = true;
        }
    }
    if (!keep) {
        ::operator delete(r->mem, buffer_alignment);
        delete r;
    }
    unref();
}

void channel::unref()
{
    if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1)
        delete this;
}

} // namespace ivs::fuse
