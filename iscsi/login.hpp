// The login phase of one connection (RFC 7143 §6.3, §7.1.3 states S4/S5),
// initiator side, without I/O: the caller sends the requests this machine
// produces and feeds it each Login Response.
//
//   login_machine m(config, cmd_sn, exp_stat_sn);
//   while (m.state() == login_state::need_send) {
//       auto out = m.next_request();          // send out.header + out.data
//       ... read one Login Response ...
//       m.on_response(resp, data);            // send_next / complete / redirect / failed
//   }
//
// Stages: SecurityNegotiation (0) -> LoginOperationalNegotiation (1) ->
// FullFeaturePhase (3). Login requests are immediate: CmdSN stays the same,
// ITT stays the same; ExpStatSN follows each response's StatSN.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include "iscsi/chap.hpp"
#include "iscsi/negotiation.hpp"
#include "iscsi/params.hpp"
#include "iscsi/sendtargets.hpp"
#include "pdu/initiator_pdus.hpp"
#include "pdu/target_pdus.hpp"
#include "pdu/text.hpp"

namespace ivs::iscsi {

// Login protocol errors of our own (status codes use login_category, CHAP
// failures chap_category, key negotiation pdu::errc).
enum class login_errc {
    ok = 0,
    bad_config = 1,           // missing initiator/target name, bad CHAP setup
    protocol_error,           // flags, stages, ITT, ISID or TSIH the RFC forbids here
    unsupported_version,      // Version-active not 0
    auth_method_refused,      // the target rejected every AuthMethod we offered
    chap_algorithm_rejected,  // the target refused our CHAP_A list (see md5_retry_suggested)
    target_not_authenticated, // mutual CHAP requested, the target did not answer
    bad_redirect,             // redirect without a usable TargetAddress
    too_many_exchanges,       // the target keeps the login going without progress
    value_refused,            // a list key (a digest) ends on a value we did not offer or accept
    not_ready,                // next_request/on_response called in the wrong state
};
const std::error_category& login_errc_category() noexcept;
inline std::error_code make_error_code(login_errc e) noexcept { return {static_cast<int>(e), login_errc_category()}; }

enum class login_state {
    need_send,      // call next_request()
    await_response, // call on_response()
    complete,       // full feature phase: params(), tsih(), ...
    redirected,     // redirect_target()
    failed,         // error(), error_message()
};

enum class login_step { send_next, complete, redirect, failed };

struct login_request_out {
    pdu::login_request header;   // data_segment_length set
    std::vector<std::byte> data; // text, at most 8192 bytes per PDU
};

class login_machine {
public:
    // Login text we send per PDU: the target's MaxRecvDataSegmentLength is
    // 8192 until it declares otherwise (§13.12); longer text uses the C bit.
    static constexpr std::size_t max_request_data = 8192;
    // Bound on request/response rounds before giving up.
    static constexpr unsigned max_exchanges = 32;

    login_machine(const login_config& config, std::uint32_t cmd_sn, std::uint32_t exp_stat_sn,
                  std::uint32_t initiator_task_tag = 0);

    // The target's bound on login data per PDU (its MaxRecvDataSegmentLength,
    // at least 512); our text is split with the C bit above it.
    void set_max_request_data(std::size_t n) noexcept { max_request_data_ = n < 512 ? 512 : n; }

    login_state state() const noexcept { return state_; }
    login_request_out next_request();
    login_step on_response(const pdu::login_response& rsp, std::span<const std::byte> data);

    session_params params() const { return negotiation_.params(); }
    std::uint16_t tsih() const noexcept { return tsih_; }
    std::uint64_t isid() const noexcept { return config_.isid; }
    const target_address& redirect_target() const noexcept { return redirect_; }
    // 0x0101 temporary / 0x0102 permanent, after a redirect.
    std::uint16_t status() const noexcept { return status_; }
    std::error_code error() const noexcept { return error_; }
    // One line: "login failed: authentication failure (0x0201)",
    // "login failed: target chose CHAP_A=7 which was not offered", ...
    const std::string& error_message() const noexcept { return message_; }
    // True after a failure caused by the target refusing our CHAP_A list
    // (CHAP_A=Reject, or an error status answering it) when the list was not
    // just MD5: a fresh login with chap_algorithms = {md5} may succeed.
    bool md5_retry_suggested() const noexcept { return md5_retry_; }

    std::uint32_t stat_sn() const noexcept { return stat_sn_; }
    std::uint32_t exp_stat_sn() const noexcept { return exp_stat_sn_; }
    std::uint32_t exp_cmd_sn() const noexcept { return exp_cmd_sn_; }
    std::uint32_t max_cmd_sn() const noexcept { return max_cmd_sn_; }
    std::uint32_t cmd_sn() const noexcept { return cmd_sn_; }
    std::uint32_t initiator_task_tag() const noexcept { return itt_; }

private:
    // Where we are in the security exchange (§12.1.3).
    enum class auth_phase { offer_method, offer_chap_a, verify_target, done };

    login_step fail(std::error_code ec, std::string message);
    bool prepare(bool transit);
    login_step redirect(std::span<const std::byte> data);
    login_step process_text(const pdu::login_response& rsp, const pdu::text_list& keys);
    login_step security_step(const pdu::login_response& rsp, const pdu::text_list& keys);
    bool md5_only() const noexcept;

    login_config config_;
    negotiation negotiation_;
    std::optional<chap_initiator> chap_;
    std::string auth_offer_;   // AuthMethod value we offered
    std::string chap_a_offer_; // CHAP_A list we offer

    login_state state_ = login_state::need_send;
    pdu::login_stage csg_ = pdu::login_stage::security_negotiation;
    pdu::login_stage nsg_ = pdu::login_stage::operational_negotiation;
    auth_phase auth_ = auth_phase::offer_method;
    bool next_transit_ = false; // T for the last PDU of the text being sent
    bool sent_transit_ = false;
    bool sent_continue_ = false;
    unsigned exchanges_ = 0;

    pdu::text_list pending_;          // keys to send next
    std::vector<std::byte> out_text_; // serialized text being sent
    std::size_t out_offset_ = 0;      // bytes of out_text_ already sent
    std::size_t max_request_data_ = max_request_data;
    pdu::text_reassembler reassembler_;

    std::uint32_t cmd_sn_;
    std::uint32_t exp_stat_sn_;
    std::uint32_t itt_;
    std::uint32_t stat_sn_ = 0;
    std::uint32_t exp_cmd_sn_ = 0;
    std::uint32_t max_cmd_sn_ = 0;
    std::uint16_t tsih_ = 0;
    std::uint16_t status_ = 0;
    bool md5_retry_ = false;
    target_address redirect_;
    std::error_code error_;
    std::string message_;
};

} // namespace ivs::iscsi

template <>
struct std::is_error_code_enum<ivs::iscsi::login_errc> : std::true_type {};
