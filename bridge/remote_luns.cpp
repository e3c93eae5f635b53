#include "bridge/remote_luns.hpp"

#include "iscsi/session.hpp"
#include "scsi/cdb.hpp"
#include "scsi/report_luns.hpp"
#include "scsi/sense.hpp"
#include "scsi/status.hpp"

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
    {}

    void send()
    {
        iscsi::scsi_request r;
        r.lun = 0; // REPORT LUNS is addressed to LUN 0 (SPC-4 §6.33)
        r.set_cdb(scsi::report_luns(allocation_length).as_bytes());
        r.direction = iscsi::data_direction::read;
        r.read_buffer = buffer;
        r.expected_length = allocation_length;
        session.submit(r, [self = shared_from_this()](const iscsi::scsi_result& res) { self->on_result(res); });
    }

    void on_result(const iscsi::scsi_result& res)
    {
        if (res.error)
            return done(res.error, {});
        const bool unit_attention = res.status == scsi::status::check_condition &&
                                    scsi::sense_key(res.sense_data()) == scsi::key::unit_attention;
        if (unit_attention && ++attempt < max_attempts)
            return send();
        if (!res.good())
            return done(make_error_code(std::errc::io_error), {});
        const std::size_t have = std::min<std::size_t>(res.data_in_bytes, buffer.size());
        auto luns = scsi::parse_report_luns(std::span<const std::byte>(buffer.data(), have));
        if (!luns)
            return done(make_error_code(std::errc::io_error), {});
        done({}, std::move(*luns));
    }
};

} // namespace

void report_remote_luns(iscsi::session& s, std::function<void(std::error_code, std::vector<std::uint64_t>)> done)
{
    std::make_shared<report_luns_op>(s, std::move(done))->send();
}

} // namespace ivs::bridge
