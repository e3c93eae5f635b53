// The chaos runs' own detectors, checked on purpose-made mistakes: the tag
// audit (a second T2I, a missing T2I, data moved after T2I) and the block
// patterns (a block of another LUN, LBA, write or run, poison, garbage).
#include <catch2/catch.hpp>

#include "vscsi/embedded_vscsi.hpp"
#include "chaos_audit.hpp"
#include "test/support/chaos_blocks.hpp"

#include <vector>

using namespace ivs;
using namespace ivs::test::chaos;

TEST_CASE("chaos audit: one T2I per dequeued tag, no data for a tag not in progress", "[chaos]")
{
    vscsi::embedded_vscsi vs;
    std::unique_ptr<vscsi::vscsi_device> dev;
    REQUIRE(!vs.open(dev));
    audit_device audit(*dev);
    std::vector<std::byte> buf(512);
    int completions = 0;
    for (int i = 0; i < 2; ++i) {
        vscsi::scsi_command c;
        c.cdb[0] = 0x28;
        c.cdblen = 10;
        c.dir = vscsi::vscsi_dir::read;
        c.data_in = buf;
        REQUIRE(!vs.submit(c, [&](const vscsi::scsi_completion&) { ++completions; }));
    }
    vscsi::vscsi_i2t a, b;
    REQUIRE(!audit.i2t(a));
    REQUIRE(!audit.i2t(b));
    CHECK(audit.problems().empty());
    CHECK(audit.unanswered().size() == 2);

    REQUIRE(!audit.data_read(a.tag, buf));
    REQUIRE(!audit.t2i(a.tag, vscsi::vscsi_status::done));
    CHECK(audit.problems().empty());
    CHECK(audit.unanswered() == std::vector<int>{b.tag});

    (void)audit.t2i(a.tag, vscsi::vscsi_status::done); // a second T2I
    (void)audit.data_read(a.tag, buf);                 // data after T2I
    (void)audit.t2i(12345, vscsi::vscsi_status::done); // never dequeued
    REQUIRE(audit.problems().size() == 3);
    CHECK(audit.problems()[0].symptom == "double-t2i");
    CHECK(audit.problems()[1].symptom == "device-misuse");
    CHECK(audit.problems()[2].symptom == "double-t2i");
    CHECK(completions == 1);
    dev.reset(); // the last close answers b
    CHECK(completions == 2);
}

TEST_CASE("chaos blocks: a block names its run, LUN, LBA and write; anything else is told apart", "[chaos]")
{
    std::vector<std::byte> b(block_size);
    const block_id id{7, 1, 40, 3};
    fill_block(b, id);
    REQUIRE(read_block(b));
    CHECK(*read_block(b) == id);
    CHECK(describe_block(b) == "lun 1 lba 40 gen 3 run 7");

    std::vector<std::byte> other(block_size);
    for (const block_id& o :
         {block_id{7, 0, 40, 3}, block_id{7, 1, 41, 3}, block_id{7, 1, 40, 2}, block_id{8, 1, 40, 3}}) {
        fill_block(other, o);
        CHECK(other != b);
    }
    b[300] ^= std::byte{1}; // a header that no longer matches its body
    CHECK(!read_block(b));
    CHECK(describe_block(b) == "garbage (neither a block nor poison)");
    poison(b);
    CHECK(first_unpoisoned(b) == -1);
    CHECK(describe_block(b) == "poison (no data landed)");
    b[100] = std::byte{0};
    CHECK(first_unpoisoned(b) == 100);
}
