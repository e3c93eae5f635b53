#include "vscsi/scsi_split.hpp"

#include <algorithm>
#include <limits>

namespace ivs::vscsi {
namespace {

void put_be(std::uint8_t* p, std::uint64_t v, int n) {
    for (int i = n - 1; i >= 0; --i) {
        p[i] = static_cast<std::uint8_t>(v & 0xff);
        v >>= 8;
    }
}

} // namespace

void fill_rw_cdb(scsi_command& cmd, bool write, std::uint64_t lba, std::uint32_t blocks) {
    cmd.cdb = {};
    const bool fits10 = blocks <= 0xffff && lba <= 0xffffffffULL &&
                        lba + blocks <= 0x100000000ULL;
    if (fits10) {
        // SBC: READ(10)/WRITE(10): LBA bytes 2..5, transfer length bytes 7..8.
        cmd.cdb[0] = write ? scsi_write_10 : scsi_read_10;
        put_be(&cmd.cdb[2], lba, 4);
        put_be(&cmd.cdb[7], blocks, 2);
        cmd.cdblen = 10;
    } else {
        // READ(16)/WRITE(16): LBA bytes 2..9, transfer length bytes 10..13.
        cmd.cdb[0] = write ? scsi_write_16 : scsi_read_16;
        put_be(&cmd.cdb[2], lba, 8);
        put_be(&cmd.cdb[10], blocks, 4);
        cmd.cdblen = 16;
    }
}

std::error_code split_rw(int target, int lun, std::uint64_t lba, std::uint32_t block_size,
                         std::span<std::byte> in, std::span<const std::byte> out,
                         std::size_t max_transfer, std::vector<scsi_command>& cmds) {
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
        fill_rw_cdb(c, write, lba + done, n);
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
