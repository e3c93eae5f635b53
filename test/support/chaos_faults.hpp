// The fault catalog of the chaos tests: every way the chaos target corrupts
// one exchange of a run (RFC 7143 PDUs of §11), and the mutations that act on
// the PDUs of the victim command's reply. The target (chaos_target.hpp)
// decides when a fault fires; this file says what it does to the wire.
#pragma once

#include "test/support/chaos_rng.hpp"
#include "pdu/bhs.hpp"

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace ivs::test::chaos {

enum class fault_kind : std::uint8_t {
    // header fields
    datain_itt_other,
    response_itt_unknown,
    r2t_itt_other,
    r2t_ttt_reserved,
    nop_in_unknown_itt,
    unknown_opcode,
    sense_length_lie,
    nop_ping_oversized,
    // offsets
    datain_offset_gap,
    datain_offset_overlap,
    datain_offset_past_edtl,
    r2t_offset_past_edtl,
    // lengths
    datain_short_good,
    datain_dsl_over_mrdsl,
    datain_dsl_lie,
    r2t_over_burst,
    r2t_zero_length,
    read_underflow,
    write_underflow,
    residual_bogus,
    // sequence numbers
    statsn_skip,
    statsn_stale,
    expcmdsn_ahead,
    expcmdsn_behind,
    maxcmdsn_closed,
    maxcmdsn_invalid,
    maxcmdsn_beyond,
    datasn_skip,
    datasn_repeat,
    expdatasn_wrong,
    r2tsn_skip,
    r2tsn_repeat,
    // flags
    datain_s_without_f,
    residual_both_flags,
    datain_ack_bit,
    // order
    datain_swap,
    status_before_data,
    write_status_early,
    // truncation
    datain_truncated_close,
    header_truncated_close,
    // duplication
    datain_duplicate,
    status_duplicate,
    r2t_duplicate,
    // status and data
    status_without_data,
    data_after_status,
    zero_length_final,
    target_failure,
    busy,
    // rejects
    reject_command,
    reject_data_out,
    reject_truncated,
    // asynchronous events (§11.9.1)
    async_luns_changed,
    async_capacity_changed,
    async_logout_request,
    async_logout_twice,
    async_connection_drop,
    async_session_drop,
    async_renegotiate,
    async_vendor,
    async_reserved,
    // stalls
    stall_command,
    stall_connection,
    stall_mid_data,
    // resets (connection drops)
    drop_on_command,
    drop_mid_data,
    drop_after_status,
};

// Which command a fault needs as its victim.
enum class victim_need : std::uint8_t {
    any,             // any SCSI command (its status is enough)
    read,            // a READ
    read_multi,      // a READ answered in at least two Data-In PDUs
    write_r2t,       // a WRITE that needs at least one R2T
    write_r2t_multi, // a WRITE that needs at least two R2Ts
};

// Where the target applies it.
enum class fault_phase : std::uint8_t {
    command,   // when the victim is delivered (reject, stall, drop, async event, ...)
    reply,     // to the PDUs answering the victim (Data-In, SCSI Response)
    r2t,       // to the victim's R2Ts
    data_out,  // when the victim's Data-Out arrives
    execution, // the target executes the victim differently (honest underflow)
};

struct fault_info {
    fault_kind kind;
    std::string_view name;
    std::string_view group;
    victim_need need;
    fault_phase phase;
    std::string_view what; // what is corrupted, for the catalog and failure reports
    // The initiator's protocol errors on the connection after this fault may
    // be its doing (it broke the connection's state), so they are not held
    // against the initiator; false for faults a correct initiator goes on
    // from as if nothing had happened.
    bool excuses = true;
};

std::span<const fault_info> fault_catalog();
const fault_info& info(fault_kind k);
std::optional<fault_kind> parse_fault(std::string_view name);

// One PDU the target is about to send, framed by the target when it goes
// out: the header's DataSegmentLength is sent as it is here (it may lie).
struct out_pdu {
    static constexpr std::size_t whole = std::numeric_limits<std::size_t>::max();

    pdu::bhs_bytes bhs{};
    std::vector<std::byte> data;
    std::size_t cut = whole;  // send only this many bytes of the frame, then close
    bool close_after = false; // close the connection once this is sent
    bool fault = false;       // a fault made or changed it (for the trace)

    std::uint8_t opcode() const noexcept;
    bool is_data_in() const noexcept;
    bool has_status() const noexcept; // SCSI Response, or Data-In with the S bit
    bool is_r2t() const noexcept;
    std::uint32_t field(std::size_t offset) const noexcept; // big-endian 32-bit
    void set_field(std::size_t offset, std::uint32_t v) noexcept;
    void set_dsl(std::uint32_t n) noexcept;  // header only
    void set_data(std::vector<std::byte> d); // data and header DSL
};

// Byte offsets in a target BHS (§11).
namespace bhs_at {
inline constexpr std::size_t flags = 1, itt = 16, ttt = 20, stat_sn = 24, exp_cmd_sn = 28, max_cmd_sn = 32,
                             data_sn = 36, r2t_sn = 36, exp_data_sn = 36, buffer_offset = 40, residual = 44,
                             desired_length = 44;
}

struct fault_context {
    std::uint32_t edtl = 0;
    std::uint32_t initiator_mrdsl = 0; // what the initiator declared it receives
    std::uint32_t max_burst = 0;
    std::optional<std::uint32_t> other_read_itt; // another READ the initiator still waits for
    std::uint32_t* next_stat_sn = nullptr;       // the connection's StatSN counter
    rng* random = nullptr;
};

// Mutates the reply of the victim (Data-In and status PDUs, in send order)
// for a fault of phase `reply`. Returns false when the reply has no PDU the
// fault can act on (the plan should have made sure it has).
bool mutate_reply(fault_kind k, fault_context& ctx, std::vector<out_pdu>& reply);
// Mutates one batch of the victim's R2Ts (phase `r2t`), see above.
bool mutate_r2ts(fault_kind k, fault_context& ctx, std::vector<out_pdu>& r2ts);

} // namespace ivs::test::chaos
