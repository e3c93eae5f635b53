// A FUSE export served on the host's io thread: the thread that completes
// the commands also reads the requests from /dev/fuse, so a request costs
// no hop to another thread on its way in (fuse_export_options::workers 0).
#pragma once

#include <memory>

namespace boost::asio {
class io_context;
}

namespace ivs::fuse {
class fuse_export;
}

namespace ivs::app {

class export_loop {
public:
    // On the io thread: waits for the started export's descriptor to be
    // readable and pumps it, until cancel() or the connection's end.
    static std::shared_ptr<export_loop> start(boost::asio::io_context& io, fuse::fuse_export& e);
    // On the io thread: no pump() after this returns (before e.stop()).
    virtual void cancel() = 0;
    virtual ~export_loop() = default;
};

} // namespace ivs::app
