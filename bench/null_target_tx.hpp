// bench/null_target: the transmit side of a connection. PDUs are framed into
// a gather list (BHS | header digest | data | padding | data digest) and go
// out in one writev() per flush; Data-In of zeros points into one shared zero
// buffer, its data digest computed once per length.
#pragma once

#include "pdu/opcode.hpp"
#include "pdu/writer.hpp"

#include <sys/uio.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <system_error>

namespace ivs::bench {

class tx_queue {
public:
    explicit tx_queue(int fd);

    // Digests apply to PDUs queued from now on (§13.1).
    void set_digests(pdu::digest_settings d) noexcept { digests_ = d; }
    // The longest data segment queue_zeros() will be asked for (the
    // initiator's MaxRecvDataSegmentLength, at most 2^24 - 1).
    void reserve_zeros(std::uint32_t length);

    // Queues one PDU; `data` is copied (flushing first when the copy does not
    // fit, sending at once when it is larger than the whole staging area).
    std::error_code queue(const pdu::bhs_bytes& bhs, std::span<const std::byte> data = {});
    // Queues one PDU whose data segment is `length` zero bytes; the BHS
    // already carries that DataSegmentLength. length <= the reserved size.
    std::error_code queue_zeros(const pdu::bhs_bytes& bhs, std::uint32_t length);

    std::error_code flush();

private:
    static constexpr std::size_t max_pdus = 64;
    static constexpr std::size_t staging_size = 64 * 1024;

    struct frame {
        std::array<std::byte, pdu::bhs_size + pdu::digest_size> header{};
        std::array<std::byte, 3 + pdu::digest_size> trailer{};
    };

    std::error_code make_room(std::size_t data_bytes);
    void push(std::span<const std::byte> s) noexcept;
    std::uint32_t zero_digest(std::size_t padded_length);

    int fd_;
    pdu::digest_settings digests_{};
    std::array<frame, max_pdus> frames_{};
    std::size_t frames_used_ = 0;
    std::array<iovec, max_pdus * 3> iov_{};
    std::size_t iov_used_ = 0;
    std::unique_ptr<std::byte[]> staging_;
    std::size_t staging_used_ = 0;
    std::unique_ptr<std::byte[]> zeros_;
    std::size_t zeros_size_ = 0;
    // CRC32C of n zero bytes for the few lengths in use (full PDUs and the tails).
    struct cached_digest {
        std::size_t length = 0;
        std::uint32_t crc = 0;
    };
    std::array<cached_digest, 8> digest_cache_{};
    std::size_t digest_cache_next_ = 0;
};

} // namespace ivs::bench
