// Where the program's log lines go: the console of `attach` and `bench`
// (progress on the standard output, warnings and errors on the standard
// error) and the syslog(3) of `serve`. Every layer gets one of these as its
// log::sink (log/log.hpp); log::to_stderr() is the third (serve -d, bench
// --json). Thread-safe; each line is written whole.
#pragma once

#include "log/log.hpp"

namespace ivs::app {

// "iscsi-vscsi: LINE": info and notice on the standard output, warning and
// error on the standard error, one write(2) per line; debug dropped.
[[nodiscard]] log::sink to_console();

// syslog(3), ident "iscsi-vscsi", facility daemon, opened on the first line;
// the levels are syslog's priorities.
[[nodiscard]] log::sink to_syslog();

} // namespace ivs::app
