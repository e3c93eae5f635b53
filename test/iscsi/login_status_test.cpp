// Login Response status (RFC 7143 §11.13.5) and the Reject / Logout / AsyncEvent names.
#include "iscsi/codes.hpp"
#include "iscsi/login_status.hpp"

#include <catch2/catch.hpp>

using namespace ivs::iscsi;

TEST_CASE("every defined login status has a message", "[login_status]")
{
    const struct {
        std::uint16_t status;
        const char* message;
    } cases[] = {
        {0x0000, "login succeeded (0x0000)"},
        {0x0101, "login redirected: target moved temporarily (0x0101)"},
        {0x0102, "login redirected: target moved permanently (0x0102)"},
        {0x0200, "login failed: initiator error (0x0200)"},
        {0x0201, "login failed: authentication failure (0x0201)"},
        {0x0202, "login failed: authorization failure (0x0202)"},
        {0x0203, "login failed: target not found (0x0203)"},
        {0x0204, "login failed: target removed (0x0204)"},
        {0x0205, "login failed: unsupported version (0x0205)"},
        {0x0206, "login failed: too many connections (0x0206)"},
        {0x0207, "login failed: missing parameter (0x0207)"},
        {0x0208, "login failed: can't include in session (0x0208)"},
        {0x0209, "login failed: session type not supported (0x0209)"},
        {0x020a, "login failed: session does not exist (0x020a)"},
        {0x020b, "login failed: invalid request during login (0x020b)"},
        {0x0300, "login failed: target error (0x0300)"},
        {0x0301, "login failed: service unavailable (0x0301)"},
        {0x0302, "login failed: out of resources (0x0302)"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.status);
        CHECK(login_status_message(c.status) == c.message);
        CHECK_FALSE(login_status_name(c.status).empty());
        // The error_code carries the same value and message.
        const std::error_code ec(static_cast<login_status>(c.status));
        CHECK(ec.value() == c.status);
        CHECK(ec.message() == c.message);
        CHECK(std::string(ec.category().name()) == "iscsi-login");
    }
    CHECK(login_status_name(0x0201) == "authentication failure");
}

TEST_CASE("unknown login status details fall back to the class", "[login_status]")
{
    CHECK(login_status_name(0x020c).empty());
    CHECK(login_status_message(0x020c) == "login failed: initiator error, unknown detail (0x020c)");
    CHECK(login_status_message(0x0103) == "login redirected: redirection, unknown detail (0x0103)");
    CHECK(login_status_message(0x03ff) == "login failed: target error, unknown detail (0x03ff)");
    CHECK(login_status_message(0x0001) == "login succeeded, unknown detail (0x0001)");
    CHECK(login_status_message(0x0401) == "login failed: unknown status class (0x0401)");
    CHECK(login_status_message(0xffff) == "login failed: unknown status class (0xffff)");
    CHECK(login_status_class_name(2) == "initiator error");
    CHECK(login_status_class_name(4).empty());
}

TEST_CASE("login status error codes from the wire fields", "[login_status]")
{
    const auto ec = make_login_error(0x02, 0x01);
    CHECK(ec == login_status::authentication_failure);
    CHECK(ec.value() == 0x0201);
    CHECK(ec.message() == "login failed: authentication failure (0x0201)");
    CHECK_FALSE(make_login_error(0, 0)); // success is no error
    CHECK(make_login_error(0x02, 0x44).message() == "login failed: initiator error, unknown detail (0x0244)");
    CHECK(login_status_value(3, 2) == 0x0302);
    CHECK(std::error_code(-1, login_category()).message() == "login failed: status out of range");

    CHECK(login_status_retryable(0x0101));
    CHECK(login_status_retryable(0x0301));
    CHECK(login_status_retryable(0x0302));
    CHECK_FALSE(login_status_retryable(0x0201));
    CHECK_FALSE(login_status_retryable(0x0203));
    CHECK_FALSE(login_status_retryable(0x0000));
}

TEST_CASE("Reject reason names (RFC 7143 §11.17.1)", "[codes]")
{
    CHECK(reject_reason_name(0x02) == "data digest error");
    CHECK(reject_reason_name(0x03) == "SNACK reject");
    CHECK(reject_reason_name(0x04) == "protocol error");
    CHECK(reject_reason_name(0x05) == "command not supported");
    CHECK(reject_reason_name(0x06) == "too many immediate commands");
    CHECK(reject_reason_name(0x07) == "task in progress");
    CHECK(reject_reason_name(0x08) == "invalid data ack");
    CHECK(reject_reason_name(0x09) == "invalid PDU field");
    CHECK(reject_reason_name(0x0a) == "long operation reject (out of resources)");
    CHECK(reject_reason_name(0x0b) == "negotiation reset (deprecated)");
    CHECK(reject_reason_name(0x0c) == "waiting for logout");
    CHECK(reject_reason_name(0x01) == "reserved");
    CHECK(reject_reason_name(0x0d) == "reserved");
    CHECK(reject_reason_name(0xff) == "reserved");
    CHECK(reject_reason_message(0x09) == "reject: invalid PDU field (0x09)");
    CHECK(reject_reason_message(0x42) == "reject: reserved (0x42)");
}

TEST_CASE("Logout Response and AsyncEvent names", "[codes]")
{
    CHECK(logout_response_name(0) == "connection or session closed");
    CHECK(logout_response_name(1) == "CID not found");
    CHECK(logout_response_name(2) == "connection recovery not supported");
    CHECK(logout_response_name(3) == "cleanup failed");
    CHECK(logout_response_name(4) == "reserved");

    CHECK(async_event_name(0) == "SCSI asynchronous event");
    CHECK(async_event_name(1) == "target requests logout");
    CHECK(async_event_name(2) == "target will drop the connection");
    CHECK(async_event_name(3) == "target will drop all connections of the session");
    CHECK(async_event_name(4) == "target requests parameter negotiation");
    CHECK(async_event_name(255) == "vendor-specific event");
    CHECK(async_event_name(5) == "reserved");
    CHECK(async_event_name(254) == "reserved");
}
