// Data movement between the midlayer and the session. WRITE data is taken
// whole before the submit (R2Ts may ask for any offset, §11.8, while
// DATA_WRITE only moves forward); READ data is handed to DATA_READ as each
// Data-In lands (§11.7), never twice when a reissue sends it again. With
// the device's direct access (the embedded vscsi) both stay in the
// midlayer's own buffers: the command's context is the session's lease of
// them (iscsi/buffer_lease.hpp) and is withdrawn when the command is
// answered (bridge_complete.cpp).
#include "bridge/bridge_impl.hpp"

#include "vscsi/direct_access.hpp"

#include <algorithm>

namespace ivs::bridge {

using vscsi::vscsi_dir;

// ---- the lease ----

std::span<std::byte> command_ctx::data_in_destination(std::uint32_t offset, std::uint32_t length)
{
    // The midlayer's buffer while the command is live; then (empty) the
    // session lands it in `buffer`.
    if (!owner || !live || std::size_t{offset} + length > midlayer.size())
        return {};
    return midlayer.subspan(offset, length);
}

void command_ctx::data_in_landed(std::uint32_t offset, std::span<const std::byte> data)
{
    if (report_luns) {
        // How much of the buffer holds this command's data (in order).
        if (offset <= landed)
            landed = std::max<std::size_t>(landed, std::size_t{offset} + data.size());
        return;
    }
    if (owner)
        owner->on_data(*this, offset, data);
}

std::span<const std::byte> command_ctx::data_out()
{
    if (!midlayer_out.empty())
        return midlayer_out;
    return std::span<const std::byte>(buffer.data(), std::min(buffer.size(), io.datalen));
}

// ---- WRITE ----

bool bridge::impl::take_write_data(command_ctx& c)
{
    const std::size_t n = c.io.datalen;
    // The midlayer's own data when the device lends it, else a copy.
    const std::span<const std::byte> mid = direct ? direct->data_write_buffer(c.io.tag) : std::span<const std::byte>{};
    std::error_code ec;
    if (mid.size() >= n) {
        ec = direct->data_write_taken(c.io.tag, n);
        if (!ec)
            c.midlayer_out = mid.first(n);
    } else {
        ec = dev.data_write(c.io.tag, std::span<std::byte>(c.buffer.data(), n));
    }
    if (ec) {
        ++counters.device_errors;
        log_once(log_data, "bridge: VSCSI_DATA_WRITE failed: " + ec.message());
        return false;
    }
    counters.bytes_written += n;
    ++counters.data_writes;
    return true;
}

// ---- READ ----

void bridge::impl::lend_read_buffer(command_ctx& c, std::size_t len)
{
    const std::span<std::byte> mid = direct ? direct->data_read_buffer(c.io.tag) : std::span<std::byte>{};
    if (mid.size() >= len)
        c.midlayer = mid.first(len);
}

// Data-In as it lands, in offset order (the session checks every offset):
// DATA_READ takes the bytes from where they landed and nowhere else, so no
// buffer ever shows bytes this command did not receive. After a reissue the
// data comes again from offset 0: only bytes beyond those already handed
// over move (§6.3.5).
void bridge::impl::on_data(command_ctx& c, std::uint32_t offset, std::span<const std::byte> data)
{
    if (!c.live || c.data_failed)
        return;
    if (offset > c.delivered) {
        c.data_failed = true; // a gap: never filled from an old buffer
        log_once(log_data, "bridge: Data-In with a gap; the command ends with an error");
        return;
    }
    const std::size_t end = std::min<std::size_t>(std::size_t{offset} + data.size(), c.io.datalen);
    if (end <= c.delivered)
        return;
    const auto fresh = data.subspan(c.delivered - offset, end - c.delivered);
    // Placed straight into the midlayer's buffer (zero copy), or copied.
    const bool placed = !c.midlayer.empty() && fresh.data() == c.midlayer.data() + c.delivered;
    deliver(c, placed ? nullptr : fresh.data(), fresh.size());
}

// DATA_READ of n bytes: copied from `from`, or (from == nullptr) already
// placed in the midlayer's buffer and only accounted.
bool bridge::impl::deliver(command_ctx& c, const std::byte* from, std::size_t n)
{
    if (c.data_failed)
        return false;
    if (n == 0)
        return true;
    const auto ec =
        from ? dev.data_read(c.io.tag, std::span<const std::byte>(from, n)) : direct->data_read_placed(c.io.tag, n);
    if (ec) {
        c.data_failed = true;
        ++counters.device_errors;
        log_once(log_data, "bridge: VSCSI_DATA_READ failed: " + ec.message());
        return false;
    }
    c.delivered += n;
    counters.bytes_read += n;
    ++counters.data_reads;
    return true;
}

// At the status: REPORT LUNS is rewritten from what landed in the bridge's
// buffer; a READ has handed over everything in on_data(), and a status
// counting other bytes than those is an error, not a reason to show what
// the buffer held before.
bool bridge::impl::complete_data(command_ctx& c, const iscsi::scsi_result& res)
{
    if (c.report_luns) {
        const std::size_t got = std::min<std::size_t>({res.data_in_bytes, c.landed, report_luns_room});
        std::vector<std::byte> out;
        map.rewrite_report_luns(c.io.target, std::span<const std::byte>(c.buffer.data(), got), c.io.datalen, out);
        return deliver(c, out.data(), out.size());
    }
    if (c.io.direction != vscsi_dir::read)
        return true;
    return !c.data_failed && std::min<std::size_t>(res.data_in_bytes, c.io.datalen) == c.delivered;
}

} // namespace ivs::bridge
