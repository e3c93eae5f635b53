// In-memory disks served through the embedded vscsi's daemon side.
#include "test/support/ram_disk_daemon.hpp"

#include "scsi/inquiry.hpp"
#include "scsi/opcode.hpp"
#include "scsi/sense.hpp"
#include "test/support/vscsi_test_support.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace ivs::vscsi::test {

namespace {

std::uint64_t load_be(const std::uint8_t* p, int n)
{
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i)
        v = (v << 8) | p[i];
    return v;
}

void store_be(std::byte* p, std::uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; --i, v >>= 8)
        p[i] = static_cast<std::byte>(v & 0xff);
}

using scsi::make_fixed_sense;
namespace key = scsi::key;
namespace asc = scsi::asc;
constexpr auto illegal_opcode = make_fixed_sense(key::illegal_request, asc::invalid_command_operation_code, 0);
constexpr auto lba_out_of_range = make_fixed_sense(key::illegal_request, asc::lba_out_of_range, 0);
constexpr auto invalid_field = make_fixed_sense(key::illegal_request, asc::invalid_field_in_cdb, 0);
constexpr auto lun_not_supported = make_fixed_sense(key::illegal_request, asc::logical_unit_not_supported, 0);
constexpr auto unrecovered_read = make_fixed_sense(key::medium_error, asc::unrecovered_read_error, 0);

} // namespace

ram_disk_daemon::ram_disk_daemon(embedded_vscsi& dev, const std::vector<ram_lun>& luns)
{
    for (const auto& l : luns) {
        disk d;
        d.geo = l;
        d.data.resize(static_cast<std::size_t>(l.block_count * l.block_size));
        disks_.emplace(std::pair{l.target, l.lun}, std::move(d));
    }
    if (auto ec = dev.open(h_))
        throw std::runtime_error("ram_disk_daemon: open: " + ec.message());
    thread_ = std::thread([this] { run(); });
}

ram_disk_daemon::~ram_disk_daemon()
{
    stop_ = true;
    thread_.join();
    h_.reset(); // last close: anything still queued completes with RESET
}

void ram_disk_daemon::request_probe(int target, int lun)
{
    std::lock_guard lk(m_);
    probes_.emplace_back(target, lun);
}

std::vector<std::byte> ram_disk_daemon::contents(int target, int lun)
{
    std::lock_guard lk(m_);
    auto* d = find(target, lun);
    return d ? d->data : std::vector<std::byte>{};
}

void ram_disk_daemon::fill(int target, int lun, const std::vector<std::byte>& bytes)
{
    std::lock_guard lk(m_);
    if (auto* d = find(target, lun))
        std::copy_n(bytes.begin(), std::min(bytes.size(), d->data.size()), d->data.begin());
}

void ram_disk_daemon::medium_error(int target, int lun, std::uint64_t first, std::uint64_t last)
{
    std::lock_guard lk(m_);
    if (auto* d = find(target, lun)) {
        d->has_bad = true;
        d->bad_first = first;
        d->bad_last = last;
    }
}

ram_disk_daemon::disk* ram_disk_daemon::find(int target, int lun)
{
    auto it = disks_.find({target, lun});
    return it == disks_.end() ? nullptr : &it->second;
}

void ram_disk_daemon::run()
{
    while (!stop_) {
        std::vector<std::pair<int, int>> probes;
        {
            std::lock_guard lk(m_);
            probes.swap(probes_);
        }
        for (auto [t, l] : probes)
            h_->request_probe(t, l);
        if (!hold_ && !parked_.empty()) {
            for (const auto& c : parked_)
                execute(c);
            parked_.clear();
            parked_count_ = 0;
        }
        if (!readable(h_->readiness_fd(), 20))
            continue;
        vscsi_i2t c;
        while (!h_->i2t(c)) {
            const std::uint8_t op = c.cmd[0];
            const bool rw = op == scsi::op::read_10 || op == scsi::op::write_10 || op == scsi::op::read_16 ||
                            op == scsi::op::write_16;
            if (rw && hold_) {
                parked_.push_back(c);
                ++parked_count_;
            } else {
                execute(c);
            }
        }
    }
}

void ram_disk_daemon::execute(const vscsi_i2t& c)
{
    const std::uint8_t op = c.cmd[0];
    std::lock_guard lk(m_);
    disk* d = find(c.target, c.lun);
    if (op == scsi::op::inquiry) { // SPC-4 §6.6
        if (c.cmd[1] & 0x01) {
            h_->t2i(c.tag, vscsi_status::sense, invalid_field);
            return;
        }
        std::vector<std::byte> inq(36, std::byte{' '});
        inq[0] = std::byte{d ? scsi::device_type::direct_access : scsi::no_logical_unit};
        inq[1] = std::byte{0};
        inq[2] = std::byte{5};
        inq[3] = std::byte{2};
        inq[4] = std::byte{31};
        inq[5] = inq[6] = inq[7] = std::byte{0};
        std::memcpy(inq.data() + 8, "IVS", 3);
        std::memcpy(inq.data() + 16, "RAMDISK", 7);
        std::memcpy(inq.data() + 32, "0001", 4);
        h_->data_read(c.tag, std::span<const std::byte>(inq.data(), std::min(inq.size(), c.datalen)));
        h_->t2i(c.tag, vscsi_status::done);
        return;
    }
    if (d == nullptr) {
        h_->t2i(c.tag, vscsi_status::sense, lun_not_supported);
        return;
    }
    const std::uint64_t bs = d->geo.block_size;
    switch (op) {
    case scsi::op::test_unit_ready: h_->t2i(c.tag, vscsi_status::done); return;
    case scsi::op::read_capacity_10: {
        std::byte b[8];
        store_be(b, std::min<std::uint64_t>(d->geo.block_count - 1, 0xffffffff), 4);
        store_be(b + 4, bs, 4);
        h_->data_read(c.tag, std::span<const std::byte>(b, std::min<std::size_t>(8, c.datalen)));
        h_->t2i(c.tag, vscsi_status::done);
        return;
    }
    case scsi::op::service_action_in_16: {
        if ((c.cmd[1] & 0x1f) != scsi::op::sa_read_capacity_16)
            break;
        std::byte b[32]{};
        store_be(b, d->geo.block_count - 1, 8);
        store_be(b + 8, bs, 4);
        h_->data_read(c.tag, std::span<const std::byte>(b, std::min<std::size_t>(32, c.datalen)));
        h_->t2i(c.tag, vscsi_status::done);
        return;
    }
    case scsi::op::synchronize_cache_10:
        ++syncs_;
        if (sync_supported_)
            h_->t2i(c.tag, vscsi_status::done);
        else
            h_->t2i(c.tag, vscsi_status::sense, illegal_opcode);
        return;
    case scsi::op::read_10:
    case scsi::op::write_10:
    case scsi::op::read_16:
    case scsi::op::write_16: {
        ++rws_;
        const bool ten = op == scsi::op::read_10 || op == scsi::op::write_10;
        const bool write = op == scsi::op::write_10 || op == scsi::op::write_16;
        const std::uint64_t lba = ten ? load_be(&c.cmd[2], 4) : load_be(&c.cmd[2], 8);
        const std::uint64_t blocks = ten ? load_be(&c.cmd[7], 2) : load_be(&c.cmd[10], 4);
        if (int r = resets_.load(); r > 0 && resets_.compare_exchange_strong(r, r - 1)) {
            h_->t2i(c.tag, vscsi_status::reset);
            return;
        }
        if (int r = senses_.load(); r > 0 && senses_.compare_exchange_strong(r, r - 1)) {
            h_->t2i(c.tag, vscsi_status::sense, next_sense_); // m_ is held
            return;
        }
        if (lba + blocks > d->geo.block_count || blocks * bs != c.datalen) {
            h_->t2i(c.tag, vscsi_status::sense, lba_out_of_range);
            return;
        }
        if (!write && d->has_bad && blocks != 0 && lba <= d->bad_last && d->bad_first <= lba + blocks - 1) {
            h_->t2i(c.tag, vscsi_status::sense, unrecovered_read);
            return;
        }
        std::byte* p = d->data.data() + lba * bs;
        const auto err = write ? h_->data_write(c.tag, {p, c.datalen}) : h_->data_read(c.tag, {p, c.datalen});
        h_->t2i(c.tag, err ? vscsi_status::err : vscsi_status::done);
        return;
    }
    default: break;
    }
    h_->t2i(c.tag, vscsi_status::sense, illegal_opcode);
}

} // namespace ivs::vscsi::test
