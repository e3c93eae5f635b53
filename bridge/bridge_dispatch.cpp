// I2T: each dequeued command onto the iSCSI session that owns its slot, as
// a SCSI Command (RFC 7143 §11.3).
#include "bridge/bridge_impl.hpp"

#include "scsi/cdb.hpp"
#include "scsi/opcode.hpp"

#include <algorithm>
#include <array>

namespace ivs::bridge {

using vscsi::vscsi_dir;
using vscsi::vscsi_status;

// I2T until EAGAIN; false after a device error. Never nested.
bool bridge::impl::dequeue_all()
{
    if (dequeuing)
        return true;
    dequeuing = true;
    bool ok = true;
    while (!stopped) {
        vscsi::vscsi_i2t in;
        const auto ec = dev.i2t(in);
        if (ec == std::errc::resource_unavailable_try_again)
            break;
        if (ec) {
            ++counters.device_errors;
            log_once(log_i2t, "bridge: VSCSI_I2T failed: " + ec.message());
            ok = false;
            break;
        }
        ++counters.commands;
        counters.commands_read += in.direction == vscsi_dir::read ? 1 : 0;
        counters.commands_write += in.direction == vscsi_dir::write ? 1 : 0;
        dispatch(in);
    }
    dequeuing = false;
    return ok;
}

void bridge::impl::dispatch(const vscsi::vscsi_i2t& in)
{
    if (live.find(in.tag)) {
        // A tag that is already live cannot be answered separately.
        ++counters.device_errors;
        log_once(log_tag, "bridge: VSCSI_I2T returned a live tag again");
        return;
    }
    command_ctx& c = *acquire();
    c.io = in;
    live.insert(in.tag, &c);
    counters.max_outstanding = std::max<std::uint64_t>(counters.max_outstanding, live.size());

    const bool dir_ok =
        in.direction == vscsi_dir::none || in.direction == vscsi_dir::read || in.direction == vscsi_dir::write;
    if (!dir_ok || in.cmdlen == 0 || in.cmdlen > vscsi::vscsi_max_cdb || in.datalen > opt.max_transfer ||
        (in.direction == vscsi_dir::none && in.datalen != 0)) {
        log_once(log_input, "bridge: malformed command from vscsi (direction, CDB or length)");
        return finish(c, vscsi_status::err);
    }
    const std::uint8_t opcode = in.cmd[0];
    c.report_luns = opcode == scsi::op::report_luns;
    auto m = c.report_luns ? map.first_on_target(in.target) : map.at(in.target, in.lun);
    if (!m)
        return answer_unmapped(c);
    c.session = m->owner;
    build_request(c, m->remote_lun);
    if (in.direction == vscsi_dir::write && in.datalen > 0 && !take_write_data(c))
        return finish(c, vscsi_status::err);
    submit(c);
}

void bridge::impl::build_request(command_ctx& c, std::uint64_t remote_lun)
{
    auto& r = c.req;
    r.lun = remote_lun;
    std::array<std::byte, vscsi::vscsi_max_cdb> cdb{};
    for (std::size_t i = 0; i < c.io.cmdlen; ++i)
        cdb[i] = std::byte{c.io.cmd[i]};
    std::size_t len = c.io.datalen;
    if (c.report_luns) {
        // Ask for the whole list; the midlayer's allocation length is
        // applied to the rewritten answer (SPC-4 §6.33).
        len = report_luns_room;
        scsi::set_report_luns_allocation_length(std::span<std::byte>(cdb.data(), c.io.cmdlen), report_luns_room);
    }
    r.set_cdb(std::span<const std::byte>(cdb.data(), c.io.cmdlen));
    r.expected_length = static_cast<std::uint32_t>(len);
    if (c.buffer.size() < len)
        c.buffer.resize(len);
    r.read_buffer = {};
    r.write_buffer = {};
    r.lease = nullptr;
    c.midlayer = {};
    const bool reads = c.report_luns || c.io.direction == vscsi_dir::read;
    if (len == 0) {
        r.direction = iscsi::data_direction::none;
    } else if (reads) {
        // Data-In lands in the buffer, or where the lease puts it (REPORT
        // LUNS is rewritten, so only plain READs go straight to the
        // midlayer); the lease hears of every segment (bridge_data.cpp).
        r.direction = iscsi::data_direction::read;
        r.read_buffer = std::span<std::byte>(c.buffer.data(), len);
        r.lease = &c;
        if (!c.report_luns)
            lend_read_buffer(c, len);
    } else {
        // Sent from the lease: the midlayer's data or the buffer.
        r.direction = iscsi::data_direction::write;
        r.lease = &c;
    }
}

void bridge::impl::submit(command_ctx& c)
{
    c.in_session = true;
    ++counters.submitted;
    command_ctx* p = &c;
    c.session->submit(c.req, [p](const iscsi::scsi_result& res) {
        if (!p->owner) {
            delete p; // the bridge is gone
            return;
        }
        p->owner->on_complete(*p, res);
    });
}

} // namespace ivs::bridge
