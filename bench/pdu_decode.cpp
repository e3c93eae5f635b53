// Decode throughput of the PDU reader: 8 KiB SCSI Data-In PDUs (RFC 7143
// §11.7) with digests, fed in 64 KiB "socket reads", each data segment placed
// at its Buffer Offset in a task buffer, as a connection does it.
//
// Usage: bench_pdu_decode [seconds] [--no-header-digest] [--no-data-digest]
#include "pdu/bytes.hpp"
#include "pdu/crc32c.hpp"
#include "pdu/reader.hpp"
#include "pdu/writer.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

using namespace ivs::pdu;

namespace {

constexpr std::size_t segment = 8192;
constexpr std::size_t pdus_per_task = 128; // a 1 MiB READ
constexpr std::size_t read_size = 64 * 1024;

std::vector<std::byte> make_stream(digest_settings digests, const std::vector<std::byte>& payload)
{
    std::vector<std::byte> stream;
    for (std::size_t i = 0; i < pdus_per_task; ++i) {
        bhs_bytes bhs{};
        bhs[0] = std::byte{0x25};                                          // SCSI Data-In
        store32(bhs.data() + 16, 0x1234);                                  // Initiator Task Tag
        store32(bhs.data() + 36, static_cast<std::uint32_t>(i));           // DataSN
        store32(bhs.data() + 40, static_cast<std::uint32_t>(i * segment)); // Buffer Offset
        outgoing_pdu pdu;
        if (pdu.assemble(bhs, {}, std::span(payload).subspan(i * segment, segment), digests)) {
            std::fprintf(stderr, "framing failed\n");
            std::exit(1);
        }
        for (auto b : pdu.buffers())
            stream.insert(stream.end(), b.begin(), b.end());
    }
    return stream;
}

} // namespace

int main(int argc, char** argv)
{
    double seconds = 2.0;
    digest_settings digests{true, true};
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg(argv[i]);
        if (arg == "--no-header-digest")
            digests.header = false;
        else if (arg == "--no-data-digest")
            digests.data = false;
        else
            seconds = std::atof(argv[i]);
    }

    std::vector<std::byte> payload(segment * pdus_per_task);
    for (std::size_t i = 0; i < payload.size(); ++i)
        payload[i] = std::byte(static_cast<std::uint8_t>(i * 31 + 7));
    const auto stream = make_stream(digests, payload);
    std::vector<std::byte> task_buffer(payload.size());

    pdu_reader reader(reader_config{262144, digests.header, digests.data});
    std::uint64_t pdus = 0, data_bytes = 0, wire_bytes = 0;
    const auto start = std::chrono::steady_clock::now();
    auto now = start;
    do {
        for (std::size_t pos = 0; pos < stream.size();) {
            auto in = std::span(stream).subspan(pos, std::min(read_size, stream.size() - pos));
            pos += in.size();
            while (!in.empty()) {
                const auto r = reader.feed(in);
                in = in.subspan(r.consumed);
                if (r.ev == pdu_reader::event::header_ready) {
                    const std::uint32_t offset = load32(reader.bhs().data() + 40);
                    if (offset > task_buffer.size() ||
                        reader.set_data_destination(std::span(task_buffer).subspan(offset))) {
                        std::fprintf(stderr, "bad destination\n");
                        return 1;
                    }
                } else if (r.ev == pdu_reader::event::pdu_ready) {
                    ++pdus;
                    data_bytes += reader.data().size();
                } else if (r.ev == pdu_reader::event::failed) {
                    std::fprintf(stderr, "reader failed: %s\n", reader.error().message().c_str());
                    return 1;
                }
            }
        }
        wire_bytes += stream.size();
        now = std::chrono::steady_clock::now();
    } while (std::chrono::duration<double>(now - start).count() < seconds);

    if (std::memcmp(task_buffer.data(), payload.data(), payload.size()) != 0) {
        std::fprintf(stderr, "data mismatch\n");
        return 1;
    }
    const double elapsed = std::chrono::duration<double>(now - start).count();
    std::printf("crc32c: %s, header digest %s, data digest %s\n", crc32c_implementation(),
                digests.header ? "on" : "off", digests.data ? "on" : "off");
    std::printf("%llu PDUs of %zu bytes in %.2f s: %.2f GB/s data, %.2f GB/s wire, %.0f PDUs/s\n",
                static_cast<unsigned long long>(pdus), segment, elapsed, data_bytes / elapsed / 1e9,
                wire_bytes / elapsed / 1e9, pdus / elapsed);
    return 0;
}
