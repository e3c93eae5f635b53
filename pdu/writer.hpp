// PDU writer: frames a BHS, optional AHS and data segment as a gather list
// for a vectored socket write, without copying the data (RFC 7143 §11.2).
//
// Wire order:  header() = BHS | AHS | header digest?
//              data     = the caller's span(s), untouched
//              trailer() = padding (0-3 zero bytes) | data digest?
// The outgoing_pdu holds only the header and trailer bytes; the data spans
// must stay alive until the write completes.
#pragma once

#include "pdu/opcode.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <system_error>

namespace ivs::pdu {

struct digest_settings {
    bool header = false; // CRC32C over BHS + AHS (RFC 7143 §13.1)
    bool data = false;   // CRC32C over data segment + padding
};

class outgoing_pdu {
public:
    // Frame one PDU. TotalAHSLength and DataSegmentLength in the copied BHS are
    // set from ahs.size() and the data size. Errors: errc::ahs_length_inconsistent
    // (AHS not a multiple of 4 or over 1020 bytes), errc::data_segment_too_long
    // (over the 24-bit field). On error the object is left empty.
    std::error_code assemble(const bhs_bytes& bhs, std::span<const std::byte> ahs, std::span<const std::byte> data,
                             digest_settings digests);

    // Same with the data segment given in pieces (sent back to back); the data
    // digest runs over all of them. buffers() then carries no data: send
    // header(), the pieces, then trailer().
    std::error_code assemble_scattered(const bhs_bytes& bhs, std::span<const std::byte> ahs,
                                       std::span<const std::span<const std::byte>> pieces, digest_settings digests);

    std::span<const std::byte> header() const noexcept { return {header_.data(), header_len_}; }
    std::span<const std::byte> data() const noexcept { return data_; }
    std::span<const std::byte> trailer() const noexcept { return {trailer_.data(), trailer_len_}; }

    // The gather list {header, data, trailer}; entries may be empty.
    std::array<std::span<const std::byte>, 3> buffers() const noexcept { return {header(), data_, trailer()}; }

    std::uint32_t data_segment_length() const noexcept { return dsl_; }
    // Total bytes on the wire.
    std::size_t wire_size() const noexcept { return header_len_ + dsl_ + trailer_len_; }

private:
    std::error_code frame_header(const bhs_bytes& bhs, std::span<const std::byte> ahs, std::size_t data_len,
                                 bool header_digest);
    void frame_trailer(std::uint32_t crc_state, bool data_digest);
    void clear() noexcept;

    std::array<std::byte, bhs_size + max_ahs_size + digest_size> header_{};
    std::size_t header_len_ = 0;
    std::span<const std::byte> data_;
    std::uint32_t dsl_ = 0;
    std::array<std::byte, 3 + digest_size> trailer_{};
    std::size_t trailer_len_ = 0;
};

} // namespace ivs::pdu
