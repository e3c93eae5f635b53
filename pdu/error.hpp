// Errors of the wire layer: every malformed input maps to one of these.
#pragma once

#include <system_error>

namespace ivs::pdu {

enum class errc {
    ok = 0,
    // framing (RFC 7143 §11.2)
    unknown_opcode = 1,
    ahs_length_inconsistent,
    ahs_type_unknown,
    data_segment_too_long,   // over the negotiated MaxRecvDataSegmentLength
    data_segment_unexpected, // data where the PDU type carries none
    header_digest_mismatch,
    data_digest_mismatch,
    reserved_field_nonzero,
    field_out_of_range,
    truncated,
    buffer_too_small, // caller-supplied buffer cannot hold the data
    // text keys (RFC 7143 §6.1, §13)
    key_syntax,
    key_too_long,
    value_too_long,
    value_syntax,
    number_out_of_range,
    duplicate_key,
    text_too_long,
    missing_nul,
    // typed PDU codec (RFC 7143 §11)
    opcode_mismatch,    // BHS opcode is not the one of the PDU type decoded
    wrong_direction,    // initiator opcode where a target PDU is expected, or vice versa
    flags_inconsistent, // flag combination the RFC forbids (e.g. S without F, O with U)
    ahs_duplicate,      // the same AHS type twice
    lun_unsupported,    // LUN addressing method or level not understood
    // key negotiation (RFC 7143 §6.2, §13)
    negotiation_violation, // answer breaks the key's result function or was not offered
    key_not_allowed,       // key sent by a party that may not send it
};

const std::error_category& pdu_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), pdu_category()}; }

} // namespace ivs::pdu

template <>
struct std::is_error_code_enum<ivs::pdu::errc> : std::true_type {};
