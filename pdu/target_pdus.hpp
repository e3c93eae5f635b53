// Typed target-to-initiator PDUs (RFC 7143 §11.4 .. §11.19).
// Same conventions as initiator_pdus.hpp: the data segment is not held here,
// only its length; helpers parse the data segments with a fixed layout.
#pragma once

#include "pdu/initiator_pdus.hpp" // login_stage

#include <cstddef>
#include <cstdint>
#include <span>
#include <system_error>
#include <variant>

namespace ivs::pdu {

// §11.19 NOP-In.
struct nop_in {
    static constexpr opcode op = opcode::nop_in;
    std::uint32_t data_segment_length = 0;
    std::uint64_t lun = 0;
    std::uint32_t initiator_task_tag = reserved_tag;
    std::uint32_t target_transfer_tag = reserved_tag;
    std::uint32_t stat_sn = 0;
    std::uint32_t exp_cmd_sn = 0;
    std::uint32_t max_cmd_sn = 0;

    void encode(bhs_bytes& out) const noexcept;
    static std::error_code decode(const bhs_bytes& in, nop_in& out) noexcept;
    friend bool operator==(const nop_in&, const nop_in&) = default;
};

// §11.4.3 iSCSI service response (0x80..0xff vendor specific).
namespace scsi_service_response {
constexpr std::uint8_t command_completed = 0x00;
constexpr std::uint8_t target_failure = 0x01;
} // namespace scsi_service_response

// §11.4 SCSI Response.
struct scsi_response {
    static constexpr opcode op = opcode::scsi_response;
    bool bidi_read_residual_overflow = false;  // o
    bool bidi_read_residual_underflow = false; // u
    bool residual_overflow = false;            // O
    bool residual_underflow = false;           // U
    std::uint8_t response = scsi_service_response::command_completed;
    std::uint8_t status = 0; // SCSI status, meaningful when response is 0
    std::uint32_t data_segment_length = 0;
    std::uint32_t initiator_task_tag = 0;
    std::uint32_t snack_tag = 0;
    std::uint32_t stat_sn = 0;
    std::uint32_t exp_cmd_sn = 0;
    std::uint32_t max_cmd_sn = 0;
    std::uint32_t exp_data_sn = 0;
    std::uint32_t bidi_read_residual_count = 0;
    std::uint32_t residual_count = 0;

    void encode(bhs_bytes& out) const noexcept;
    // errc::flags_inconsistent for O with U or o with u (§11.4.1).
    static std::error_code decode(const bhs_bytes& in, scsi_response& out) noexcept;
    friend bool operator==(const scsi_response&, const scsi_response&) = default;
};

// A SenseLength-prefixed data segment (§11.4.7 SCSI Response, §11.9 Async
// Message): views into the caller's buffer, no copy.
struct sense_data_segment {
    std::span<const std::byte> sense;     // SenseLength bytes
    std::span<const std::byte> remainder; // Response Data / iSCSI Event Data
};

// Splits a SCSI Response data segment (unpadded, data_segment_length bytes).
// An empty segment gives two empty views. errc::truncated when SenseLength
// runs past the end or the 2-byte length itself is cut.
std::error_code parse_sense_data_segment(std::span<const std::byte> data, sense_data_segment& out) noexcept;

// §11.6.1 task management function responses.
enum class tmf_response : std::uint8_t {
    function_complete = 0,
    task_does_not_exist = 1,
    lun_does_not_exist = 2,
    task_still_allegiant = 3,
    task_allegiance_reassignment_not_supported = 4,
    function_not_supported = 5,
    function_authorization_failed = 6,
    function_rejected = 255,
};

// §11.6 Task Management Function Response (no data segment).
struct task_mgmt_response {
    static constexpr opcode op = opcode::task_mgmt_response;
    tmf_response response = tmf_response::function_complete;
    std::uint32_t initiator_task_tag = 0;
    std::uint32_t stat_sn = 0;
    std::uint32_t exp_cmd_sn = 0;
    std::uint32_t max_cmd_sn = 0;

    void encode(bhs_bytes& out) const noexcept;
    static std::error_code decode(const bhs_bytes& in, task_mgmt_response& out) noexcept;
    friend bool operator==(const task_mgmt_response&, const task_mgmt_response&) = default;
};

// §11.13.5 Status-Class values.
namespace login_status_class {
constexpr std::uint8_t success = 0;
constexpr std::uint8_t redirection = 1;
constexpr std::uint8_t initiator_error = 2;
constexpr std::uint8_t target_error = 3;
} // namespace login_status_class

// §11.13 Login Response.
struct login_response {
    static constexpr opcode op = opcode::login_response;
    bool transit_bit = false;
    bool continue_bit = false;
    login_stage csg = login_stage::security_negotiation;
    login_stage nsg = login_stage::security_negotiation; // meaningful only with T
    std::uint8_t version_max = 0;
    std::uint8_t version_active = 0;
    std::uint32_t data_segment_length = 0;
    std::uint64_t isid = 0; // 48 bits
    std::uint16_t tsih = 0;
    std::uint32_t initiator_task_tag = 0;
    std::uint32_t stat_sn = 0;
    std::uint32_t exp_cmd_sn = 0;
    std::uint32_t max_cmd_sn = 0;
    std::uint8_t status_class = login_status_class::success;
    std::uint8_t status_detail = 0;

    void encode(bhs_bytes& out) const noexcept;
    static std::error_code decode(const bhs_bytes& in, login_response& out) noexcept;
    friend bool operator==(const login_response&, const login_response&) = default;
};

// §11.11 Text Response.
struct text_response {
    static constexpr opcode op = opcode::text_response;
    bool final_bit = true;
    bool continue_bit = false;
    std::uint32_t data_segment_length = 0;
    std::uint64_t lun = 0;
    std::uint32_t initiator_task_tag = 0;
    std::uint32_t target_transfer_tag = reserved_tag;
    std::uint32_t stat_sn = 0;
    std::uint32_t exp_cmd_sn = 0;
    std::uint32_t max_cmd_sn = 0;

    void encode(bhs_bytes& out) const noexcept;
    static std::error_code decode(const bhs_bytes& in, text_response& out) noexcept;
    friend bool operator==(const text_response&, const text_response&) = default;
};

// §11.7 SCSI Data-In. status, stat_sn, the residual flags and residual_count
// carry meaning only with status_bit (S): without it encode() writes them as
// zero and decode() reports them as zero, whatever the wire held.
struct data_in {
    static constexpr opcode op = opcode::data_in;
    bool final_bit = false;
    bool acknowledge_bit = false;    // A
    bool residual_overflow = false;  // O
    bool residual_underflow = false; // U
    bool status_bit = false;         // S
    std::uint8_t status = 0;
    std::uint32_t data_segment_length = 0;
    std::uint64_t lun = 0;
    std::uint32_t initiator_task_tag = 0;
    std::uint32_t target_transfer_tag = reserved_tag;
    std::uint32_t stat_sn = 0;
    std::uint32_t exp_cmd_sn = 0;
    std::uint32_t max_cmd_sn = 0;
    std::uint32_t data_sn = 0;
    std::uint32_t buffer_offset = 0;
    std::uint32_t residual_count = 0;

    void encode(bhs_bytes& out) const noexcept;
    // errc::flags_inconsistent for S without F, or O with U (§11.7).
    static std::error_code decode(const bhs_bytes& in, data_in& out) noexcept;
    friend bool operator==(const data_in&, const data_in&) = default;
};

// §11.15.1 logout responses.
enum class logout_response_code : std::uint8_t {
    closed_successfully = 0,
    cid_not_found = 1,
    recovery_not_supported = 2,
    cleanup_failed = 3,
};

// §11.15 Logout Response (no data segment).
struct logout_response {
    static constexpr opcode op = opcode::logout_response;
    logout_response_code response = logout_response_code::closed_successfully;
    std::uint32_t initiator_task_tag = 0;
    std::uint32_t stat_sn = 0;
    std::uint32_t exp_cmd_sn = 0;
    std::uint32_t max_cmd_sn = 0;
    std::uint16_t time2wait = 0;
    std::uint16_t time2retain = 0;

    void encode(bhs_bytes& out) const noexcept;
    static std::error_code decode(const bhs_bytes& in, logout_response& out) noexcept;
    friend bool operator==(const logout_response&, const logout_response&) = default;
};

// §11.8 Ready To Transfer (no data segment).
struct r2t {
    static constexpr opcode op = opcode::r2t;
    std::uint64_t lun = 0;
    std::uint32_t initiator_task_tag = 0;
    std::uint32_t target_transfer_tag = 0;
    std::uint32_t stat_sn = 0;
    std::uint32_t exp_cmd_sn = 0;
    std::uint32_t max_cmd_sn = 0;
    std::uint32_t r2t_sn = 0;
    std::uint32_t buffer_offset = 0;
    std::uint32_t desired_data_transfer_length = 0;

    void encode(bhs_bytes& out) const noexcept;
    // errc::field_out_of_range for a Desired Data Transfer Length of 0 or a
    // reserved (0xffffffff) Target Transfer Tag (§11.8).
    static std::error_code decode(const bhs_bytes& in, r2t& out) noexcept;
    friend bool operator==(const r2t&, const r2t&) = default;
};

// §11.9.1 AsyncEvent codes; 5..254 are reserved.
enum class async_event : std::uint8_t {
    scsi_async_event = 0,
    logout_requested = 1,
    connection_drop = 2,
    all_connections_drop = 3,
    negotiation_requested = 4,
    vendor_specific = 255,
};

// §11.9 Asynchronous Message. For event 0 the data segment holds SenseLength +
// sense data (+ iSCSI event data): parse it with parse_sense_data_segment().
struct async_message {
    static constexpr opcode op = opcode::async_message;
    std::uint32_t data_segment_length = 0;
    std::uint64_t lun = 0;
    std::uint32_t stat_sn = 0;
    std::uint32_t exp_cmd_sn = 0;
    std::uint32_t max_cmd_sn = 0;
    async_event event = async_event::scsi_async_event;
    std::uint8_t async_vcode = 0;
    std::uint16_t parameter1 = 0; // connection_drop: CID; logout_requested: seconds
    std::uint16_t parameter2 = 0; // Time2Wait
    std::uint16_t parameter3 = 0; // Time2Retain

    void encode(bhs_bytes& out) const noexcept;
    static std::error_code decode(const bhs_bytes& in, async_message& out) noexcept;
    friend bool operator==(const async_message&, const async_message&) = default;
};

// §11.17.1 Reject reasons (values are kept raw: a reason we do not know must
// not hide the rejected header).
namespace reject_reason {
constexpr std::uint8_t data_digest_error = 0x02;
constexpr std::uint8_t snack_reject = 0x03;
constexpr std::uint8_t protocol_error = 0x04;
constexpr std::uint8_t command_not_supported = 0x05;
constexpr std::uint8_t immediate_command_reject = 0x06;
constexpr std::uint8_t task_in_progress = 0x07;
constexpr std::uint8_t invalid_data_ack = 0x08;
constexpr std::uint8_t invalid_pdu_field = 0x09;
constexpr std::uint8_t long_operation_reject = 0x0a;
constexpr std::uint8_t negotiation_reset = 0x0b;
constexpr std::uint8_t waiting_for_logout = 0x0c;
} // namespace reject_reason

// §11.17 Reject. The data segment holds the rejected PDU's header.
struct reject {
    static constexpr opcode op = opcode::reject;
    std::uint8_t reason = reject_reason::protocol_error;
    std::uint32_t data_segment_length = bhs_size;
    std::uint32_t stat_sn = 0;
    std::uint32_t exp_cmd_sn = 0;
    std::uint32_t max_cmd_sn = 0;
    std::uint32_t data_sn_or_r2t_sn = 0;

    void encode(bhs_bytes& out) const noexcept;
    static std::error_code decode(const bhs_bytes& in, reject& out) noexcept;
    friend bool operator==(const reject&, const reject&) = default;
};

// Copies the rejected BHS out of a Reject data segment; errc::truncated when
// the segment is shorter than 48 bytes.
std::error_code rejected_header(std::span<const std::byte> data, bhs_bytes& out) noexcept;

using target_pdu = std::variant<nop_in, scsi_response, task_mgmt_response, login_response, text_response, data_in,
                                logout_response, r2t, async_message, reject>;

// Decodes by opcode. errc::unknown_opcode for opcodes RFC 7143 does not define,
// errc::wrong_direction for initiator opcodes; `ahs` must be TotalAHSLength * 4
// bytes of well-formed entries (errc::ahs_length_inconsistent otherwise), which
// are then ignored: no target PDU defines an AHS.
std::error_code decode_target_pdu(const bhs_bytes& in, std::span<const std::byte> ahs, target_pdu& out);

void encode_pdu(const target_pdu& pdu, bhs_bytes& out) noexcept;

} // namespace ivs::pdu
