// The FUSE export's requests read on the io thread (app/export_loop.hpp).
#include "app/export_loop.hpp"

#if IVS_HAVE_FUSE
#include "fuse/fuse_export.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <fcntl.h>
#include <unistd.h>

namespace ivs::app {

namespace {

// Requests handled before other handlers on the io thread get their turn.
constexpr std::size_t batch = 64;

class loop_impl final : public export_loop, public std::enable_shared_from_this<loop_impl> {
public:
    loop_impl(boost::asio::io_context& io, fuse::fuse_export& e, int fd) : export_(e), fd_(io, fd) {}

    void wait()
    {
        // Each wait re-arms the descriptor (EPOLL_CTL_MOD), which reports a
        // descriptor that is readable already.
        fd_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                       [self = shared_from_this()](boost::system::error_code ec) {
                           if (!ec && !self->cancelled_)
                               self->serve();
                       });
    }

    void serve()
    {
        switch (export_.pump(batch)) {
        case fuse::fuse_export::pump_result::drained: return wait();
        case fuse::fuse_export::pump_result::more:
            boost::asio::post(fd_.get_executor(), [self = shared_from_this()] {
                if (!self->cancelled_)
                    self->serve();
            });
            return;
        case fuse::fuse_export::pump_result::ended: return; // unmounted or aborted: stop() follows
        }
    }

    void cancel() override
    {
        cancelled_ = true;
        boost::system::error_code ignored;
        fd_.close(ignored);
    }

private:
    fuse::fuse_export& export_;
    boost::asio::posix::stream_descriptor fd_;
    bool cancelled_ = false;
};

} // namespace

std::shared_ptr<export_loop> export_loop::start(boost::asio::io_context& io, fuse::fuse_export& e)
{
    // A descriptor of our own for Asio to register and close; it shares the
    // export's open file (non-blocking, read by pump()).
    const int fd = ::fcntl(e.loop_fd(), F_DUPFD_CLOEXEC, 3);
    if (fd < 0)
        return nullptr;
    auto l = std::make_shared<loop_impl>(io, e, fd);
    l->serve(); // what came before the wait (INIT), then wait
    return l;
}

} // namespace ivs::app
#endif
