#include "vscsi/scsi_probe.hpp"

#include "scsi/capacity.hpp"
#include "scsi/inquiry.hpp"
#include "scsi/report_luns.hpp"
#include "scsi/sense.hpp"

#include <algorithm>
#include <array>
#include <limits>

namespace ivs::vscsi {
namespace {

std::uint8_t u8(std::byte b) { return std::to_integer<std::uint8_t>(b); }

scsi_command make_cmd(int target, int lun, const scsi::cdb& cdb)
{
    scsi_command c;
    c.target = target;
    c.lun = lun;
    c.set_cdb(cdb);
    return c;
}

// Runs a data-in command, re-issuing it on RESET and UNIT ATTENTION as the
// midlayer's retry count allows. Returns the bytes received, or nullopt.
std::optional<std::size_t> run_in(const scsi_executor& exec, scsi_command cmd, std::span<std::byte> buf, int retries,
                                  scsi_completion* last = nullptr)
{
    cmd.dir = vscsi_dir::read;
    cmd.data_in = buf;
    for (int attempt = 0; attempt <= retries; ++attempt) {
        std::fill(buf.begin(), buf.end(), std::byte{0});
        scsi_completion c = exec(cmd);
        if (last)
            *last = c;
        if (c.status == vscsi_status::done)
            return buf.size() - std::min(c.residual, buf.size());
        if (c.status == vscsi_status::reset)
            continue;
        if (c.status == vscsi_status::sense && scsi::sense_key(c.sense) == scsi::key::unit_attention)
            continue;
        return std::nullopt;
    }
    return std::nullopt;
}

const char* type_name(std::uint8_t type)
{
    namespace dt = scsi::device_type;
    switch (type) {
    case dt::direct_access: return "direct";
    case dt::sequential_access: return "sequential";
    case dt::printer: return "printer";
    case dt::processor: return "processor";
    case dt::write_once: return "worm";
    case dt::cd_dvd: return "cdrom";
    case dt::scanner: return "scanner";
    case dt::optical_memory: return "optical";
    case dt::medium_changer: return "changer";
    case dt::communications: return "communication";
    case dt::enclosure_services: return "enclosure services";
    case dt::simplified_direct_access: return "simplified direct";
    default: return "unknown";
    }
}

} // namespace

std::string scsi_visible(std::span<const std::byte> field)
{
    auto blank = [](std::uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == 0 || c == 0xff; };
    std::size_t b = 0, e = field.size();
    while (b < e && blank(u8(field[b])))
        ++b;
    while (e > b && blank(u8(field[e - 1])))
        --e;
    std::string s;
    bool last_blank = false;
    for (std::size_t i = b; i < e; ++i) {
        const std::uint8_t c = u8(field[i]);
        if (blank(c)) {
            if (!last_blank)
                s += ' ';
            last_blank = true;
            continue;
        }
        last_blank = false;
        if (c == '\\') {
            s += "\\\\";
        } else if (c < 0x20 || c >= 0x80) {
            s += '\\';
            s += static_cast<char>('0' + ((c >> 6) & 7));
            s += static_cast<char>('0' + ((c >> 3) & 7));
            s += static_cast<char>('0' + (c & 7));
        } else {
            s += static_cast<char>(c);
        }
    }
    return s;
}

std::optional<inquiry_data> parse_inquiry(std::span<const std::byte> data)
{
    if (data.size() < 5)
        return std::nullopt;
    inquiry_data inq;
    inq.qualifier = static_cast<std::uint8_t>(u8(data[0]) >> 5);
    inq.type = static_cast<std::uint8_t>(u8(data[0]) & 0x1f);
    inq.removable = (u8(data[1]) & 0x80) != 0;
    inq.version = static_cast<std::uint8_t>(u8(data[2]) & 0x07);
    auto field = [&](std::size_t off, std::size_t len) {
        if (data.size() <= off)
            return std::string{};
        return scsi_visible(data.subspan(off, std::min(len, data.size() - off)));
    };
    inq.vendor = field(8, 8);
    inq.product = field(16, 16);
    inq.revision = field(32, 4);
    return inq;
}

bool sd_drives(const inquiry_data& inq) noexcept
{
    namespace dt = scsi::device_type;
    return inq.type == dt::direct_access || inq.type == dt::optical_memory || inq.type == dt::simplified_direct_access;
}

std::string attach_line(const std::string& prefix, int target, int lun, const inquiry_data& inq)
{
    const int ver = inq.version >= 3 ? 3 : inq.version;
    return prefix + " targ " + std::to_string(target) + " lun " + std::to_string(lun) + ": <" + inq.vendor + ", " +
           inq.product + ", " + inq.revision + "> SCSI" + std::to_string(ver) + " " + std::to_string(inq.type) + "/" +
           type_name(inq.type) + " " + (inq.removable ? "removable" : "fixed");
}

std::string sd_size_line(const std::string& name, const capacity& cap)
{
    // sd(4): size in MB = blocks * block size / 2^20 (integer).
    // (q * 2^20 + r) * bs / 2^20 without overflow: q * bs + r * bs / 2^20.
    const std::uint64_t q = cap.block_count >> 20, r = cap.block_count & 0xfffff;
    const auto mb = static_cast<unsigned long long>(q * cap.block_size + ((r * cap.block_size) >> 20));
    return name + ": " + std::to_string(mb) + "MB, " + std::to_string(cap.block_size) + " bytes/sector, " +
           std::to_string(cap.block_count) + " sectors";
}

std::optional<inquiry_data> probe_inquiry(const scsi_executor& exec, int target, int lun, const probe_options& opt)
{
    // INQUIRY, standard data, allocation length 36.
    std::array<std::byte, 36> buf{};
    auto n = run_in(exec, make_cmd(target, lun, scsi::inquiry(sizeof buf)), buf, opt.command_retries);
    if (!n)
        return std::nullopt;
    return parse_inquiry(std::span<const std::byte>(buf.data(), *n));
}

bool test_unit_ready(const scsi_executor& exec, int target, int lun, const probe_options& opt)
{
    const scsi_command tur = make_cmd(target, lun, scsi::test_unit_ready());
    for (int attempt = 0; attempt < std::max(1, opt.tur_retries); ++attempt) {
        scsi_completion c = exec(tur);
        if (c.status == vscsi_status::done)
            return true;
        if (c.status == vscsi_status::reset)
            continue;
        if (c.status == vscsi_status::sense && scsi::sense_key(c.sense) == scsi::key::unit_attention)
            continue;
        return false; // NOT READY, ILLEGAL REQUEST, errors: ignored by the caller
    }
    return false;
}

std::optional<std::vector<int>> report_luns(const scsi_executor& exec, int target, const probe_options& opt)
{
    std::vector<std::byte> buf(8 + 8 * 256);
    auto n = run_in(exec, make_cmd(target, 0, scsi::report_luns(static_cast<std::uint32_t>(buf.size()))), buf,
                    opt.command_retries);
    if (!n)
        return std::nullopt;
    auto entries = scsi::report_luns_entries(std::span<const std::byte>(buf.data(), *n));
    if (!entries)
        return std::nullopt;
    std::vector<int> luns;
    for (std::uint64_t e : *entries) {
        // Peripheral device addressing, bus 0: byte 0 is 0, byte 1 the LUN.
        if ((e >> 56) != 0)
            continue;
        luns.push_back(static_cast<int>((e >> 48) & 0xff));
    }
    return luns;
}

std::optional<capacity> read_capacity(const scsi_executor& exec, int target, int lun, std::uint8_t version,
                                      const probe_options& opt)
{
    auto rc10 = [&]() -> std::optional<scsi::read_capacity_data> {
        std::array<std::byte, 8> buf{};
        auto n = run_in(exec, make_cmd(target, lun, scsi::read_capacity_10()), buf, opt.command_retries);
        if (!n)
            return std::nullopt;
        return scsi::parse_read_capacity_10(std::span<const std::byte>(buf.data(), *n));
    };
    auto rc16 = [&]() -> std::optional<scsi::read_capacity_data> {
        std::array<std::byte, 32> buf{};
        auto n = run_in(exec, make_cmd(target, lun, scsi::read_capacity_16(sizeof buf)), buf, opt.command_retries);
        if (!n)
            return std::nullopt;
        return scsi::parse_read_capacity_16(std::span<const std::byte>(buf.data(), *n));
    };

    std::optional<scsi::read_capacity_data> r;
    if (version >= 3) {
        r = rc16();
        if (!r)
            r = rc10();
    } else {
        r = rc10();
        if (r && r->last_lba == 0xffffffffULL) {
            if (auto r16 = rc16())
                r = r16;
        }
    }
    if (!r || r->block_length == 0 || r->last_lba == std::numeric_limits<std::uint64_t>::max())
        return std::nullopt;
    return capacity{r->block_length, r->last_lba + 1};
}

} // namespace ivs::vscsi
