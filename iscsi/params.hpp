// Login configuration (what we offer and declare) and the session parameters in
// force after login (RFC 7143 §12, §13). Plain data, no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "iscsi/chap.hpp"

namespace ivs::iscsi {

enum class session_type { normal, discovery };

// HeaderDigest/DataDigest offers (§13.1), in our order of preference.
enum class digest_offer {
    none,           // "None"
    crc32c,         // "CRC32C"
    crc32c_or_none, // "CRC32C,None"
    none_or_crc32c, // "None,CRC32C"
};
std::string_view digest_offer_value(digest_offer d) noexcept;
// The command-line spelling: "none", "crc32c", "crc32c,none", "none,crc32c".
bool parse_digest_offer(std::string_view text, digest_offer& out) noexcept;

// Our operational proposals (§13.10-§13.20). Numeric values are limits we
// offer; the target answers within the key's result function.
struct operational_proposals {
    digest_offer header_digest = digest_offer::none;
    digest_offer data_digest = digest_offer::none;
    std::uint32_t max_recv_data_segment_length = 262144; // declared: what the target may send us
    std::uint32_t max_burst_length = 16776192;
    std::uint32_t first_burst_length = 262144;
    bool initial_r2t = false;
    bool immediate_data = true;
    std::uint32_t max_outstanding_r2t = 8;
    bool data_pdu_in_order = true;
    bool data_sequence_in_order = true;
    std::uint32_t error_recovery_level = 0;
    std::uint32_t max_connections = 1;
    std::uint32_t default_time2wait = 2;
    std::uint32_t default_time2retain = 20;
};

// §11.12.5: ISID type 0x80 ("Random"): byte 0 = 0x80, B and C random, and a
// random 16-bit qualifier D. 48 bits in the low bits of the result.
std::uint64_t random_isid();

struct login_config {
    std::string initiator_name;  // iqn./eui./naa. name (§4.2.7), required
    std::string initiator_alias; // optional InitiatorAlias
    std::string target_name;     // required for normal sessions, empty for discovery
    session_type type = session_type::normal;
    // Keep the same ISID across reconnects of one session (§4.4.3 reinstatement).
    std::uint64_t isid = random_isid();
    std::uint16_t tsih = 0; // 0: a new session (leading connection)
    std::uint16_t cid = 0;

    // One-way CHAP when set; mutual when `mutual_chap` is set too (what the
    // target must prove: its CHAP_N and the target secret, distinct from ours).
    std::optional<chap_identity> chap;
    std::optional<chap_identity> mutual_chap;
    // CHAP_A offer in our order of preference (the target picks the first it
    // supports, §12.1.3). Default from chap.hpp: 8,6,5 (no 7: tgtd computes
    // SHA-1 for CHAP_A=7).
    std::vector<chap_algorithm> chap_algorithms = chap_default_algorithms();
    chap_random_fn chap_random; // empty: OpenSSL RAND_bytes (tests inject)

    operational_proposals proposals;
};

// The values in force after login. Defaults are the RFC defaults, which hold
// for every key the target did not answer or declare.
struct session_params {
    bool header_digest = false;                               // CRC32C on headers
    bool data_digest = false;                                 // CRC32C on data
    std::uint32_t max_recv_data_segment_length = 8192;        // ours: what the target may send us
    std::uint32_t target_max_recv_data_segment_length = 8192; // theirs: bounds our Data-Out / immediate data
    std::uint32_t max_burst_length = 262144;
    std::uint32_t first_burst_length = 65536;
    bool initial_r2t = true;
    bool immediate_data = true;
    std::uint32_t max_outstanding_r2t = 1;
    bool data_pdu_in_order = true;
    bool data_sequence_in_order = true;
    std::uint32_t error_recovery_level = 0;
    std::uint32_t max_connections = 1;
    std::uint32_t default_time2wait = 2;
    std::uint32_t default_time2retain = 20;
    std::optional<std::uint16_t> target_portal_group_tag;
    std::string target_alias;
};

} // namespace ivs::iscsi
