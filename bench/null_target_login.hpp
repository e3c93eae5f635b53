// bench/null_target: the target side of the login phase (RFC 7143 §6, §13):
// one Login Request in, one Login Response (header and text) out. No I/O; the
// connection reassembles multi-PDU text and fills the sequence numbers.
#pragma once

#include "iscsi/login_status.hpp"
#include "pdu/target_pdus.hpp"
#include "pdu/text.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace ivs::bench {

struct target_settings {
    std::string iqn;
    std::string portal;                                  // "ADDR:PORT", for SendTargets
    std::uint32_t max_recv_data_segment_length = 262144; // what we declare (§13.12)
    bool digests = true;                                 // accept CRC32C digests (§13.1)
    std::uint32_t max_outstanding_r2t = 16;              // our limit (§13.17)
};

// The session's operational parameters once negotiated (RFC defaults until then).
struct session_params {
    bool discovery = false;
    bool header_digest = false;
    bool data_digest = false;
    std::uint32_t initiator_mrdsl = 8192; // bounds the PDUs we send
    std::uint32_t max_burst_length = 262144;
    std::uint32_t first_burst_length = 65536;
    bool initial_r2t = true;
    bool immediate_data = true;
    std::uint32_t max_outstanding_r2t = 1;
    std::uint32_t error_recovery_level = 0;
};

class login_negotiator {
public:
    explicit login_negotiator(const target_settings& s) : settings_(s) {}

    struct answer {
        pdu::login_response rsp;     // all but StatSN/ExpCmdSN/MaxCmdSN
        std::vector<std::byte> text; // the response's data segment
        bool full_feature = false;   // the final response: full feature phase follows
        bool failed = false;         // an error status: close after sending
    };

    // A complete Login Request (its text reassembled, §6.1) and its keys.
    answer on_request(const pdu::login_request& req, const pdu::text_list& keys);
    // An intermediate Login Request with C=1: answered with an empty response (§6.1).
    answer on_partial(const pdu::login_request& req);
    // A login that must end now (bad text, protocol error) with that status.
    answer reject(const pdu::login_request& req, iscsi::login_status status);

    const session_params& params() const noexcept { return params_; }

private:
    answer base(const pdu::login_request& req) const;
    // Answers one offered key into `out` (declarations get no answer).
    std::error_code negotiate(const pdu::text_pair& kv, bool security_stage, pdu::text_list& out);
    std::string mine(std::string_view key) const;
    void apply(std::string_view key, std::string_view value);

    target_settings settings_;
    session_params params_;
    bool first_ = true;
    bool declared_mrdsl_ = false;
    bool sent_tpgt_ = false;
    std::uint64_t isid_ = 0;
    std::uint32_t itt_ = 0;
};

} // namespace ivs::bench
