// The embedded vscsi against every rule of the vscsi(4) contract: the test
// thread plays the daemon, the midlayer side submits commands.
#include "test/support/embedded_unit_support.hpp"
#include "vscsi/direct_access.hpp"

#include <climits>
#include <thread>

using namespace ivs;
using namespace ivs::vscsi;
using namespace ivs::vscsi::test;

namespace {

std::vector<std::byte> bytes(std::initializer_list<int> v)
{
    std::vector<std::byte> out;
    for (int x : v)
        out.push_back(static_cast<std::byte>(x));
    return out;
}

} // namespace

TEST_CASE("i2t is EAGAIN when empty and the readiness fd is readable exactly while commands wait", "[vscsi]")
{
    recorder rec; // outlives the device: the close completes into it
    opened o;
    vscsi_i2t c;
    CHECK(o.h->i2t(c) == eagain);
    CHECK_FALSE(readable(o.h->readiness_fd()));

    REQUIRE_FALSE(o.dev.submit(cmd6(3, 2, 0x00), rec.handler(1)));
    CHECK(readable(o.h->readiness_fd()));
    CHECK(readable(o.h->readiness_fd())); // level-triggered: stays readable
    REQUIRE_FALSE(o.dev.submit(cmd6(4, 5, 0x00), rec.handler(2)));
    CHECK(readable(o.h->readiness_fd()));

    REQUIRE_FALSE(o.h->i2t(c));
    CHECK(c.target == 3);
    CHECK(c.lun == 2);
    CHECK(c.cmdlen == 6);
    CHECK(c.direction == vscsi_dir::none);
    CHECK(c.datalen == 0);
    CHECK(readable(o.h->readiness_fd())); // one still waits
    REQUIRE_FALSE(o.h->i2t(c));
    CHECK(c.target == 4);
    CHECK_FALSE(readable(o.h->readiness_fd()));
    CHECK(o.h->i2t(c) == eagain);
    CHECK(rec.size() == 0);
}

TEST_CASE("i2t hands out the oldest command with its CDB, datalen and direction", "[vscsi]")
{
    recorder rec; // outlives the device: the close completes into it
    opened o;
    std::vector<std::byte> buf(100);
    scsi_command rc = read_cmd(buf);
    rc.cdb = {0x88, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    rc.cdblen = 16;
    REQUIRE_FALSE(o.dev.submit(rc, rec.handler(1)));
    REQUIRE_FALSE(o.dev.submit(write_cmd(buf), rec.handler(2)));
    vscsi_i2t c;
    REQUIRE_FALSE(o.h->i2t(c));
    CHECK(c.cmd == rc.cdb);
    CHECK(c.cmdlen == 16);
    CHECK(c.datalen == 100);
    CHECK(c.direction == vscsi_dir::read);
    REQUIRE_FALSE(o.h->i2t(c));
    CHECK(c.cmd[0] == 0x0a);
    CHECK(c.cmd[6] == 0); // bytes past cmdlen are zero
    CHECK(c.direction == vscsi_dir::write);
}

TEST_CASE("tags grow, wrap, and are not reused", "[vscsi]")
{
    SECTION("a counter that only grows")
    {
        recorder rec;
        opened o;
        std::vector<int> tags;
        for (int round = 0; round < 3; ++round) {
            for (int i = 0; i < 3; ++i)
                REQUIRE_FALSE(o.dev.submit(cmd6(0, 0, 0), rec.handler(i)));
            vscsi_i2t c;
            while (!o.h->i2t(c)) {
                tags.push_back(c.tag);
                REQUIRE_FALSE(o.h->t2i(c.tag, vscsi_status::done));
            }
        }
        REQUIRE(tags.size() == 9);
        for (std::size_t i = 1; i < tags.size(); ++i)
            CHECK(tags[i] == tags[i - 1] + 1);
    }
    SECTION("wraps from INT_MAX to INT_MIN")
    {
        embedded_vscsi_config cfg;
        cfg.first_tag = INT_MAX - 1;
        recorder rec;
        opened o(cfg);
        for (int i = 0; i < 3; ++i)
            REQUIRE_FALSE(o.dev.submit(cmd6(0, 0, 0), rec.handler(i)));
        vscsi_i2t a, b, c;
        REQUIRE_FALSE(o.h->i2t(a));
        REQUIRE_FALSE(o.h->i2t(b));
        REQUIRE_FALSE(o.h->i2t(c));
        CHECK(a.tag == INT_MAX - 1);
        CHECK(b.tag == INT_MAX);
        CHECK(c.tag == INT_MIN);
        CHECK_FALSE(o.h->t2i(c.tag, vscsi_status::done));
    }
}

TEST_CASE("data_read supplies a SCSI READ's data sequentially; a short total leaves a residual", "[vscsi]")
{
    recorder rec; // outlives the device: the close completes into it
    opened o;
    std::vector<std::byte> buf(8, std::byte{0xee});
    REQUIRE_FALSE(o.dev.submit(read_cmd(buf), rec.handler(1)));
    vscsi_i2t c;
    REQUIRE_FALSE(o.h->i2t(c));
    CHECK_FALSE(o.h->data_read(c.tag, bytes({1, 2, 3})));
    CHECK_FALSE(o.h->data_read(c.tag, {})); // nothing, legal
    CHECK_FALSE(o.h->data_read(c.tag, bytes({4, 5})));
    CHECK(buf == (std::vector<std::byte>{std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}, std::byte{5},
                                         std::byte{0xee}, std::byte{0xee}, std::byte{0xee}}));
    REQUIRE_FALSE(o.h->t2i(c.tag, vscsi_status::done));
    REQUIRE(rec.size() == 1);
    CHECK(rec.got[0].second.status == vscsi_status::done);
    CHECK(rec.got[0].second.residual == 3);
}

TEST_CASE("data_write fetches a SCSI WRITE's data sequentially", "[vscsi]")
{
    recorder rec; // outlives the device: the close completes into it
    opened o;
    const auto src = bytes({10, 11, 12, 13, 14, 15});
    REQUIRE_FALSE(o.dev.submit(write_cmd(src), rec.handler(1)));
    vscsi_i2t c;
    REQUIRE_FALSE(o.h->i2t(c));
    std::vector<std::byte> part1(4), part2(2);
    CHECK_FALSE(o.h->data_write(c.tag, part1));
    CHECK_FALSE(o.h->data_write(c.tag, part2));
    CHECK(part1 == bytes({10, 11, 12, 13}));
    CHECK(part2 == bytes({14, 15}));
    REQUIRE_FALSE(o.h->t2i(c.tag, vscsi_status::done));
    REQUIRE(rec.size() == 1);
    CHECK(rec.got[0].second.residual == 0);
}

TEST_CASE("EFAULT for a tag never dequeued, unknown, or already completed", "[vscsi]")
{
    embedded_vscsi_config cfg;
    cfg.first_tag = 100;
    recorder rec;
    opened o(cfg);
    std::vector<std::byte> buf(4);
    REQUIRE_FALSE(o.dev.submit(read_cmd(buf), rec.handler(1))); // tag 100, waiting
    CHECK(o.h->data_read(100, bytes({1})) == efault);
    CHECK(o.h->t2i(100, vscsi_status::done) == efault);
    CHECK(o.h->data_read(12345, bytes({1})) == efault);
    CHECK(o.h->t2i(-7, vscsi_status::done) == efault);
    CHECK(rec.size() == 0);

    vscsi_i2t c;
    REQUIRE_FALSE(o.h->i2t(c));
    REQUIRE(c.tag == 100);
    REQUIRE_FALSE(o.h->t2i(c.tag, vscsi_status::done));
    CHECK(o.h->data_read(c.tag, bytes({1})) == efault);
    CHECK(o.h->data_write(c.tag, buf) == efault);
    CHECK(o.h->t2i(c.tag, vscsi_status::done) == efault);
    CHECK(rec.size() == 1);
}

TEST_CASE("ENOMEM for more bytes than remain, with nothing copied", "[vscsi]")
{
    recorder rec; // outlives the device: the close completes into it
    opened o;
    std::vector<std::byte> buf(4, std::byte{0xaa});
    REQUIRE_FALSE(o.dev.submit(read_cmd(buf), rec.handler(1)));
    vscsi_i2t c;
    REQUIRE_FALSE(o.h->i2t(c));
    CHECK(o.h->data_read(c.tag, bytes({1, 2, 3, 4, 5})) == enomem);
    CHECK(buf == std::vector<std::byte>(4, std::byte{0xaa}));
    CHECK_FALSE(o.h->data_read(c.tag, bytes({1, 2, 3})));
    CHECK(o.h->data_read(c.tag, bytes({4, 5})) == enomem);
    CHECK(buf[3] == std::byte{0xaa});
    CHECK_FALSE(o.h->data_read(c.tag, bytes({4})));
    CHECK(o.h->data_read(c.tag, bytes({9})) == enomem);
    REQUIRE_FALSE(o.h->t2i(c.tag, vscsi_status::done));
    CHECK(buf == bytes({1, 2, 3, 4}));
    CHECK(rec.got.at(0).second.residual == 0);

    const auto src = bytes({7, 8});
    REQUIRE_FALSE(o.dev.submit(write_cmd(src), rec.handler(2)));
    REQUIRE_FALSE(o.h->i2t(c));
    std::vector<std::byte> three(3, std::byte{0x55});
    CHECK(o.h->data_write(c.tag, three) == enomem);
    CHECK(three == std::vector<std::byte>(3, std::byte{0x55}));
}

TEST_CASE("EINVAL for the wrong direction or a command without data", "[vscsi]")
{
    recorder rec; // outlives the device: the close completes into it
    opened o;
    std::vector<std::byte> buf(4);
    REQUIRE_FALSE(o.dev.submit(read_cmd(buf), rec.handler(1)));
    REQUIRE_FALSE(o.dev.submit(write_cmd(buf), rec.handler(2)));
    REQUIRE_FALSE(o.dev.submit(cmd6(0, 0, 0x00), rec.handler(3)));
    vscsi_i2t rd, wr, none;
    REQUIRE_FALSE(o.h->i2t(rd));
    REQUIRE_FALSE(o.h->i2t(wr));
    REQUIRE_FALSE(o.h->i2t(none));
    std::vector<std::byte> two(2);
    CHECK(o.h->data_write(rd.tag, two) == einval);       // fetching from a READ
    CHECK(o.h->data_read(wr.tag, bytes({1})) == einval); // supplying to a WRITE
    CHECK(o.h->data_read(none.tag, bytes({1})) == einval);
    CHECK(o.h->data_write(none.tag, two) == einval);
    CHECK(o.h->data_read(none.tag, {}) == einval);
}

TEST_CASE("t2i statuses reach the midlayer", "[vscsi]")
{
    recorder rec; // outlives the device: the close completes into it
    opened o;
    const auto sense = scsi::make_fixed_sense(0x03, 0x11, 0x00); // MEDIUM ERROR, unrecovered read
    const vscsi_status statuses[] = {vscsi_status::done, vscsi_status::sense, vscsi_status::reset, vscsi_status::err,
                                     static_cast<vscsi_status>(7)};
    for (int i = 0; i < 5; ++i)
        REQUIRE_FALSE(o.dev.submit(cmd6(0, 0, 0), rec.handler(i)));
    for (auto st : statuses) {
        vscsi_i2t c;
        REQUIRE_FALSE(o.h->i2t(c));
        REQUIRE_FALSE(o.h->t2i(c.tag, st, sense));
    }
    REQUIRE(rec.size() == 5);
    CHECK(rec.got[0].second.status == vscsi_status::done);
    CHECK(rec.got[0].second.sense == scsi::fixed_sense{});
    CHECK(rec.got[1].second.status == vscsi_status::sense);
    CHECK(rec.got[1].second.sense == sense);
    CHECK(scsi::sense_key(rec.got[1].second.sense) == 0x03);
    CHECK(rec.got[2].second.status == vscsi_status::reset);
    CHECK(rec.got[3].second.status == vscsi_status::err);
    CHECK(rec.got[4].second.status == vscsi_status::err); // any other value
}

TEST_CASE("RESET re-issues a command with retries left under a new tag", "[vscsi]")
{
    recorder rec; // outlives the device: the close completes into it
    opened o;
    std::vector<std::byte> buf(4);
    scsi_command rc = read_cmd(buf);
    rc.retries = 1;
    REQUIRE_FALSE(o.dev.submit(rc, rec.handler(1)));
    vscsi_i2t a, b;
    REQUIRE_FALSE(o.h->i2t(a));
    REQUIRE_FALSE(o.h->data_read(a.tag, bytes({1, 2})));
    REQUIRE_FALSE(o.h->t2i(a.tag, vscsi_status::reset));
    CHECK(rec.size() == 0);
    CHECK(readable(o.h->readiness_fd()));
    REQUIRE_FALSE(o.h->i2t(b));
    CHECK(b.tag != a.tag);
    CHECK(b.cmd == a.cmd);
    CHECK(o.h->t2i(a.tag, vscsi_status::done) == efault);
    REQUIRE_FALSE(o.h->data_read(b.tag, bytes({5, 6, 7, 8}))); // starts over
    REQUIRE_FALSE(o.h->t2i(b.tag, vscsi_status::reset));       // no retry left
    REQUIRE(rec.size() == 1);
    CHECK(rec.got[0].second.status == vscsi_status::reset);
    CHECK(buf == bytes({5, 6, 7, 8}));
}

TEST_CASE("t2i_then_dequeue: the daemon's own thread queueing from the completion does not wake the fd", "[vscsi]")
{
    recorder rec;
    opened o;
    const int fd = o.h->readiness_fd();
    // Each completion queues the next command, as a midlayer at QD 1 does;
    // `from_other_thread` makes that one come from another thread instead.
    bool from_other_thread = false;
    std::function<void(int)> next = [&](int id) {
        REQUIRE_FALSE(o.dev.submit(cmd6(0, 0, 0), [&, id](const scsi_completion& c) {
            rec.handler(id)(c);
            if (id >= 3)
                return;
            if (from_other_thread)
                std::thread([&] { next(id + 1); }).join();
            else
                next(id + 1);
        }));
    };
    next(0);
    CHECK(readable(fd));
    vscsi_i2t c;
    REQUIRE_FALSE(o.h->i2t(c));
    CHECK_FALSE(readable(fd));

    REQUIRE_FALSE(o.h->direct()->t2i_then_dequeue(c.tag, vscsi_status::done, scsi::fixed_sense{}));
    CHECK_FALSE(readable(fd));  // queued quietly: the daemon takes it now
    REQUIRE_FALSE(o.h->i2t(c)); // it is there all the same
    CHECK(o.h->i2t(c) == eagain);

    REQUIRE_FALSE(o.h->t2i(c.tag, vscsi_status::done));
    CHECK(readable(fd)); // plain t2i: the next one wakes the fd
    vscsi_i2t d;
    REQUIRE_FALSE(o.h->i2t(d));
    CHECK_FALSE(readable(fd));

    from_other_thread = true;
    REQUIRE_FALSE(o.h->direct()->t2i_then_dequeue(d.tag, vscsi_status::done, scsi::fixed_sense{}));
    CHECK(readable(fd)); // another thread's command always wakes it
    REQUIRE_FALSE(o.h->i2t(d));
    CHECK_FALSE(readable(fd));
    REQUIRE_FALSE(o.h->direct()->t2i_then_dequeue(d.tag, vscsi_status::done, scsi::fixed_sense{}));
    REQUIRE(rec.size() == 4);
    for (int i = 0; i < 4; ++i)
        CHECK(rec.got[static_cast<std::size_t>(i)].first == i);
    CHECK(o.h->direct()->t2i_then_dequeue(d.tag, vscsi_status::done, scsi::fixed_sense{}) == efault);
    // After it, the daemon's thread is an ordinary submitter again.
    REQUIRE_FALSE(o.dev.submit(cmd6(0, 0, 0), rec.handler(9)));
    CHECK(readable(fd));
}

TEST_CASE("16 openings per LUN: the 17th command waits for a free one", "[vscsi]")
{
    recorder rec; // outlives the device: the close completes into it
    opened o;
    for (int i = 0; i < 17; ++i)
        REQUIRE_FALSE(o.dev.submit(cmd6(1, 2, 0), rec.handler(i)));
    std::vector<int> tags;
    vscsi_i2t c;
    while (!o.h->i2t(c))
        tags.push_back(c.tag);
    CHECK(tags.size() == 16);
    CHECK_FALSE(readable(o.h->readiness_fd()));

    // Another LUN is not held up.
    REQUIRE_FALSE(o.dev.submit(cmd6(1, 3, 0), rec.handler(100)));
    REQUIRE_FALSE(o.h->i2t(c));
    CHECK(c.lun == 3);

    REQUIRE_FALSE(o.h->t2i(tags[5], vscsi_status::done));
    CHECK(readable(o.h->readiness_fd()));
    REQUIRE_FALSE(o.h->i2t(c));
    CHECK(c.lun == 2);
    CHECK(c.tag > tags.back());
    CHECK(o.h->i2t(c) == eagain);
}

TEST_CASE("the maximum transfer and the command's shape are checked at submission", "[vscsi]")
{
    recorder rec; // outlives the device: the close completes into it
    opened o;
    std::vector<std::byte> big(64 * 1024 + 1), max(64 * 1024);
    CHECK(o.dev.submit(read_cmd(big), rec.handler(1)) == std::make_error_code(std::errc::message_size));
    CHECK(o.dev.submit(write_cmd(big), rec.handler(1)) == std::make_error_code(std::errc::message_size));
    CHECK_FALSE(o.dev.submit(read_cmd(max), rec.handler(2)));
    vscsi_i2t c;
    REQUIRE_FALSE(o.h->i2t(c));
    CHECK(c.datalen == 64 * 1024);
    CHECK(o.h->i2t(c) == eagain); // the rejected ones were never queued

    CHECK(o.dev.submit(cmd6(256, 0, 0), rec.handler(3)) == einval);
    CHECK(o.dev.submit(cmd6(-1, 0, 0), rec.handler(3)) == einval);
    CHECK(o.dev.submit(cmd6(0, 8, 0), rec.handler(3)) == einval);
    CHECK_FALSE(o.dev.submit(cmd6(255, 7, 0), rec.handler(3)));
    scsi_command bad = cmd6(0, 0, 0);
    bad.cdblen = 0;
    CHECK(o.dev.submit(bad, rec.handler(3)) == einval);
    bad.cdblen = 17;
    CHECK(o.dev.submit(bad, rec.handler(3)) == einval);
    scsi_command mixed = read_cmd(max);
    mixed.data_out = max;
    CHECK(o.dev.submit(mixed, rec.handler(3)) == einval);
    scsi_command none_with_data = cmd6(0, 0, 0);
    none_with_data.data_in = max;
    CHECK(o.dev.submit(none_with_data, rec.handler(3)) == einval);
}

TEST_CASE("a single opener: a second open is EBUSY until the last close", "[vscsi]")
{
    recorder rec;
    embedded_vscsi dev;
    CHECK(dev.submit(cmd6(0, 0, 0), rec.handler(1)) ==
          std::make_error_code(std::errc::no_such_device_or_address)); // not open
    std::unique_ptr<vscsi_device> a, b;
    REQUIRE_FALSE(dev.open(a));
    CHECK(dev.open(b) == std::make_error_code(std::errc::device_or_resource_busy));
    CHECK_FALSE(b);
    a.reset();
    REQUIRE_FALSE(dev.open(b));
    CHECK(b);
}

TEST_CASE("the last close completes every command with RESET and allows a new open", "[vscsi]")
{
    recorder rec;
    embedded_vscsi dev;
    std::unique_ptr<vscsi_device> h;
    REQUIRE_FALSE(dev.open(h));
    std::vector<std::byte> buf(10);
    REQUIRE_FALSE(dev.submit(read_cmd(buf), rec.handler(0))); // in progress, 4 bytes moved
    for (int i = 1; i < 16; ++i)
        REQUIRE_FALSE(dev.submit(cmd6(0, 0, 0), rec.handler(i)));
    vscsi_i2t c;
    REQUIRE_FALSE(h->i2t(c));
    REQUIRE_FALSE(h->data_read(c.tag, bytes({1, 2, 3, 4})));
    REQUIRE_FALSE(dev.submit(read_cmd(buf), rec.handler(16))); // waits for an opening
    const int fd = h->readiness_fd();
    CHECK(readable(fd));

    h.reset();
    REQUIRE(rec.size() == 17);
    for (auto& [id, comp] : rec.got) {
        CHECK(comp.status == vscsi_status::reset);
        if (id == 0)
            CHECK(comp.residual == 6);
        if (id == 16)
            CHECK(comp.residual == 10);
    }
    CHECK_FALSE(readable(fd));
    CHECK(dev.submit(cmd6(0, 0, 0), rec.handler(99)) == std::make_error_code(std::errc::no_such_device_or_address));

    REQUIRE_FALSE(dev.open(h));
    CHECK_FALSE(readable(h->readiness_fd()));
    CHECK(h->i2t(c) == eagain);
    REQUIRE_FALSE(dev.submit(cmd6(0, 0, 0), rec.handler(100)));
    REQUIRE_FALSE(h->i2t(c));
}

TEST_CASE("a blocking midlayer call from another thread is served by the daemon thread", "[vscsi]")
{
    opened o;
    std::vector<std::byte> buf(6);
    scsi_completion result;
    std::error_code ec;
    std::thread midlayer([&] { ec = o.dev.execute(read_cmd(buf), result); });
    REQUIRE(readable(o.h->readiness_fd(), 5000));
    vscsi_i2t c;
    REQUIRE_FALSE(o.h->i2t(c));
    REQUIRE_FALSE(o.h->data_read(c.tag, bytes({9, 8, 7, 6, 5})));
    REQUIRE_FALSE(o.h->t2i(c.tag, vscsi_status::done));
    midlayer.join();
    CHECK_FALSE(ec);
    CHECK(result.status == vscsi_status::done);
    CHECK(result.residual == 1);
    CHECK(buf[0] == std::byte{9});
    CHECK(buf[4] == std::byte{5});
}
