// Initiator PDUs against hand-built BHS images (RFC 7143 §11.3 .. §11.18).
#include "pdu/pdus.hpp"
#include "test_codec_support.hpp"

using namespace ivs::pdu;
using ivs::pdu::test::bhs_hex;
using ivs::pdu::test::encoded;
using ivs::pdu::test::hex;

TEST_CASE("NOP-Out encodes and decodes field by field", "[pdu][codec]")
{
    const auto wire = bhs_hex("40 80 00 00 | 00 00 00 10 | 00 00 00 00 00 00 00 00"
                              "00 00 00 01 | ff ff ff ff | 00 00 00 07 | 00 00 00 03"
                              "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00");
    nop_out p;
    p.immediate = true;
    p.data_segment_length = 16;
    p.initiator_task_tag = 1;
    p.target_transfer_tag = reserved_tag;
    p.cmd_sn = 7;
    p.exp_stat_sn = 3;
    CHECK(encoded(p) == wire);

    nop_out d;
    REQUIRE_FALSE(nop_out::decode(wire, d));
    CHECK(d.immediate);
    CHECK(d.data_segment_length == 16);
    CHECK(d.lun == 0);
    CHECK(d.initiator_task_tag == 1);
    CHECK(d.target_transfer_tag == 0xffffffffu);
    CHECK(d.cmd_sn == 7);
    CHECK(d.exp_stat_sn == 3);
    CHECK(d == p);
}

TEST_CASE("SCSI Command READ(10) matches the RFC layout", "[pdu][codec]")
{
    // F R, ATTR simple; LUN 1; ITT 0x12345678; 4096 bytes; CmdSN 10; ExpStatSN 5;
    // READ(10) LBA 0x1000, 8 blocks.
    const auto wire = bhs_hex("01 c1 00 00 | 00 00 00 00 | 00 01 00 00 00 00 00 00"
                              "12 34 56 78 | 00 00 10 00 | 00 00 00 0a | 00 00 00 05"
                              "28 00 00 00 10 00 00 00 08 00 00 00 00 00 00 00");
    scsi_command c;
    c.final_bit = true;
    c.read_bit = true;
    c.attribute = task_attribute::simple;
    c.lun = encode_lun(1);
    c.initiator_task_tag = 0x12345678;
    c.expected_data_transfer_length = 4096;
    c.cmd_sn = 10;
    c.exp_stat_sn = 5;
    const auto cdb = hex("28 00 00 00 10 00 00 00 08 00");
    REQUIRE_FALSE(c.set_cdb(cdb));
    CHECK(c.cdb_length == 10);
    CHECK(c.total_ahs_length() == 0);
    CHECK(encoded(c) == wire);

    scsi_command d;
    REQUIRE_FALSE(scsi_command::decode(wire, {}, d));
    CHECK_FALSE(d.immediate);
    CHECK(d.final_bit);
    CHECK(d.read_bit);
    CHECK_FALSE(d.write_bit);
    CHECK(d.attribute == task_attribute::simple);
    CHECK(d.data_segment_length == 0);
    CHECK(d.lun == 0x0001000000000000ull);
    CHECK(d.initiator_task_tag == 0x12345678u);
    CHECK(d.expected_data_transfer_length == 4096);
    CHECK(d.cmd_sn == 10);
    CHECK(d.exp_stat_sn == 5);
    CHECK(d.cdb_length == 16); // the BHS always holds 16 bytes
    CHECK(std::equal(cdb.begin(), cdb.end(), d.cdb.begin()));
    CHECK_FALSE(d.bidi_read_expected_data_transfer_length);
}

TEST_CASE("SCSI Command WRITE(10) with immediate data and ordered attribute", "[pdu][codec]")
{
    const auto wire = bhs_hex("41 a2 00 00 | 00 00 02 00 | 00 02 00 00 00 00 00 00"
                              "00 00 00 2a | 00 00 02 00 | ff ff ff fe | 00 00 00 00"
                              "2a 00 00 00 00 01 00 00 01 00 00 00 00 00 00 00");
    scsi_command c;
    c.immediate = true;
    c.write_bit = true;
    c.attribute = task_attribute::ordered;
    c.data_segment_length = 512;
    c.lun = encode_lun(2);
    c.initiator_task_tag = 42;
    c.expected_data_transfer_length = 512;
    c.cmd_sn = 0xfffffffe;
    REQUIRE_FALSE(c.set_cdb(hex("2a 00 00 00 00 01 00 00 01 00 00 00 00 00 00 00")));
    CHECK(encoded(c) == wire);
    scsi_command d;
    REQUIRE_FALSE(scsi_command::decode(wire, {}, d));
    CHECK(d == c);
}

TEST_CASE("Task Management Function Request", "[pdu][codec]")
{
    // ABORT TASK on flat-addressed LUN 300.
    const auto wire = bhs_hex("42 81 00 00 | 00 00 00 00 | 41 2c 00 00 00 00 00 00"
                              "00 00 00 20 | 12 34 56 78 | 00 00 00 11 | 00 00 00 22"
                              "00 00 00 10 | 00 00 00 00 | 00 00 00 00 00 00 00 00");
    task_mgmt_request t;
    t.immediate = true;
    t.function = tmf_function::abort_task;
    t.lun = encode_lun(300);
    t.initiator_task_tag = 0x20;
    t.referenced_task_tag = 0x12345678;
    t.cmd_sn = 0x11;
    t.exp_stat_sn = 0x22;
    t.ref_cmd_sn = 0x10;
    t.exp_data_sn = 0;
    CHECK(encoded(t) == wire);
    task_mgmt_request d;
    REQUIRE_FALSE(task_mgmt_request::decode(wire, d));
    CHECK(d.function == tmf_function::abort_task);
    CHECK(d.referenced_task_tag == 0x12345678u);
    CHECK(d.ref_cmd_sn == 0x10);
    CHECK(d == t);

    for (auto f : {tmf_function::abort_task_set, tmf_function::clear_aca, tmf_function::clear_task_set,
                   tmf_function::logical_unit_reset, tmf_function::target_warm_reset, tmf_function::target_cold_reset,
                   tmf_function::task_reassign}) {
        t.function = f;
        const auto b = encoded(t);
        CHECK(std::to_integer<int>(b[1]) == (0x80 | static_cast<int>(f)));
        REQUIRE_FALSE(task_mgmt_request::decode(b, d));
        CHECK(d == t);
    }
}

TEST_CASE("Login Request", "[pdu][codec]")
{
    // T=1, CSG=operational, NSG=full feature; ISID 00023d000001; CID 1; CmdSN 1.
    const auto wire = bhs_hex("43 87 00 00 | 00 00 01 23 | 00 02 3d 00 00 01 00 00"
                              "00 00 00 00 | 00 01 00 00 | 00 00 00 01 | 00 00 00 00"
                              "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00");
    login_request l;
    l.transit_bit = true;
    l.csg = login_stage::operational_negotiation;
    l.nsg = login_stage::full_feature_phase;
    l.data_segment_length = 0x123;
    l.isid = 0x00023d000001ull;
    l.cid = 1;
    l.cmd_sn = 1;
    CHECK(encoded(l) == wire);
    login_request d;
    REQUIRE_FALSE(login_request::decode(wire, d));
    CHECK(d.transit_bit);
    CHECK_FALSE(d.continue_bit);
    CHECK(d.csg == login_stage::operational_negotiation);
    CHECK(d.nsg == login_stage::full_feature_phase);
    CHECK(d.isid == 0x00023d000001ull);
    CHECK(d.data_segment_length == 0x123);
    CHECK(d == l);

    // Security stage, C bit, with TSIH and versions.
    login_request s;
    s.continue_bit = true;
    s.version_max = 0;
    s.version_min = 0;
    s.tsih = 0x0102;
    s.initiator_task_tag = 0xabcdef01;
    s.exp_stat_sn = 9;
    const auto b = encoded(s);
    CHECK(b == bhs_hex("43 40 00 00 | 00 00 00 00 | 00 00 00 00 00 00 01 02"
                       "ab cd ef 01 | 00 00 00 00 | 00 00 00 00 | 00 00 00 09"
                       "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"));
    REQUIRE_FALSE(login_request::decode(b, d));
    CHECK(d == s);
}

TEST_CASE("Text Request", "[pdu][codec]")
{
    const auto wire = bhs_hex("04 80 00 00 | 00 00 00 10 | 00 00 00 00 00 00 00 00"
                              "00 00 00 05 | ff ff ff ff | 00 00 00 02 | 00 00 00 01"
                              "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00");
    text_request t;
    t.data_segment_length = 16; // "SendTargets=All\0"
    t.initiator_task_tag = 5;
    t.cmd_sn = 2;
    t.exp_stat_sn = 1;
    CHECK(encoded(t) == wire);
    text_request d;
    REQUIRE_FALSE(text_request::decode(wire, d));
    CHECK(d.final_bit);
    CHECK_FALSE(d.continue_bit);
    CHECK(d == t);

    t.final_bit = false;
    t.continue_bit = true;
    t.immediate = true;
    t.target_transfer_tag = 0x77;
    const auto b = encoded(t);
    CHECK(std::to_integer<int>(b[0]) == 0x44);
    CHECK(std::to_integer<int>(b[1]) == 0x40);
    REQUIRE_FALSE(text_request::decode(b, d));
    CHECK(d == t);
}

TEST_CASE("SCSI Data-Out", "[pdu][codec]")
{
    const auto wire = bhs_hex("05 80 00 00 | 00 00 20 00 | 00 02 00 00 00 00 00 00"
                              "00 00 00 99 | 00 00 10 00 | 00 00 00 00 | 00 00 00 07"
                              "00 00 00 00 | 00 00 00 03 | 00 00 60 00 | 00 00 00 00");
    data_out o;
    o.final_bit = true;
    o.data_segment_length = 0x2000;
    o.lun = encode_lun(2);
    o.initiator_task_tag = 0x99;
    o.target_transfer_tag = 0x1000;
    o.exp_stat_sn = 7;
    o.data_sn = 3;
    o.buffer_offset = 0x6000;
    CHECK(encoded(o) == wire);
    data_out d;
    REQUIRE_FALSE(data_out::decode(wire, d));
    CHECK(d.final_bit);
    CHECK(d.data_sn == 3);
    CHECK(d.buffer_offset == 0x6000);
    CHECK(d.target_transfer_tag == 0x1000);
    CHECK(d == o);
}

TEST_CASE("Logout Request", "[pdu][codec]")
{
    const auto wire = bhs_hex("46 80 00 00 | 00 00 00 00 | 00 00 00 00 00 00 00 00"
                              "00 00 00 30 | 00 01 00 00 | 00 00 00 40 | 00 00 00 50"
                              "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00");
    logout_request l;
    l.immediate = true;
    l.reason = logout_reason::close_session;
    l.initiator_task_tag = 0x30;
    l.cid = 1;
    l.cmd_sn = 0x40;
    l.exp_stat_sn = 0x50;
    CHECK(encoded(l) == wire);
    logout_request d;
    REQUIRE_FALSE(logout_request::decode(wire, d));
    CHECK(d == l);

    l.reason = logout_reason::remove_connection_for_recovery;
    const auto b = encoded(l);
    CHECK(std::to_integer<int>(b[1]) == 0x82);
    REQUIRE_FALSE(logout_request::decode(b, d));
    CHECK(d.reason == logout_reason::remove_connection_for_recovery);
}

TEST_CASE("SNACK Request", "[pdu][codec]")
{
    const auto wire = bhs_hex("10 81 00 00 | 00 00 00 00 | 00 00 00 00 00 00 00 00"
                              "ff ff ff ff | ff ff ff ff | 00 00 00 00 | 00 00 00 09"
                              "00 00 00 00 00 00 00 00 | 00 00 00 04 | 00 00 00 02");
    snack_request s;
    s.type = snack_type::status;
    s.exp_stat_sn = 9;
    s.beg_run = 4;
    s.run_length = 2;
    CHECK(encoded(s) == wire);
    snack_request d;
    REQUIRE_FALSE(snack_request::decode(wire, d));
    CHECK(d.type == snack_type::status);
    CHECK(d.beg_run == 4);
    CHECK(d.run_length == 2);
    CHECK(d == s);
}

TEST_CASE("initiator PDUs round-trip through the variant", "[pdu][codec]")
{
    scsi_command cmd;
    cmd.read_bit = cmd.write_bit = true;
    cmd.attribute = task_attribute::head_of_queue;
    cmd.lun = encode_lun(1000);
    cmd.initiator_task_tag = 0xdeadbeef;
    cmd.expected_data_transfer_length = 0x10000;
    cmd.cmd_sn = 0x7fffffff;
    cmd.exp_stat_sn = 0x80000000;
    cmd.bidi_read_expected_data_transfer_length = 0x2000;
    REQUIRE_FALSE(cmd.set_cdb(hex("53 00 00 00 00 01 00 00 08 00 00 00 00 00 00 00")));

    const initiator_pdu pdus[] = {
        nop_out{true, 4, encode_lun(3), 9, reserved_tag, 1, 2},
        cmd,
        task_mgmt_request{true, tmf_function::logical_unit_reset, encode_lun(7), 1, reserved_tag, 2, 3, 0, 0},
        login_request{false, true, login_stage::security_negotiation, login_stage::security_negotiation, 0, 0, 100,
                      0x400001020304ull, 0, 0, 0, 1, 0},
        text_request{false, false, true, 8191, 0, 3, 0x1234, 5, 6},
        data_out{false, 8192, encode_lun(4), 0x10, 0x20, 0x30, 0x40, 0x50},
        logout_request{false, logout_reason::close_connection, 8, 2, 9, 10},
        snack_request{snack_type::r_data, encode_lun(5), 1, 2, 3, 0, 0},
    };
    for (const auto& p : pdus) {
        bhs_bytes b;
        encode_pdu(p, b);
        std::vector<std::byte> ahs;
        if (const auto* c = std::get_if<scsi_command>(&p)) {
            ahs.resize(c->total_ahs_length());
            REQUIRE(c->encode_ahs(ahs) == ahs.size());
        }
        initiator_pdu d;
        REQUIRE_FALSE(decode_initiator_pdu(b, ahs, d));
        CHECK(d.index() == p.index());
        CHECK(d == p);
    }
}
