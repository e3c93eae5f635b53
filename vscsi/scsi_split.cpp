#include "vscsi/scsi_split.hpp"

#include <algorithm>
#include <limits>

namespace ivs::vscsi {

std::error_code split_rw(int target, int lun, std::uint64_t lba, std::uint32_t block_size, std::span<std::byte> in,
                         std::span<const std::byte> out, std::size_t max_transfer, std::vector<scsi_command>& cmds)
{
    cmds.clear();
    const auto einval = std::make_error_code(std::errc::invalid_argument);
    if (block_size == 0 || block_size > max_transfer)
        return einval;
    if (!in.empty() == !out.empty())
        return einval;
    const bool write = !out.empty();
    const std::size_t total = write ? out.size() : in.size();
    if (total % block_size != 0)
        return einval;
    const std::uint64_t blocks = total / block_size;
    if (blocks > std::numeric_limits<std::uint64_t>::max() - lba)
        return einval;
    const std::uint64_t per_cmd = std::min<std::uint64_t>(max_transfer / block_size, 0xffffffffULL);

    for (std::uint64_t done = 0; done < blocks;) {
        const auto n = static_cast<std::uint32_t>(std::min(per_cmd, blocks - done));
        scsi_command c;
        c.target = target;
        c.lun = lun;
        c.set_cdb(scsi::read_write(write, lba + done, n));
        const std::size_t off = static_cast<std::size_t>(done) * block_size;
        const std::size_t len = static_cast<std::size_t>(n) * block_size;
        if (write) {
            c.dir = vscsi_dir::write;
            c.data_out = out.subspan(off, len);
        } else {
            c.dir = vscsi_dir::read;
            c.data_in = in.subspan(off, len);
        }
        cmds.push_back(c);
        done += n;
    }
    return {};
}

} // namespace ivs::vscsi
