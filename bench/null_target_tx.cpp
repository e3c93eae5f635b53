// Gathered PDU transmission for bench/null_target (RFC 7143 §11.2 framing,
// §13.1 digests) over a blocking socket.
#include "bench/null_target_tx.hpp"

#include "pdu/bytes.hpp"
#include "pdu/crc32c.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ivs::bench {

tx_queue::tx_queue(int fd) : fd_(fd), staging_(std::make_unique<std::byte[]>(staging_size)) {}

void tx_queue::reserve_zeros(std::uint32_t length)
{
    const std::size_t want = pdu::padded4(std::min(length, pdu::max_data_segment_length));
    if (want > zeros_size_) {
        zeros_ = std::make_unique<std::byte[]>(want); // value-initialized: zeros
        zeros_size_ = want;
    }
}

void tx_queue::push(std::span<const std::byte> s) noexcept
{
    if (s.empty())
        return;
    iov_[iov_used_++] = iovec{const_cast<std::byte*>(s.data()), s.size()};
}

std::error_code tx_queue::make_room(std::size_t data_bytes)
{
    if (frames_used_ == max_pdus || staging_used_ + data_bytes > staging_size)
        return flush();
    return {};
}

std::error_code tx_queue::queue(const pdu::bhs_bytes& bhs, std::span<const std::byte> data)
{
    if (data.size() > staging_size) {
        // Larger than the staging area (a long NOP-In echo): framed and sent now.
        if (auto ec = flush())
            return ec;
        pdu::outgoing_pdu out;
        if (auto ec = out.assemble(bhs, {}, data, digests_))
            return ec;
        for (auto piece : out.buffers())
            push(piece);
        return flush();
    }
    if (auto ec = make_room(data.size()))
        return ec;
    pdu::outgoing_pdu out;
    if (auto ec = out.assemble(bhs, {}, data, digests_))
        return ec;
    frame& f = frames_[frames_used_++];
    std::memcpy(f.header.data(), out.header().data(), out.header().size());
    std::memcpy(f.trailer.data(), out.trailer().data(), out.trailer().size());
    std::byte* copy = staging_.get() + staging_used_;
    if (!data.empty())
        std::memcpy(copy, data.data(), data.size());
    staging_used_ += data.size();
    push({f.header.data(), out.header().size()});
    push({copy, data.size()});
    push({f.trailer.data(), out.trailer().size()});
    return {};
}

std::uint32_t tx_queue::zero_digest(std::size_t padded_length)
{
    for (const auto& c : digest_cache_)
        if (c.length == padded_length)
            return c.crc;
    const std::uint32_t crc = pdu::crc32c({zeros_.get(), padded_length});
    digest_cache_[digest_cache_next_] = {padded_length, crc};
    digest_cache_next_ = (digest_cache_next_ + 1) % digest_cache_.size();
    return crc;
}

std::error_code tx_queue::queue_zeros(const pdu::bhs_bytes& bhs, std::uint32_t length)
{
    if (length > zeros_size_ || pdu::raw_total_ahs_bytes(bhs) != 0 || pdu::raw_data_segment_length(bhs) != length)
        return std::make_error_code(std::errc::invalid_argument);
    if (auto ec = make_room(0))
        return ec;
    frame& f = frames_[frames_used_++];
    std::memcpy(f.header.data(), bhs.data(), pdu::bhs_size);
    std::size_t header_len = pdu::bhs_size;
    if (digests_.header) {
        pdu::store32le(f.header.data() + header_len, pdu::crc32c(bhs));
        header_len += pdu::digest_size;
    }
    // Padding and data digest (§11.2.3, §13.1): the digest covers the pad too.
    const std::size_t padded = pdu::padded4(length);
    std::size_t trailer_len = padded - length;
    std::memset(f.trailer.data(), 0, trailer_len);
    if (digests_.data && length != 0) {
        pdu::store32le(f.trailer.data() + trailer_len, zero_digest(padded));
        trailer_len += pdu::digest_size;
    }
    push({f.header.data(), header_len});
    push({zeros_.get(), length});
    push({f.trailer.data(), trailer_len});
    return {};
}

std::error_code tx_queue::flush()
{
    std::size_t first = 0;
    while (first < iov_used_) {
        msghdr msg{};
        msg.msg_iov = iov_.data() + first;
        msg.msg_iovlen = iov_used_ - first;
        const ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            const int e = errno;
            iov_used_ = frames_used_ = staging_used_ = 0;
            return {e, std::system_category()};
        }
        // Skip what went out; resume inside a partly sent piece.
        auto left = static_cast<std::size_t>(n);
        while (first < iov_used_ && left >= iov_[first].iov_len)
            left -= iov_[first++].iov_len;
        if (left != 0) {
            iov_[first].iov_base = static_cast<std::byte*>(iov_[first].iov_base) + left;
            iov_[first].iov_len -= left;
        }
    }
    iov_used_ = frames_used_ = staging_used_ = 0;
    return {};
}

} // namespace ivs::bench
