// CHAP for the iSCSI login security stage (RFC 7143 §12.1.3, RFC 1994), initiator side.
//
// Exchange (AuthMethod=CHAP agreed first):
//   initiator -> CHAP_A=<offer list>
//   target    -> CHAP_A=<chosen>, CHAP_I=<id>, CHAP_C=<challenge>
//   initiator -> CHAP_N=<name>, CHAP_R=<response> [, CHAP_I=<id>, CHAP_C=<challenge> if mutual]
//   target    -> [CHAP_N=<name>, CHAP_R=<response> if mutual]
// Response R = H(identifier octet || secret || challenge) (RFC 1994 §4.1).
//
// Algorithms (CHAP_A, IANA PPP authentication algorithms): 5 MD5, 6 SHA-1, 7 SHA-256,
// 8 SHA3-256. RFC 7143 makes 5 the one every implementation supports and asks initiators
// to always offer it. The default offer is "8,6,5": the target picks the first value of
// the list that it supports, so a target with SHA3-256 uses it, and MD5 stays the common
// fallback. 7 is left out by default because tgtd accepts CHAP_A=7 but computes SHA-1 for
// it, which ends in an authentication failure; list it explicitly for targets known to
// implement SHA-256 correctly (e.g. "7,5").
// CHAP_I/CHAP_A numbers and CHAP_C/CHAP_R binary values are decoded with pdu/text.hpp;
// we send CHAP_R and CHAP_C as lowercase "0x" hex.
#pragma once

#include "iscsi/chap_secret.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace ivs::iscsi {

enum class chap_errc {
    ok = 0,
    empty_offer,           // no algorithm configured
    algorithm_unknown,     // a name or number that is not 5..8
    algorithm_unavailable, // the crypto library lacks the digest (or forbids it, FIPS)
    algorithm_not_offered, // the target chose a CHAP_A we did not offer
    missing_key,           // a CHAP key the step needs is absent or empty
    bad_identifier,        // CHAP_I not a number 0..255
    bad_challenge,         // CHAP_C not a 0x/0b binary value
    challenge_too_short,   // decodes to no bytes
    challenge_too_long,
    reflected_challenge,      // the peer's challenge equals ours (RFC 7143 §12.1.3)
    bad_response,             // CHAP_R not a binary value of the digest's length
    target_name_mismatch,     // mutual: CHAP_N is not the configured target name
    target_response_mismatch, // mutual: the target does not know the target secret
    mutual_same_secret,       // RFC 7143 §12.1.3: one secret per direction
    secret_empty,
    name_empty, // no user name (CHAP_N) configured
    secret_too_long,
    secret_file_unreadable,
    random_failure,
    digest_failure,
    out_of_order, // a step called before the previous one succeeded
};

const std::error_category& chap_category() noexcept;

inline std::error_code make_error_code(chap_errc e) noexcept { return {static_cast<int>(e), chap_category()}; }

// --- algorithms ------------------------------------------------------------------------

enum class chap_algorithm : std::uint8_t { md5 = 5, sha1 = 6, sha256 = 7, sha3_256 = 8 };

inline constexpr std::size_t chap_max_digest = 32;
inline constexpr std::size_t chap_min_challenge = 1;      // accepted from a target
inline constexpr std::size_t chap_max_binary = 1024;      // RFC 7143 §12.1.3: C and R
inline constexpr std::size_t chap_own_challenge_min = 16; // what we send in mutual CHAP

std::optional<chap_algorithm> chap_algorithm_from_number(unsigned n) noexcept;
// "MD5", "SHA-1", "SHA-256", "SHA3-256" (case-insensitive; "sha1", "sha256", "sha3_256"
// and the numbers "5".."8" work too).
std::optional<chap_algorithm> chap_algorithm_from_name(std::string_view name) noexcept;
std::string_view chap_algorithm_name(chap_algorithm a) noexcept;
inline unsigned chap_algorithm_number(chap_algorithm a) noexcept { return static_cast<unsigned>(a); }
std::size_t chap_digest_length(chap_algorithm a) noexcept;
// False when the linked crypto library cannot compute the digest.
bool chap_algorithm_available(chap_algorithm a) noexcept;

std::vector<chap_algorithm> chap_default_algorithms(); // 8, 6, 5 (see above)
// "8,6,5" for the CHAP_A key.
std::string chap_algorithm_list(std::span<const chap_algorithm> algorithms);
// Configuration form: comma-separated names or numbers, e.g. "sha256, md5". Duplicates fail.
std::error_code chap_parse_algorithm_list(std::string_view text, std::vector<chap_algorithm>& out);

// --- primitives (also what a target-side authenticator needs) ---------------------------

// CHAP_I: decimal or 0x-hex number 0..255.
std::error_code chap_parse_identifier(std::string_view text, std::uint8_t& id);
// CHAP_C: binary value, 1..1024 bytes.
std::error_code chap_parse_challenge(std::string_view text, std::vector<std::uint8_t>& out);
// R = H(id || secret || challenge); out gets chap_digest_length(a) bytes.
std::error_code chap_compute_response(chap_algorithm a, std::uint8_t id, const chap_secret& secret,
                                      std::span<const std::uint8_t> challenge, std::vector<std::uint8_t>& out);
// Decodes `response_text` and compares in constant time. Errors: bad_response when the
// encoding or length is wrong, target_response_mismatch when the value differs.
std::error_code chap_verify_response(chap_algorithm a, std::uint8_t id, const chap_secret& secret,
                                     std::span<const std::uint8_t> challenge, std::string_view response_text);

// Fills `out` with random bytes; returns false on failure. Default: OpenSSL RAND_bytes.
using chap_random_fn = std::function<bool(std::span<std::uint8_t> out)>;

// A fresh identifier and a challenge of max(16, digest length) random bytes.
std::error_code chap_make_challenge(chap_algorithm a, const chap_random_fn& random, std::uint8_t& id,
                                    std::vector<std::uint8_t>& challenge);

// --- initiator -------------------------------------------------------------------------

struct chap_identity {
    std::string name; // CHAP_N
    chap_secret secret;
};

struct chap_initiator_config {
    chap_identity initiator;             // proves us to the target
    std::optional<chap_identity> target; // set for mutual CHAP: what the target must prove
    std::vector<chap_algorithm> algorithms = chap_default_algorithms();
    chap_random_fn random; // empty: RAND_bytes
};

// Key values we send after the target's challenge. `i` and `c` are empty unless mutual.
struct chap_reply {
    std::string n, r, i, c;
};

class chap_initiator {
public:
    explicit chap_initiator(chap_initiator_config config);

    // Step 1: checks the configuration (secrets present, distinct in mutual CHAP,
    // algorithms available) and gives the CHAP_A value to send.
    std::error_code offer(std::string& chap_a);

    // Step 2: the target's CHAP_A, CHAP_I, CHAP_C values (empty = key absent).
    std::error_code respond(std::string_view chap_a, std::string_view chap_i, std::string_view chap_c, chap_reply& out);

    // Step 3, mutual only: the target's CHAP_N and CHAP_R.
    std::error_code verify_target(std::string_view chap_n, std::string_view chap_r);

    bool mutual() const noexcept { return config_.target.has_value(); }
    // The algorithm the target chose, once respond() succeeded.
    std::optional<chap_algorithm> algorithm() const noexcept { return chosen_; }
    // True once the exchange is complete (step 2 without mutual, step 3 with it).
    bool done() const noexcept { return state_ == state::done; }

private:
    enum class state { initial, offered, responded, done, failed };
    std::error_code fail(std::error_code ec) noexcept;

    chap_initiator_config config_;
    state state_ = state::initial;
    std::optional<chap_algorithm> chosen_;
    std::uint8_t our_id_ = 0;
    std::vector<std::uint8_t> our_challenge_;
};

} // namespace ivs::iscsi

template <>
struct std::is_error_code_enum<ivs::iscsi::chap_errc> : std::true_type {};
