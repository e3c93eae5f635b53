#include "test/support/tgtd_fixture.hpp"

#include "test/support/process.hpp"

#include <arpa/inet.h>
#include <atomic>
#include <chrono>
#include <fstream>
#include <iterator>
#include <fcntl.h>
#include <netinet/in.h>
#include <random>
#include <sstream>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace ivs::test {
namespace {

constexpr const char* socket_dir = "/var/run/tgtd";
constexpr int max_start_attempts = 10;
constexpr auto ready_timeout = 10s;

std::mt19937& rng()
{
    static thread_local std::mt19937 gen{std::random_device{}() ^ static_cast<unsigned>(getpid())};
    return gen;
}

int random_int(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng()); }

// A TCP port the kernel considers free right now on `address` (bind to 0).
// Another process may take it before tgtd binds; try_start() retries then.
std::uint16_t free_tcp_port(const std::string& address)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        throw std::runtime_error("socket() failed");
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = 0;
    inet_pton(AF_INET, address.c_str(), &sa.sin_addr);
    socklen_t len = sizeof sa;
    if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
        close(fd);
        throw std::runtime_error("cannot find a free port on " + address);
    }
    close(fd);
    return ntohs(sa.sin_port);
}

fs::path socket_file(int control_port, const char* suffix = "")
{
    return fs::path(socket_dir) / ("socket." + std::to_string(control_port) + suffix);
}

// tgtd names its control socket after the port (at most 32767, a short);
// skip ones that look used.
int pick_control_port()
{
    for (int i = 0; i < 100; ++i) {
        int port = random_int(10000, 32767);
        std::error_code ec;
        if (!fs::exists(socket_file(port, ".lock"), ec))
            return port;
    }
    return random_int(10000, 32767);
}

bool contains(const std::string& haystack, const std::string& needle)
{
    return haystack.find(needle) != std::string::npos;
}

std::string trim(const std::string& s)
{
    auto b = s.find_first_not_of(" \t");
    auto e = s.find_last_not_of(" \t\r");
    return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// True if `name` is PREFIX<pid>-... and no process <pid> exists any more.
bool owner_is_dead(const std::string& name, const std::string& prefix)
{
    if (name.rfind(prefix, 0) != 0)
        return false;
    auto dash = name.find('-', prefix.size());
    if (dash == std::string::npos)
        return false;
    std::string pid = name.substr(prefix.size(), dash - prefix.size());
    if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos)
        return false;
    // Gone, or a zombie nobody reaps (containers whose init does not wait).
    std::ifstream stat("/proc/" + pid + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    auto paren = text.rfind(") ");
    return !stat || paren == std::string::npos || text.compare(paren + 2, 1, "Z") == 0;
}

// Removes temp dirs /tmp/ivs-tgtd-PID-* of test programs that died.
void sweep_stale_dirs()
{
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator("/tmp", ec))
        if (owner_is_dead(entry.path().filename().string(), "ivs-tgtd-"))
            fs::remove_all(entry.path(), ec);
}

// Deletes namespaces "ivs-PID-N" left behind by test programs that died.
void sweep_stale_netns()
{
    run_result r = run({"ip", "netns", "list"}, 10s);
    std::istringstream in(r.out);
    std::string line;
    while (std::getline(in, line)) {
        std::string name = line.substr(0, line.find(' '));
        if (owner_is_dead(name, "ivs-"))
            run({"ip", "netns", "del", name}, 10s);
    }
}

std::atomic<int> fixture_counter{0};

} // namespace

tgtd_fixture::tgtd_fixture(tgtd_options opts)
{
    try {
        sweep_stale_dirs();
        std::string tmpl = "/tmp/ivs-tgtd-" + std::to_string(getpid()) + "-XXXXXX";
        if (!mkdtemp(tmpl.data()))
            throw std::runtime_error("mkdtemp failed");
        dir_ = tmpl;
        log_ = dir_ / "tgtd.log";
        if (opts.own_netns)
            create_netns();
        for (int attempt = 0; attempt < max_start_attempts; ++attempt)
            if (try_start())
                return;
        fail("tgtd did not start after " + std::to_string(max_start_attempts) + " attempts");
    } catch (...) {
        stop();
        throw;
    }
}

tgtd_fixture::~tgtd_fixture() { stop(); }

void tgtd_fixture::create_netns()
{
    sweep_stale_netns();
    const int n = fixture_counter++;
    const std::string id = std::to_string(getpid()) + "x" + std::to_string(n);
    netns_ = "ivs-" + std::to_string(getpid()) + "-" + std::to_string(n);
    veth_host_ = "ivh" + id;
    const std::string veth_target = "ivt" + id;
    // A /30 out of 169.254.0.0/16 that no local interface uses yet. The
    // addresses only exist on our veth pair, never on the outside network.
    const std::string addrs = run_checked({"ip", "-o", "-4", "addr", "show"});
    std::string prefix;
    for (int i = 0; i < 100; ++i) {
        prefix = "169.254." + std::to_string(random_int(1, 254)) + ".";
        int base = random_int(0, 63) * 4;
        host_side_ = prefix + std::to_string(base + 1);
        host_ = prefix + std::to_string(base + 2);
        if (!contains(addrs, host_side_ + "/") && !contains(addrs, host_ + "/"))
            break;
    }
    run_checked({"ip", "netns", "add", netns_});
    run_checked({"ip", "link", "add", veth_host_, "type", "veth", "peer", "name", veth_target});
    run_checked({"ip", "link", "set", veth_target, "netns", netns_});
    run_checked({"ip", "addr", "add", host_side_ + "/30", "dev", veth_host_});
    run_checked({"ip", "link", "set", veth_host_, "up"});
    run_checked({"ip", "-n", netns_, "addr", "add", host_ + "/30", "dev", veth_target});
    run_checked({"ip", "-n", netns_, "link", "set", veth_target, "up"});
    run_checked({"ip", "-n", netns_, "link", "set", "lo", "up"});
}

bool tgtd_fixture::try_start()
{
    // A fresh namespace has every port free; on the host, ask the kernel.
    port_ = netns_.empty() ? free_tcp_port(host_) : 3260;
    control_port_ = pick_control_port();
    switch (launch()) {
    case launch_result::ready: return true;
    case launch_result::portal_taken:
        if (!netns_.empty())
            fail("tgtd could not bind its portal in " + netns_);
        return false;
    case launch_result::control_port_taken: return false;
    }
    return false;
}

// Starts tgtd on port_ and control_port_ and waits until tgtadm answers.
tgtd_fixture::launch_result tgtd_fixture::launch()
{
    std::error_code ec;
    fs::remove(log_, ec);
    tgtd_ = child_process(
        {"tgtd", "-f", "-C", std::to_string(control_port_), "--iscsi", "portal=" + host_ + ":" + std::to_string(port_)},
        {log_, netns_});

    const auto deadline = std::chrono::steady_clock::now() + ready_timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (!tgtd_.running()) {
            const int status = tgtd_.wait_status().value_or(-1);
            if (contains(log_tail(), "another tgtd is using"))
                return launch_result::control_port_taken;
            fail("tgtd exited during start-up (status " + std::to_string(status) + ")");
        }
        run_result r = run(
            {"tgtadm", "-C", std::to_string(control_port_), "--lld", "iscsi", "--op", "show", "--mode", "target"}, 5s);
        if (r.ok()) {
            // tgtd keeps running without a portal it could not bind.
            if (contains(log_tail(), "failed to create/bind to portal")) {
                tgtd_.kill();
                return launch_result::portal_taken;
            }
            return launch_result::ready;
        }
        std::this_thread::sleep_for(20ms);
    }
    fail("tgtd did not answer tgtadm within 10 s");
}

void tgtd_fixture::kill()
{
    if (tgtd_.pid() <= 0)
        throw std::runtime_error("tgtd_fixture::kill: tgtd is not running");
    tgtd_.kill();
}

void tgtd_fixture::start()
{
    if (tgtd_.pid() > 0)
        throw std::runtime_error("tgtd_fixture::start: tgtd is already running");
    // The old portal socket is gone with the old process, but give the
    // kernel (and a stale control socket lock) a moment if it disagrees.
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    for (;;) {
        const launch_result r = launch();
        if (r == launch_result::ready)
            break;
        if (std::chrono::steady_clock::now() > deadline)
            fail(r == launch_result::portal_taken ? "tgtd could not bind its portal " + portal() + " again"
                                                  : "control port " + std::to_string(control_port_) + " is taken");
        std::this_thread::sleep_for(200ms);
    }
    for (const auto& args : config_calls_)
        tgtadm(args);
}

void tgtd_fixture::restart(std::chrono::milliseconds down)
{
    kill();
    std::this_thread::sleep_for(down);
    start();
}

void tgtd_fixture::configure(const std::vector<std::string>& args)
{
    tgtadm(args);
    config_calls_.push_back(args);
}

void tgtd_fixture::stop() noexcept
{
    try {
        tgtd_.kill();
        std::error_code ec;
        if (control_port_ != 0) {
            fs::remove(socket_file(control_port_), ec);
            fs::remove(socket_file(control_port_, ".lock"), ec);
        }
        if (!netns_.empty()) {
            run({"ip", "netns", "del", netns_}, 10s);    // also destroys the veth pair
            run({"ip", "link", "del", veth_host_}, 10s); // in case the move never happened
            netns_.clear();
        }
        if (!dir_.empty())
            fs::remove_all(dir_, ec);
    } catch (...) {
        // Cleanup is best effort; never throw from a destructor.
    }
}

void tgtd_fixture::fail(const std::string& what) const
{
    throw std::runtime_error(what + "\n--- tgtd log (tail) ---\n" + log_tail());
}

std::string tgtd_fixture::log_tail(std::size_t bytes) const { return file_tail(log_, bytes); }

std::string tgtd_fixture::portal() const { return host_ + ":" + std::to_string(port_); }

std::string tgtd_fixture::url() const { return "iscsi://" + portal(); }

std::string tgtd_fixture::lun_url(const std::string& iqn, int lun, const std::string& user,
                                  const std::string& password) const
{
    std::string cred;
    if (!user.empty())
        cred = user + "%" + password + "@";
    return "iscsi://" + cred + portal() + "/" + iqn + "/" + std::to_string(lun);
}

std::string tgtd_fixture::tgtadm(const std::vector<std::string>& args)
{
    std::vector<std::string> argv{"tgtadm", "-C", std::to_string(control_port_), "--lld", "iscsi"};
    argv.insert(argv.end(), args.begin(), args.end());
    run_result r = run(argv, 30s);
    if (!r.ok())
        fail(r.describe(argv));
    return r.out;
}

std::string tgtd_fixture::netns_exec(const std::vector<std::string>& argv)
{
    if (netns_.empty())
        throw std::runtime_error("netns_exec: fixture has no namespace");
    std::vector<std::string> full{"ip", "netns", "exec", netns_};
    full.insert(full.end(), argv.begin(), argv.end());
    return run_checked(full);
}

void tgtd_fixture::add_target(int tid, const std::string& iqn)
{
    configure({"--op", "new", "--mode", "target", "--tid", std::to_string(tid), "-T", iqn});
}

void tgtd_fixture::allow_initiator_address(int tid, const std::string& address)
{
    configure({"--op", "bind", "--mode", "target", "--tid", std::to_string(tid), "-I", address});
}

void tgtd_fixture::allow_initiator_name(int tid, const std::string& iqn)
{
    configure({"--op", "bind", "--mode", "target", "--tid", std::to_string(tid), "--initiator-name", iqn});
}

void tgtd_fixture::add_null_lun(int tid, int lun)
{
    configure({"--op", "new", "--mode", "logicalunit", "--tid", std::to_string(tid), "--lun", std::to_string(lun),
               "--bstype", "null", "-b", "/dev/null"});
}

fs::path tgtd_fixture::add_file_lun(int tid, int lun, std::uint64_t size)
{
    fs::path file = dir_ / ("lun-" + std::to_string(tid) + "-" + std::to_string(lun) + ".img");
    int fd = open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        fail("cannot create " + file.string());
    const bool sized = ftruncate(fd, static_cast<off_t>(size)) == 0; // sparse
    close(fd);
    if (!sized)
        fail("cannot size " + file.string());
    configure({"--op", "new", "--mode", "logicalunit", "--tid", std::to_string(tid), "--lun", std::to_string(lun),
               "--bstype", "rdwr", "-b", file.string()});
    lun_files_[{tid, lun}] = file;
    return file;
}

const fs::path& tgtd_fixture::lun_path(int tid, int lun) const
{
    auto it = lun_files_.find({tid, lun});
    if (it == lun_files_.end())
        throw std::runtime_error("no backing file for tid " + std::to_string(tid) + " lun " + std::to_string(lun));
    return it->second;
}

void tgtd_fixture::add_incoming_account(int tid, const std::string& user, const std::string& password)
{
    if (accounts_.insert(user).second)
        configure({"--op", "new", "--mode", "account", "--user", user, "--password", password});
    configure({"--op", "bind", "--mode", "account", "--tid", std::to_string(tid), "--user", user});
}

void tgtd_fixture::add_outgoing_account(int tid, const std::string& user, const std::string& password)
{
    if (accounts_.insert(user).second)
        configure({"--op", "new", "--mode", "account", "--user", user, "--password", password});
    configure({"--op", "bind", "--mode", "account", "--tid", std::to_string(tid), "--user", user, "--outgoing"});
}

void tgtd_fixture::set_target_param(int tid, const std::string& key, const std::string& value)
{
    configure({"--op", "update", "--mode", "target", "--tid", std::to_string(tid), "--name", key, "--value", value});
}

std::map<std::string, std::string> tgtd_fixture::target_params(int tid)
{
    std::istringstream in(tgtadm({"--op", "show", "--mode", "target", "--tid", std::to_string(tid)}));
    std::map<std::string, std::string> params;
    std::string line;
    while (std::getline(in, line)) {
        auto eq = line.find('=');
        if (eq != std::string::npos)
            params[trim(line.substr(0, eq))] = trim(line.substr(eq + 1));
    }
    return params;
}

std::vector<tgtd_connection> tgtd_fixture::connections(int tid)
{
    std::istringstream in(tgtadm({"--op", "show", "--mode", "conn", "--tid", std::to_string(tid)}));
    std::vector<tgtd_connection> conns;
    std::uint64_t session = 0;
    std::string line;
    while (std::getline(in, line)) {
        line = trim(line);
        auto colon = line.find(':');
        if (colon == std::string::npos)
            continue;
        const std::string key = line.substr(0, colon);
        const std::string value = trim(line.substr(colon + 1));
        if (key == "Session") {
            session = std::stoull(value);
        } else if (key == "Connection") {
            conns.push_back({session, static_cast<std::uint32_t>(std::stoul(value)), "", ""});
        } else if (key == "Initiator" && !conns.empty()) {
            conns.back().initiator = value.substr(0, value.find(' '));
        } else if (key == "IP Address" && !conns.empty()) {
            conns.back().address = value;
        }
    }
    return conns;
}

void tgtd_fixture::close_connection(int tid, std::uint64_t session, std::uint32_t connection)
{
    tgtadm({"--op", "delete", "--mode", "conn", "--tid", std::to_string(tid), "--sid", std::to_string(session), "--cid",
            std::to_string(connection)});
}

} // namespace ivs::test
