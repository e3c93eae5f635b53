// The initiator name used when neither the command line nor the
// configuration names one.
#pragma once

#include <string>

namespace ivs::config {

// iqn.<yyyy-mm>.<reversed domain>:<unique> (RFC 3720 §3.2.6.3.1), unique per host.
std::string default_initiator_name();

} // namespace ivs::config
