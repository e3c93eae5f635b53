#include "iscsi/chap.hpp"

#include "pdu/text.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstring>
#include <memory>

// EVP_sha3_256: OpenSSL >= 1.1.1, LibreSSL >= 3.8.0.
#if defined(LIBRESSL_VERSION_NUMBER)
#define IVS_HAVE_EVP_SHA3 (LIBRESSL_VERSION_NUMBER >= 0x3080000fL)
#else
#define IVS_HAVE_EVP_SHA3 (OPENSSL_VERSION_NUMBER >= 0x10101000L)
#endif

namespace ivs::iscsi {
namespace {

class category final : public std::error_category {
public:
    const char* name() const noexcept override { return "iscsi-chap"; }
    std::string message(int ev) const override
    {
        switch (static_cast<chap_errc>(ev)) {
        case chap_errc::ok: return "success";
        case chap_errc::empty_offer: return "CHAP: no algorithm configured to offer (CHAP_A)";
        case chap_errc::algorithm_unknown: return "CHAP: unknown algorithm (known: MD5, SHA-1, SHA-256, SHA3-256)";
        case chap_errc::algorithm_unavailable: return "CHAP: algorithm not available in the crypto library";
        case chap_errc::algorithm_not_offered: return "CHAP: target chose an algorithm (CHAP_A) that was not offered";
        case chap_errc::missing_key:
            return "CHAP: a required key (CHAP_A, CHAP_I, CHAP_C, CHAP_N or CHAP_R) is missing";
        case chap_errc::bad_identifier: return "CHAP: identifier (CHAP_I) is not a number from 0 to 255";
        case chap_errc::bad_challenge: return "CHAP: challenge (CHAP_C) is not a valid 0x-hex or 0b-base64 value";
        case chap_errc::challenge_too_short: return "CHAP: challenge (CHAP_C) is empty";
        case chap_errc::challenge_too_long: return "CHAP: challenge (CHAP_C) is longer than 1024 bytes";
        case chap_errc::reflected_challenge: return "CHAP: peer's challenge equals our own (reflection attack)";
        case chap_errc::bad_response: return "CHAP: response (CHAP_R) is not a binary value of the digest's length";
        case chap_errc::target_name_mismatch:
            return "CHAP: target's name (CHAP_N) is not the configured target user name";
        case chap_errc::target_response_mismatch:
            return "CHAP: target failed mutual authentication (CHAP_R does not match)";
        case chap_errc::mutual_same_secret:
            return "CHAP: mutual CHAP needs different initiator and target secrets (RFC 7143 §12.1.3)";
        case chap_errc::secret_empty: return "CHAP: secret is empty";
        case chap_errc::name_empty: return "CHAP: user name (CHAP_N) is not configured";
        case chap_errc::secret_too_long: return "CHAP: secret file is too long";
        case chap_errc::secret_file_unreadable: return "CHAP: cannot read the secret file";
        case chap_errc::random_failure: return "CHAP: random number generator failed";
        case chap_errc::digest_failure: return "CHAP: digest computation failed";
        case chap_errc::out_of_order: return "CHAP: exchange step out of order";
        }
        return "unknown iscsi-chap error";
    }
};

const EVP_MD* evp_digest(chap_algorithm a) noexcept
{
    switch (a) {
    case chap_algorithm::md5: return EVP_md5();
    case chap_algorithm::sha1: return EVP_sha1();
    case chap_algorithm::sha256: return EVP_sha256();
    case chap_algorithm::sha3_256:
#if IVS_HAVE_EVP_SHA3
        return EVP_sha3_256();
#else
        return nullptr;
#endif
    }
    return nullptr;
}

struct md_ctx_free {
    void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
};

bool ascii_iequal(std::string_view a, std::string_view b) noexcept
{
    if (a.size() != b.size())
        return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z')
            x = static_cast<char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = static_cast<char>(y - 'A' + 'a');
        if (x != y)
            return false;
    }
    return true;
}

std::string_view trim(std::string_view s) noexcept
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

// Numerical value (RFC 7143 §6.1): decimal, 0x-hex or 0b-base64, bounded to `max`.
bool parse_small_number(std::string_view s, unsigned max, unsigned& out) noexcept
{
    std::uint64_t v = 0;
    if (pdu::parse_number(s, 0, max, v))
        return false;
    out = static_cast<unsigned>(v);
    return true;
}

// Binary values (RFC 7143 §6.1) through the shared pdu/ text codec.
std::error_code decode_binary(std::string_view text, std::vector<std::uint8_t>& out)
{
    std::vector<std::byte> raw;
    if (auto ec = pdu::parse_binary(text, raw, chap_max_binary))
        return ec;
    out.resize(raw.size());
    if (!raw.empty())
        std::memcpy(out.data(), raw.data(), raw.size());
    return {};
}

std::string encode_hex(std::span<const std::uint8_t> bytes) { return pdu::encode_hex(std::as_bytes(bytes)); }

bool default_random(std::span<std::uint8_t> out) { return RAND_bytes(out.data(), static_cast<int>(out.size())) == 1; }

} // namespace

const std::error_category& chap_category() noexcept
{
    static const category instance;
    return instance;
}

// --- algorithms ------------------------------------------------------------------------

std::optional<chap_algorithm> chap_algorithm_from_number(unsigned n) noexcept
{
    if (n >= 5 && n <= 8)
        return static_cast<chap_algorithm>(n);
    return std::nullopt;
}

std::optional<chap_algorithm> chap_algorithm_from_name(std::string_view name) noexcept
{
    name = trim(name);
    static constexpr struct {
        std::string_view name;
        chap_algorithm a;
    } names[] = {
        {"md5", chap_algorithm::md5},           {"5", chap_algorithm::md5},      {"sha-1", chap_algorithm::sha1},
        {"sha1", chap_algorithm::sha1},         {"6", chap_algorithm::sha1},     {"sha-256", chap_algorithm::sha256},
        {"sha256", chap_algorithm::sha256},     {"7", chap_algorithm::sha256},   {"sha3-256", chap_algorithm::sha3_256},
        {"sha3_256", chap_algorithm::sha3_256}, {"8", chap_algorithm::sha3_256},
    };
    for (const auto& n : names)
        if (ascii_iequal(name, n.name))
            return n.a;
    return std::nullopt;
}

std::string_view chap_algorithm_name(chap_algorithm a) noexcept
{
    switch (a) {
    case chap_algorithm::md5: return "MD5";
    case chap_algorithm::sha1: return "SHA-1";
    case chap_algorithm::sha256: return "SHA-256";
    case chap_algorithm::sha3_256: return "SHA3-256";
    }
    return "unknown";
}

std::size_t chap_digest_length(chap_algorithm a) noexcept
{
    switch (a) {
    case chap_algorithm::md5: return 16;
    case chap_algorithm::sha1: return 20;
    case chap_algorithm::sha256: return 32;
    case chap_algorithm::sha3_256: return 32;
    }
    return 0;
}

bool chap_algorithm_available(chap_algorithm a) noexcept
{
    const EVP_MD* md = evp_digest(a);
    if (md == nullptr)
        return false;
    // A FIPS provider refuses MD5 at init time, not at lookup.
    std::unique_ptr<EVP_MD_CTX, md_ctx_free> ctx(EVP_MD_CTX_new());
    return ctx && EVP_DigestInit_ex(ctx.get(), md, nullptr) == 1;
}

std::vector<chap_algorithm> chap_default_algorithms()
{
    return {chap_algorithm::sha3_256, chap_algorithm::sha1, chap_algorithm::md5};
}

std::string chap_algorithm_list(std::span<const chap_algorithm> algorithms)
{
    std::string s;
    for (const chap_algorithm a : algorithms) {
        if (!s.empty())
            s += ',';
        s += std::to_string(chap_algorithm_number(a));
    }
    return s;
}

std::error_code chap_parse_algorithm_list(std::string_view text, std::vector<chap_algorithm>& out)
{
    std::vector<chap_algorithm> list;
    while (true) {
        const std::size_t comma = text.find(',');
        const auto a = chap_algorithm_from_name(text.substr(0, comma));
        if (!a)
            return chap_errc::algorithm_unknown;
        if (std::find(list.begin(), list.end(), *a) != list.end())
            return chap_errc::algorithm_unknown;
        list.push_back(*a);
        if (comma == std::string_view::npos)
            break;
        text.remove_prefix(comma + 1);
    }
    out = std::move(list);
    return {};
}

// --- primitives ------------------------------------------------------------------------

std::error_code chap_parse_identifier(std::string_view text, std::uint8_t& id)
{
    if (text.empty())
        return chap_errc::missing_key;
    unsigned v = 0;
    if (!parse_small_number(text, 255, v))
        return chap_errc::bad_identifier;
    id = static_cast<std::uint8_t>(v);
    return {};
}

std::error_code chap_parse_challenge(std::string_view text, std::vector<std::uint8_t>& out)
{
    if (text.empty())
        return chap_errc::missing_key;
    if (const auto ec = decode_binary(text, out))
        return ec == pdu::errc::value_too_long ? chap_errc::challenge_too_long : chap_errc::bad_challenge;
    if (out.size() < chap_min_challenge)
        return chap_errc::challenge_too_short;
    return {};
}

std::error_code chap_compute_response(chap_algorithm a, std::uint8_t id, const chap_secret& secret,
                                      std::span<const std::uint8_t> challenge, std::vector<std::uint8_t>& out)
{
    if (secret.empty())
        return chap_errc::secret_empty;
    const EVP_MD* md = evp_digest(a);
    if (md == nullptr)
        return chap_errc::algorithm_unavailable;
    std::unique_ptr<EVP_MD_CTX, md_ctx_free> ctx(EVP_MD_CTX_new());
    if (!ctx)
        return chap_errc::digest_failure;
    if (EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1)
        return chap_errc::algorithm_unavailable;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    const auto s = secret.bytes();
    if (EVP_DigestUpdate(ctx.get(), &id, 1) != 1 || EVP_DigestUpdate(ctx.get(), s.data(), s.size()) != 1 ||
        EVP_DigestUpdate(ctx.get(), challenge.data(), challenge.size()) != 1 ||
        EVP_DigestFinal_ex(ctx.get(), digest, &len) != 1 || len != chap_digest_length(a))
        return chap_errc::digest_failure;
    out.assign(digest, digest + len);
    return {};
}

std::error_code chap_verify_response(chap_algorithm a, std::uint8_t id, const chap_secret& secret,
                                     std::span<const std::uint8_t> challenge, std::string_view response_text)
{
    if (response_text.empty())
        return chap_errc::missing_key;
    std::vector<std::uint8_t> got;
    if (decode_binary(response_text, got) || got.size() != chap_digest_length(a))
        return chap_errc::bad_response;
    std::vector<std::uint8_t> expected;
    if (auto ec = chap_compute_response(a, id, secret, challenge, expected))
        return ec;
    if (CRYPTO_memcmp(expected.data(), got.data(), expected.size()) != 0)
        return chap_errc::target_response_mismatch;
    return {};
}

std::error_code chap_make_challenge(chap_algorithm a, const chap_random_fn& random, std::uint8_t& id,
                                    std::vector<std::uint8_t>& challenge)
{
    const std::size_t len = std::max(chap_own_challenge_min, chap_digest_length(a));
    std::vector<std::uint8_t> buf(len + 1);
    const bool ok = random ? random(buf) : default_random(buf);
    if (!ok)
        return chap_errc::random_failure;
    id = buf[0];
    challenge.assign(buf.begin() + 1, buf.end());
    return {};
}

// --- initiator -------------------------------------------------------------------------

chap_initiator::chap_initiator(chap_initiator_config config) : config_(std::move(config)) {}

std::error_code chap_initiator::fail(std::error_code ec) noexcept
{
    state_ = state::failed;
    return ec;
}

std::error_code chap_initiator::offer(std::string& chap_a)
{
    if (state_ != state::initial)
        return fail(chap_errc::out_of_order);
    if (config_.algorithms.empty())
        return fail(chap_errc::empty_offer);
    for (const chap_algorithm a : config_.algorithms)
        if (!chap_algorithm_available(a))
            return fail(chap_errc::algorithm_unavailable);
    if (config_.initiator.name.empty())
        return fail(chap_errc::name_empty);
    if (config_.initiator.secret.empty())
        return fail(chap_errc::secret_empty);
    if (config_.target) {
        if (config_.target->name.empty())
            return fail(chap_errc::name_empty);
        if (config_.target->secret.empty())
            return fail(chap_errc::secret_empty);
        // RFC 7143 §12.1.3: a secret used to authenticate initiators must not
        // authenticate targets.
        if (config_.target->secret.same_as(config_.initiator.secret))
            return fail(chap_errc::mutual_same_secret);
    }
    chap_a = chap_algorithm_list(config_.algorithms);
    state_ = state::offered;
    return {};
}

std::error_code chap_initiator::respond(std::string_view chap_a, std::string_view chap_i, std::string_view chap_c,
                                        chap_reply& out)
{
    if (state_ != state::offered)
        return fail(chap_errc::out_of_order);
    if (chap_a.empty() || chap_i.empty() || chap_c.empty())
        return fail(chap_errc::missing_key);

    // The target answers with exactly one of our values (RFC 7143 §6.2, list negotiation);
    // "Reject", "None" or anything else is not an offered algorithm.
    unsigned n = 0;
    std::optional<chap_algorithm> chosen;
    if (parse_small_number(chap_a, 255, n))
        chosen = chap_algorithm_from_number(n);
    if (!chosen || std::find(config_.algorithms.begin(), config_.algorithms.end(), *chosen) == config_.algorithms.end())
        return fail(chap_errc::algorithm_not_offered);

    std::uint8_t id = 0;
    if (auto ec = chap_parse_identifier(chap_i, id))
        return fail(ec);
    std::vector<std::uint8_t> challenge;
    if (auto ec = chap_parse_challenge(chap_c, challenge))
        return fail(ec);

    std::vector<std::uint8_t> response;
    if (auto ec = chap_compute_response(*chosen, id, config_.initiator.secret, challenge, response))
        return fail(ec);

    chap_reply reply;
    reply.n = config_.initiator.name;
    reply.r = encode_hex(response);
    if (config_.target) {
        if (auto ec = chap_make_challenge(*chosen, config_.random, our_id_, our_challenge_))
            return fail(ec);
        // RFC 7143 §12.1.3: the challenge of one direction must not be reused in the other.
        if (our_challenge_ == challenge)
            return fail(chap_errc::reflected_challenge);
        reply.i = std::to_string(our_id_);
        reply.c = encode_hex(our_challenge_);
    }
    out = std::move(reply);
    chosen_ = chosen;
    state_ = config_.target ? state::responded : state::done;
    return {};
}

std::error_code chap_initiator::verify_target(std::string_view chap_n, std::string_view chap_r)
{
    if (state_ != state::responded || !config_.target || !chosen_)
        return fail(chap_errc::out_of_order);
    if (chap_n.empty() || chap_r.empty())
        return fail(chap_errc::missing_key);
    if (chap_n != config_.target->name)
        return fail(chap_errc::target_name_mismatch);
    if (auto ec = chap_verify_response(*chosen_, our_id_, config_.target->secret, our_challenge_, chap_r))
        return fail(ec);
    state_ = state::done;
    return {};
}

} // namespace ivs::iscsi
