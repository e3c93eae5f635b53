// Target PDUs against hand-built BHS images (RFC 7143 §11.4 .. §11.19).
#include "pdu/pdus.hpp"
#include "test_codec_support.hpp"

using namespace ivs::pdu;
using ivs::pdu::test::bhs_hex;
using ivs::pdu::test::encoded;
using ivs::pdu::test::hex;

TEST_CASE("NOP-In", "[pdu][codec]")
{
    // Target-initiated ping: ITT reserved, TTT set.
    const auto wire = bhs_hex("20 80 00 00 | 00 00 00 00 | 00 00 00 00 00 00 00 00"
                              "ff ff ff ff | 0a 0b 0c 0d | 00 00 01 00 | 00 00 02 00"
                              "00 00 02 1f | 00 00 00 00 00 00 00 00 00 00 00 00");
    nop_in n;
    n.target_transfer_tag = 0x0a0b0c0d;
    n.stat_sn = 0x100;
    n.exp_cmd_sn = 0x200;
    n.max_cmd_sn = 0x21f;
    CHECK(encoded(n) == wire);
    nop_in d;
    REQUIRE_FALSE(nop_in::decode(wire, d));
    CHECK(d.initiator_task_tag == reserved_tag);
    CHECK(d.target_transfer_tag == 0x0a0b0c0du);
    CHECK(d.stat_sn == 0x100);
    CHECK(d.exp_cmd_sn == 0x200);
    CHECK(d.max_cmd_sn == 0x21f);
    CHECK(d == n);
}

TEST_CASE("SCSI Response with CHECK CONDITION and sense data", "[pdu][codec]")
{
    const auto wire = bhs_hex("21 82 00 02 | 00 00 00 14 | 00 00 00 00 00 00 00 00"
                              "12 34 56 78 | 00 00 00 00 | 00 00 00 10 | 00 00 00 0b"
                              "00 00 00 2a | 00 00 00 01 | 00 00 00 00 | 00 00 02 00");
    scsi_response r;
    r.residual_underflow = true;
    r.response = scsi_service_response::command_completed;
    r.status = 0x02;
    r.data_segment_length = 20;
    r.initiator_task_tag = 0x12345678;
    r.stat_sn = 0x10;
    r.exp_cmd_sn = 0x0b;
    r.max_cmd_sn = 0x2a;
    r.exp_data_sn = 1;
    r.residual_count = 0x200;
    CHECK(encoded(r) == wire);
    scsi_response d;
    REQUIRE_FALSE(scsi_response::decode(wire, d));
    CHECK(d.residual_underflow);
    CHECK_FALSE(d.residual_overflow);
    CHECK_FALSE(d.bidi_read_residual_overflow);
    CHECK_FALSE(d.bidi_read_residual_underflow);
    CHECK(d.status == 0x02);
    CHECK(d.residual_count == 0x200);
    CHECK(d == r);

    // Data segment: SenseLength 18, fixed-format sense ILLEGAL REQUEST / 24h.
    const auto data = hex("00 12 70 00 05 00 00 00 00 0a 00 00 00 00 24 00 00 00 00 00");
    REQUIRE(data.size() == 20);
    sense_data_segment s;
    REQUIRE_FALSE(parse_sense_data_segment(data, s));
    REQUIRE(s.sense.size() == 18);
    CHECK(s.sense.data() == data.data() + 2); // a view, no copy
    CHECK(std::to_integer<int>(s.sense[2]) == 0x05);
    CHECK(std::to_integer<int>(s.sense[12]) == 0x24);
    CHECK(s.remainder.empty());

    // Bidirectional residual flags o and O together are allowed.
    r.bidi_read_residual_overflow = true;
    r.residual_underflow = false;
    r.residual_overflow = true;
    r.bidi_read_residual_count = 7;
    const auto b = encoded(r);
    CHECK(std::to_integer<int>(b[1]) == 0x94);
    REQUIRE_FALSE(scsi_response::decode(b, d));
    CHECK(d == r);
}

TEST_CASE("sense data segment with response data, and malformed ones", "[pdu][codec]")
{
    const auto data = hex("00 02 aa bb cc dd");
    sense_data_segment s;
    REQUIRE_FALSE(parse_sense_data_segment(data, s));
    CHECK(s.sense.size() == 2);
    REQUIRE(s.remainder.size() == 2);
    CHECK(std::to_integer<int>(s.remainder[0]) == 0xcc);

    REQUIRE_FALSE(parse_sense_data_segment({}, s));
    CHECK(s.sense.empty());
    CHECK(s.remainder.empty());

    CHECK(parse_sense_data_segment(hex("00"), s) == errc::truncated);
    CHECK(parse_sense_data_segment(hex("00 14 70 00 05"), s) == errc::truncated);
    CHECK(parse_sense_data_segment(hex("ff ff 00"), s) == errc::truncated);
}

TEST_CASE("Task Management Function Response", "[pdu][codec]")
{
    const auto wire = bhs_hex("22 80 01 00 | 00 00 00 00 | 00 00 00 00 00 00 00 00"
                              "00 00 00 20 | 00 00 00 00 | 00 00 00 05 | 00 00 00 06"
                              "00 00 00 07 | 00 00 00 00 00 00 00 00 00 00 00 00");
    task_mgmt_response t;
    t.response = tmf_response::task_does_not_exist;
    t.initiator_task_tag = 0x20;
    t.stat_sn = 5;
    t.exp_cmd_sn = 6;
    t.max_cmd_sn = 7;
    CHECK(encoded(t) == wire);
    task_mgmt_response d;
    REQUIRE_FALSE(task_mgmt_response::decode(wire, d));
    CHECK(d.response == tmf_response::task_does_not_exist);
    CHECK(d == t);

    t.response = tmf_response::function_rejected;
    const auto b = encoded(t);
    CHECK(std::to_integer<int>(b[2]) == 255);
    REQUIRE_FALSE(task_mgmt_response::decode(b, d));
    CHECK(d == t);
}

TEST_CASE("Login Response", "[pdu][codec]")
{
    const auto wire = bhs_hex("23 87 00 00 | 00 00 00 40 | 00 02 3d 00 00 01 01 02"
                              "00 00 00 00 | 00 00 00 00 | 00 00 00 55 | 00 00 00 01"
                              "00 00 00 20 | 00 00 00 00 | 00 00 00 00 00 00 00 00");
    login_response l;
    l.transit_bit = true;
    l.csg = login_stage::operational_negotiation;
    l.nsg = login_stage::full_feature_phase;
    l.data_segment_length = 0x40;
    l.isid = 0x00023d000001ull;
    l.tsih = 0x0102;
    l.stat_sn = 0x55;
    l.exp_cmd_sn = 1;
    l.max_cmd_sn = 0x20;
    CHECK(encoded(l) == wire);
    login_response d;
    REQUIRE_FALSE(login_response::decode(wire, d));
    CHECK(d.transit_bit);
    CHECK(d.tsih == 0x0102);
    CHECK(d.status_class == login_status_class::success);
    CHECK(d == l);

    // Authentication failure: Status-Class 2, Status-Detail 1, no T.
    const auto fail = bhs_hex("23 00 00 00 | 00 00 00 00 | 00 02 3d 00 00 01 00 00"
                              "00 00 00 01 | 00 00 00 00 | 00 00 00 00 | 00 00 00 01"
                              "00 00 00 01 | 02 01 00 00 | 00 00 00 00 00 00 00 00");
    REQUIRE_FALSE(login_response::decode(fail, d));
    CHECK_FALSE(d.transit_bit);
    CHECK(d.csg == login_stage::security_negotiation);
    CHECK(d.status_class == login_status_class::initiator_error);
    CHECK(d.status_detail == 1);
    CHECK(d.initiator_task_tag == 1);
    CHECK(encoded(d) == fail);
}

TEST_CASE("Text Response", "[pdu][codec]")
{
    const auto wire = bhs_hex("24 40 00 00 | 00 00 20 00 | 00 00 00 00 00 00 00 00"
                              "00 00 00 05 | 00 00 00 77 | 00 00 00 02 | 00 00 00 03"
                              "00 00 00 12 | 00 00 00 00 00 00 00 00 00 00 00 00");
    text_response t;
    t.final_bit = false;
    t.continue_bit = true;
    t.data_segment_length = 0x2000;
    t.initiator_task_tag = 5;
    t.target_transfer_tag = 0x77;
    t.stat_sn = 2;
    t.exp_cmd_sn = 3;
    t.max_cmd_sn = 0x12;
    CHECK(encoded(t) == wire);
    text_response d;
    REQUIRE_FALSE(text_response::decode(wire, d));
    CHECK(d.continue_bit);
    CHECK_FALSE(d.final_bit);
    CHECK(d == t);
}

TEST_CASE("SCSI Data-In with status", "[pdu][codec]")
{
    const auto wire = bhs_hex("25 83 00 00 | 00 00 10 00 | 00 01 00 00 00 00 00 00"
                              "12 34 56 78 | ff ff ff ff | 00 00 00 10 | 00 00 00 0b"
                              "00 00 00 2a | 00 00 00 00 | 00 00 00 00 | 00 00 02 00");
    data_in i;
    i.final_bit = true;
    i.status_bit = true;
    i.residual_underflow = true;
    i.status = 0;
    i.data_segment_length = 0x1000;
    i.lun = encode_lun(1);
    i.initiator_task_tag = 0x12345678;
    i.stat_sn = 0x10;
    i.exp_cmd_sn = 0x0b;
    i.max_cmd_sn = 0x2a;
    i.residual_count = 0x200;
    CHECK(encoded(i) == wire);
    data_in d;
    REQUIRE_FALSE(data_in::decode(wire, d));
    CHECK(d.final_bit);
    CHECK(d.status_bit);
    CHECK(d.residual_underflow);
    CHECK(d.stat_sn == 0x10);
    CHECK(d.residual_count == 0x200);
    CHECK(d == i);
}

TEST_CASE("SCSI Data-In without status ignores the status-only fields", "[pdu][codec]")
{
    // A=1, DataSN 2, offset 0x2000; bytes 3, 24..27, 44..47 and the O/U bits
    // are reserved without S and hold junk here.
    const auto wire = bhs_hex("25 46 00 99 | 00 00 20 00 | 00 00 00 00 00 00 00 00"
                              "00 00 00 07 | 00 00 00 09 | 11 11 11 11 | 00 00 00 0b"
                              "00 00 00 2a | 00 00 00 02 | 00 00 20 00 | 22 22 22 22");
    data_in d;
    REQUIRE_FALSE(data_in::decode(wire, d));
    CHECK_FALSE(d.final_bit);
    CHECK(d.acknowledge_bit);
    CHECK_FALSE(d.status_bit);
    CHECK_FALSE(d.residual_overflow);
    CHECK_FALSE(d.residual_underflow);
    CHECK(d.status == 0);
    CHECK(d.stat_sn == 0);
    CHECK(d.residual_count == 0);
    CHECK(d.target_transfer_tag == 9);
    CHECK(d.data_sn == 2);
    CHECK(d.buffer_offset == 0x2000);
    CHECK(d.exp_cmd_sn == 0x0b);

    // The encoder leaves those fields zero without S.
    d.status = 0x55;
    d.stat_sn = 0x66;
    CHECK(encoded(d) == bhs_hex("25 40 00 00 | 00 00 20 00 | 00 00 00 00 00 00 00 00"
                                "00 00 00 07 | 00 00 00 09 | 00 00 00 00 | 00 00 00 0b"
                                "00 00 00 2a | 00 00 00 02 | 00 00 20 00 | 00 00 00 00"));
}

TEST_CASE("Logout Response", "[pdu][codec]")
{
    const auto wire = bhs_hex("26 80 00 00 | 00 00 00 00 | 00 00 00 00 00 00 00 00"
                              "00 00 00 30 | 00 00 00 00 | 00 00 00 51 | 00 00 00 41"
                              "00 00 00 60 | 00 00 00 00 | 00 02 00 14 | 00 00 00 00");
    logout_response l;
    l.initiator_task_tag = 0x30;
    l.stat_sn = 0x51;
    l.exp_cmd_sn = 0x41;
    l.max_cmd_sn = 0x60;
    l.time2wait = 2;
    l.time2retain = 20;
    CHECK(encoded(l) == wire);
    logout_response d;
    REQUIRE_FALSE(logout_response::decode(wire, d));
    CHECK(d.time2wait == 2);
    CHECK(d.time2retain == 20);
    CHECK(d == l);
    l.response = logout_response_code::cleanup_failed;
    REQUIRE_FALSE(logout_response::decode(encoded(l), d));
    CHECK(d.response == logout_response_code::cleanup_failed);
}

TEST_CASE("R2T", "[pdu][codec]")
{
    const auto wire = bhs_hex("31 80 00 00 | 00 00 00 00 | 00 01 00 00 00 00 00 00"
                              "00 00 00 99 | 00 00 10 00 | 00 00 00 08 | 00 00 00 09"
                              "00 00 00 28 | 00 00 00 01 | 00 00 40 00 | 00 01 00 00");
    r2t r;
    r.lun = encode_lun(1);
    r.initiator_task_tag = 0x99;
    r.target_transfer_tag = 0x1000;
    r.stat_sn = 8;
    r.exp_cmd_sn = 9;
    r.max_cmd_sn = 0x28;
    r.r2t_sn = 1;
    r.buffer_offset = 0x4000;
    r.desired_data_transfer_length = 0x10000;
    CHECK(encoded(r) == wire);
    r2t d;
    REQUIRE_FALSE(r2t::decode(wire, d));
    CHECK(d.r2t_sn == 1);
    CHECK(d.buffer_offset == 0x4000);
    CHECK(d.desired_data_transfer_length == 0x10000);
    CHECK(d == r);
}

TEST_CASE("Asynchronous Message", "[pdu][codec]")
{
    // Target will drop connection CID 1, Time2Wait 2, Time2Retain 20.
    const auto wire = bhs_hex("32 80 00 00 | 00 00 00 00 | 00 00 00 00 00 00 00 00"
                              "ff ff ff ff | 00 00 00 00 | 00 00 00 61 | 00 00 00 42"
                              "00 00 00 61 | 02 00 00 01 | 00 02 00 14 | 00 00 00 00");
    async_message a;
    a.event = async_event::connection_drop;
    a.parameter1 = 1;
    a.parameter2 = 2;
    a.parameter3 = 20;
    a.stat_sn = 0x61;
    a.exp_cmd_sn = 0x42;
    a.max_cmd_sn = 0x61;
    CHECK(encoded(a) == wire);
    async_message d;
    REQUIRE_FALSE(async_message::decode(wire, d));
    CHECK(d.event == async_event::connection_drop);
    CHECK(d.parameter1 == 1);
    CHECK(d.parameter3 == 20);
    CHECK(d == a);

    // SCSI async event on LUN 3 with sense data (unit attention 29h) in the data segment.
    a = async_message{};
    a.event = async_event::scsi_async_event;
    a.lun = encode_lun(3);
    a.data_segment_length = 20;
    REQUIRE_FALSE(async_message::decode(encoded(a), d));
    CHECK(d == a);
    const auto data = hex("00 12 70 00 06 00 00 00 00 0a 00 00 00 00 29 00 00 00 00 00");
    sense_data_segment s;
    REQUIRE_FALSE(parse_sense_data_segment(data, s));
    CHECK(s.sense.size() == 18);
    CHECK(std::to_integer<int>(s.sense[12]) == 0x29);

    a.event = async_event::vendor_specific;
    a.async_vcode = 0x12;
    REQUIRE_FALSE(async_message::decode(encoded(a), d));
    CHECK(d == a);
}

TEST_CASE("Reject and the rejected header", "[pdu][codec]")
{
    const auto wire = bhs_hex("3f 80 09 00 | 00 00 00 30 | 00 00 00 00 00 00 00 00"
                              "ff ff ff ff | 00 00 00 00 | 00 00 00 70 | 00 00 00 43"
                              "00 00 00 62 | 00 00 00 00 | 00 00 00 00 00 00 00 00");
    reject r;
    r.reason = reject_reason::invalid_pdu_field;
    r.stat_sn = 0x70;
    r.exp_cmd_sn = 0x43;
    r.max_cmd_sn = 0x62;
    CHECK(encoded(r) == wire);
    reject d;
    REQUIRE_FALSE(reject::decode(wire, d));
    CHECK(d.reason == reject_reason::invalid_pdu_field);
    CHECK(d.data_segment_length == 48);
    CHECK(d == r);

    // The data segment is the header of the PDU that was rejected.
    nop_out bad;
    bad.initiator_task_tag = 0x4242;
    bhs_bytes bad_bhs;
    bad.encode(bad_bhs);
    std::vector<std::byte> data(bad_bhs.begin(), bad_bhs.end());
    bhs_bytes h;
    REQUIRE_FALSE(rejected_header(data, h));
    CHECK(h == bad_bhs);
    nop_out again;
    REQUIRE_FALSE(nop_out::decode(h, again));
    CHECK(again.initiator_task_tag == 0x4242);

    data.pop_back();
    CHECK(rejected_header(data, h) == errc::truncated);
}

TEST_CASE("target PDUs round-trip through the variant", "[pdu][codec]")
{
    const target_pdu pdus[] = {
        nop_in{8, encode_lun(1), 5, reserved_tag, 1, 2, 3},
        scsi_response{false, true, false, true, 0, 0x02, 20, 7, 0, 1, 2, 3, 4, 5, 6},
        task_mgmt_response{tmf_response::function_not_supported, 9, 1, 2, 3},
        login_response{false, true, login_stage::security_negotiation, login_stage::operational_negotiation, 0, 0, 300,
                       0x800000000001ull, 0, 4, 5, 6, 7, 0, 0},
        text_response{true, false, 12, 0, 6, reserved_tag, 7, 8, 9},
        data_in{true, false, true, false, true, 0x08, 512, encode_lun(2), 3, reserved_tag, 4, 5, 6, 7, 8, 9},
        logout_response{logout_response_code::cid_not_found, 1, 2, 3, 4, 0, 0},
        r2t{encode_lun(9), 1, 2, 3, 4, 5, 6, 7, 8},
        async_message{0, 0, 1, 2, 3, async_event::logout_requested, 0, 10, 0, 0},
        reject{reject_reason::protocol_error, 48, 1, 2, 3, 0},
    };
    for (const auto& p : pdus) {
        bhs_bytes b;
        encode_pdu(p, b);
        target_pdu d;
        REQUIRE_FALSE(decode_target_pdu(b, {}, d));
        CHECK(d.index() == p.index());
        CHECK(d == p);
    }
}
