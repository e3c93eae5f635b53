#include "test/support/serve_process.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <thread>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

namespace ivs::test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string ivs_program()
{
    const char* p = std::getenv("IVS_PROGRAM");
    REQUIRE(p != nullptr);
    return p;
}

bool is_mounted(const fs::path& dir)
{
    std::ifstream in("/proc/mounts");
    std::string dev, where, rest;
    while (in >> dev >> where && std::getline(in, rest))
        if (where == dir.string())
            return true;
    return false;
}

std::string read_text(const fs::path& p)
{
    std::ifstream in(p);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file_mode(const fs::path& p, const std::string& text, fs::perms mode)
{
    std::ofstream(p, std::ios::trunc) << text;
    fs::permissions(p, mode);
}

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

serve_process::serve_process(const fs::path& conf, const fs::path& work, const std::vector<std::string>& extra)
    : log_(work / ("serve-" + std::to_string(++count_) + ".log")), socket_(work / "ctl.sock")
{
    std::vector<std::string> argv{ivs_program(), "serve", "-d", "-f", conf.string(), "-s", socket_.string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    pid_ = spawn(argv, {log_, ""});
    const auto deadline = std::chrono::steady_clock::now() + 120s;
    while (std::chrono::steady_clock::now() < deadline) {
        if (contains(log(), "serving on"))
            return;
        int status = 0;
        if (reap_if_exited(pid_, &status)) {
            pid_ = -1;
            FAIL("serve exited early: " << log());
        }
        std::this_thread::sleep_for(50ms);
    }
    FAIL("serve did not start: " << log());
}

serve_process::~serve_process()
{
    if (pid_ > 0) {
        const pid_t w = worker();
        kill_and_reap(pid_);
        if (w > 0)
            ::kill(w, SIGKILL); // not our child: init reaps it
    }
    for (const auto& d : dirs_)
        if (is_mounted(d))
            run({"umount", "-l", d.string()});
}

pid_t serve_process::worker() const
{
    if (pid_ <= 0)
        return -1;
    std::istringstream children(read_text("/proc/" + std::to_string(pid_) + "/task/" + std::to_string(pid_) +
                                          "/children"));
    pid_t w = -1;
    children >> w;
    return w > 0 ? w : -1;
}

run_result serve_process::ctl(std::vector<std::string> args, std::chrono::milliseconds limit) const
{
    std::vector<std::string> argv{ivs_program()};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("-s");
    argv.push_back(socket_.string());
    return run(argv, limit);
}

int serve_process::stop(int sig, std::chrono::milliseconds limit)
{
    // Never kill(-1, ...) or kill(0, ...): that signals every process we may.
    if (pid_ <= 0)
        return -1;
    ::kill(pid_, sig);
    const auto deadline = std::chrono::steady_clock::now() + limit;
    int status = 0;
    while (!reap_if_exited(pid_, &status)) {
        if (std::chrono::steady_clock::now() > deadline)
            return -1;
        std::this_thread::sleep_for(20ms);
    }
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool serve_process::signal(int sig) const { return pid_ > 0 && ::kill(pid_, sig) == 0; }

bool serve_process::wait_for_log(const std::string& text, std::chrono::milliseconds limit) const
{
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!contains(log(), text)) {
        if (std::chrono::steady_clock::now() > deadline)
            return false;
        std::this_thread::sleep_for(50ms);
    }
    return true;
}

} // namespace ivs::test
