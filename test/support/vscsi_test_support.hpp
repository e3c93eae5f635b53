// Helpers for playing the daemon side of an embedded vscsi in tests.
#pragma once

#include "vscsi/embedded_vscsi.hpp"

#include <poll.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <mutex>
#include <vector>

namespace ivs::vscsi::test {

// True if fd polls readable right now (0 timeout).
inline bool readable(int fd, int timeout_ms = 0)
{
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN) != 0;
}

inline scsi_command cmd6(int target, int lun, std::uint8_t opcode)
{
    scsi_command c;
    c.target = target;
    c.lun = lun;
    c.cdb[0] = opcode;
    c.cdblen = 6;
    return c;
}

// Completions recorded by handlers (which run on the completing thread).
struct recorder {
    std::mutex m;
    std::vector<std::pair<int, scsi_completion>> got; // (id, completion)

    scsi_completion_handler handler(int id)
    {
        return [this, id](const scsi_completion& c) {
            std::lock_guard lk(m);
            got.emplace_back(id, c);
        };
    }
    std::size_t size()
    {
        std::lock_guard lk(m);
        return got.size();
    }
};

// Serves commands on the calling thread until `done()` holds with nothing
// waiting, or the deadline passes. Returns false on timeout.
inline bool serve(vscsi_device& dev, const std::function<void(const vscsi_i2t&)>& answer,
                  const std::function<bool()>& done, std::chrono::milliseconds limit = std::chrono::seconds(10))
{
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        if (readable(dev.readiness_fd(), 20)) {
            vscsi_i2t c;
            while (!dev.i2t(c))
                answer(c);
            continue;
        }
        if (done())
            return true;
    }
    return false;
}

} // namespace ivs::vscsi::test
