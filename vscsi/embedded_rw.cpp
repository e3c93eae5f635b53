// Block READ/WRITE through the embedded vscsi, split by the maximum transfer.
#include "vscsi/embedded_vscsi.hpp"
#include "vscsi/scsi_split.hpp"

#include <future>
#include <limits>
#include <mutex>

namespace ivs::vscsi {
namespace {

// Gathers the chunks' completions into one.
struct rw_join {
    std::mutex m;
    std::size_t remaining = 0;
    std::size_t first_failed = std::numeric_limits<std::size_t>::max();
    scsi_completion result;
    scsi_completion_handler done;

    void complete(std::size_t index, const scsi_completion& c)
    {
        scsi_completion final_result;
        {
            std::lock_guard lk(m);
            result.residual += c.residual;
            if (c.status != vscsi_status::done && index < first_failed) {
                first_failed = index;
                result.status = c.status;
                result.sense = c.sense;
            }
            if (--remaining != 0)
                return;
            final_result = result;
        }
        if (done)
            done(final_result);
    }
};

} // namespace

static std::error_code submit_rw(embedded_vscsi& dev, int target, int lun, std::uint64_t lba, std::uint32_t block_size,
                                 std::span<std::byte> in, std::span<const std::byte> out, scsi_completion_handler done)
{
    std::vector<scsi_command> cmds;
    if (auto ec = split_rw(target, lun, lba, block_size, in, out, dev.config().max_transfer, cmds))
        return ec;
    // sd's retries for each piece (vscsi/retry_rules.hpp decides when).
    for (auto& c : cmds)
        c.retries = dev.config().retry.retries;
    if (cmds.empty()) {
        if (done)
            done(scsi_completion{vscsi_status::done, {}, 0});
        return {};
    }
    if (cmds.size() == 1) // one command's completion is the request's: no join to allocate
        return dev.submit(cmds.front(), std::move(done));
    auto join = std::make_shared<rw_join>();
    join->remaining = cmds.size();
    join->result.status = vscsi_status::done;
    join->done = std::move(done);
    for (std::size_t i = 0; i < cmds.size(); ++i) {
        auto ec = dev.submit(cmds[i], [join, i](const scsi_completion& c) { join->complete(i, c); });
        if (ec && i == 0)
            return ec; // nothing submitted: the caller's handler is not called
        if (ec) {
            // The device closed under us: the rest fail without being sent.
            for (std::size_t j = i; j < cmds.size(); ++j)
                join->complete(j, scsi_completion{vscsi_status::err, {}, cmds[j].datalen()});
            break;
        }
    }
    return {};
}

std::error_code embedded_vscsi::submit_read(int target, int lun, std::uint64_t lba, std::uint32_t block_size,
                                            std::span<std::byte> buf, scsi_completion_handler done)
{
    if (buf.empty())
        return std::make_error_code(std::errc::invalid_argument);
    return submit_rw(*this, target, lun, lba, block_size, buf, {}, std::move(done));
}

std::error_code embedded_vscsi::submit_write(int target, int lun, std::uint64_t lba, std::uint32_t block_size,
                                             std::span<const std::byte> buf, scsi_completion_handler done)
{
    if (buf.empty())
        return std::make_error_code(std::errc::invalid_argument);
    return submit_rw(*this, target, lun, lba, block_size, {}, buf, std::move(done));
}

namespace {
template <class Submit>
std::error_code wait_for(Submit&& submit, scsi_completion& out)
{
    auto result = std::make_shared<std::promise<scsi_completion>>();
    auto fut = result->get_future();
    if (auto ec = submit([result](const scsi_completion& c) { result->set_value(c); }))
        return ec;
    out = fut.get();
    return {};
}
} // namespace

std::error_code embedded_vscsi::read(int target, int lun, std::uint64_t lba, std::uint32_t block_size,
                                     std::span<std::byte> buf, scsi_completion& out)
{
    return wait_for(
        [&](scsi_completion_handler h) { return submit_read(target, lun, lba, block_size, buf, std::move(h)); }, out);
}

std::error_code embedded_vscsi::write(int target, int lun, std::uint64_t lba, std::uint32_t block_size,
                                      std::span<const std::byte> buf, scsi_completion& out)
{
    return wait_for(
        [&](scsi_completion_handler h) { return submit_write(target, lun, lba, block_size, buf, std::move(h)); }, out);
}

} // namespace ivs::vscsi
