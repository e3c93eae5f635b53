// The iscsi-vscsi subcommands. Each takes its arguments after the subcommand
// name and returns the process exit status; errors are one line on stderr.
#pragma once

#include <span>
#include <string>

namespace ivs::app {

int run_discover(std::span<const std::string> args);
int run_attach(std::span<const std::string> args);
int run_serve(std::span<const std::string> args);
int run_status(std::span<const std::string> args);
int run_reload(std::span<const std::string> args);
int run_detach(std::span<const std::string> args);
int run_rescan(std::span<const std::string> args);
int run_show(std::span<const std::string> args);
int run_bench(std::span<const std::string> args);

} // namespace ivs::app
