// The login/text negotiation keys an initiator uses (RFC 7143 §12, §13), as a
// table of data, and the pure rules that negotiate them (§6.2).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

#include "pdu/error.hpp"

namespace ivs::pdu {

enum class key_kind {
    boolean,       // Yes/No
    numeric,       // numerical-value in [min, max]
    numeric_range, // numeric-range "a~b" (obsolete marker intervals)
    list,          // list-of-values, the responder picks one
    string,        // text, iSCSI name, address, "All", ...
};

// Stage in which a key may appear (§13: "Any-Stage" keys also in security negotiation).
enum class key_phase { security, operational, any };

// Use (§13 preamble): LO leading connection only, IO initialize only (login),
// ALL login and full feature phase, FFPO full feature phase only.
enum class key_use { leading_only, initialize_only, all, full_feature_only };

// Scope: SW session-wide, CO connection-only.
enum class key_scope { session, connection };

enum class key_sender { initiator, target, both };

// Result function (§6.2.2 and each key in §13).
enum class merge_rule {
    and_,          // boolean AND: an offer of No can only be answered No
    or_,           // boolean OR: an offer of Yes can only be answered Yes
    minimum,       // the answer cannot exceed the offer
    maximum,       // the answer cannot be lower than the offer
    first_in_list, // the responder selects the first offered value it supports
    declarative,   // no answer; each side's declaration stands
    none,          // enquiry/security exchange with its own protocol (SendTargets, CHAP_*)
};

struct key_def {
    std::string_view name;
    key_kind kind;
    key_phase phase;
    key_use use;
    key_scope scope;
    key_sender sender;
    merge_rule rule;
    std::uint64_t min = 0; // numeric: legal range
    std::uint64_t max = 0;
    std::string_view default_value = {}; // RFC default, empty when none
    std::string_view values = {};        // list/enumerated keys: the RFC's values, comma-separated
    bool obsolete = false;               // §13.25: answered with Reject
    bool declarative() const noexcept { return rule == merge_rule::declarative; }
};

// All keys of the table, in RFC order.
std::span<const key_def> key_table() noexcept;

// The row for `name` (case-sensitive, §6.1), or nullptr for unknown keys
// (including X- and X# extension keys).
const key_def* find_key(std::string_view name) noexcept;

// True when `who` may send `key`.
bool may_send(const key_def& key, key_sender who) noexcept;

// Outcome of one negotiated key as the originator sees it.
enum class negotiation_outcome {
    agreed,         // value holds the result
    irrelevant,     // responder said Irrelevant: the key has no effect
    rejected,       // responder said Reject: the key keeps its default
    not_understood, // responder does not know the key
};

struct negotiation_result {
    negotiation_outcome outcome = negotiation_outcome::agreed;
    std::string value;
};

// Originator side: I offered `offered`, the peer answered `answer`. Checks the
// answer's syntax and range (value_syntax, number_out_of_range) and the result
// function (negotiation_violation: a Minimum answer above my offer, a list
// answer I did not offer, Yes to my AND-offer of No, ...). For a declarative
// key `answer` is the peer's own declaration and is only validated.
std::error_code merge_answer(const key_def& key, std::string_view offered, std::string_view answer,
                             negotiation_result& out);

// Responder side: the answer to the peer's offer of `name`=`offer`, given what
// I accept in `mine` (a boolean, my numeric limit, or my acceptable values in a
// list). `answer` is set to:
//   NotUnderstood for keys not in the table, Reject for obsolete keys and for
//   illegal offers (bad syntax, out of range, no common list value),
//   Irrelevant when the caller says the key is irrelevant here,
//   otherwise the result of the key's rule;
//   nullopt for declarative keys (no answer is sent; their value is validated).
// Errors: key_not_allowed when `peer` may not send the key; value_syntax or
// number_out_of_range for an invalid declarative value.
std::error_code respond_to_offer(std::string_view name, std::string_view offer, std::string_view mine, key_sender peer,
                                 std::optional<std::string>& answer, bool irrelevant = false);

// Validates a value of `key` as a sender would offer or declare it: syntax,
// range, list items (value_syntax, number_out_of_range).
std::error_code check_value(const key_def& key, std::string_view value);

} // namespace ivs::pdu
