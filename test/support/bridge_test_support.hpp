// A bridge under test: embedded vscsi + bridge + iscsi::session over a
// socketpair to a scripted target, all on the test thread's io_context. The
// midlayer side submits asynchronously; its completions run in T2I.
#pragma once

#include "bridge/bridge.hpp"
#include "vscsi/direct_access.hpp"
#include "vscsi/embedded_vscsi.hpp"
#include "test/support/scripted_session.hpp"

#include <mutex>
#include <optional>

namespace ivs::bridge::test {

using namespace ivs::vscsi;
using namespace std::chrono_literals;

inline scsi_command rw10(bool write, int target, int lun, std::uint32_t lba, std::span<std::byte> buf)
{
    scsi_command c;
    c.target = target;
    c.lun = lun;
    c.cdb[0] = write ? 0x2a : 0x28;
    for (int i = 0; i < 4; ++i)
        c.cdb[2 + i] = static_cast<std::uint8_t>(lba >> (24 - 8 * i));
    const auto blocks = static_cast<std::uint16_t>(buf.size() / 512);
    c.cdb[7] = static_cast<std::uint8_t>(blocks >> 8);
    c.cdb[8] = static_cast<std::uint8_t>(blocks);
    c.cdblen = 10;
    c.dir = write ? vscsi_dir::write : vscsi_dir::read;
    if (write)
        c.data_out = buf;
    else
        c.data_in = buf;
    return c;
}

inline scsi_command plain(int target, int lun, std::initializer_list<std::uint8_t> cdb, std::span<std::byte> in = {})
{
    scsi_command c;
    c.target = target;
    c.lun = lun;
    std::size_t i = 0;
    for (auto b : cdb)
        c.cdb[i++] = b;
    c.cdblen = cdb.size();
    if (!in.empty()) {
        c.dir = vscsi_dir::read;
        c.data_in = in;
    }
    return c;
}

// Completions seen by the midlayer (they run on the io thread in T2I).
struct outcomes {
    std::mutex m;
    std::vector<std::optional<scsi_completion>> got;

    scsi_completion_handler slot(std::size_t i)
    {
        std::lock_guard lk(m);
        if (got.size() <= i)
            got.resize(i + 1);
        return [this, i](const scsi_completion& c) {
            std::lock_guard lk2(m);
            if (got[i])
                FAIL("second completion for command " << i);
            got[i] = c;
        };
    }
    std::size_t count()
    {
        std::lock_guard lk(m);
        std::size_t n = 0;
        for (auto& g : got)
            n += g.has_value();
        return n;
    }
    scsi_completion at(std::size_t i)
    {
        std::lock_guard lk(m);
        REQUIRE(i < got.size());
        REQUIRE(got[i].has_value());
        return *got[i];
    }
};

struct rig {
    ivs::test::scripted_target target;
    ivs::test::session_harness h;
    embedded_vscsi vs;
    std::unique_ptr<vscsi_device> dev;
    std::unique_ptr<iscsi::session> session;
    std::unique_ptr<bridge> br;
    std::vector<slot> slots;
    outcomes out;

    // `more` are the targets of later connections (reconnects, with recover);
    // `tweak` changes the session's configuration.
    explicit rig(bridge_options opt = {}, std::vector<ivs::test::scripted_target*> more = {},
                 const std::function<void(iscsi::session_config&)>& tweak = {})
    {
        REQUIRE(!vs.open(dev));
        more.insert(more.begin(), &target);
        auto cfg = ivs::test::make_config(more);
        cfg.recover = more.size() > 1;
        if (tweak)
            tweak(cfg);
        session = std::make_unique<iscsi::session>(h.io, cfg);
        br = std::make_unique<bridge>(h.io, *dev, std::move(opt));
    }
    ~rig()
    {
        // Bridge before the device (its shutdown answers through it).
        br.reset();
        session.reset();
        dev.reset();
    }

    // Runs the script, logs in and maps `remote_luns`.
    void start(ivs::test::scripted_target::script s, std::vector<std::uint64_t> remote_luns)
    {
        target.run(std::move(s));
        REQUIRE(h.login(*session) == std::error_code{});
        REQUIRE(!br->add_session(*session, remote_luns, slots));
        br->start();
    }

    void submit(std::size_t id, const scsi_command& c) { REQUIRE(!vs.submit(c, out.slot(id))); }

    bool wait_for(std::size_t n, std::chrono::seconds limit = 20s)
    {
        return h.run_until([&] { return out.count() >= n; }, limit);
    }
};

// A device that forwards to another and fails chosen calls (EFAULT), to
// check that the bridge survives device errors.
struct faulty_device : vscsi_device, direct_access {
    explicit faulty_device(vscsi_device& d) : real(d) {}
    vscsi_device& real;
    int fail_data_read = 0; // the next N data_read (and data_read_placed) calls fail
    bool zero_copy = false; // forward data_read_buffer / data_write_buffer (else: unsupported, copies)
    int data_read_calls = 0, placed_calls = 0, data_write_calls = 0, taken_calls = 0;
    int fail_t2i = 0;                       // the next N t2i calls fail (and are lost)
    std::function<void(vscsi_i2t&)> mangle; // alters what i2t returns

    int readiness_fd() const override { return real.readiness_fd(); }
    std::error_code i2t(vscsi_i2t& out) override
    {
        auto ec = real.i2t(out);
        if (!ec && mangle)
            mangle(out);
        return ec;
    }
    std::error_code data_read(int tag, std::span<const std::byte> d) override
    {
        if (fail_data_read > 0) {
            --fail_data_read;
            return make_error_code(std::errc::bad_address);
        }
        ++data_read_calls;
        return real.data_read(tag, d);
    }
    std::error_code data_write(int tag, std::span<std::byte> d) override
    {
        ++data_write_calls;
        return real.data_write(tag, d);
    }
    std::error_code t2i(int tag, vscsi_status st, const scsi::fixed_sense& s) override
    {
        if (fail_t2i > 0) {
            --fail_t2i;
            return make_error_code(std::errc::bad_address);
        }
        return real.t2i(tag, st, s);
    }
    std::error_code request_probe(int t, int l) override { return real.request_probe(t, l); }
    std::error_code request_detach(int t, int l) override { return real.request_detach(t, l); }
    direct_access* direct() noexcept override { return real.direct() ? this : nullptr; }

    // direct_access, forwarded
    std::span<std::byte> data_read_buffer(int tag) override
    {
        return zero_copy ? real.direct()->data_read_buffer(tag) : std::span<std::byte>{};
    }
    std::error_code data_read_placed(int tag, std::size_t n) override
    {
        if (fail_data_read > 0) {
            --fail_data_read;
            return make_error_code(std::errc::bad_address);
        }
        ++placed_calls;
        return real.direct()->data_read_placed(tag, n);
    }
    std::span<const std::byte> data_write_buffer(int tag) override
    {
        return zero_copy ? real.direct()->data_write_buffer(tag) : std::span<const std::byte>{};
    }
    std::error_code data_write_taken(int tag, std::size_t n) override
    {
        ++taken_calls;
        return real.direct()->data_write_taken(tag, n);
    }
    // Through this device's own t2i (fail_t2i), without the hint.
    std::error_code t2i_then_dequeue(int tag, vscsi_status st, const scsi::fixed_sense& s) override
    {
        return t2i(tag, st, s);
    }
};

} // namespace ivs::bridge::test
