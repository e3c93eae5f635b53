// session_condition: what callers decide by, for every session_errc and for
// the errors of the layers below (pdu framing, sockets).
#include "iscsi/session_error.hpp"
#include "pdu/error.hpp"

#include <catch2/catch.hpp>

using namespace ivs::iscsi;

TEST_CASE("session errors map to the conditions callers decide by", "[session][error]")
{
    using E = session_errc;
    using C = session_condition;
    for (E e : {E::rejected, E::task_aborted, E::too_many_tasks, E::reissue_limit}) {
        INFO(make_error_code(e).message());
        CHECK(make_error_code(e) == C::retryable);
        CHECK(make_error_code(e) != C::session_gone);
    }
    for (E e : {E::protocol_error, E::unknown_task, E::data_out_of_order, E::data_overflow, E::r2t_out_of_range,
                E::r2t_out_of_order, E::stat_sn_gap, E::transfer_mismatch}) {
        INFO(make_error_code(e).message());
        CHECK(make_error_code(e) == C::target_error);
        CHECK(make_error_code(e) == C::transport_lost);
        CHECK(make_error_code(e) != C::retryable);
    }
    for (E e : {E::connection_closed, E::timeout, E::connect_failed})
        CHECK(make_error_code(e) == C::transport_lost);
    for (E e : {E::session_closed, E::session_failed, E::not_logged_in})
        CHECK(make_error_code(e) == C::session_gone);
    CHECK(make_error_code(E::command_timeout) == C::timed_out);
    CHECK(make_error_code(E::command_timeout) != C::retryable);
    CHECK(make_error_code(E::bad_command) == C::bad_request);
    // Layers below: a framing error ended the connection; a socket failed.
    CHECK(make_error_code(ivs::pdu::errc::header_digest_mismatch) == C::target_error);
    CHECK(make_error_code(ivs::pdu::errc::header_digest_mismatch) == C::transport_lost);
    CHECK(std::error_code(ECONNRESET, std::system_category()) == C::transport_lost);
    CHECK(std::error_code(ECONNRESET, std::system_category()) != C::retryable);
    CHECK(std::error_code{} != C::transport_lost);
    CHECK(make_error_condition(C::retryable).message() != make_error_condition(C::timed_out).message());
}
