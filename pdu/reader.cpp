// Incremental PDU reader (RFC 7143 §11.2 framing, §13.1 digests).
#include "pdu/reader.hpp"

#include "pdu/bytes.hpp"
#include "pdu/crc32c.hpp"
#include "pdu/error.hpp"

#include <algorithm>
#include <cstring>

namespace ivs::pdu {

namespace {

// Each AHS is AHSLength (2 bytes), AHSType (1 byte) and AHSLength bytes of
// AHS-specific data, padded to a 4-byte boundary; together they must fill
// TotalAHSLength exactly (RFC 7143 §11.2.2).
bool ahs_chain_consistent(std::span<const std::byte> ahs) noexcept
{
    std::size_t off = 0;
    while (off < ahs.size()) {
        if (ahs.size() - off < 4)
            return false;
        const std::size_t step = padded4(3 + std::size_t{load16(ahs.data() + off)});
        if (step > ahs.size() - off)
            return false;
        off += step;
    }
    return true;
}

} // namespace

pdu_reader::pdu_reader(const reader_config& config) : pending_(config), active_(config) { start_pdu(); }

void pdu_reader::configure(const reader_config& config) noexcept
{
    pending_ = config;
    if (phase_ == phase::header && header_have_ == 0)
        active_ = pending_;
}

void pdu_reader::start_pdu() noexcept
{
    active_ = pending_;
    phase_ = phase::header;
    header_have_ = 0;
    ahs_len_ = 0;
    dsl_ = 0;
    dest_ = {};
    external_dest_ = false;
    data_have_ = 0;
    pad_len_ = 0;
    pad_have_ = 0;
    digest_have_ = 0;
    crc_state_ = crc32c_init;
}

std::size_t pdu_reader::header_wire_size() const noexcept
{
    return bhs_size + ahs_len_ + (active_.header_digest ? digest_size : 0);
}

pdu_reader::feed_result pdu_reader::fail(std::error_code ec)
{
    error_ = ec;
    phase_ = phase::failed;
    return {0, event::failed};
}

std::span<const std::byte> pdu_reader::ahs() const noexcept { return {header_.data() + bhs_size, ahs_len_}; }

std::span<const std::byte> pdu_reader::data() const noexcept { return {dest_.data(), data_have_}; }

// Checks run once the whole header is in, so that with a header digest a
// corrupted header is reported as such rather than as a bogus field. All of
// them precede the data segment: nothing is allocated or written for it yet.
std::error_code pdu_reader::finish_header() noexcept
{
    if (active_.header_digest) {
        const std::size_t covered = bhs_size + ahs_len_;
        const std::uint32_t got = load32le(header_.data() + covered);
        if (crc32c({header_.data(), covered}) != got)
            return errc::header_digest_mismatch;
    }
    if (!is_known_opcode(raw_opcode(bhs_)))
        return errc::unknown_opcode;
    if (dsl_ > active_.max_recv_data_segment_length)
        return errc::data_segment_too_long;
    if (!ahs_chain_consistent(ahs()))
        return errc::ahs_length_inconsistent;
    return {};
}

std::error_code pdu_reader::set_data_destination(std::span<std::byte> dst)
{
    if (phase_ != phase::header_ready)
        return std::make_error_code(std::errc::operation_not_permitted);
    if (dst.size() < dsl_) {
        fail(errc::buffer_too_small);
        return error_;
    }
    dest_ = dst.first(dsl_);
    external_dest_ = true;
    phase_ = phase::data;
    return {};
}

void pdu_reader::use_internal_buffer()
{
    if (internal_size_ < dsl_) {
        // dsl_ was checked against the limit; grow geometrically up to it.
        const std::size_t limit = active_.max_recv_data_segment_length;
        const std::size_t size = std::max<std::size_t>(dsl_, std::min(limit, internal_size_ * 2));
        internal_ = std::make_unique_for_overwrite<std::byte[]>(size);
        internal_size_ = size;
    }
    dest_ = {internal_.get(), dsl_};
    external_dest_ = false;
    phase_ = phase::data;
}

// Account for n data bytes already placed at dest_[data_have_].
void pdu_reader::consume_data(const std::byte* p, std::size_t n) noexcept
{
    if (active_.data_digest)
        crc_state_ = crc32c_update(crc_state_, {p, n});
    data_have_ += n;
    if (data_have_ == dsl_)
        after_data();
}

void pdu_reader::after_data() noexcept
{
    pad_len_ = padded4(dsl_) - dsl_;
    if (pad_len_ != 0)
        phase_ = phase::padding;
    else if (active_.data_digest)
        phase_ = phase::data_digest;
    else
        phase_ = phase::complete;
}

bool pdu_reader::verify_data_digest() noexcept { return crc32c_final(crc_state_) == load32le(digest_.data()); }

pdu_reader::feed_result pdu_reader::feed(std::span<const std::byte> in)
{
    std::size_t used = 0;
    for (;;) {
        const std::size_t avail = in.size() - used;
        const std::byte* p = in.data() + used;
        switch (phase_) {
        case phase::failed: return {used, event::failed};

        case phase::complete:
            // The finished PDU stays readable until a byte of the next arrives.
            if (avail == 0)
                return {used, event::need_more};
            start_pdu();
            break;

        case phase::header: {
            if (avail == 0)
                return {used, event::need_more};
            if (header_have_ == 0)
                active_ = pending_;
            const std::size_t want =
                header_have_ < bhs_size ? bhs_size - header_have_ : header_wire_size() - header_have_;
            const std::size_t n = std::min(want, avail);
            std::memcpy(header_.data() + header_have_, p, n);
            header_have_ += n;
            used += n;
            if (header_have_ == bhs_size) {
                std::memcpy(bhs_.data(), header_.data(), bhs_size);
                ahs_len_ = raw_total_ahs_bytes(bhs_);
                dsl_ = raw_data_segment_length(bhs_);
            }
            if (header_have_ >= bhs_size && header_have_ == header_wire_size()) {
                if (auto ec = finish_header()) {
                    fail(ec);
                    return {used, event::failed};
                }
                if (dsl_ == 0) {
                    phase_ = phase::complete; // no data segment, hence no data digest
                    return {used, event::pdu_ready};
                }
                phase_ = phase::header_ready;
                return {used, event::header_ready};
            }
            break;
        }

        case phase::header_ready:
            // Data arriving without a destination set goes to the internal buffer.
            if (avail == 0)
                return {used, event::need_more};
            use_internal_buffer();
            break;

        case phase::data: {
            if (avail == 0)
                return {used, event::need_more};
            const std::size_t n = std::min<std::size_t>(dsl_ - data_have_, avail);
            std::byte* at = dest_.data() + data_have_;
            std::memcpy(at, p, n);
            used += n;
            consume_data(at, n);
            if (phase_ == phase::complete)
                return {used, event::pdu_ready};
            break;
        }

        case phase::padding: {
            if (avail == 0)
                return {used, event::need_more};
            // Padding is covered by the data digest (RFC 7143 §13.1) but never
            // handed to the caller.
            const std::size_t n = std::min(pad_len_ - pad_have_, avail);
            if (active_.data_digest)
                crc_state_ = crc32c_update(crc_state_, {p, n});
            pad_have_ += n;
            used += n;
            if (pad_have_ == pad_len_) {
                if (!active_.data_digest) {
                    phase_ = phase::complete;
                    return {used, event::pdu_ready};
                }
                phase_ = phase::data_digest;
            }
            break;
        }

        case phase::data_digest: {
            if (avail == 0)
                return {used, event::need_more};
            const std::size_t n = std::min(digest_size - digest_have_, avail);
            std::memcpy(digest_.data() + digest_have_, p, n);
            digest_have_ += n;
            used += n;
            if (digest_have_ == digest_size) {
                if (!verify_data_digest()) {
                    fail(errc::data_digest_mismatch);
                    return {used, event::failed};
                }
                phase_ = phase::complete;
                return {used, event::pdu_ready};
            }
            break;
        }
        }
    }
}

std::span<std::byte> pdu_reader::direct_read_target()
{
    if (phase_ == phase::header_ready)
        use_internal_buffer();
    if (phase_ != phase::data)
        return {};
    return dest_.subspan(data_have_);
}

pdu_reader::feed_result pdu_reader::commit_direct(std::size_t n)
{
    if (phase_ == phase::failed)
        return {0, event::failed};
    if (n == 0)
        return {0, event::need_more}; // an empty direct part of a scatter read
    if (phase_ != phase::data || n > dsl_ - data_have_)
        return fail(std::make_error_code(std::errc::invalid_argument));
    consume_data(dest_.data() + data_have_, n);
    return {n, phase_ == phase::complete ? event::pdu_ready : event::need_more};
}

std::size_t pdu_reader::trailer_bytes() const noexcept
{
    if (phase_ != phase::header_ready && phase_ != phase::data)
        return 0;
    return (padded4(dsl_) - dsl_) + (active_.data_digest ? digest_size : 0);
}

std::size_t pdu_reader::bytes_needed() const noexcept
{
    const std::size_t dd = active_.data_digest ? digest_size : 0;
    switch (phase_) {
    case phase::header: return header_have_ < bhs_size ? bhs_size - header_have_ : header_wire_size() - header_have_;
    case phase::header_ready:
    case phase::data: return (dsl_ - data_have_) + trailer_bytes();
    case phase::padding: return (pad_len_ - pad_have_) + dd;
    case phase::data_digest: return digest_size - digest_have_;
    case phase::complete: return bhs_size;
    case phase::failed: return 0;
    }
    return 0;
}

} // namespace ivs::pdu
