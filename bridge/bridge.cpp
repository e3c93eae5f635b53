// The bridge's facade, the device's readiness fd and the pooled command
// contexts. The rest of bridge::impl: see bridge_impl.hpp.
#include "bridge/bridge_impl.hpp"

#include "vscsi/direct_access.hpp"

#include <boost/asio/io_context.hpp>

#include <unistd.h>

namespace ivs::bridge {

bridge::impl::impl(boost::asio::io_context& io_, vscsi::vscsi_device& dev_, bridge_options opt_)
    : io(io_), dev(dev_), direct(dev_.direct()), opt(std::move(opt_)), map(opt.geometry), ready(io_), rearm(io_)
{
    if (!opt.clock)
        opt.clock = iscsi::make_steady_clock(io);
    // A duplicate of the readiness fd: the descriptor object closes its own.
    const int fd = ::dup(dev.readiness_fd());
    if (fd >= 0)
        ready.assign(fd);
    else
        log_once(log_i2t, "bridge: cannot duplicate the vscsi readiness fd");
}

void bridge::impl::log_once(unsigned kind, const std::string& what)
{
    if (logged & kind)
        return;
    logged |= kind;
    opt.log.warning(what);
}

// ---- readiness ----

void bridge::impl::arm()
{
    if (!running || stopped || !ready.is_open())
        return;
    std::weak_ptr<int> token = alive;
    ready.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                     [this, token](const boost::system::error_code& ec) {
                         if (token.expired() || ec == boost::asio::error::operation_aborted)
                             return;
                         drain();
                     });
}

// The readiness fd fired: dequeue everything, then wait again.
void bridge::impl::drain()
{
    if (stopped)
        return;
    if (!dequeue_all()) {
        // Try again a little later rather than spin on the fd.
        std::weak_ptr<int> token = alive;
        rearm.expires_after(std::chrono::milliseconds(10));
        rearm.async_wait([this, token](const boost::system::error_code& e) {
            if (!token.expired() && !e)
                arm();
        });
        return;
    }
    arm();
}

// ---- contexts ----

command_ctx* bridge::impl::acquire()
{
    if (free_list.empty()) {
        pool.push_back(std::make_unique<command_ctx>(opt.clock));
        free_list.push_back(pool.back().get());
    }
    command_ctx* c = free_list.back();
    free_list.pop_back();
    c->owner = this;
    ++c->generation;
    c->midlayer = {};
    c->midlayer_out = {};
    c->session = nullptr;
    c->delivered = 0;
    c->landed = 0;
    c->live = true;
    c->in_session = false;
    c->waiting_retry = false;
    c->report_luns = false;
    c->data_failed = false;
    c->next_delay = opt.retry_delay;
    c->waited = std::chrono::milliseconds(0);
    return c;
}

void bridge::impl::release(command_ctx& c)
{
    c.session = nullptr;
    free_list.push_back(&c);
}

// ---- the facade ----

bridge::bridge(boost::asio::io_context& io, vscsi::vscsi_device& device, bridge_options options)
    : impl_(std::make_unique<impl>(io, device, std::move(options)))
{}

bridge::~bridge()
{
    shutdown();
    // Contexts a session still owes a completion outlive us; it frees them.
    for (auto& p : impl_->pool) {
        p->timer.cancel();
        if (p->in_session) {
            p->owner = nullptr;
            p.release();
        }
    }
}

void bridge::start()
{
    if (impl_->running || impl_->stopped)
        return;
    impl_->running = true;
    impl_->arm();
}

void bridge::shutdown()
{
    auto& d = *impl_;
    if (d.stopped)
        return;
    d.stopped = true;
    boost::system::error_code ignored;
    d.ready.cancel(ignored);
    d.rearm.cancel();
    d.complete_all(nullptr, vscsi::vscsi_status::reset);
}

const bridge_counters& bridge::counters() const noexcept { return impl_->counters; }
std::size_t bridge::outstanding() const noexcept { return impl_->live.size(); }
const lun_map& bridge::map() const noexcept { return impl_->map; }

} // namespace ivs::bridge
