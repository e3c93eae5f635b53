// iscsi-vscsi: a userland iSCSI initiator (RFC 7143) for vscsi(4).
#include "app/commands.hpp"

#include <iostream>
#include <string>
#include <vector>

namespace {

constexpr const char* usage_text =
    "usage: iscsi-vscsi COMMAND [ARGS]\n"
    "\n"
    "A userland iSCSI initiator that attaches remote iSCSI LUNs as local SCSI\n"
    "disks through vscsi(4).\n"
    "\n"
    "commands:\n"
    "  discover HOST[:PORT]   list the targets a portal offers (SendTargets)\n"
    "  attach HOST[:PORT] IQN attach a target's LUNs as SCSI disks until SIGINT/SIGTERM\n"
    "  serve [-dn] [-f FILE] [-s SOCKET] [-u USER]  attach the targets of the configuration file\n"
    "  status [--json] [-s SOCKET]       show what serve has attached\n"
    "  show [summary | vscsi stats] [-s SOCKET]  as iscsictl(8): serve's sessions, vscsi counters\n"
    "  reload [-s SOCKET]                make serve read its configuration again\n"
    "  detach [-f] NAME [-s SOCKET]      make serve detach a target (-f: even a disk in use)\n"
    "  rescan NAME [-s SOCKET]           make serve read a target's LUNs again\n"
    "  bench HOST[:PORT] IQN  measure IOPS, throughput and latency of one LUN\n"
    "\n"
    "Run 'iscsi-vscsi COMMAND --help' for the options of a command.\n";

} // namespace

int main(int argc, char** argv)
{
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty()) {
        std::cerr << usage_text;
        return 2;
    }
    const std::string command = args.front();
    const std::span<const std::string> rest(args.data() + 1, args.size() - 1);
    if (command == "--help" || command == "-h" || command == "help") {
        std::cout << usage_text;
        return 0;
    }
    if (command == "--version") {
        std::cout << "iscsi-vscsi " << IVS_VERSION << '\n';
        return 0;
    }
    if (command == "discover")
        return ivs::app::run_discover(rest);
    if (command == "attach")
        return ivs::app::run_attach(rest);
    if (command == "serve")
        return ivs::app::run_serve(rest);
    if (command == "status")
        return ivs::app::run_status(rest);
    if (command == "reload")
        return ivs::app::run_reload(rest);
    if (command == "detach")
        return ivs::app::run_detach(rest);
    if (command == "show")
        return ivs::app::run_show(rest);
    if (command == "rescan")
        return ivs::app::run_rescan(rest);
    if (command == "bench")
        return ivs::app::run_bench(rest);
    std::cerr << "iscsi-vscsi: unknown command '" << command << "' (try --help)\n";
    return 2;
}
