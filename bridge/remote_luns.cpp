#include "bridge/remote_luns.hpp"

#include "bridge/lun_map.hpp"
#include "bridge/sense.hpp"
#include "iscsi/session.hpp"

#include <memory>

namespace ivs::bridge {

namespace {

constexpr std::uint32_t allocation_length = 8 + 8 * 1024; // header + 1024 LUNs
constexpr int max_attempts = 5;

struct report_luns_op : std::enable_shared_from_this<report_luns_op> {
    iscsi::session& session;
    std::function<void(std::error_code, std::vector<std::uint64_t>)> done;
    std::vector<std::byte> buffer = std::vector<std::byte>(allocation_length);
    int attempt = 0;

    report_luns_op(iscsi::session& s, std::function<void(std::error_code, std::vector<std::uint64_t>)> d)
        : session(s), done(std::move(d))
    {
    }

    void send()
    {
        iscsi::scsi_request r;
        r.lun = 0; // REPORT LUNS is addressed to LUN 0 (SPC-4 §6.33)
        std::byte cdb[12] = {std::byte{0xa0}};
        cdb[6] = std::byte(allocation_length >> 24);
        cdb[7] = std::byte(allocation_length >> 16);
        cdb[8] = std::byte(allocation_length >> 8);
        cdb[9] = std::byte(allocation_length);
        r.set_cdb(cdb);
        r.direction = iscsi::data_direction::read;
        r.read_buffer = buffer;
        r.expected_length = allocation_length;
        session.submit(r, [self = shared_from_this()](const iscsi::scsi_result& res) { self->on_result(res); });
    }

    void on_result(const iscsi::scsi_result& res)
    {
        if (res.error)
            return done(res.error, {});
        const bool unit_attention = res.status == 0x02 && sense_key_of(res.sense_data()) == 0x06; // CHECK CONDITION
        if (unit_attention && ++attempt < max_attempts)
            return send();
        if (!res.good())
            return done(make_error_code(std::errc::io_error), {});
        const std::size_t have = std::min<std::size_t>(res.data_in_bytes, buffer.size());
        if (have < 8)
            return done(make_error_code(std::errc::io_error), {});
        const std::size_t list_length = (std::size_t{std::to_integer<std::uint8_t>(buffer[0])} << 24) |
                                        (std::size_t{std::to_integer<std::uint8_t>(buffer[1])} << 16) |
                                        (std::size_t{std::to_integer<std::uint8_t>(buffer[2])} << 8) |
                                        std::size_t{std::to_integer<std::uint8_t>(buffer[3])};
        const std::size_t end = std::min(have, 8 + list_length);
        std::vector<std::uint64_t> luns;
        for (std::size_t off = 8; off + 8 <= end; off += 8) {
            if (auto lun = decode_lun_entry(std::span<const std::byte, 8>(buffer.data() + off, 8)))
                luns.push_back(*lun);
        }
        done({}, std::move(luns));
    }
};

} // namespace

void report_remote_luns(iscsi::session& s, std::function<void(std::error_code, std::vector<std::uint64_t>)> done)
{
    std::make_shared<report_luns_op>(s, std::move(done))->send();
}

} // namespace ivs::bridge
