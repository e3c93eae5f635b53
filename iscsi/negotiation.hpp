// Login key negotiation (RFC 7143 §6.2, §13), initiator side, driven by the
// key table of pdu/keys.hpp. Three sets:
//   mine   - what we offer or declare (from login_config), and the limits we
//            answer target offers with;
//   theirs - what the target offered or declared;
//   active - the outcome of each key negotiated so far.
// The login machine feeds every key of each Login Response except the
// security exchange (AuthMethod, CHAP_*), which it runs itself.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "iscsi/params.hpp"
#include "pdu/initiator_pdus.hpp"
#include "pdu/keys.hpp"
#include "pdu/text.hpp"

namespace ivs::iscsi {

class negotiation {
public:
    explicit negotiation(const login_config& config);

    // First login request's declarations: InitiatorName, InitiatorAlias,
    // SessionType and (normal sessions) TargetName (§13.4-§13.6, §13.21).
    pdu::text_list declarations() const;

    // Our operational offers and declarations (first request of the
    // operational stage). Each key is marked offered; a second call gives only
    // keys not offered yet (none). Leading-only keys are left out when adding
    // a connection (TSIH != 0); keys irrelevant to discovery sessions too.
    pdu::text_list operational_offers();

    // One Login Response's keys (already reassembled), in stage `stage`.
    // Answers to our offers and target declarations go to `active`; answers
    // to target offers are appended to `answers` (to send next). Errors
    // (pdu::errc: negotiation_violation, key_not_allowed, value_syntax,
    // number_out_of_range; login_errc::value_refused when a digest ends on a
    // value our preference list does not hold, e.g. None after Reject to
    // HeaderDigest=CRC32C) come with `message` naming the key and value.
    std::error_code process(const pdu::text_list& keys, pdu::login_stage stage, pdu::text_list& answers,
                            std::string& message);

    // Our offers the target has not answered yet.
    std::vector<std::string> unanswered() const;

    // The values in force: RFC defaults overridden by the active set.
    session_params params() const;

    // The active value of `key`, if negotiated or declared by the target.
    std::optional<std::string> active(std::string_view key) const;

private:
    struct key_state {
        std::optional<std::string> mine;   // what we offered/declared/answered
        std::optional<std::string> theirs; // what the target offered/declared/answered
        std::optional<std::string> active; // outcome; nullopt = default (rejected, ...)
        bool offered = false;              // we sent an offer awaiting an answer
        bool done = false;                 // negotiated: no second round (§6.2)
    };

    std::error_code answer_of_ours(const pdu::key_def& key, key_state& st, std::string_view value,
                                   std::string& message);
    std::error_code offer_of_theirs(const pdu::key_def* key, std::string_view name, std::string_view value,
                                    pdu::text_list& answers, std::string& message);
    std::error_code declaration_of_theirs(const pdu::key_def& key, key_state& st, std::string_view value,
                                          std::string& message);
    static std::string in_force(const pdu::key_def& key, const key_state& st);
    bool accepts_in_force(const pdu::key_def& key, const key_state& st) const;

    login_config config_; // our copy, without CHAP secrets
    std::map<std::string, key_state, std::less<>> keys_;
};

} // namespace ivs::iscsi
