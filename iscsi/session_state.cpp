#include "iscsi/session_state.hpp"

#include <array>

namespace ivs::iscsi {
namespace {

using S = session_state;
using E = session_event_input;
using G = session_guard;

// Read a row as: in state `from`, on `on` (when `guard`), go to `to`.
constexpr std::array transitions{
    // Login (§6.3): a leading connection, or one reinstating the session.
    session_transition{S::idle, E::start, G::always, S::connecting, "§6.3.1 login phase start"},
    session_transition{S::connecting, E::connected, G::always, S::login, "§6.3.1 login phase start"},
    session_transition{S::redirect, E::connected, G::always, S::login, "§11.13.5 redirection"},
    session_transition{S::connecting, E::connect_failed, G::cannot_reinstate, S::failed, "§6.3.6 session failure"},
    session_transition{S::connecting, E::connect_failed, G::can_reinstate, S::recovering,
                       "§6.3.5 session reinstatement"},
    session_transition{S::redirect, E::connect_failed, G::cannot_reinstate, S::failed, "§6.3.6 session failure"},
    session_transition{S::redirect, E::connect_failed, G::can_reinstate, S::recovering, "§6.3.5 session reinstatement"},
    session_transition{S::login, E::login_complete, G::always, S::full_feature, "§6.3 final Login Response, T=1 NSG=3"},
    session_transition{S::login, E::login_redirect, G::always, S::redirect, "§11.13.5 Status-Class 1, TargetAddress"},
    session_transition{S::login, E::login_retry, G::always, S::connecting, "§12.1.3 CHAP_A offer"},
    session_transition{S::login, E::login_failed, G::cannot_reinstate, S::failed, "§11.13.5 Status-Class 2/3"},
    session_transition{S::login, E::login_failed, G::can_reinstate, S::recovering, "§6.3.5 session reinstatement"},

    // Full feature phase (§4.2.2): commands flow until the connection ends.
    session_transition{S::full_feature, E::connection_closed, G::can_reinstate, S::recovering,
                       "§7.1.4.4 session recovery, §6.3.5 reinstatement"},
    session_transition{S::full_feature, E::connection_closed, G::cannot_reinstate, S::failed,
                       "§7.14 connection failure"},
    session_transition{S::full_feature, E::logout_requested, G::always, S::logout_requested,
                       "§11.9.1 AsyncEvent 1, §11.14 Logout"},
    session_transition{S::full_feature, E::logout, G::always, S::logging_out, "§11.14 Logout (close the session)"},

    // The target asked for a Logout (§11.9.1): once it is done, log in again.
    session_transition{S::logout_requested, E::connection_closed, G::can_reinstate, S::recovering,
                       "§11.9.1 AsyncEvent 1, §6.3.5 reinstatement"},
    session_transition{S::logout_requested, E::connection_closed, G::cannot_reinstate, S::failed,
                       "§11.9.1 AsyncEvent 1"},
    session_transition{S::logout_requested, E::logout, G::always, S::logging_out, "§11.14 Logout (close the session)"},

    // The caller's Logout (§11.14): closed once the connection is.
    session_transition{S::logging_out, E::connection_closed, G::always, S::closed, "§11.15 Logout Response"},

    // ERL 0 recovery (§6.3.5): reconnect after Time2Wait, or give up.
    session_transition{S::recovering, E::reconnect_due, G::always, S::connecting,
                       "§6.3.5 session reinstatement, Time2Wait"},
    session_transition{S::recovering, E::replacement_timeout, G::always, S::failed,
                       "§7.1.4.4 session recovery gives up"},
    // Recovery gives up while a reconnect attempt is under way: the pending
    // commands fail, the attempt goes on.
    session_transition{S::connecting, E::replacement_timeout, G::always, S::connecting,
                       "§7.1.4.4 session recovery gives up"},
    session_transition{S::login, E::replacement_timeout, G::always, S::login, "§7.1.4.4 session recovery gives up"},
    session_transition{S::redirect, E::replacement_timeout, G::always, S::redirect,
                       "§7.1.4.4 session recovery gives up"},
    // A failed session that may reinstate keeps trying in the background;
    // its commands fail at once until a login succeeds.
    session_transition{S::failed, E::reconnect_due, G::can_reinstate, S::connecting, "§6.3.5 session reinstatement"},

    // The caller closes the session: at once, from wherever it is.
    session_transition{S::idle, E::shutdown, G::always, S::closed, "§11.14 (no Logout: nothing to close)"},
    session_transition{S::connecting, E::shutdown, G::always, S::closed, "§6.3 login abandoned"},
    session_transition{S::login, E::shutdown, G::always, S::closed, "§6.3 login abandoned"},
    session_transition{S::redirect, E::shutdown, G::always, S::closed, "§6.3 login abandoned"},
    session_transition{S::full_feature, E::shutdown, G::always, S::closed, "§7.14 connection closed without Logout"},
    session_transition{S::logout_requested, E::shutdown, G::always, S::closed,
                       "§7.14 connection closed without Logout"},
    session_transition{S::logging_out, E::shutdown, G::always, S::closed, "§11.14 Logout abandoned"},
    session_transition{S::recovering, E::shutdown, G::always, S::closed, "§6.3.5 recovery abandoned"},
    session_transition{S::failed, E::shutdown, G::always, S::closed, "§6.3.6 session failure"},
    session_transition{S::closed, E::shutdown, G::always, S::closed, "(already closed)"},
};

bool guard_holds(G g, bool can_reinstate) noexcept
{
    switch (g) {
    case G::always: return true;
    case G::can_reinstate: return can_reinstate;
    case G::cannot_reinstate: return !can_reinstate;
    }
    return false;
}

} // namespace

std::span<const session_transition> session_transitions() noexcept { return transitions; }

const session_transition* find_transition(session_state from, session_event_input on, bool can_reinstate) noexcept
{
    for (const auto& t : transitions)
        if (t.from == from && t.on == on && guard_holds(t.guard, can_reinstate))
            return &t;
    return nullptr;
}

std::string_view name(session_state s) noexcept
{
    switch (s) {
    case S::idle: return "idle";
    case S::connecting: return "connecting";
    case S::login: return "login";
    case S::redirect: return "redirect";
    case S::full_feature: return "full feature";
    case S::logout_requested: return "logout requested";
    case S::logging_out: return "logging out";
    case S::recovering: return "recovering";
    case S::failed: return "failed";
    case S::closed: return "closed";
    }
    return "?";
}

std::string_view name(session_event_input e) noexcept
{
    switch (e) {
    case E::start: return "start";
    case E::connected: return "connected";
    case E::connect_failed: return "connect failed";
    case E::login_complete: return "login complete";
    case E::login_redirect: return "login redirect";
    case E::login_retry: return "login retry";
    case E::login_failed: return "login failed";
    case E::connection_closed: return "connection closed";
    case E::logout_requested: return "logout requested";
    case E::logout: return "logout";
    case E::reconnect_due: return "reconnect due";
    case E::replacement_timeout: return "replacement timeout";
    case E::shutdown: return "shutdown";
    }
    return "?";
}

} // namespace ivs::iscsi
