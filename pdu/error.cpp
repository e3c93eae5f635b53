#include "pdu/error.hpp"

#include <string>

namespace ivs::pdu {
namespace {

class category final : public std::error_category {
public:
    const char* name() const noexcept override { return "iscsi-pdu"; }
    std::string message(int ev) const override
    {
        switch (static_cast<errc>(ev)) {
        case errc::ok: return "success";
        case errc::unknown_opcode: return "unknown opcode";
        case errc::ahs_length_inconsistent: return "AHS length inconsistent";
        case errc::ahs_type_unknown: return "unknown AHS type";
        case errc::data_segment_too_long: return "data segment length over the negotiated limit";
        case errc::data_segment_unexpected: return "data segment in a PDU that carries none";
        case errc::header_digest_mismatch: return "header digest mismatch";
        case errc::data_digest_mismatch: return "data digest mismatch";
        case errc::reserved_field_nonzero: return "reserved field not zero";
        case errc::field_out_of_range: return "field value out of range";
        case errc::truncated: return "PDU truncated";
        case errc::buffer_too_small: return "buffer too small for the data segment";
        case errc::key_syntax: return "bad key syntax";
        case errc::key_too_long: return "key too long";
        case errc::value_too_long: return "value too long";
        case errc::value_syntax: return "bad value syntax";
        case errc::number_out_of_range: return "number out of range";
        case errc::duplicate_key: return "duplicate key";
        case errc::text_too_long: return "text too long";
        case errc::missing_nul: return "key=value pair not NUL-terminated";
        case errc::opcode_mismatch: return "opcode does not match the PDU type";
        case errc::wrong_direction: return "PDU sent in the wrong direction";
        case errc::flags_inconsistent: return "inconsistent header flags";
        case errc::ahs_duplicate: return "duplicate AHS type";
        case errc::lun_unsupported: return "unsupported LUN addressing";
        case errc::negotiation_violation: return "answer violates the key's negotiation rule";
        case errc::key_not_allowed: return "key not allowed from this sender";
        }
        return "unknown iscsi-pdu error";
    }
};

} // namespace

const std::error_category& pdu_category() noexcept
{
    static const category instance;
    return instance;
}

} // namespace ivs::pdu
