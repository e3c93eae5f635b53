#include "scsi/capacity.hpp"

#include "pdu/bytes.hpp"

namespace ivs::scsi {

std::optional<read_capacity_data> parse_read_capacity_10(std::span<const std::byte> data) noexcept
{
    if (data.size() < 8)
        return std::nullopt;
    return read_capacity_data{pdu::load32(data.data()), pdu::load32(data.data() + 4)};
}

std::optional<read_capacity_data> parse_read_capacity_16(std::span<const std::byte> data) noexcept
{
    if (data.size() < 12)
        return std::nullopt;
    return read_capacity_data{pdu::load64(data.data()), pdu::load32(data.data() + 8)};
}

} // namespace ivs::scsi
