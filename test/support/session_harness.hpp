// Drives an iscsi::session synchronously from a test: runs the io_context
// until an operation completes, bounded in time. Sessions whose config takes
// `clock` run their timers on test time: run_until() fires what is due,
// advance_until() moves time on.
#pragma once

#include "iscsi/session.hpp"
#include "test/support/manual_clock.hpp"

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace ivs::test {

struct session_harness {
    boost::asio::io_context io;
    std::shared_ptr<manual_clock> clock = std::make_shared<manual_clock>();

    // Runs the io_context (and the timers due on the test clock) until
    // done() or `limit` of real time.
    template <class Pred>
    bool run_until(Pred done, std::chrono::seconds limit = std::chrono::seconds(60))
    {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (!done() && std::chrono::steady_clock::now() < deadline) {
            if (io.stopped())
                io.restart();
            clock->advance({});
            io.run_one_for(std::chrono::milliseconds(clock->next_in() == manual_clock::duration::zero() ? 0 : 20));
        }
        return done();
    }

    // Runs ready handlers and due timers until nothing has happened for
    // `settle` of real time (the peer's thread answers within that).
    void drain(std::chrono::milliseconds settle = std::chrono::milliseconds(10))
    {
        for (;;) {
            if (io.stopped())
                io.restart();
            clock->advance({});
            if (io.run_one_for(settle) == 0 && clock->next_in() != manual_clock::duration::zero())
                return;
        }
    }

    // Moves test time on, one timer at a time, letting I/O settle after each,
    // until done() or `limit` of test time has passed. Real time is spent
    // only waiting for the peer's I/O.
    template <class Pred>
    bool advance_until(Pred done, manual_clock::duration limit,
                       std::chrono::milliseconds settle = std::chrono::milliseconds(10))
    {
        const auto end = clock->now() + limit;
        for (;;) {
            drain(settle);
            if (done())
                return true;
            if (clock->now() >= end)
                return false;
            clock->advance(std::min(clock->next_in(), end - clock->now()));
        }
    }

    // Moves test time on by `d` and lets I/O settle.
    void advance(manual_clock::duration d)
    {
        clock->advance(d);
        drain();
    }

    // Starts the session; returns {} or the error with its message in `message`.
    std::error_code login(iscsi::session& s, std::string* message = nullptr)
    {
        std::optional<std::error_code> result;
        std::string msg;
        s.start([&](std::error_code ec, const std::string& m) {
            result = ec;
            msg = m;
        });
        if (!run_until([&] { return result.has_value(); }))
            return make_error_code(std::errc::timed_out);
        if (message)
            *message = msg;
        return *result;
    }

    iscsi::scsi_result execute(iscsi::session& s, const iscsi::scsi_request& r)
    {
        std::optional<iscsi::scsi_result> result;
        s.submit(r, [&](const iscsi::scsi_result& res) { result = res; });
        if (!run_until([&] { return result.has_value(); })) {
            iscsi::scsi_result timeout;
            timeout.error = make_error_code(std::errc::timed_out);
            return timeout;
        }
        return *result;
    }

    std::error_code logout(iscsi::session& s)
    {
        std::optional<std::error_code> result;
        s.logout([&](std::error_code ec) { result = ec; });
        if (!run_until([&] { return result.has_value(); }))
            return make_error_code(std::errc::timed_out);
        return *result;
    }
};

inline std::vector<std::byte> random_bytes(std::size_t n, unsigned seed)
{
    std::mt19937_64 rng(seed);
    std::vector<std::byte> out(n);
    for (std::size_t i = 0; i < n; i += 8) {
        const auto v = rng();
        std::memcpy(out.data() + i, &v, std::min<std::size_t>(8, n - i));
    }
    return out;
}

// READ(16) / WRITE(16) of `blocks` 512-byte blocks at `lba`.
inline iscsi::scsi_request rw16(bool write, std::uint64_t lun, std::uint64_t lba, std::uint32_t blocks,
                                std::span<std::byte> buffer)
{
    iscsi::scsi_request r;
    r.lun = lun;
    std::byte cdb[16] = {};
    cdb[0] = std::byte{static_cast<unsigned char>(write ? 0x8a : 0x88)};
    for (int i = 0; i < 8; ++i)
        cdb[2 + i] = std::byte(lba >> (56 - 8 * i));
    for (int i = 0; i < 4; ++i)
        cdb[10 + i] = std::byte(blocks >> (24 - 8 * i));
    r.set_cdb(cdb);
    r.expected_length = blocks * 512;
    if (write) {
        r.direction = iscsi::data_direction::write;
        r.write_buffer = buffer.first(r.expected_length);
    } else {
        r.direction = iscsi::data_direction::read;
        r.read_buffer = buffer.first(r.expected_length);
    }
    return r;
}

} // namespace ivs::test
