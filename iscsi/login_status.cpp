#include "iscsi/login_status.hpp"

#include <cstdio>

namespace ivs::iscsi {
namespace {

class category final : public std::error_category {
public:
    const char* name() const noexcept override { return "iscsi-login"; }
    std::string message(int ev) const override
    {
        if (ev < 0 || ev > 0xffff)
            return "login failed: status out of range";
        return login_status_message(static_cast<std::uint16_t>(ev));
    }
};

std::string hex4(std::uint16_t v)
{
    char buf[8];
    std::snprintf(buf, sizeof buf, "0x%04x", static_cast<unsigned>(v));
    return buf;
}

} // namespace

std::string_view login_status_name(std::uint16_t status) noexcept
{
    switch (static_cast<login_status>(status)) {
    case login_status::success: return "success";
    case login_status::target_moved_temporarily: return "target moved temporarily";
    case login_status::target_moved_permanently: return "target moved permanently";
    case login_status::initiator_error: return "initiator error";
    case login_status::authentication_failure: return "authentication failure";
    case login_status::authorization_failure: return "authorization failure";
    case login_status::not_found: return "target not found";
    case login_status::target_removed: return "target removed";
    case login_status::unsupported_version: return "unsupported version";
    case login_status::too_many_connections: return "too many connections";
    case login_status::missing_parameter: return "missing parameter";
    case login_status::cant_include_in_session: return "can't include in session";
    case login_status::session_type_not_supported: return "session type not supported";
    case login_status::session_does_not_exist: return "session does not exist";
    case login_status::invalid_during_login: return "invalid request during login";
    case login_status::target_error: return "target error";
    case login_status::service_unavailable: return "service unavailable";
    case login_status::out_of_resources: return "out of resources";
    }
    return {};
}

std::string_view login_status_class_name(std::uint8_t status_class) noexcept
{
    switch (status_class) {
    case 0: return "success";
    case 1: return "redirection";
    case 2: return "initiator error";
    case 3: return "target error";
    }
    return {};
}

std::string login_status_message(std::uint16_t status)
{
    const auto cls = static_cast<std::uint8_t>(status >> 8);
    const std::string code = " (" + hex4(status) + ")";
    const std::string_view name = login_status_name(status);
    if (cls == 0)
        return status == 0 ? "login succeeded" + code : "login succeeded, unknown detail" + code;
    const char* lead = cls == 1 ? "login redirected: " : "login failed: ";
    if (!name.empty())
        return lead + std::string(name) + code;
    const std::string_view cname = login_status_class_name(cls);
    if (cname.empty())
        return "login failed: unknown status class" + code;
    return lead + std::string(cname) + ", unknown detail" + code;
}

const std::error_category& login_category() noexcept
{
    static const category instance;
    return instance;
}

} // namespace ivs::iscsi
