#include "iscsi/connection.hpp"

#include "iscsi/session_error.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

namespace ivs::iscsi {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {
constexpr std::size_t rx_buffer_size = 256 * 1024;
// Data segments at least this big are read from the socket straight into
// their destination instead of through rx_buffer_.
constexpr std::size_t direct_read_min = 16 * 1024;
constexpr std::size_t max_batch = 64; // PDUs per gathered write

std::error_code to_std(const boost::system::error_code& ec)
{
    if (ec == asio::error::eof || ec == asio::error::connection_reset)
        return session_errc::connection_closed;
    return std::error_code(ec.value(), std::system_category());
}
} // namespace

connection::connection(asio::io_context& io) : io_(io), socket_(io), wake_(io) {}

connection::~connection() = default;

asio::awaitable<std::error_code> connection::connect(std::string host, std::string port,
                                                     std::chrono::milliseconds timeout)
{
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

    boost::system::error_code ec;
    auto endpoints = co_await resolver.async_resolve(host, port,
                                                     asio::redirect_error(asio::use_awaitable, ec));
    if (!ec)
        co_await asio::async_connect(tcp_socket, endpoints,
                                     asio::redirect_error(asio::use_awaitable, ec));
    timer.cancel();
    if (timed_out)
        co_return session_errc::timeout;
    if (ec)
        co_return std::error_code(ec.value(), std::system_category());

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
    running_ = 2;
    auto self = shared_from_this();
    asio::co_spawn(io_, read_loop(self), asio::detached);
    asio::co_spawn(io_, write_loop(self), asio::detached);
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
    const bool was_empty = queue_.empty();
    queue_.push_back(std::move(item));
    if (was_empty)
        wake_.cancel();
    return true;
}

bool connection::send(const pdu::bhs_bytes& bhs, std::span<const std::byte> ahs,
                      std::span<const std::byte> data, std::uint64_t cookie)
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

bool connection::send_owned(const pdu::bhs_bytes& bhs, std::vector<std::byte> owned,
                            std::uint64_t cookie)
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
    wake_.cancel();
}

std::string connection::peer_address() const
{
    boost::system::error_code ec;
    auto ep = socket_.remote_endpoint(ec);
    if (ec)
        return {};
    if (ep.protocol().family() == AF_INET || ep.protocol().family() == AF_INET6) {
        tcp::endpoint t;
        std::memcpy(t.data(), ep.data(), std::min<std::size_t>(ep.size(), sizeof(sockaddr_in6)));
        return t.address().to_string();
    }
    return {};
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
    case event::need_more:
        return true;
    case event::header_ready: {
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
    case event::failed:
        close(reader_.error());
        return false;
    }
    return false;
}

asio::awaitable<void> connection::read_loop(std::shared_ptr<connection> self)
{
    (void)self; // keeps the connection alive while the coroutine runs
    try {
        while (!closing_) {
            boost::system::error_code ec;
            auto direct = reader_.direct_read_target();
            if (direct.size() >= direct_read_min) {
                const std::size_t n = co_await socket_.async_read_some(
                    asio::buffer(direct.data(), direct.size()), asio::redirect_error(asio::use_awaitable, ec));
                if (ec) {
                    close(to_std(ec));
                    break;
                }
                rx_bytes_ += n;
                if (!dispatch(reader_.commit_direct(n)))
                    break;
                continue;
            }
            const std::size_t n = co_await socket_.async_read_some(
                asio::buffer(rx_buffer_), asio::redirect_error(asio::use_awaitable, ec));
            if (ec) {
                close(to_std(ec));
                break;
            }
            rx_bytes_ += n;
            std::size_t pos = 0;
            while (pos < n && !closing_) {
                auto r = reader_.feed(std::span<const std::byte>(rx_buffer_.data() + pos, n - pos));
                pos += r.consumed;
                if (!dispatch(r))
                    break;
            }
        }
    } catch (const std::exception&) {
        close(make_error_code(std::errc::not_enough_memory));
    }
    finish_coroutine();
}

asio::awaitable<void> connection::write_loop(std::shared_ptr<connection> self)
{
    (void)self; // keeps the connection alive while the coroutine runs
    std::vector<asio::const_buffer> buffers;
    std::vector<std::unique_ptr<outgoing>> batch;
    try {
        while (!closing_) {
            if (queue_.empty()) {
                boost::system::error_code ec;
                wake_.expires_at(asio::steady_timer::time_point::max());
                co_await wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
                continue;
            }
            buffers.clear();
            batch.clear();
            while (!queue_.empty() && batch.size() < max_batch) {
                batch.push_back(std::move(queue_.front()));
                queue_.pop_front();
                for (auto b : batch.back()->frame.buffers())
                    if (!b.empty())
                        buffers.emplace_back(b.data(), b.size());
            }
            boost::system::error_code ec;
            co_await asio::async_write(socket_, buffers, asio::redirect_error(asio::use_awaitable, ec));
            if (ec == asio::error::broken_pipe || ec == asio::error::connection_reset) {
                // The peer is gone, but what it sent before (a status, a
                // Reject) may still wait in the receive buffer: stop writing
                // and let the reader drain it up to EOF, which closes.
                writer_failed_ = true;
                queue_.clear();
                boost::system::error_code ignored;
                socket_.shutdown(socket_type::shutdown_send, ignored);
                break;
            }
            if (ec) {
                close(to_std(ec));
                break;
            }
            for (auto& item : batch) {
                const auto cookie = item->cookie;
                if (item->owned.capacity() > 64 * 1024)
                    item->owned = {};
                item->owned.clear();
                pool_.push_back(std::move(item));
                if (cookie != 0 && receiver_)
                    receiver_->on_sent(cookie);
            }
        }
    } catch (const std::exception&) {
        close(make_error_code(std::errc::not_enough_memory));
    }
    batch.clear();
    finish_coroutine();
}

} // namespace ivs::iscsi
