#include "scsi/report_luns.hpp"

#include "pdu/bytes.hpp"
#include "pdu/lun.hpp"

#include <algorithm>

namespace ivs::scsi {

std::optional<std::vector<std::uint64_t>> report_luns_entries(std::span<const std::byte> data)
{
    if (data.size() < 8)
        return std::nullopt;
    const std::size_t list_length = pdu::load32(data.data());
    const std::size_t count = std::min(list_length, data.size() - 8) / 8;
    std::vector<std::uint64_t> out;
    out.reserve(count);
    for (std::size_t i = 0; i < count; ++i)
        out.push_back(pdu::load64(data.data() + 8 + 8 * i));
    return out;
}

std::optional<std::uint64_t> decode_lun_entry(std::uint64_t entry) noexcept
{
    std::uint16_t lun = 0;
    if (pdu::decode_lun(entry, lun))
        return std::nullopt;
    return lun;
}

std::optional<std::vector<std::uint64_t>> parse_report_luns(std::span<const std::byte> data)
{
    auto entries = report_luns_entries(data);
    if (!entries)
        return std::nullopt;
    std::vector<std::uint64_t> luns;
    for (std::uint64_t e : *entries)
        if (auto lun = decode_lun_entry(e))
            luns.push_back(*lun);
    return luns;
}

std::vector<std::byte> make_report_luns(std::span<const std::uint8_t> luns, std::size_t allocation_length)
{
    std::vector<std::byte> out(8 + 8 * luns.size());
    pdu::store32(out.data(), static_cast<std::uint32_t>(8 * luns.size()));
    for (std::size_t i = 0; i < luns.size(); ++i)
        pdu::store64(out.data() + 8 + 8 * i, pdu::encode_lun(luns[i], pdu::lun_addressing::peripheral));
    out.resize(std::min(out.size(), allocation_length));
    return out;
}

} // namespace ivs::scsi
