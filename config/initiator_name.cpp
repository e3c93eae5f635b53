#include "config/initiator_name.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>

namespace ivs::config {

std::string default_initiator_name()
{
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0')
        std::snprintf(host, sizeof host, "localhost");
    std::string name(host);
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) {
        return std::isalnum(c) || c == '.' || c == '-' ? static_cast<char>(std::tolower(c)) : '-';
    });
    return "iqn.2026-11.org.iscsi-vscsi:" + name;
}

} // namespace ivs::config
