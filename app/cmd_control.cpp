// The commands that talk to a running `serve` over its control socket:
// status, reload, detach, and iscsictl(8)'s show (show, show summary, show
// vscsi stats; its keywords may be shortened as iscsictl allows, e.g.
// "show v s").
#include "app/commands.hpp"
#include "app/control_socket.hpp"
#include "config/options.hpp"

#include <iostream>
#include <string_view>
#include <vector>

namespace ivs::app {

namespace {

constexpr config::option_spec control_specs[] = {
    {"socket", true, false, "SOCKET", "control socket (default /var/run/iscsi-vscsi.sock)"},
    {"json", false, false, {}, "status: print JSON"},
    {"force", false, false, {}, "detach: even a disk in use (-f)"},
    {"help", false, false, {}, "show this help"},
};

struct command {
    const char* name;
    const char* usage; // after the name
    bool json = false;
    bool force = false;
};

// Sends `request`, prints the answer's body; 0 on "ok", 1 otherwise.
int ask(const char* name, const std::string& socket, const std::string& request)
{
    std::string answer;
    if (auto ec = control_request(socket, request, answer)) {
        std::cerr << "iscsi-vscsi: " << name << ": cannot reach serve on " << socket << ": " << ec.message() << '\n';
        return 1;
    }
    if (answer.rfind("ok\n", 0) == 0) {
        std::cout << answer.substr(3);
        return 0;
    }
    std::cerr << "iscsi-vscsi: " << name << ": " << (answer.rfind("error: ", 0) == 0 ? answer.substr(7) : answer);
    if (answer.empty() || answer.back() != '\n')
        std::cerr << '\n';
    return 1;
}

// Parses the options every control command shares; false after printing
// help (status 0) or an error (status 2).
bool parse(const command& c, std::span<const std::string> args, config::parsed_options& o, int& status)
{
    // -s SOCKET as in serve, the same as --socket SOCKET; -f as --force.
    std::vector<std::string> argv;
    for (const auto& arg : args)
        argv.push_back(arg == "-s" ? "--socket" : arg == "-f" ? "--force" : arg);
    std::string error;
    if (!config::parse_options(argv, control_specs, o, error)) {
        std::cerr << "iscsi-vscsi: " << c.name << ": " << error << " (try --help)\n";
        status = 2;
        return false;
    }
    if (o.has("help")) {
        std::cout << "usage: iscsi-vscsi " << c.name << c.usage << " [-s SOCKET]" << (c.json ? " [--json]" : "")
                  << (c.force ? " [-f]" : "") << "\n";
        status = 0;
        return false;
    }
    if ((o.has("json") && !c.json) || (o.has("force") && !c.force)) {
        std::cerr << "iscsi-vscsi: " << c.name << ": unexpected arguments (try --help)\n";
        status = 2;
        return false;
    }
    return true;
}

// iscsictl(8)'s keyword matching: a prefix of exactly one keyword.
const char* match(std::string_view word, std::initializer_list<const char*> keywords)
{
    const char* found = nullptr;
    for (const char* k : keywords)
        if (!word.empty() && std::string_view(k).substr(0, word.size()) == word) {
            if (found != nullptr)
                return nullptr;
            found = k;
        }
    return found;
}

} // namespace

int run_status(std::span<const std::string> args)
{
    const command c{"status", "", true, false};
    config::parsed_options o;
    int status = 0;
    if (!parse(c, args, o, status))
        return status;
    if (!o.positionals.empty()) {
        std::cerr << "iscsi-vscsi: status: unexpected arguments (try --help)\n";
        return 2;
    }
    return ask(c.name, o.get("socket", default_control_socket), o.has("json") ? "status json" : "status");
}

int run_reload(std::span<const std::string> args)
{
    const command c{"reload", "", false, false};
    config::parsed_options o;
    int status = 0;
    if (!parse(c, args, o, status))
        return status;
    if (!o.positionals.empty()) {
        std::cerr << "iscsi-vscsi: reload: unexpected arguments (try --help)\n";
        return 2;
    }
    return ask(c.name, o.get("socket", default_control_socket), "reload");
}

int run_detach(std::span<const std::string> args)
{
    const command c{"detach", " NAME", false, true};
    config::parsed_options o;
    int status = 0;
    if (!parse(c, args, o, status))
        return status;
    if (o.positionals.size() != 1) {
        std::cerr << "iscsi-vscsi: detach: expected one target name (try --help)\n";
        return 2;
    }
    return ask(c.name, o.get("socket", default_control_socket),
               std::string(o.has("force") ? "detach -f " : "detach ") + o.positionals[0]);
}

int run_rescan(std::span<const std::string> args)
{
    const command c{"rescan", " NAME", false, true};
    config::parsed_options o;
    int status = 0;
    if (!parse(c, args, o, status))
        return status;
    if (o.positionals.size() != 1) {
        std::cerr << "iscsi-vscsi: rescan: expected one target name (try --help)\n";
        return 2;
    }
    return ask(c.name, o.get("socket", default_control_socket), "rescan " + o.positionals[0]);
}

int run_show(std::span<const std::string> args)
{
    const command c{"show", " [summary | vscsi stats]", false, false};
    config::parsed_options o;
    int status = 0;
    if (!parse(c, args, o, status))
        return status;
    const auto& p = o.positionals;
    std::string request;
    // iscsictl's keywords after show: summary, session (which iscsictl does
    // not implement either), vscsi stats.
    const char* k = p.empty() ? "summary" : match(p[0], {"summary", "session", "vscsi"});
    if (k != nullptr && std::string_view(k) == "summary" && p.size() <= 1) {
        request = "show summary"; // iscsictl: "show" alone is "show summary"
    } else if (k != nullptr && std::string_view(k) == "vscsi" && p.size() == 2 && match(p[1], {"stats"}) != nullptr) {
        request = "show vscsi stats";
    } else if (k != nullptr && std::string_view(k) == "session") {
        std::cerr << "iscsi-vscsi: show: show session is not implemented (nor in iscsictl); try status\n";
        return 2;
    } else {
        std::cerr << "iscsi-vscsi: show: " << (p.empty() ? "" : "'" + p[0] + "': ")
                  << "expected summary or vscsi stats (try --help)\n";
        return 2;
    }
    return ask(c.name, o.get("socket", default_control_socket), request);
}

} // namespace ivs::app
