// Logging of `iscsi-vscsi serve`: syslog(3) (facility daemon) or, with -d,
// one line per message on the standard error. Thread-safe.
#pragma once

#include <string_view>

namespace ivs::app {

enum class log_level { error, warning, info };

void log_to_stderr(bool on);  // before the first message; default syslog
void log_message(log_level level, std::string_view line);

} // namespace ivs::app
