// Malformed headers map to the right errc; reserved bits are tolerated.
#include "pdu/pdus.hpp"
#include "test_codec_support.hpp"

using namespace ivs::pdu;
using ivs::pdu::test::bhs_hex;
using ivs::pdu::test::encoded;
using ivs::pdu::test::hex;

namespace {

bhs_bytes with_byte(bhs_bytes b, std::size_t at, int value)
{
    b[at] = std::byte(value);
    return b;
}

} // namespace

TEST_CASE("decode by opcode sorts unknown and wrong-direction opcodes", "[pdu][codec][malformed]")
{
    bhs_bytes b{};
    target_pdu t;
    initiator_pdu i;
    for (int op : {0x07, 0x0f, 0x11, 0x1c, 0x27, 0x30, 0x33, 0x3c, 0x3e}) {
        b[0] = std::byte(op);
        CHECK(decode_target_pdu(b, {}, t) == errc::unknown_opcode);
        CHECK(decode_initiator_pdu(b, {}, i) == errc::unknown_opcode);
    }
    for (int op : {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x10}) {
        b[0] = std::byte(op);
        CHECK(decode_target_pdu(b, {}, t) == errc::wrong_direction);
    }
    for (int op : {0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x31, 0x32, 0x3f}) {
        b[0] = std::byte(op);
        CHECK(decode_initiator_pdu(b, {}, i) == errc::wrong_direction);
    }
    // The opcode is six bits: byte 0 bit 7 is reserved, bit 6 is I.
    auto r = encoded(r2t{0, 1, 2, 3, 4, 5, 6, 7, 8});
    r[0] = std::byte{0xf1};
    REQUIRE_FALSE(decode_target_pdu(r, {}, t));
    CHECK(std::holds_alternative<r2t>(t));
}

TEST_CASE("typed decoders refuse another PDU's opcode", "[pdu][codec][malformed]")
{
    const auto nop = encoded(nop_out{});
    nop_in ni;
    data_in di;
    scsi_command sc;
    login_request lr;
    CHECK(nop_in::decode(nop, ni) == errc::opcode_mismatch);
    CHECK(data_in::decode(nop, di) == errc::opcode_mismatch);
    CHECK(scsi_command::decode(nop, {}, sc) == errc::opcode_mismatch);
    CHECK(login_request::decode(encoded(login_response{}), lr) == errc::opcode_mismatch);
}

TEST_CASE("Data-In flag rules", "[pdu][codec][malformed]")
{
    data_in ok;
    ok.final_bit = true;
    ok.status_bit = true;
    const auto b = encoded(ok);
    data_in d;
    REQUIRE_FALSE(data_in::decode(b, d));
    CHECK(data_in::decode(with_byte(b, 1, 0x01), d) == errc::flags_inconsistent); // S without F
    CHECK(data_in::decode(with_byte(b, 1, 0x87), d) == errc::flags_inconsistent); // O and U
    REQUIRE_FALSE(data_in::decode(with_byte(b, 1, 0x85), d));                     // O only
    CHECK(d.residual_overflow);
    REQUIRE_FALSE(data_in::decode(with_byte(b, 1, 0x38 | 0x80), d)); // reserved bits
    CHECK_FALSE(d.status_bit);
}

TEST_CASE("SCSI Response residual flags are pairwise exclusive", "[pdu][codec][malformed]")
{
    const auto b = encoded(scsi_response{});
    scsi_response d;
    CHECK(scsi_response::decode(with_byte(b, 1, 0x86), d) == errc::flags_inconsistent); // O U
    CHECK(scsi_response::decode(with_byte(b, 1, 0x98), d) == errc::flags_inconsistent); // o u
    REQUIRE_FALSE(scsi_response::decode(with_byte(b, 1, 0x8a), d));                     // u U
    CHECK(d.bidi_read_residual_underflow);
    CHECK(d.residual_underflow);
    // Reserved bits (top-but-one, bit 7 and the fixed 1) do not matter.
    REQUIRE_FALSE(scsi_response::decode(with_byte(b, 1, 0x61), d));
}

TEST_CASE("Text and Login flag rules", "[pdu][codec][malformed]")
{
    text_response tr;
    text_request tq;
    CHECK(text_response::decode(with_byte(encoded(text_response{}), 1, 0xc0), tr) == errc::flags_inconsistent);
    CHECK(text_request::decode(with_byte(encoded(text_request{}), 1, 0xc0), tq) == errc::flags_inconsistent);

    const auto lb = encoded(login_response{});
    login_response l;
    CHECK(login_response::decode(with_byte(lb, 1, 0xc0), l) == errc::flags_inconsistent); // T and C
    CHECK(login_response::decode(with_byte(lb, 1, 0x08), l) == errc::field_out_of_range); // CSG 2
    CHECK(login_response::decode(with_byte(lb, 1, 0x86), l) == errc::field_out_of_range); // T, NSG 2
    REQUIRE_FALSE(login_response::decode(with_byte(lb, 1, 0x06), l));                     // NSG ignored without T
    REQUIRE_FALSE(login_response::decode(with_byte(lb, 1, 0x31 | 0x04), l));              // reserved bits
    CHECK(l.csg == login_stage::operational_negotiation);

    login_request q;
    CHECK(login_request::decode(with_byte(encoded(login_request{}), 1, 0xc0), q) == errc::flags_inconsistent);
}

TEST_CASE("enumerated fields out of range", "[pdu][codec][malformed]")
{
    scsi_command sc;
    const auto cb = encoded(scsi_command{});
    for (int attr : {5, 6, 7})
        CHECK(scsi_command::decode(with_byte(cb, 1, 0x80 | attr), {}, sc) == errc::field_out_of_range);

    task_mgmt_request tq;
    const auto tb = encoded(task_mgmt_request{});
    CHECK(task_mgmt_request::decode(with_byte(tb, 1, 0x80), tq) == errc::field_out_of_range);
    CHECK(task_mgmt_request::decode(with_byte(tb, 1, 0x89), tq) == errc::field_out_of_range);

    task_mgmt_response tr;
    const auto trb = encoded(task_mgmt_response{});
    CHECK(task_mgmt_response::decode(with_byte(trb, 2, 7), tr) == errc::field_out_of_range);
    CHECK(task_mgmt_response::decode(with_byte(trb, 2, 254), tr) == errc::field_out_of_range);

    logout_request lq;
    CHECK(logout_request::decode(with_byte(encoded(logout_request{}), 1, 0x83), lq) == errc::field_out_of_range);
    logout_response lr;
    CHECK(logout_response::decode(with_byte(encoded(logout_response{}), 2, 4), lr) == errc::field_out_of_range);

    snack_request sq;
    CHECK(snack_request::decode(with_byte(encoded(snack_request{}), 1, 0x84), sq) == errc::field_out_of_range);

    async_message am;
    const auto ab = encoded(async_message{});
    for (int ev : {5, 100, 248, 254})
        CHECK(async_message::decode(with_byte(ab, 36, ev), am) == errc::field_out_of_range);
}

TEST_CASE("R2T rules", "[pdu][codec][malformed]")
{
    const auto b = encoded(r2t{0, 1, 2, 3, 4, 5, 6, 7, 8});
    r2t d;
    REQUIRE_FALSE(r2t::decode(b, d));
    auto zero_length = b;
    for (std::size_t k = 44; k < 48; ++k)
        zero_length[k] = std::byte{0};
    CHECK(r2t::decode(zero_length, d) == errc::field_out_of_range);
    auto reserved_ttt = b;
    for (std::size_t k = 20; k < 24; ++k)
        reserved_ttt[k] = std::byte{0xff};
    CHECK(r2t::decode(reserved_ttt, d) == errc::field_out_of_range);
    CHECK(r2t::decode(with_byte(b, 7, 4), d) == errc::data_segment_unexpected);
}

TEST_CASE("PDUs without a data segment refuse a DataSegmentLength", "[pdu][codec][malformed]")
{
    task_mgmt_request a;
    task_mgmt_response b;
    logout_request c;
    logout_response e;
    snack_request f;
    CHECK(task_mgmt_request::decode(with_byte(encoded(a), 6, 1), a) == errc::data_segment_unexpected);
    CHECK(task_mgmt_response::decode(with_byte(encoded(b), 5, 1), b) == errc::data_segment_unexpected);
    CHECK(logout_request::decode(with_byte(encoded(c), 7, 4), c) == errc::data_segment_unexpected);
    CHECK(logout_response::decode(with_byte(encoded(e), 7, 4), e) == errc::data_segment_unexpected);
    CHECK(snack_request::decode(with_byte(encoded(f), 7, 4), f) == errc::data_segment_unexpected);
}

TEST_CASE("reserved fields are ignored, as real targets may set them", "[pdu][codec][malformed]")
{
    // NOP-In without the fixed 1 bit and with junk in reserved bytes 2..3, 36..47.
    const auto wire = bhs_hex("20 00 ab cd | 00 00 00 00 | 00 00 00 00 00 00 00 00"
                              "ff ff ff ff | 00 00 00 05 | 00 00 00 01 | 00 00 00 02"
                              "00 00 00 03 | de ad be ef de ad be ef de ad be ef");
    nop_in n;
    REQUIRE_FALSE(nop_in::decode(wire, n));
    CHECK(n.target_transfer_tag == 5);
    CHECK(n.max_cmd_sn == 3);

    // Reject: junk in bytes 3 and 40..47, and an ITT that is not 0xffffffff.
    reject r;
    auto rb = encoded(reject{});
    rb[3] = std::byte{0x11};
    rb[16] = std::byte{0};
    rb[45] = std::byte{0x22};
    REQUIRE_FALSE(reject::decode(rb, r));
    CHECK(r == reject{});
}

TEST_CASE("error codes carry messages of the pdu category", "[pdu][codec]")
{
    const std::error_code ec = errc::flags_inconsistent;
    CHECK(ec.category().name() == std::string("iscsi-pdu"));
    CHECK(ec.message() == "inconsistent header flags");
    CHECK(std::error_code(errc::lun_unsupported).message() == "unsupported LUN addressing");
}
