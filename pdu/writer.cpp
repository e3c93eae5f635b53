// PDU writer: header, data and trailer as a gather list (RFC 7143 §11.2).
#include "pdu/writer.hpp"

#include "pdu/bytes.hpp"
#include "pdu/crc32c.hpp"
#include "pdu/error.hpp"

#include <cstring>

namespace ivs::pdu {

void outgoing_pdu::clear() noexcept
{
    header_len_ = 0;
    data_ = {};
    dsl_ = 0;
    trailer_len_ = 0;
}

std::error_code outgoing_pdu::frame_header(const bhs_bytes& bhs, std::span<const std::byte> ahs, std::size_t data_len,
                                           bool header_digest)
{
    clear();
    // TotalAHSLength counts 4-byte words in one byte (RFC 7143 §11.2.1.4).
    if (ahs.size() % 4 != 0 || ahs.size() > max_ahs_size)
        return errc::ahs_length_inconsistent;
    if (data_len > max_data_segment_length)
        return errc::data_segment_too_long;

    std::memcpy(header_.data(), bhs.data(), bhs_size);
    store8(header_.data() + 4, static_cast<std::uint8_t>(ahs.size() / 4));
    store24(header_.data() + 5, static_cast<std::uint32_t>(data_len));
    if (!ahs.empty())
        std::memcpy(header_.data() + bhs_size, ahs.data(), ahs.size());
    std::size_t len = bhs_size + ahs.size();
    if (header_digest) {
        // Stored least significant byte first (RFC 3720 §B.4).
        store32le(header_.data() + len, crc32c({header_.data(), len}));
        len += digest_size;
    }
    header_len_ = len;
    dsl_ = static_cast<std::uint32_t>(data_len);
    return {};
}

// Padding to a 4-byte boundary (RFC 7143 §11.2.3), then the data digest over
// data and padding; neither is present for an empty data segment.
void outgoing_pdu::frame_trailer(std::uint32_t crc_state, bool data_digest)
{
    const std::size_t pad = padded4(dsl_) - dsl_;
    trailer_.fill(std::byte{0});
    trailer_len_ = pad;
    if (data_digest && dsl_ != 0) {
        crc_state = crc32c_update(crc_state, {trailer_.data(), pad});
        store32le(trailer_.data() + pad, crc32c_final(crc_state));
        trailer_len_ += digest_size;
    }
}

std::error_code outgoing_pdu::assemble(const bhs_bytes& bhs, std::span<const std::byte> ahs,
                                       std::span<const std::byte> data, digest_settings digests)
{
    if (auto ec = frame_header(bhs, ahs, data.size(), digests.header))
        return ec;
    data_ = data;
    std::uint32_t crc = crc32c_init;
    if (digests.data)
        crc = crc32c_update(crc, data);
    frame_trailer(crc, digests.data);
    return {};
}

std::error_code outgoing_pdu::assemble_scattered(const bhs_bytes& bhs, std::span<const std::byte> ahs,
                                                 std::span<const std::span<const std::byte>> pieces,
                                                 digest_settings digests)
{
    std::size_t total = 0;
    for (const auto& piece : pieces) {
        total += piece.size();
        if (total > max_data_segment_length) {
            clear();
            return errc::data_segment_too_long;
        }
    }
    if (auto ec = frame_header(bhs, ahs, total, digests.header))
        return ec;
    std::uint32_t crc = crc32c_init;
    if (digests.data)
        for (const auto& piece : pieces)
            crc = crc32c_update(crc, piece);
    frame_trailer(crc, digests.data);
    return {};
}

} // namespace ivs::pdu
