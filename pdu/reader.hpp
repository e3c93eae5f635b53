// Incremental PDU reader: turns a TCP byte stream into complete iSCSI PDUs
// (framing of RFC 7143 §11.2, digests of §13.1). No I/O: the connection feeds
// it bytes, or lets it name the buffer a socket read should land in.
//
// Use:
//   auto r = reader.feed(bytes);            // consumes up to the next stop
//   r.ev == event::header_ready:            // BHS/AHS complete, data pending;
//       reader.bhs() ...                    // inspect, optionally
//       reader.set_data_destination(dst);   // place the data segment
//   r.ev == event::pdu_ready:               // reader.bhs()/ahs()/data()
//   r.ev == event::need_more:               // all input consumed
//   r.ev == event::failed:                  // reader.error(); drop the connection
// Views returned by bhs()/ahs()/data() after pdu_ready stay valid until a
// byte of the next PDU is consumed.
#pragma once

#include "pdu/opcode.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <system_error>

namespace ivs::pdu {

struct reader_config {
    // Our own MaxRecvDataSegmentLength (RFC 7143 §13.12); 8192 until negotiated.
    std::uint32_t max_recv_data_segment_length = 8192;
    bool header_digest = false; // CRC32C over BHS + AHS (§13.1)
    bool data_digest = false;   // CRC32C over data segment + padding
};

class pdu_reader {
public:
    enum class event : std::uint8_t {
        need_more,    // every input byte was consumed; feed more (see bytes_needed())
        header_ready, // header verified, a non-empty data segment follows
        pdu_ready,    // a complete, verified PDU is available
        failed,       // a framing error; error() says which; the reader stays failed
    };

    struct feed_result {
        std::size_t consumed = 0;
        event ev = event::need_more;
    };

    explicit pdu_reader(const reader_config& config = {});

    // New settings (e.g. digests once login completes) apply from the next
    // PDU whose first byte has not yet been consumed.
    void configure(const reader_config& config) noexcept;
    const reader_config& config() const noexcept { return pending_; }

    // Consume bytes from `in` up to the next stop (header_ready, pdu_ready,
    // failed) or until `in` is exhausted (need_more). After header_ready with
    // no destination set, the data segment goes to an internal buffer.
    feed_result feed(std::span<const std::byte> in);

    // Only after header_ready: have the data segment written to `dst`, which
    // must hold data_segment_length() bytes (errc::buffer_too_small otherwise,
    // which fails the reader). Padding and digest never land in `dst`.
    std::error_code set_data_destination(std::span<std::byte> dst);

    // Zero-copy path: while the data segment is being received, the part of
    // its destination still to be filled; a socket may read straight into it
    // and report with commit_direct(n). Empty when no data bytes are pending
    // (header, padding and digest bytes always go through feed()). Use it only
    // when the caller holds no unfed stream bytes. commit_direct(0) is a no-op.
    std::span<std::byte> direct_read_target();
    feed_result commit_direct(std::size_t n);

    // Scatter reads: the padding and data digest bytes that follow the data
    // segment still to come (RFC 7143 §11.2, §13.1); 0 outside the data
    // segment. One read of [direct_read_target()][trailer_bytes() + the next
    // header] ends the PDU with commit_direct(data part) and feed(rest).
    std::size_t trailer_bytes() const noexcept;

    // Bytes still missing before the next stop (a lower bound for the header,
    // whose length is known once the BHS is in).
    std::size_t bytes_needed() const noexcept;

    bool failed() const noexcept { return phase_ == phase::failed; }
    std::error_code error() const noexcept { return error_; }

    // The current PDU's header: valid from header_ready (or pdu_ready) on.
    const bhs_bytes& bhs() const noexcept { return bhs_; }
    std::span<const std::byte> ahs() const noexcept;
    std::uint32_t data_segment_length() const noexcept { return dsl_; }

    // The data segment of a complete PDU, wherever it landed.
    std::span<const std::byte> data() const noexcept;
    bool data_in_destination() const noexcept { return external_dest_; }

private:
    enum class phase : std::uint8_t {
        header,       // collecting BHS, AHS, header digest
        header_ready, // waiting for the caller to place the data
        data,
        padding,
        data_digest,
        complete,
        failed,
    };

    std::size_t header_wire_size() const noexcept;
    feed_result fail(std::error_code ec);
    void start_pdu() noexcept;
    std::error_code finish_header() noexcept;
    void use_internal_buffer();
    void consume_data(const std::byte* p, std::size_t n) noexcept;
    void after_data() noexcept;
    bool verify_data_digest() noexcept;

    reader_config pending_;
    reader_config active_;
    phase phase_ = phase::header;
    std::error_code error_;

    // Header storage: BHS, AHS (at most 1020 bytes) and header digest.
    std::array<std::byte, bhs_size + max_ahs_size + digest_size> header_{};
    std::size_t header_have_ = 0;
    bhs_bytes bhs_{};
    std::size_t ahs_len_ = 0;
    std::uint32_t dsl_ = 0;

    // Data segment destination and progress.
    std::span<std::byte> dest_;
    bool external_dest_ = false;
    std::size_t data_have_ = 0;
    std::size_t pad_len_ = 0;
    std::size_t pad_have_ = 0;
    std::array<std::byte, digest_size> digest_{};
    std::size_t digest_have_ = 0;
    std::uint32_t crc_state_ = 0;

    // Internal buffer, grown to at most the negotiated limit, kept across PDUs.
    std::unique_ptr<std::byte[]> internal_;
    std::size_t internal_size_ = 0;
};

} // namespace ivs::pdu
