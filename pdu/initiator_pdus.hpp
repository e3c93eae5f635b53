// Typed initiator-to-target PDUs (RFC 7143 §11.3 .. §11.18).
// Each struct mirrors one BHS layout; the data segment travels separately and
// only its length is kept here. encode() writes all 48 bytes (reserved ones 0);
// decode() checks the opcode and what the RFC fixes, ignores reserved bits.
#pragma once

#include "pdu/error.hpp"
#include "pdu/opcode.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <system_error>
#include <variant>

namespace ivs::pdu {

// §11.18 NOP-Out.
struct nop_out {
    static constexpr opcode op = opcode::nop_out;
    bool immediate = false;
    std::uint32_t data_segment_length = 0;
    std::uint64_t lun = 0;
    std::uint32_t initiator_task_tag = reserved_tag;
    std::uint32_t target_transfer_tag = reserved_tag;
    std::uint32_t cmd_sn = 0;
    std::uint32_t exp_stat_sn = 0;

    void encode(bhs_bytes& out) const noexcept;
    static std::error_code decode(const bhs_bytes& in, nop_out& out) noexcept;
    friend bool operator==(const nop_out&, const nop_out&) = default;
};

// §11.3.1 task attributes (ATTR, 3 bits); 5..7 are reserved.
enum class task_attribute : std::uint8_t {
    untagged = 0,
    simple = 1,
    ordered = 2,
    head_of_queue = 3,
    aca = 4,
};

constexpr std::size_t bhs_cdb_size = 16;  // CDB bytes held in the BHS
constexpr std::size_t max_cdb_size = 260; // largest SCSI CDB (SPC variable length)

// §11.3 SCSI Command, with the Extended CDB AHS (§11.2.2.3, type 1) and the
// Bidirectional Read Expected Data Transfer Length AHS (§11.2.2.4, type 2).
struct scsi_command {
    static constexpr opcode op = opcode::scsi_command;
    bool immediate = false;
    bool final_bit = true;  // F: no unsolicited Data-Out follows in this PDU sequence
    bool read_bit = false;  // R
    bool write_bit = false; // W
    task_attribute attribute = task_attribute::simple;
    std::uint32_t data_segment_length = 0;
    std::uint64_t lun = 0;
    std::uint32_t initiator_task_tag = 0;
    std::uint32_t expected_data_transfer_length = 0;
    std::uint32_t cmd_sn = 0;
    std::uint32_t exp_stat_sn = 0;
    // The CDB: bytes [0, cdb_length). Up to 16 go in the BHS (zero-padded),
    // the rest in an Extended CDB AHS. A decoded command always reports
    // cdb_length >= 16, as the BHS does not say how much of its 16 bytes count.
    std::uint16_t cdb_length = bhs_cdb_size;
    std::array<std::byte, max_cdb_size> cdb{};
    std::optional<std::uint32_t> bidi_read_expected_data_transfer_length;

    // Sets cdb/cdb_length; errc::field_out_of_range if longer than max_cdb_size.
    std::error_code set_cdb(std::span<const std::byte> bytes) noexcept;
    std::span<const std::byte> cdb_bytes() const noexcept { return {cdb.data(), cdb_length}; }

    // Bytes of AHS this command needs (multiple of 4, 0 when none).
    std::size_t total_ahs_length() const noexcept;
    // Writes the AHS; returns total_ahs_length(), or 0 and writes nothing when
    // out is smaller than that.
    std::size_t encode_ahs(std::span<std::byte> out) const noexcept;

    void encode(bhs_bytes& out) const noexcept;
    // `ahs` holds exactly TotalAHSLength * 4 bytes following the BHS.
    static std::error_code decode(const bhs_bytes& in, std::span<const std::byte> ahs, scsi_command& out) noexcept;
    friend bool operator==(const scsi_command&, const scsi_command&) = default;
};

// §11.5.1 task management function codes.
enum class tmf_function : std::uint8_t {
    abort_task = 1,
    abort_task_set = 2,
    clear_aca = 3,
    clear_task_set = 4,
    logical_unit_reset = 5,
    target_warm_reset = 6,
    target_cold_reset = 7,
    task_reassign = 8,
};

// §11.5 Task Management Function Request (no data segment).
struct task_mgmt_request {
    static constexpr opcode op = opcode::task_mgmt_request;
    bool immediate = true;
    tmf_function function = tmf_function::abort_task;
    std::uint64_t lun = 0;
    std::uint32_t initiator_task_tag = 0;
    std::uint32_t referenced_task_tag = reserved_tag;
    std::uint32_t cmd_sn = 0;
    std::uint32_t exp_stat_sn = 0;
    std::uint32_t ref_cmd_sn = 0;
    std::uint32_t exp_data_sn = 0;

    void encode(bhs_bytes& out) const noexcept;
    static std::error_code decode(const bhs_bytes& in, task_mgmt_request& out) noexcept;
    friend bool operator==(const task_mgmt_request&, const task_mgmt_request&) = default;
};

// §11.12.3 login stages (CSG/NSG); 2 is reserved.
enum class login_stage : std::uint8_t {
    security_negotiation = 0,
    operational_negotiation = 1,
    full_feature_phase = 3,
};

// Byte 1 of Login Request and Response (§11.12.1-3): T, C, CSG, NSG.
// decode_login_flags: errc::flags_inconsistent for T with C, errc::field_out_of_range
// for the reserved stage 2 in CSG (or in NSG when T is set; NSG is ignored otherwise).
std::uint8_t encode_login_flags(bool transit, bool cont, login_stage csg, login_stage nsg) noexcept;
std::error_code decode_login_flags(std::uint8_t flags, bool& transit, bool& cont, login_stage& csg,
                                   login_stage& nsg) noexcept;

// §11.12 Login Request (the I bit is always 1).
struct login_request {
    static constexpr opcode op = opcode::login_request;
    bool transit_bit = false;  // T
    bool continue_bit = false; // C
    login_stage csg = login_stage::security_negotiation;
    login_stage nsg = login_stage::security_negotiation; // meaningful only with T
    std::uint8_t version_max = 0;
    std::uint8_t version_min = 0;
    std::uint32_t data_segment_length = 0;
    std::uint64_t isid = 0; // 48 bits
    std::uint16_t tsih = 0;
    std::uint32_t initiator_task_tag = 0;
    std::uint16_t cid = 0;
    std::uint32_t cmd_sn = 0;
    std::uint32_t exp_stat_sn = 0;

    void encode(bhs_bytes& out) const noexcept;
    static std::error_code decode(const bhs_bytes& in, login_request& out) noexcept;
    friend bool operator==(const login_request&, const login_request&) = default;
};

// §11.10 Text Request.
struct text_request {
    static constexpr opcode op = opcode::text_request;
    bool immediate = false;
    bool final_bit = true;
    bool continue_bit = false;
    std::uint32_t data_segment_length = 0;
    std::uint64_t lun = 0;
    std::uint32_t initiator_task_tag = 0;
    std::uint32_t target_transfer_tag = reserved_tag;
    std::uint32_t cmd_sn = 0;
    std::uint32_t exp_stat_sn = 0;

    void encode(bhs_bytes& out) const noexcept;
    static std::error_code decode(const bhs_bytes& in, text_request& out) noexcept;
    friend bool operator==(const text_request&, const text_request&) = default;
};

// §11.7 SCSI Data-Out.
struct data_out {
    static constexpr opcode op = opcode::data_out;
    bool final_bit = false;
    std::uint32_t data_segment_length = 0;
    std::uint64_t lun = 0;
    std::uint32_t initiator_task_tag = 0;
    std::uint32_t target_transfer_tag = reserved_tag;
    std::uint32_t exp_stat_sn = 0;
    std::uint32_t data_sn = 0;
    std::uint32_t buffer_offset = 0;

    void encode(bhs_bytes& out) const noexcept;
    static std::error_code decode(const bhs_bytes& in, data_out& out) noexcept;
    friend bool operator==(const data_out&, const data_out&) = default;
};

// §11.14.1 logout reason codes.
enum class logout_reason : std::uint8_t {
    close_session = 0,
    close_connection = 1,
    remove_connection_for_recovery = 2,
};

// §11.14 Logout Request (no data segment).
struct logout_request {
    static constexpr opcode op = opcode::logout_request;
    bool immediate = false;
    logout_reason reason = logout_reason::close_session;
    std::uint32_t initiator_task_tag = 0;
    std::uint16_t cid = 0;
    std::uint32_t cmd_sn = 0;
    std::uint32_t exp_stat_sn = 0;

    void encode(bhs_bytes& out) const noexcept;
    static std::error_code decode(const bhs_bytes& in, logout_request& out) noexcept;
    friend bool operator==(const logout_request&, const logout_request&) = default;
};

// §11.16.1 SNACK types.
enum class snack_type : std::uint8_t {
    data_r2t = 0,
    status = 1,
    data_ack = 2,
    r_data = 3,
};

// §11.16 SNACK Request (no data segment).
struct snack_request {
    static constexpr opcode op = opcode::snack_request;
    snack_type type = snack_type::data_r2t;
    std::uint64_t lun = 0;
    std::uint32_t initiator_task_tag = reserved_tag;
    std::uint32_t target_transfer_tag = reserved_tag; // or SNACK Tag
    std::uint32_t exp_stat_sn = 0;
    std::uint32_t beg_run = 0;
    std::uint32_t run_length = 0;

    void encode(bhs_bytes& out) const noexcept;
    static std::error_code decode(const bhs_bytes& in, snack_request& out) noexcept;
    friend bool operator==(const snack_request&, const snack_request&) = default;
};

using initiator_pdu = std::variant<nop_out, scsi_command, task_mgmt_request, login_request, text_request, data_out,
                                   logout_request, snack_request>;

// Decodes by opcode. errc::unknown_opcode for opcodes RFC 7143 does not define,
// errc::wrong_direction for target opcodes; `ahs` must be TotalAHSLength * 4
// bytes long (errc::ahs_length_inconsistent otherwise).
std::error_code decode_initiator_pdu(const bhs_bytes& in, std::span<const std::byte> ahs, initiator_pdu& out);

// Encodes any initiator PDU's BHS; the AHS (SCSI Command only) via encode_ahs.
void encode_pdu(const initiator_pdu& pdu, bhs_bytes& out) noexcept;

} // namespace ivs::pdu
