#include "vscsi/scsi_probe.hpp"

#include <algorithm>
#include <array>
#include <limits>

namespace ivs::vscsi {
namespace {

constexpr std::uint8_t sense_unit_attention = 0x06;

std::uint8_t u8(std::byte b) { return std::to_integer<std::uint8_t>(b); }

std::uint64_t get_be(std::span<const std::byte> p, std::size_t off, int n) {
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i)
        v = (v << 8) | u8(p[off + static_cast<std::size_t>(i)]);
    return v;
}

scsi_command make_cmd(int target, int lun, std::initializer_list<std::uint8_t> cdb) {
    scsi_command c;
    c.target = target;
    c.lun = lun;
    std::copy(cdb.begin(), cdb.end(), c.cdb.begin());
    c.cdblen = cdb.size();
    return c;
}

// Runs a data-in command, re-issuing it on RESET and UNIT ATTENTION as the
// midlayer's retry count allows. Returns the bytes received, or nullopt.
std::optional<std::size_t> run_in(const scsi_executor& exec, scsi_command cmd,
                                  std::span<std::byte> buf, int retries,
                                  scsi_completion* last = nullptr) {
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
        if (c.status == vscsi_status::sense && scsi::sense_key(c.sense) == sense_unit_attention)
            continue;
        return std::nullopt;
    }
    return std::nullopt;
}

const char* type_name(std::uint8_t type) {
    switch (type) {
    case 0x00: return "direct";
    case 0x01: return "sequential";
    case 0x02: return "printer";
    case 0x03: return "processor";
    case 0x04: return "worm";
    case 0x05: return "cdrom";
    case 0x06: return "scanner";
    case 0x07: return "optical";
    case 0x08: return "changer";
    case 0x09: return "communication";
    case 0x0d: return "enclosure services";
    case 0x0e: return "simplified direct";
    default: return "unknown";
    }
}

} // namespace

std::string scsi_visible(std::span<const std::byte> field) {
    auto blank = [](std::uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == 0 || c == 0xff; };
    std::size_t b = 0, e = field.size();
    while (b < e && blank(u8(field[b]))) ++b;
    while (e > b && blank(u8(field[e - 1]))) --e;
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

std::optional<inquiry_data> parse_inquiry(std::span<const std::byte> data) {
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

bool sd_drives(const inquiry_data& inq) noexcept {
    return inq.type == 0x00 || inq.type == 0x07 || inq.type == 0x0e;
}

std::string attach_line(const std::string& prefix, int target, int lun, const inquiry_data& inq) {
    const int ver = inq.version >= 3 ? 3 : inq.version;
    return prefix + " targ " + std::to_string(target) + " lun " + std::to_string(lun) + ": <" +
           inq.vendor + ", " + inq.product + ", " + inq.revision + "> SCSI" + std::to_string(ver) +
           " " + std::to_string(inq.type) + "/" + type_name(inq.type) + " " +
           (inq.removable ? "removable" : "fixed");
}

std::string sd_size_line(const std::string& name, const capacity& cap) {
    // sd(4): size in MB = blocks * block size / 2^20 (integer).
    // (q * 2^20 + r) * bs / 2^20 without overflow: q * bs + r * bs / 2^20.
    const std::uint64_t q = cap.block_count >> 20, r = cap.block_count & 0xfffff;
    const auto mb = static_cast<unsigned long long>(q * cap.block_size + ((r * cap.block_size) >> 20));
    return name + ": " + std::to_string(mb) + "MB, " + std::to_string(cap.block_size) +
           " bytes/sector, " + std::to_string(cap.block_count) + " sectors";
}

std::optional<inquiry_data> probe_inquiry(const scsi_executor& exec, int target, int lun,
                                          const probe_options& opt) {
    // SPC-4 §6.4.1: INQUIRY, standard data, allocation length 36.
    std::array<std::byte, 36> buf{};
    auto n = run_in(exec, make_cmd(target, lun, {0x12, 0, 0, 0, sizeof buf, 0}), buf,
                    opt.command_retries);
    if (!n)
        return std::nullopt;
    return parse_inquiry(std::span<const std::byte>(buf.data(), *n));
}

bool test_unit_ready(const scsi_executor& exec, int target, int lun, const probe_options& opt) {
    const scsi_command tur = make_cmd(target, lun, {0x00, 0, 0, 0, 0, 0});
    for (int attempt = 0; attempt < std::max(1, opt.tur_retries); ++attempt) {
        scsi_completion c = exec(tur);
        if (c.status == vscsi_status::done)
            return true;
        if (c.status == vscsi_status::reset)
            continue;
        if (c.status == vscsi_status::sense && scsi::sense_key(c.sense) == sense_unit_attention)
            continue;
        return false;  // NOT READY, ILLEGAL REQUEST, errors: ignored by the caller
    }
    return false;
}

std::optional<std::vector<int>> report_luns(const scsi_executor& exec, int target,
                                            const probe_options& opt) {
    // SPC-4 §6.33: REPORT LUNS, SELECT REPORT 0, allocation length bytes 6..9.
    std::vector<std::byte> buf(8 + 8 * 256);
    const auto len = static_cast<std::uint32_t>(buf.size());
    auto n = run_in(exec,
                    make_cmd(target, 0, {0xa0, 0, 0, 0, 0, 0, static_cast<std::uint8_t>(len >> 24),
                                         static_cast<std::uint8_t>(len >> 16),
                                         static_cast<std::uint8_t>(len >> 8),
                                         static_cast<std::uint8_t>(len), 0, 0}),
                    buf, opt.command_retries);
    if (!n || *n < 8)
        return std::nullopt;
    const std::span<const std::byte> data(buf.data(), *n);
    const std::size_t listed = static_cast<std::size_t>(get_be(data, 0, 4)) / 8;
    std::vector<int> luns;
    for (std::size_t i = 0; i < listed && 8 + 8 * i + 8 <= data.size(); ++i) {
        // Peripheral device addressing, bus 0: byte 0 is 0, byte 1 the LUN.
        if (u8(data[8 + 8 * i]) != 0)
            continue;
        luns.push_back(u8(data[8 + 8 * i + 1]));
    }
    return luns;
}

std::optional<capacity> read_capacity(const scsi_executor& exec, int target, int lun,
                                      std::uint8_t version, const probe_options& opt) {
    auto rc10 = [&]() -> std::optional<std::pair<std::uint64_t, std::uint32_t>> {
        // SBC-3 §5.15: READ CAPACITY(10), 8 bytes: last LBA, block length.
        std::array<std::byte, 8> buf{};
        auto n = run_in(exec, make_cmd(target, lun, {0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0}), buf,
                        opt.command_retries);
        if (!n || *n < 8)
            return std::nullopt;
        return std::pair{get_be(buf, 0, 4), static_cast<std::uint32_t>(get_be(buf, 4, 4))};
    };
    auto rc16 = [&]() -> std::optional<std::pair<std::uint64_t, std::uint32_t>> {
        // SBC-3 §5.16: SERVICE ACTION IN(16) / READ CAPACITY(16), 32 bytes.
        std::array<std::byte, 32> buf{};
        auto n = run_in(exec,
                        make_cmd(target, lun, {0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                               sizeof buf, 0, 0}),
                        buf, opt.command_retries);
        if (!n || *n < 12)
            return std::nullopt;
        return std::pair{get_be(buf, 0, 8), static_cast<std::uint32_t>(get_be(buf, 8, 4))};
    };

    std::optional<std::pair<std::uint64_t, std::uint32_t>> r;
    if (version >= 3) {
        r = rc16();
        if (!r)
            r = rc10();
    } else {
        r = rc10();
        if (r && r->first == 0xffffffffULL) {
            if (auto r16 = rc16())
                r = r16;
        }
    }
    if (!r || r->second == 0 || r->first == std::numeric_limits<std::uint64_t>::max())
        return std::nullopt;
    return capacity{r->second, r->first + 1};
}

} // namespace ivs::vscsi
