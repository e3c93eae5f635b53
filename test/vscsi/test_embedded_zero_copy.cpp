// The embedded vscsi's zero-copy DATA_READ and DATA_WRITE
// (vscsi::direct_access: data_read_buffer / data_read_placed,
// data_write_buffer / data_write_taken): the midlayer's own buffer, and accounting with the same
// errors and residuals as data_read and data_write. Also the pooled command blocks: many
// commands, reused, keep every completion and residual right.
#include "test/support/embedded_unit_support.hpp"
#include "vscsi/direct_access.hpp"

#include <algorithm>
#include <cstring>

using namespace ivs;
using namespace ivs::vscsi;
using namespace ivs::vscsi::test;

namespace {

// A device that only implements the ioctls, as /dev/vscsi0 does.
struct ioctl_only final : vscsi_device {
    int readiness_fd() const override { return -1; }
    std::error_code i2t(vscsi_i2t&) override { return {}; }
    std::error_code data_read(int, std::span<const std::byte>) override { return {}; }
    std::error_code data_write(int, std::span<std::byte>) override { return {}; }
    std::error_code t2i(int, vscsi_status, const scsi::fixed_sense&) override { return {}; }
    std::error_code request_probe(int, int) override { return {}; }
    std::error_code request_detach(int, int) override { return {}; }
};

} // namespace

TEST_CASE("direct access is optional: none by default (the /dev/vscsi0 ioctls), the embedded handle's own",
          "[vscsi][zero-copy]")
{
    ioctl_only d;
    CHECK(d.direct() == nullptr);
    opened o;
    REQUIRE(o.h->direct() != nullptr);
    CHECK(dynamic_cast<vscsi_device*>(o.h->direct()) == o.h.get());
}

TEST_CASE("data_read_buffer is the midlayer's buffer of a dequeued READ only", "[vscsi][zero-copy]")
{
    recorder rec; // outlives the device: the close completes into it
    opened o;
    std::vector<std::byte> rbuf(16), wbuf(8);
    REQUIRE_FALSE(o.dev.submit(read_cmd(rbuf), rec.handler(1)));
    REQUIRE_FALSE(o.dev.submit(write_cmd(wbuf), rec.handler(2)));
    REQUIRE_FALSE(o.dev.submit(cmd6(0, 0, 0x00), rec.handler(3)));
    CHECK(o.h->direct()->data_read_buffer(0).empty()); // tag 0 is waiting, not dequeued
    vscsi_i2t rd, wr, none;
    REQUIRE_FALSE(o.h->i2t(rd));
    REQUIRE_FALSE(o.h->i2t(wr));
    REQUIRE_FALSE(o.h->i2t(none));
    const auto span = o.h->direct()->data_read_buffer(rd.tag);
    CHECK(span.data() == rbuf.data());
    CHECK(span.size() == rbuf.size());
    CHECK(o.h->direct()->data_read_buffer(wr.tag).empty());
    CHECK(o.h->direct()->data_read_buffer(none.tag).empty());
    CHECK(o.h->direct()->data_read_buffer(12345).empty());
    REQUIRE_FALSE(o.h->t2i(rd.tag, vscsi_status::done));
    CHECK(o.h->direct()->data_read_buffer(rd.tag).empty()); // completed: the midlayer's again
}

TEST_CASE("data_read_placed accounts like data_read, without copying", "[vscsi][zero-copy]")
{
    recorder rec;
    opened o;
    std::vector<std::byte> buf(8, std::byte{0xee});
    REQUIRE_FALSE(o.dev.submit(read_cmd(buf), rec.handler(1)));
    vscsi_i2t c;
    REQUIRE_FALSE(o.h->i2t(c));
    const auto mid = o.h->direct()->data_read_buffer(c.tag);
    REQUIRE(mid.size() == 8);
    std::memset(mid.data(), 0x11, 3);
    CHECK_FALSE(o.h->direct()->data_read_placed(c.tag, 3));
    CHECK_FALSE(o.h->direct()->data_read_placed(c.tag, 0)); // nothing, legal
    // Mixed with data_read: it continues where the placed bytes stopped.
    const std::vector<std::byte> two{std::byte{0x22}, std::byte{0x22}};
    CHECK_FALSE(o.h->data_read(c.tag, two));
    CHECK(o.h->direct()->data_read_placed(c.tag, 4) == enomem); // 3 remain
    CHECK_FALSE(o.h->direct()->data_read_placed(c.tag, 1));
    CHECK(buf[3] == std::byte{0x22});
    CHECK(buf[4] == std::byte{0x22});
    CHECK(buf[5] == std::byte{0xee}); // placed, but nothing written by the device
    REQUIRE_FALSE(o.h->t2i(c.tag, vscsi_status::done));
    REQUIRE(rec.size() == 1);
    CHECK(rec.got[0].second.residual == 2);                     // 8 - (3 + 2 + 1)
    CHECK(o.h->direct()->data_read_placed(c.tag, 1) == efault); // completed
}

TEST_CASE("data_read_placed: EFAULT for unknown or waiting tags, EINVAL for non-READs", "[vscsi][zero-copy]")
{
    recorder rec;
    opened o;
    std::vector<std::byte> buf(4);
    REQUIRE_FALSE(o.dev.submit(read_cmd(buf), rec.handler(1)));
    CHECK(o.h->direct()->data_read_placed(0, 1) == efault); // waiting
    CHECK(o.h->direct()->data_read_placed(-3, 1) == efault);
    REQUIRE_FALSE(o.dev.submit(write_cmd(buf), rec.handler(2)));
    REQUIRE_FALSE(o.dev.submit(cmd6(0, 0, 0x00), rec.handler(3)));
    vscsi_i2t rd, wr, none;
    REQUIRE_FALSE(o.h->i2t(rd));
    REQUIRE_FALSE(o.h->i2t(wr));
    REQUIRE_FALSE(o.h->i2t(none));
    CHECK(o.h->direct()->data_read_placed(wr.tag, 1) == einval);
    CHECK(o.h->direct()->data_read_placed(none.tag, 0) == einval);
    CHECK(o.h->direct()->data_read_placed(rd.tag, 5) == enomem);
    CHECK_FALSE(o.h->direct()->data_read_placed(rd.tag, 4));
    REQUIRE_FALSE(o.h->t2i(rd.tag, vscsi_status::done));
    CHECK(rec.got.at(0).second.residual == 0);
}

TEST_CASE("data_write_buffer is the midlayer's data of a dequeued WRITE only", "[vscsi][zero-copy]")
{
    recorder rec;
    opened o;
    std::vector<std::byte> rbuf(16), wbuf(8);
    REQUIRE_FALSE(o.dev.submit(write_cmd(wbuf), rec.handler(1)));
    REQUIRE_FALSE(o.dev.submit(read_cmd(rbuf), rec.handler(2)));
    REQUIRE_FALSE(o.dev.submit(cmd6(0, 0, 0x00), rec.handler(3)));
    CHECK(o.h->direct()->data_write_buffer(0).empty()); // waiting, not dequeued
    vscsi_i2t wr, rd, none;
    REQUIRE_FALSE(o.h->i2t(wr));
    REQUIRE_FALSE(o.h->i2t(rd));
    REQUIRE_FALSE(o.h->i2t(none));
    const auto span = o.h->direct()->data_write_buffer(wr.tag);
    CHECK(span.data() == wbuf.data());
    CHECK(span.size() == wbuf.size());
    CHECK(o.h->direct()->data_write_buffer(rd.tag).empty());
    CHECK(o.h->direct()->data_write_buffer(none.tag).empty());
    CHECK(o.h->direct()->data_write_buffer(-7).empty());
    REQUIRE_FALSE(o.h->t2i(wr.tag, vscsi_status::done));
    CHECK(o.h->direct()->data_write_buffer(wr.tag).empty()); // completed: the midlayer's again
}

TEST_CASE("data_write_taken accounts like data_write, with the same errors", "[vscsi][zero-copy]")
{
    recorder rec;
    opened o;
    std::vector<std::byte> wbuf(8, std::byte{0x5a}), rbuf(4);
    REQUIRE_FALSE(o.dev.submit(write_cmd(wbuf), rec.handler(1)));
    CHECK(o.h->direct()->data_write_taken(0, 1) == efault); // waiting
    REQUIRE_FALSE(o.dev.submit(read_cmd(rbuf), rec.handler(2)));
    vscsi_i2t wr, rd;
    REQUIRE_FALSE(o.h->i2t(wr));
    REQUIRE_FALSE(o.h->i2t(rd));
    CHECK(o.h->direct()->data_write_taken(rd.tag, 1) == einval);
    CHECK_FALSE(o.h->direct()->data_write_taken(wr.tag, 3));
    CHECK_FALSE(o.h->direct()->data_write_taken(wr.tag, 0)); // nothing, legal
    // Mixed with data_write: it continues where the taken bytes stopped.
    std::vector<std::byte> two(2);
    wbuf[3] = std::byte{0x33};
    CHECK_FALSE(o.h->data_write(wr.tag, two));
    CHECK(two[0] == std::byte{0x33});
    CHECK(o.h->direct()->data_write_taken(wr.tag, 4) == enomem); // 3 remain
    CHECK_FALSE(o.h->direct()->data_write_taken(wr.tag, 1));
    REQUIRE_FALSE(o.h->t2i(wr.tag, vscsi_status::done));
    REQUIRE(rec.size() == 1);
    CHECK(rec.got[0].second.residual == 2);                      // 8 - (3 + 2 + 1)
    CHECK(o.h->direct()->data_write_taken(wr.tag, 1) == efault); // completed
    CHECK(std::all_of(wbuf.begin(), wbuf.end(),
                      [](std::byte b) { return b == std::byte{0x5a} || b == std::byte{0x33}; }));
}

TEST_CASE("reused command blocks keep tags, residuals and completions apart", "[vscsi][zero-copy]")
{
    recorder rec;
    opened o;
    constexpr int rounds = 50, width = 8;
    std::vector<std::vector<std::byte>> bufs(width, std::vector<std::byte>(64));
    int id = 0;
    for (int r = 0; r < rounds; ++r) {
        for (int i = 0; i < width; ++i)
            REQUIRE_FALSE(o.dev.submit(read_cmd(bufs[static_cast<std::size_t>(i)]), rec.handler(id++)));
        for (int i = 0; i < width; ++i) {
            vscsi_i2t c;
            REQUIRE_FALSE(o.h->i2t(c));
            REQUIRE(o.h->direct()->data_read_buffer(c.tag).size() == 64);
            REQUIRE_FALSE(o.h->direct()->data_read_placed(c.tag, static_cast<std::size_t>(i)));
            REQUIRE_FALSE(o.h->t2i(c.tag, vscsi_status::done));
        }
    }
    REQUIRE(rec.size() == static_cast<std::size_t>(rounds * width));
    for (std::size_t k = 0; k < rec.got.size(); ++k) {
        CHECK(rec.got[k].first == static_cast<int>(k));
        CHECK(rec.got[k].second.residual == 64 - k % width);
    }
}
