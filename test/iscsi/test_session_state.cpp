// The session's transition table (iscsi/session_state.hpp): well formed,
// every state reachable and closable, every row citing RFC 7143; and the
// moves a session makes are logged.
#include "iscsi/session_state.hpp"

#include <catch2/catch.hpp>

#include <set>
#include <string>

using namespace ivs::iscsi;

namespace {

constexpr session_state all_states[] = {
    session_state::idle,         session_state::connecting,       session_state::login,       session_state::redirect,
    session_state::full_feature, session_state::logout_requested, session_state::logging_out, session_state::recovering,
    session_state::failed,       session_state::closed,
};

constexpr session_event_input all_inputs[] = {
    session_event_input::start,
    session_event_input::connected,
    session_event_input::connect_failed,
    session_event_input::login_complete,
    session_event_input::login_redirect,
    session_event_input::login_retry,
    session_event_input::login_failed,
    session_event_input::connection_closed,
    session_event_input::logout_requested,
    session_event_input::logout,
    session_event_input::reconnect_due,
    session_event_input::replacement_timeout,
    session_event_input::shutdown,
};

} // namespace

TEST_CASE("session transition table: one move per state, event and guard; all reachable", "[session][state]")
{
    for (auto from : all_states)
        for (auto on : all_inputs) {
            // At most one row applies, whatever the guard.
            for (bool reinstate : {false, true}) {
                int n = 0;
                for (const auto& t : session_transitions())
                    if (t.from == from && t.on == on &&
                        (t.guard == session_guard::always || (t.guard == session_guard::can_reinstate) == reinstate))
                        ++n;
                INFO(name(from) << " on " << name(on));
                CHECK(n <= 1);
            }
        }
    std::set<session_state> reached{session_state::idle};
    for (const auto& t : session_transitions()) {
        reached.insert(t.to);
        INFO(name(t.from) << " on " << name(t.on));
        CHECK(!t.rfc.empty());
        CHECK((t.rfc.front() == '(' || t.rfc.substr(0, 2) == "\xc2\xa7")); // "§..."
    }
    for (auto s : all_states) {
        INFO(name(s));
        CHECK(reached.count(s) == 1);
        // The caller can always close the session at once.
        const session_transition* t = find_transition(s, session_event_input::shutdown, false);
        REQUIRE(t);
        CHECK(t->to == session_state::closed);
        CHECK(name(s) != "?");
    }
    for (auto e : all_inputs)
        CHECK(name(e) != "?");
}

TEST_CASE("session transition table: the moves of ERL 0 recovery", "[session][state]")
{
    using S = session_state;
    using E = session_event_input;
    auto to = [](S from, E on, bool reinstate) {
        const session_transition* t = find_transition(from, on, reinstate);
        return t ? std::string(name(t->to)) : std::string("(none)");
    };
    CHECK(to(S::full_feature, E::connection_closed, true) == "recovering");
    CHECK(to(S::full_feature, E::connection_closed, false) == "failed");
    CHECK(to(S::login, E::login_failed, false) == "failed");
    CHECK(to(S::login, E::login_failed, true) == "recovering");
    CHECK(to(S::recovering, E::reconnect_due, true) == "connecting");
    CHECK(to(S::recovering, E::replacement_timeout, true) == "failed");
    CHECK(to(S::failed, E::reconnect_due, true) == "connecting");
    CHECK(to(S::failed, E::reconnect_due, false) == "(none)");
    CHECK(to(S::full_feature, E::logout_requested, true) == "logout requested");
    // A second AsyncEvent 1 while the Logout is under way changes nothing.
    CHECK(to(S::logout_requested, E::logout_requested, true) == "(none)");
    CHECK(to(S::logout_requested, E::connection_closed, true) == "recovering");
    CHECK(to(S::logging_out, E::connection_closed, true) == "closed");
    CHECK(to(S::closed, E::start, false) == "(none)");
}
