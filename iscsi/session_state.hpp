// The life of a session as one transition table (RFC 7143 §6.3, §7.1.4.4,
// §11.9, §11.14): states, the events that move between them, and which RFC
// section each move follows. I/O-free; the session looks a move up, logs it
// and sets its state first, then acts (sends, completes, arms timers), so
// that whatever its actions call back into sees the new state.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace ivs::iscsi {

enum class session_state : std::uint8_t {
    idle,             // not started
    connecting,       // TCP connection to the target portal under way
    login,            // Login Requests and Responses on the new connection
    redirect,         // connecting to the portal a Login Response named
    full_feature,     // commands flow
    logout_requested, // the target asked for a Logout: it is sent, nothing new goes out
    logging_out,      // the caller asked for a Logout
    recovering,       // the connection is gone; waiting to reconnect, commands queued
    failed,           // no more commands (recovery off, or its time ran out)
    closed,           // logged out or shut down
};

enum class session_event_input : std::uint8_t {
    start,               // the caller starts the session
    connected,           // the TCP connection is up
    connect_failed,      // resolving or connecting failed
    login_complete,      // the final Login Response: full feature phase
    login_redirect,      // Status-Class 1
    login_retry,         // refused in a way a fresh login may fix (CHAP_A MD5 only)
    login_failed,        // any other login failure, timeout included
    connection_closed,   // the full feature connection is gone
    logout_requested,    // Asynchronous Message, AsyncEvent 1
    logout,              // the caller asks to log out
    reconnect_due,       // Time2Wait or the backoff delay has passed
    replacement_timeout, // recovery took too long
    shutdown,            // the caller closes the session at once
};

// When a move applies, beyond its state and event.
enum class session_guard : std::uint8_t {
    always,
    can_reinstate,    // recovery is on and the session was logged in once
    cannot_reinstate, // the opposite
};

struct session_transition {
    session_state from;
    session_event_input on;
    session_guard guard;
    session_state to;
    std::string_view rfc; // the section the move follows
};

std::span<const session_transition> session_transitions() noexcept;

// The move for `on` in `from`, or nullptr: the event does not apply there
// (it is ignored and logged).
const session_transition* find_transition(session_state from, session_event_input on, bool can_reinstate) noexcept;

std::string_view name(session_state s) noexcept;
std::string_view name(session_event_input e) noexcept;

} // namespace ivs::iscsi
