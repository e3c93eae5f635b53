#include "iscsi/connection.hpp"

#include "iscsi/session_error.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/defer.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>

namespace ivs::iscsi {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {
constexpr std::size_t rx_buffer_size = 256 * 1024;
// Data segments at least this big are read from the socket straight into
// their destination instead of through rx_buffer_.
constexpr std::size_t direct_read_min = 16 * 1024;
// While large data segments stream in, a read takes only this much beyond
// the current PDU: its trailer, the next header or two (a response, the next
// Data-In's BHS) and a few data bytes, so the next data segment is not pulled
// into rx_buffer_ and copied.
constexpr std::size_t lookahead = 256;
constexpr std::size_t max_batch = 64; // PDUs per gathered write
// Buffers per gathered write: Asio hands at most 64 iovecs to one sendmsg.
constexpr std::size_t max_write_buffers = 64;

std::error_code to_std(const boost::system::error_code& ec)
{
    if (ec == asio::error::eof || ec == asio::error::connection_reset)
        return session_errc::connection_closed;
    return std::error_code(ec.value(), std::system_category());
}
} // namespace

connection::connection(asio::io_context& io) : io_(io), socket_(io) {}

connection::~connection() = default;

asio::awaitable<std::error_code> connection::connect(std::string host, std::string port,
                                                     std::chrono::milliseconds timeout, std::string local_address)
{
    failure_detail_.clear();
    boost::system::error_code ec;
    // The local address (iscsid's initiatoraddr): bound before connect, so
    // the target sees the connection come from it.
    const bool bind_local = !local_address.empty();
    asio::ip::address local;
    if (bind_local) {
        local = asio::ip::make_address(local_address, ec);
        if (ec) {
            failure_detail_ = "local address \"" + local_address + "\" is not an IPv4 or IPv6 address";
            co_return std::make_error_code(std::errc::invalid_argument);
        }
    }

    tcp::resolver resolver(io_);
    tcp::socket tcp_socket(io_);
    asio::steady_timer timer(io_);
    bool timed_out = false;
    timer.expires_after(timeout);
    timer.async_wait([&timed_out, &resolver, &tcp_socket](const boost::system::error_code& ec) {
        if (ec)
            return;
        timed_out = true;
        resolver.cancel();
        boost::system::error_code ignored;
        tcp_socket.close(ignored);
    });

    auto endpoints = co_await resolver.async_resolve(host, port, asio::redirect_error(asio::use_awaitable, ec));
    // Each address in turn, on a socket of its family (bound to the local
    // address when there is one) until one connects.
    bool tried = false;
    if (!ec && !timed_out) {
        for (const auto& entry : endpoints) {
            const tcp::endpoint target = entry.endpoint();
            if (bind_local && target.address().is_v6() != local.is_v6())
                continue;
            tried = true;
            boost::system::error_code ignored;
            tcp_socket.close(ignored);
            tcp_socket.open(target.protocol(), ec);
            if (!ec && bind_local) {
                tcp_socket.bind(tcp::endpoint(local, 0), ec);
                if (ec) { // the same for every address of this family
                    failure_detail_ = "cannot bind to local address " + local_address + ": " + ec.message();
                    break;
                }
            }
            if (!ec)
                co_await tcp_socket.async_connect(target, asio::redirect_error(asio::use_awaitable, ec));
            if (!ec || timed_out)
                break;
        }
        if (!tried && !bind_local) {
            ec = asio::error::host_unreachable;
            failure_detail_ = host + " resolved to no address";
        } else if (!tried) {
            ec = asio::error::address_family_not_supported;
            failure_detail_ = "local address " + local_address + " is " + (local.is_v6() ? "IPv6" : "IPv4") + " but " +
                              host + " has no " + (local.is_v6() ? "IPv6" : "IPv4") + " address";
        }
    }
    timer.cancel();
    if (timed_out) {
        failure_detail_.clear();
        co_return session_errc::timeout;
    }
    if (ec) {
        // The resolver's errors are of Asio's netdb and addrinfo categories:
        // their message, not the errno of the same number.
        if (failure_detail_.empty() && ec.category() != boost::system::system_category())
            failure_detail_ = ec.message();
        co_return std::error_code(ec.value(), std::system_category());
    }

    tcp_socket.set_option(tcp::no_delay(true), ec);
    const auto endpoint = tcp_socket.remote_endpoint(ec);
    const int family = endpoint.address().is_v6() ? AF_INET6 : AF_INET;
    const int fd = tcp_socket.release(ec);
    if (ec)
        co_return std::error_code(ec.value(), std::system_category());
    socket_.assign(asio::generic::stream_protocol(family, IPPROTO_TCP), fd, ec);
    if (ec)
        co_return std::error_code(ec.value(), std::system_category());
    co_return std::error_code{};
}

std::error_code connection::adopt(int fd)
{
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    const int family = ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0 ? ss.ss_family : AF_UNIX;
    boost::system::error_code ec;
    socket_.assign(asio::generic::stream_protocol(family, family == AF_UNIX ? 0 : IPPROTO_TCP), fd, ec);
    return ec ? std::error_code(ec.value(), std::system_category()) : std::error_code{};
}

void connection::start(connection_receiver& receiver)
{
    receiver_ = &receiver;
    rx_buffer_.resize(rx_buffer_size);
    // The writer tries each gathered write at once (write_some must then not
    // block); Asio's async operations work the same either way.
    boost::system::error_code ignored;
    socket_.non_blocking(true, ignored);
    running_ = 2;
    writer_running_ = true;
    asio::co_spawn(io_, read_loop(shared_from_this()), asio::detached);
    if (!queue_.empty() || closing_)
        schedule_flush();
}

void connection::configure(const pdu::reader_config& rx, pdu::digest_settings tx)
{
    reader_.configure(rx);
    tx_digests_ = tx;
}

std::unique_ptr<connection::outgoing> connection::take_item()
{
    if (pool_.empty())
        return std::make_unique<outgoing>();
    auto item = std::move(pool_.back());
    pool_.pop_back();
    return item;
}

bool connection::enqueue(std::unique_ptr<outgoing> item)
{
    queue_.push_back(std::move(item));
    schedule_flush();
    return true;
}

bool connection::send(const pdu::bhs_bytes& bhs, std::span<const std::byte> ahs, std::span<const std::byte> data,
                      std::uint64_t cookie)
{
    if (closing_ || writer_failed_)
        return false;
    auto item = take_item();
    item->owned.clear();
    item->cookie = cookie;
    if (auto ec = item->frame.assemble(bhs, ahs, data, tx_digests_)) {
        close(ec);
        return false;
    }
    return enqueue(std::move(item));
}

bool connection::send_owned(const pdu::bhs_bytes& bhs, std::vector<std::byte> owned, std::uint64_t cookie)
{
    if (closing_ || writer_failed_)
        return false;
    auto item = take_item();
    item->owned = std::move(owned);
    item->cookie = cookie;
    if (auto ec = item->frame.assemble(bhs, {}, item->owned, tx_digests_)) {
        close(ec);
        return false;
    }
    return enqueue(std::move(item));
}

void connection::close(std::error_code ec)
{
    if (closing_)
        return;
    closing_ = true;
    close_reason_ = ec;
    boost::system::error_code ignored;
    socket_.shutdown(socket_type::shutdown_both, ignored);
    socket_.close(ignored);
    schedule_flush(); // the writer ends (from a handler of its own, not from here)
}

void connection::finish_coroutine()
{
    if (--running_ > 0)
        return;
    queue_.clear();
    auto* receiver = receiver_;
    receiver_ = nullptr;
    if (receiver)
        receiver->on_closed(close_reason_ ? close_reason_ : make_error_code(session_errc::connection_closed));
}

bool connection::dispatch(pdu::pdu_reader::feed_result r)
{
    using event = pdu::pdu_reader::event;
    if (!receiver_)
        return false;
    switch (r.ev) {
    case event::need_more: return true;
    case event::header_ready: {
        large_stream_ = reader_.data_segment_length() >= direct_read_min;
        auto dest = receiver_->data_destination(reader_.bhs(), reader_.data_segment_length());
        if (dest.error) {
            close(dest.error);
            return false;
        }
        if (!dest.buffer.empty()) {
            if (auto ec = reader_.set_data_destination(dest.buffer)) {
                close(ec);
                return false;
            }
        }
        return !closing_;
    }
    case event::pdu_ready:
        receiver_->on_pdu(reader_.bhs(), reader_.ahs(),
                          reader_.data_in_destination() ? std::span<const std::byte>{} : reader_.data());
        return !closing_ && receiver_;
    case event::failed: close(reader_.error()); return false;
    }
    return false;
}

asio::awaitable<void> connection::read_loop(std::shared_ptr<connection> self)
{
    (void)self; // keeps the connection alive while the coroutine runs
    try {
        while (!closing_) {
            boost::system::error_code ec;
            std::size_t buffered = 0; // stream bytes now at rx_buffer_[0, buffered)
            auto direct = reader_.direct_read_target();
            if (!direct.empty() && (direct.size() >= direct_read_min || large_stream_)) {
                // One scatter read: the rest of the data segment straight into
                // its destination, then its padding and data digest (RFC 7143
                // §11.2) and the next header into rx_buffer_.
                const std::size_t tail = std::min(rx_buffer_.size(), reader_.trailer_bytes() + lookahead);
                const std::array<asio::mutable_buffer, 2> bufs{asio::buffer(direct.data(), direct.size()),
                                                               asio::buffer(rx_buffer_.data(), tail)};
                const std::size_t n =
                    co_await socket_.async_read_some(bufs, asio::redirect_error(asio::use_awaitable, ec));
                if (ec) {
                    close(to_std(ec));
                    break;
                }
                rx_bytes_ += n;
                const std::size_t in_direct = std::min(n, direct.size());
                if (!dispatch(reader_.commit_direct(in_direct)))
                    break;
                buffered = n - in_direct;
            } else {
                // Many small PDUs per read; but right after a directly read
                // data segment, only the next header and a little more.
                const std::size_t want =
                    large_stream_ ? std::min(rx_buffer_.size(), reader_.bytes_needed() + lookahead) : rx_buffer_.size();
                buffered = co_await socket_.async_read_some(asio::buffer(rx_buffer_.data(), want),
                                                            asio::redirect_error(asio::use_awaitable, ec));
                if (ec) {
                    close(to_std(ec));
                    break;
                }
                rx_bytes_ += buffered;
            }
            std::size_t pos = 0;
            while (pos < buffered && !closing_) {
                auto r = reader_.feed(std::span<const std::byte>(rx_buffer_.data() + pos, buffered - pos));
                pos += r.consumed;
                if (!dispatch(r))
                    break;
            }
            // What the PDUs just read made us send (new commands, Data-Out,
            // NOP answers) leaves now, before the next read, instead of after
            // another pass through the reactor.
            if (flush_scheduled_ && !closing_) {
                flush_scheduled_ = false;
                flush();
            }
        }
    } catch (const std::exception&) {
        close(make_error_code(std::errc::not_enough_memory));
    }
    finish_coroutine();
}

// The writer. send() defers one flush per handler pass, so that all PDUs
// queued in that pass leave in one gathered write; the write is tried at once
// (sendmsg on the non-blocking socket) and only a remainder the socket cannot
// take waits in the reactor.
void connection::schedule_flush()
{
    if (flush_scheduled_ || flushing_ || write_in_flight_ || !writer_running_)
        return;
    flush_scheduled_ = true;
    asio::defer(io_, [self = shared_from_this()] {
        if (!self->flush_scheduled_)
            return; // the read loop flushed already
        self->flush_scheduled_ = false;
        self->flush();
    });
}

void connection::flush()
{
    if (!writer_running_ || write_in_flight_)
        return;
    flushing_ = true;
    try {
        while (!queue_.empty() && !closing_ && !writer_failed_) {
            wbufs_.clear();
            batch_.clear();
            while (!queue_.empty() && batch_.size() < max_batch &&
                   wbufs_.size() + queue_.front()->frame.buffers().size() <= max_write_buffers) {
                batch_.push_back(std::move(queue_.front()));
                queue_.pop_front();
                for (auto b : batch_.back()->frame.buffers())
                    if (!b.empty())
                        wbufs_.emplace_back(b.data(), b.size());
            }
            boost::system::error_code ec;
            std::size_t n = socket_.write_some(wbufs_, ec);
            if (ec == asio::error::would_block || ec == asio::error::try_again) {
                ec = {};
                n = 0;
            }
            if (!ec) {
                // What the socket did not take goes through the reactor.
                auto first = wbufs_.begin();
                while (first != wbufs_.end() && n >= first->size()) {
                    n -= first->size();
                    ++first;
                }
                if (first != wbufs_.end()) {
                    *first += n;
                    wbufs_.erase(wbufs_.begin(), first);
                    write_in_flight_ = true;
                    flushing_ = false;
                    asio::async_write(socket_, wbufs_,
                                      [self = shared_from_this()](const boost::system::error_code& e, std::size_t) {
                                          self->on_write_done(e);
                                      });
                    return;
                }
            }
            if (!complete_batch(ec)) {
                flushing_ = false;
                return;
            }
        }
    } catch (const std::exception&) {
        close(make_error_code(std::errc::not_enough_memory));
    }
    flushing_ = false;
    if (closing_ || writer_failed_)
        writer_done();
}

void connection::on_write_done(const boost::system::error_code& ec)
{
    write_in_flight_ = false;
    flushing_ = true;
    bool ok = false;
    try {
        ok = complete_batch(ec);
    } catch (const std::exception&) {
        close(make_error_code(std::errc::not_enough_memory));
        ok = true; // flush() below ends the writer
    }
    flushing_ = false;
    if (ok)
        flush(); // what was queued meanwhile; ends the writer once closing
}

// The batch has been written (or failed with ec): on_sent for each cookie,
// items back to the pool. False when the writer is done.
bool connection::complete_batch(const boost::system::error_code& ec)
{
    if (ec == asio::error::broken_pipe || ec == asio::error::connection_reset) {
        // The peer is gone, but what it sent before (a status, a Reject) may
        // still wait in the receive buffer: stop writing and let the reader
        // drain it up to EOF, which closes.
        writer_failed_ = true;
        queue_.clear();
        boost::system::error_code ignored;
        socket_.shutdown(socket_type::shutdown_send, ignored);
        writer_done();
        return false;
    }
    if (ec) {
        close(to_std(ec));
        writer_done();
        return false;
    }
    for (auto& item : batch_) {
        const auto cookie = item->cookie;
        if (item->owned.capacity() > 64 * 1024)
            item->owned = {};
        item->owned.clear();
        pool_.push_back(std::move(item));
        if (cookie != 0 && receiver_)
            receiver_->on_sent(cookie);
    }
    batch_.clear();
    return true;
}

void connection::writer_done()
{
    if (!writer_running_)
        return;
    writer_running_ = false;
    batch_.clear();
    wbufs_.clear();
    finish_coroutine();
}

} // namespace ivs::iscsi
