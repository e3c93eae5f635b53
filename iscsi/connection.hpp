// One iSCSI TCP connection (RFC 7143 §7): a reader coroutine that parses many
// small PDUs per read and reads large data segments straight into their final
// buffers, and a writer that sends every PDU queued during one handler pass in
// one gathered, non-blocking write (the reactor only for a remainder).
// Single-threaded: all calls on the io_context's thread.
#pragma once

#include "pdu/reader.hpp"
#include "pdu/writer.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <system_error>
#include <vector>

namespace ivs::iscsi {

// What a connection reports to its owner. Called on the io_context thread.
class connection_receiver {
public:
    struct destination {
        std::span<std::byte> buffer; // empty: the reader keeps the data itself
        std::error_code error;       // set: the PDU is unacceptable, drop the connection
    };
    // A header arrived and a data segment of `length` bytes follows.
    virtual destination data_destination(const pdu::bhs_bytes& bhs, std::uint32_t length) = 0;
    // A complete, digest-checked PDU. `data` is empty when it landed in a destination.
    virtual void on_pdu(const pdu::bhs_bytes& bhs, std::span<const std::byte> ahs, std::span<const std::byte> data) = 0;
    // A queued PDU that carried a non-zero cookie has been written.
    virtual void on_sent(std::uint64_t cookie) = 0;
    // The connection is gone (error, peer close, or close()); called once.
    virtual void on_closed(std::error_code ec) = 0;

protected:
    ~connection_receiver() = default;
};

class connection : public std::enable_shared_from_this<connection> {
public:
    using socket_type = boost::asio::generic::stream_protocol::socket;

    explicit connection(boost::asio::io_context& io);
    ~connection();
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    // Resolves host (name, IPv4 or IPv6 literal) and connects to the first
    // address that answers within `timeout`; sets TCP_NODELAY. With
    // `local_address` (an IPv4 or IPv6 literal), each socket is bound to it
    // (any port) before it connects, and only the target's addresses of its
    // family are tried. On failure, failure_detail() says what failed.
    boost::asio::awaitable<std::error_code> connect(std::string host, std::string port,
                                                    std::chrono::milliseconds timeout, std::string local_address = {});
    // Why the last connect() failed, naming the local address when binding to
    // it failed; empty when the error code says it all.
    const std::string& failure_detail() const noexcept { return failure_detail_; }
    // Takes an already connected stream socket (tests: one end of a socketpair).
    std::error_code adopt(int fd);

    // Starts the reader coroutine and the writer.
    void start(connection_receiver& receiver);

    // Digests and our MaxRecvDataSegmentLength; apply from the next PDU.
    void configure(const pdu::reader_config& rx, pdu::digest_settings tx);

    // Queues one PDU. `data` must stay valid until on_sent(cookie) (or until
    // the connection closes); `owned` is kept by the connection instead.
    // Returns false when the connection is closed (nothing queued).
    bool send(const pdu::bhs_bytes& bhs, std::span<const std::byte> ahs, std::span<const std::byte> data,
              std::uint64_t cookie = 0);
    bool send_owned(const pdu::bhs_bytes& bhs, std::vector<std::byte> owned, std::uint64_t cookie = 0);

    // Closes the socket; on_closed(ec) follows once the reader and the writer end.
    void close(std::error_code ec);
    bool is_open() const noexcept { return !closing_; }
    // No more callbacks, not even on_closed (the owner is going away).
    void detach() noexcept { receiver_ = nullptr; }

    std::uint64_t bytes_received() const noexcept { return rx_bytes_; }
    std::size_t queued() const noexcept { return queue_.size(); }

private:
    struct outgoing {
        pdu::outgoing_pdu frame;
        std::vector<std::byte> owned;
        std::uint64_t cookie = 0;
    };

    boost::asio::awaitable<void> read_loop(std::shared_ptr<connection> self);
    bool dispatch(pdu::pdu_reader::feed_result r);
    bool enqueue(std::unique_ptr<outgoing> item);
    std::unique_ptr<outgoing> take_item();
    void schedule_flush();
    void flush();
    void on_write_done(const boost::system::error_code& ec);
    bool complete_batch(const boost::system::error_code& ec);
    void writer_done();
    void finish_coroutine();

    boost::asio::io_context& io_;
    socket_type socket_;
    connection_receiver* receiver_ = nullptr;

    pdu::pdu_reader reader_;
    pdu::digest_settings tx_digests_{};
    std::vector<std::byte> rx_buffer_;
    bool large_stream_ = false; // the last data segment was read directly
    std::deque<std::unique_ptr<outgoing>> queue_;
    std::vector<std::unique_ptr<outgoing>> pool_;

    // Writer: the PDUs of the write under way and their gather list.
    std::vector<std::unique_ptr<outgoing>> batch_;
    std::vector<boost::asio::const_buffer> wbufs_;
    bool flush_scheduled_ = false; // a flush() is deferred
    bool flushing_ = false;        // inside flush() or its completions
    bool write_in_flight_ = false; // an async_write of a remainder is under way
    bool writer_running_ = false;

    bool closing_ = false;
    bool writer_failed_ = false; // peer gone; the reader drains what it sent
    std::error_code close_reason_;
    int running_ = 0; // reader and writer still alive
    std::uint64_t rx_bytes_ = 0;
    std::string failure_detail_;
};

} // namespace ivs::iscsi
