// Login Response Status-Class and Status-Detail (RFC 7143 §11.13.5) as messages and as
// std::error_code values in the "iscsi-login" category, whose value is (class << 8) | detail.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

namespace ivs::iscsi {

enum class login_status : std::uint16_t {
    success = 0x0000,
    // class 1: redirection
    target_moved_temporarily = 0x0101,
    target_moved_permanently = 0x0102,
    // class 2: initiator error (not retried as is)
    initiator_error = 0x0200,
    authentication_failure = 0x0201,
    authorization_failure = 0x0202,
    not_found = 0x0203,
    target_removed = 0x0204,
    unsupported_version = 0x0205,
    too_many_connections = 0x0206,
    missing_parameter = 0x0207,
    cant_include_in_session = 0x0208,
    session_type_not_supported = 0x0209,
    session_does_not_exist = 0x020a,
    invalid_during_login = 0x020b,
    // class 3: target error (may be retried later)
    target_error = 0x0300,
    service_unavailable = 0x0301,
    out_of_resources = 0x0302,
};

enum class login_status_class : std::uint8_t {
    success = 0,
    redirection = 1,
    initiator_error = 2,
    target_error = 3,
};

constexpr std::uint16_t login_status_value(std::uint8_t status_class, std::uint8_t detail) noexcept
{
    return static_cast<std::uint16_t>((status_class << 8) | detail);
}

// "authentication failure" for 0x0201; empty for a detail RFC 7143 does not define.
std::string_view login_status_name(std::uint16_t status) noexcept;
// "initiator error" for class 2; empty for an undefined class.
std::string_view login_status_class_name(std::uint8_t status_class) noexcept;

// A sentence for logs and users:
//   0x0000 "login succeeded (0x0000)"
//   0x0101 "login redirected: target moved temporarily (0x0101)"
//   0x0201 "login failed: authentication failure (0x0201)"
//   0x02ee "login failed: initiator error, unknown detail (0x02ee)"
//   0x07ee "login failed: unknown status class (0x07ee)"
std::string login_status_message(std::uint16_t status);

// Redirection (class 1) and target errors (class 3) are worth another try later;
// initiator errors (class 2) are not (RFC 7143 §11.13.5).
constexpr bool login_status_retryable(std::uint16_t status) noexcept
{
    const unsigned c = status >> 8;
    return c == 1 || c == 3;
}

const std::error_category& login_category() noexcept;

inline std::error_code make_error_code(login_status s) noexcept { return {static_cast<int>(s), login_category()}; }

inline std::error_code make_login_error(std::uint8_t status_class, std::uint8_t detail) noexcept
{
    return {login_status_value(status_class, detail), login_category()};
}

} // namespace ivs::iscsi

template <>
struct std::is_error_code_enum<ivs::iscsi::login_status> : std::true_type {};
