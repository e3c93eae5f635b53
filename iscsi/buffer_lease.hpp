// Zero copy between the session and its caller: memory the caller lends a
// SCSI command for its data (RFC 7143 §11.7 Data-In lands in it, §11.8
// Data-Out is sent from it) and may take back before the command completes
// (the bridge: the midlayer's buffers, gone once it answers a command
// early). No Asio in this header.
//
// The caller implements the data calls and owns the memory; the session
// only calls them. The session's link to the command (for withdraw) is
// written by the session alone. Single-threaded like the session.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

namespace ivs::iscsi {

class buffer_lease {
public:
    // ---- the session calls these, while the command is in the session
    // (from submit until its completion runs) ----

    // READ: where the `length` (> 0) bytes of a Data-In segment at `offset`
    // land, asked once its header has been checked against the request's
    // read_buffer. A span of exactly `length` bytes, or any other (e.g.
    // empty) for read_buffer. Default: read_buffer.
    virtual std::span<std::byte> data_in_destination(std::uint32_t offset, std::uint32_t length);
    // READ: the segment at `offset` has landed in `data` (where
    // data_in_destination put it, or in read_buffer): in offset order
    // (DataPDUInOrder=Yes), before the completion, only bytes that arrived.
    // After a reissue (§6.3.5) the data may come again from offset 0.
    virtual void data_in_landed(std::uint32_t offset, std::span<const std::byte> data);
    // WRITE: the data to send, at least expected_length bytes; the request's
    // write_buffer is not used. Asked at submit and after each withdraw();
    // Data-Out for R2Ts and a reissue send from the latest answer. Default:
    // none (a WRITE with such a lease fails as a bad command).
    virtual std::span<const std::byte> data_out();

    // ---- the caller calls this ----

    // The memory lent so far (spans data_in_destination and data_out
    // returned) is taken back: from now on the session neither writes nor
    // reads it. If a segment is landing there or PDUs that send from it are
    // still queued, the session drops the connection at once and ERL 0
    // recovery reissues the command (§6.3.5), which asks the lease again.
    // A WRITE's data is asked for anew (data_out); after an answer of fewer
    // than expected_length bytes nothing more is sent (the connection drops
    // at the next send and the command ends in an error once its reissues
    // are spent). Does nothing while the lease is in no command of a live
    // session.
    void withdraw();

protected:
    buffer_lease() = default;
    buffer_lease(const buffer_lease&) = delete;
    buffer_lease& operator=(const buffer_lease&) = delete;
    // The lease must outlive the command's completion.
    ~buffer_lease() = default;

private:
    friend struct lease_link; // the session's side (iscsi/session_impl.hpp)
    std::weak_ptr<void> session_;
    std::uint32_t task_tag_ = 0;
};

} // namespace ivs::iscsi
