// null_target: a small, fast iSCSI target for benchmarks. One null LUN (LUN 0:
// reads return zeros, writes are discarded), CRC32C digests with the
// project's implementation, one thread per connection.
//
//   null_target --port N [--address 127.0.0.1] [--iqn IQN] [--size BYTES]
//               [--block-size 512] [--max-recv-dsl 262144] [--no-digests]
//
// Prints "listening on ADDR:PORT" once ready (--port 0 picks a free port) and
// runs until SIGTERM or SIGINT.
#include "bench/null_target_connection.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <string_view>
#include <thread>

namespace {

using namespace ivs::bench;

constexpr const char* usage = "usage: null_target --port N [--address 127.0.0.1] [--iqn IQN] [--size BYTES]\n"
                              "                   [--block-size 512] [--max-recv-dsl 262144] [--no-digests]\n";

bool parse_u64(std::string_view s, std::uint64_t lo, std::uint64_t hi, std::uint64_t& out)
{
    std::uint64_t v = 0;
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || p != s.data() + s.size() || v < lo || v > hi)
        return false;
    out = v;
    return true;
}

struct options {
    std::string address = "127.0.0.1";
    std::uint16_t port = 0;
    bool have_port = false;
    std::string iqn = "iqn.2026-01.org.iscsi-vscsi:null";
    std::uint64_t size = std::uint64_t{1} << 40;
    std::uint32_t block_size = 512;
    std::uint32_t max_recv_dsl = 262144;
    bool digests = true;
};

// Returns "" or what is wrong with the command line.
std::string parse(int argc, char** argv, options& o)
{
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "--no-digests") {
            o.digests = false;
            continue;
        }
        if (a == "--help" || a == "-h")
            return "help";
        if (i + 1 >= argc)
            return "missing value after " + std::string(a);
        const std::string_view v = argv[++i];
        std::uint64_t n = 0;
        if (a == "--address") {
            o.address = v;
        } else if (a == "--iqn") {
            if (v.empty() || v.size() > 223) // iSCSI names: at most 223 bytes (§4.2.7.1)
                return "bad --iqn";
            o.iqn = v;
        } else if (a == "--port") {
            if (!parse_u64(v, 0, 65535, n))
                return "bad --port";
            o.port = static_cast<std::uint16_t>(n);
            o.have_port = true;
        } else if (a == "--size") {
            if (!parse_u64(v, 1, UINT64_MAX, n))
                return "bad --size";
            o.size = n;
        } else if (a == "--block-size") {
            if (!parse_u64(v, 512, 65536, n) || (n & (n - 1)) != 0)
                return "bad --block-size (a power of two, 512..65536)";
            o.block_size = static_cast<std::uint32_t>(n);
        } else if (a == "--max-recv-dsl") {
            if (!parse_u64(v, 512, 16777215, n)) // §13.12
                return "bad --max-recv-dsl (512..16777215)";
            o.max_recv_dsl = static_cast<std::uint32_t>(n);
        } else {
            return "unknown option " + std::string(a);
        }
    }
    if (!o.have_port)
        return "--port is required";
    if (o.size < o.block_size)
        return "--size is smaller than one block";
    return {};
}

void accept_loop(int listener, connection_settings settings)
{
    for (;;) {
        const int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE)
                continue;
            std::fprintf(stderr, "null_target: accept: %s\n", std::strerror(errno));
            return;
        }
        const int one = 1;
        (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        try {
            std::thread([fd, settings] {
                const std::string why = serve_connection(fd, settings);
                if (!why.empty())
                    std::fprintf(stderr, "null_target: connection dropped: %s\n", why.c_str());
            }).detach();
        } catch (const std::system_error& e) {
            std::fprintf(stderr, "null_target: cannot start a connection thread: %s\n", e.what());
            ::close(fd);
        }
    }
}

} // namespace

int main(int argc, char** argv)
{
    options o;
    if (const std::string err = parse(argc, argv, o); !err.empty()) {
        if (err != "help")
            std::cerr << "null_target: " << err << '\n';
        std::cerr << usage;
        return err == "help" ? 0 : 2;
    }

    // SIGTERM/SIGINT are taken by sigwait() below; every thread inherits the mask.
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, nullptr);
    ::signal(SIGPIPE, SIG_IGN);

    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(o.port);
    if (::inet_pton(AF_INET, o.address.c_str(), &sa.sin_addr) != 1) {
        std::cerr << "null_target: bad --address " << o.address << " (an IPv4 address)\n";
        return 2;
    }
    const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    if (listener < 0 || ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        ::bind(listener, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(listener, 16) != 0) {
        std::cerr << "null_target: cannot listen on " << o.address << ':' << o.port << ": " << std::strerror(errno)
                  << '\n';
        return 1;
    }
    socklen_t len = sizeof sa;
    ::getsockname(listener, reinterpret_cast<sockaddr*>(&sa), &len);
    const std::string portal = o.address + ":" + std::to_string(ntohs(sa.sin_port));

    connection_settings s;
    s.target.iqn = o.iqn;
    s.target.portal = portal;
    s.target.max_recv_data_segment_length = o.max_recv_dsl;
    s.target.digests = o.digests;
    s.lun.blocks = o.size / o.block_size;
    s.lun.block_size = o.block_size;
    s.lun.serial = "ivsnull" + std::to_string(ntohs(sa.sin_port));

    std::thread(accept_loop, listener, s).detach();
    std::printf("listening on %s\n", portal.c_str());
    std::fflush(stdout);

    int sig = 0;
    while (sigwait(&stop, &sig) != 0) {
    }
    std::fprintf(stderr, "null_target: signal %d, exiting\n", sig);
    std::fflush(stderr);
    std::_Exit(0); // connection threads die with the process
}
