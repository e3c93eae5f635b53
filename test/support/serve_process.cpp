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

serve_process::serve_process(const fs::path& conf, const fs::path& work, const std::vector<std::string>& extra)
    : socket_(work / "ctl.sock")
{
    std::vector<std::string> argv{ivs_program(), "serve", "-d", "-f", conf.string(), "-s", socket_.string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    child_ = child_process(argv, {work / ("serve-" + std::to_string(++count_) + ".log"), ""});
    if (child_.wait_for_output("serving on", 120s))
        return;
    if (!child_.running())
        FAIL("serve exited early: " << log());
    FAIL("serve did not start: " << log());
}

serve_process::~serve_process()
{
    if (child_.running()) {
        const pid_t w = worker();
        child_.kill();
        if (w > 0)
            ::kill(w, SIGKILL); // not our child: init reaps it
    }
    for (const auto& d : dirs_)
        if (is_mounted(d))
            run({"umount", "-l", d.string()});
}

pid_t serve_process::worker() const
{
    const pid_t pid = child_.pid();
    if (pid <= 0)
        return -1;
    std::istringstream children(
        read_text("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children"));
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
    return child_.stop(sig, limit, child_process::on_timeout::leave_running);
}

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
