// The midlayer's retry rules: every row of the table, the kernel's verdict
// for each sense key, and the embedded vscsi re-issuing what they call
// transient (at once or after the delay), bounded, with one completion.
#include "test/support/embedded_unit_support.hpp"
#include "vscsi/retry_rules.hpp"

#include <cerrno>
#include <thread>

using namespace ivs;
using namespace ivs::vscsi;
using namespace ivs::vscsi::test;
using namespace std::chrono_literals;

namespace {

scsi_completion with_sense(std::uint8_t key, std::uint8_t asc, std::uint8_t ascq, std::size_t residual = 0)
{
    scsi_completion c;
    c.status = vscsi_status::sense;
    c.sense = scsi::make_fixed_sense(key, asc, ascq);
    c.residual = residual;
    return c;
}

scsi_completion with_status(vscsi_status st, std::size_t residual = 0)
{
    scsi_completion c;
    c.status = st;
    c.residual = residual;
    return c;
}

// A completion that falls on row `r` if nothing before it shadows it.
scsi_completion example_of(const retry_rule& r)
{
    scsi_completion c = with_status(r.status, r.moved == transfer::partial ? 1 : 0);
    if (r.status != vscsi_status::sense)
        return c;
    if (r.sense_key == unknown_format) {
        c.sense = {}; // response code 0: no known format
        return c;
    }
    const int key = r.sense_key == any_value ? 0x9 : r.sense_key; // 9: vendor specific
    const int asc = r.asc == any_value ? 0x44 : r.asc;
    const int ascq = r.ascq == any_value ? 0x00 : r.ascq;
    c.sense = scsi::make_fixed_sense(static_cast<std::uint8_t>(key), static_cast<std::uint8_t>(asc),
                                     static_cast<std::uint8_t>(ascq));
    if (r.deferred)
        c.sense[0] = 0x71;
    return c;
}

} // namespace

TEST_CASE("retry rules: every row is reachable and ends with a sensible errno", "[vscsi][retry]")
{
    const auto rules = retry_rules();
    REQUIRE(rules.size() > 20);
    for (std::size_t i = 0; i + 1 < rules.size(); ++i) {
        const retry_rule& r = rules[i];
        INFO("row " << i << ": " << r.why);
        const scsi_completion c = example_of(r);
        CHECK(&match_retry_rule(c) == &r);
        if (r.verdict != retry_verdict::end)
            CHECK(r.error != 0); // a retry that runs out is an error
    }
}

TEST_CASE("retry rules: the kernel's verdict, sense key by sense key", "[vscsi][retry]")
{
    struct expectation {
        scsi_completion c;
        retry_verdict verdict;
        int error;
    };
    using v = retry_verdict;
    namespace k = scsi::key;
    const expectation table[] = {
        {with_status(vscsi_status::done), v::end, 0},
        {with_status(vscsi_status::done, 512), v::end, EIO},
        {with_status(vscsi_status::reset), v::retry, EIO},
        {with_status(vscsi_status::err), v::end, EIO},
        {with_status(static_cast<vscsi_status>(7)), v::end, EIO},
        {with_sense(k::no_sense, 0, 0), v::end, 0},
        {with_sense(k::no_sense, 0, 0, 512), v::end, EIO},
        {with_sense(k::recovered_error, 0x17, 0x01), v::end, 0},
        {with_sense(k::recovered_error, 0x17, 0x01, 4096), v::end, EIO},
        {with_sense(k::not_ready, 0x04, 0x01), v::retry_after_delay, EIO},
        {with_sense(k::not_ready, 0x04, 0x07), v::retry_after_delay, EIO},
        {with_sense(k::not_ready, 0x04, 0x03), v::end, EIO}, // manual intervention required
        {with_sense(k::not_ready, 0x3a, 0x00), v::end, ENOMEDIUM},
        {with_sense(k::medium_error, 0x11, 0x00), v::end, EIO},
        {with_sense(k::hardware_error, 0x44, 0x00), v::end, EIO},
        {with_sense(k::illegal_request, 0x24, 0x00), v::end, EINVAL},
        {with_sense(k::unit_attention, 0x29, 0x00), v::retry, EIO},
        {with_sense(k::unit_attention, 0x3f, 0x0e), v::retry, EIO},
        {with_sense(k::data_protect, 0x27, 0x00), v::end, EROFS},
        {with_sense(0x8, 0x00, 0x05), v::end, EIO}, // BLANK CHECK: no bytes shown
        {with_sense(k::aborted_command, 0x47, 0x00), v::retry, EIO},
        {with_sense(k::aborted_command, 0x00, 0x00), v::retry, EIO},
        {with_sense(k::aborted_command, 0x10, 0x01), v::end, EIO},
        {with_sense(0xd, 0x00, 0x00), v::end, ENOSPC},
        {with_sense(0xe, 0x1d, 0x00), v::end, EIO},
    };
    for (const auto& e : table) {
        const retry_rule& r = match_retry_rule(e.c);
        INFO("status " << static_cast<int>(e.c.status) << " key " << int(e.c.sense[2] & 0x0f) << " asc "
                       << int(e.c.sense[12]) << "/" << int(e.c.sense[13]) << " residual " << e.c.residual
                       << " -> row: " << r.why);
        CHECK(r.verdict == e.verdict);
        CHECK(r.error == e.error);
        CHECK(completion_error(e.c) == e.error);
    }

    SECTION("descriptor format and deferred errors")
    {
        scsi_completion d = with_status(vscsi_status::sense);
        d.sense = {};
        d.sense[0] = 0x72;
        d.sense[1] = k::aborted_command;
        CHECK(match_retry_rule(d).verdict == v::retry);
        d.sense[0] = 0x73; // deferred: an earlier command's failure
        CHECK(match_retry_rule(d).verdict == v::end);
        CHECK(completion_error(d) == EIO);
        scsi_completion f = with_sense(k::aborted_command, 0, 0);
        f.sense[0] = 0x71;
        CHECK(match_retry_rule(f).verdict == v::end);
        scsi_completion junk = with_status(vscsi_status::sense);
        junk.sense = {}; // no known format: never "NO SENSE, success"
        CHECK(completion_error(junk) == EIO);
    }
}

namespace {

// Answers each dequeued command with the next status of `answers` (the last
// one repeats); returns the tags seen.
std::vector<int> answer_all(opened& o, std::vector<std::pair<vscsi_status, scsi::fixed_sense>> answers, recorder& rec,
                            std::size_t completions, std::chrono::milliseconds limit = 5s)
{
    std::vector<int> tags;
    std::size_t next = 0;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (rec.size() < completions && std::chrono::steady_clock::now() < deadline) {
        vscsi_i2t c;
        if (o.h->i2t(c)) {
            readable(o.h->readiness_fd(), 5);
            continue;
        }
        tags.push_back(c.tag);
        const auto& [st, sense] = answers[std::min(next++, answers.size() - 1)];
        if (c.direction == vscsi_dir::read && st == vscsi_status::done) {
            std::vector<std::byte> data(c.datalen, std::byte{0x5a});
            REQUIRE_FALSE(o.h->data_read(c.tag, data));
        }
        REQUIRE_FALSE(o.h->t2i(c.tag, st, sense));
    }
    return tags;
}

const auto aborted = scsi::make_fixed_sense(scsi::key::aborted_command, 0x47, 0x00);
const auto medium = scsi::make_fixed_sense(scsi::key::medium_error, 0x11, 0x00);
const auto becoming_ready = scsi::make_fixed_sense(scsi::key::not_ready, 0x04, 0x01);

} // namespace

TEST_CASE("embedded midlayer: ABORTED COMMAND is re-issued under a new tag, the handler sees the good end",
          "[vscsi][retry]")
{
    recorder rec;
    opened o;
    std::vector<std::byte> buf(512);
    scsi_command c = read_cmd(buf);
    c.retries = 4;
    REQUIRE_FALSE(o.dev.submit(c, rec.handler(1)));
    const auto tags = answer_all(o, {{vscsi_status::sense, aborted}, {vscsi_status::done, {}}}, rec, 1);
    REQUIRE(rec.size() == 1);
    CHECK(rec.got[0].second.status == vscsi_status::done);
    CHECK(rec.got[0].second.residual == 0);
    REQUIRE(tags.size() == 2);
    CHECK(tags[0] != tags[1]);
    CHECK(buf[0] == std::byte{0x5a});
}

TEST_CASE("embedded midlayer: a persistent ABORTED COMMAND ends after the bound with its sense", "[vscsi][retry]")
{
    recorder rec;
    opened o;
    std::vector<std::byte> buf(512);
    scsi_command c = read_cmd(buf);
    c.retries = 3;
    REQUIRE_FALSE(o.dev.submit(c, rec.handler(1)));
    const auto tags = answer_all(o, {{vscsi_status::sense, aborted}}, rec, 1);
    REQUIRE(rec.size() == 1);
    CHECK(tags.size() == 4); // the first try and three retries
    CHECK(rec.got[0].second.status == vscsi_status::sense);
    CHECK(completion_error(rec.got[0].second) == EIO);
}

TEST_CASE("embedded midlayer: MEDIUM ERROR and ERR are not retried; without retries nothing is", "[vscsi][retry]")
{
    recorder rec;
    opened o;
    std::vector<std::byte> buf(512);
    scsi_command c = read_cmd(buf);
    c.retries = 4;
    REQUIRE_FALSE(o.dev.submit(c, rec.handler(1)));
    CHECK(answer_all(o, {{vscsi_status::sense, medium}}, rec, 1).size() == 1);
    REQUIRE_FALSE(o.dev.submit(c, rec.handler(2)));
    CHECK(answer_all(o, {{vscsi_status::err, {}}}, rec, 2).size() == 1);
    c.retries = 0;
    REQUIRE_FALSE(o.dev.submit(c, rec.handler(3)));
    CHECK(answer_all(o, {{vscsi_status::sense, aborted}}, rec, 3).size() == 1);
    REQUIRE(rec.size() == 3);
    CHECK(rec.got[0].second.status == vscsi_status::sense);
    CHECK(rec.got[1].second.status == vscsi_status::err);
    CHECK(rec.got[2].second.status == vscsi_status::sense);
}

TEST_CASE("embedded midlayer: NOT READY, becoming ready waits the delay before the retry", "[vscsi][retry]")
{
    recorder rec;
    embedded_vscsi_config cfg;
    cfg.retry.delay = 200ms;
    opened o(cfg);
    std::vector<std::byte> buf(512);
    scsi_command c = read_cmd(buf);
    c.retries = 2;
    REQUIRE_FALSE(o.dev.submit(c, rec.handler(1)));
    vscsi_i2t first;
    REQUIRE_FALSE(o.h->i2t(first));
    const auto answered = std::chrono::steady_clock::now();
    REQUIRE_FALSE(o.h->t2i(first.tag, vscsi_status::sense, becoming_ready));
    CHECK_FALSE(readable(o.h->readiness_fd())); // not at once
    CHECK(readable(o.h->readiness_fd(), 5000));
    CHECK(std::chrono::steady_clock::now() - answered >= 200ms);
    vscsi_i2t second;
    REQUIRE_FALSE(o.h->i2t(second));
    CHECK(second.tag != first.tag);
    CHECK(o.h->t2i(first.tag, vscsi_status::done) == efault);
    std::vector<std::byte> data(512, std::byte{1});
    REQUIRE_FALSE(o.h->data_read(second.tag, data));
    REQUIRE_FALSE(o.h->t2i(second.tag, vscsi_status::done));
    REQUIRE(rec.size() == 1);
    CHECK(rec.got[0].second.status == vscsi_status::done);
}

TEST_CASE("embedded midlayer: the last close completes a command waiting out its delay once, with RESET",
          "[vscsi][retry]")
{
    recorder rec;
    {
        embedded_vscsi_config cfg;
        cfg.retry.delay = 10s;
        opened o(cfg);
        std::vector<std::byte> buf(512);
        scsi_command c = read_cmd(buf);
        c.retries = 2;
        REQUIRE_FALSE(o.dev.submit(c, rec.handler(1)));
        vscsi_i2t first;
        REQUIRE_FALSE(o.h->i2t(first));
        REQUIRE_FALSE(o.h->t2i(first.tag, vscsi_status::sense, becoming_ready));
        CHECK(rec.size() == 0);
        o.h.reset(); // the last close
        REQUIRE(rec.size() == 1);
        CHECK(rec.got[0].second.status == vscsi_status::reset);
        CHECK(rec.got[0].second.residual == 512);
    }
    CHECK(rec.size() == 1);
}

TEST_CASE("embedded midlayer: READs through submit_read carry sd's retries", "[vscsi][retry]")
{
    recorder rec;
    opened o;
    std::vector<std::byte> buf(512);
    REQUIRE_FALSE(o.dev.submit_read(0, 0, 7, 512, buf, rec.handler(1)));
    const auto tags =
        answer_all(o, {{vscsi_status::sense, aborted}, {vscsi_status::reset, {}}, {vscsi_status::done, {}}}, rec, 1);
    REQUIRE(rec.size() == 1);
    CHECK(tags.size() == 3);
    CHECK(rec.got[0].second.status == vscsi_status::done);
    CHECK(o.dev.config().retry.retries == 4);
}
