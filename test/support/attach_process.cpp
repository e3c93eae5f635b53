#include "test/support/attach_process.hpp"

#include "test/support/serve_process.hpp"

#include <catch2/catch.hpp>

#include <csignal>

namespace ivs::test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

attach_process::attach_process(const std::string& portal, const std::string& iqn, const fs::path& work,
                               const std::vector<std::string>& extra)
    : export_dir_(work / ("export-" + std::to_string(++count_)))
{
    fs::create_directories(export_dir_);
    std::vector<std::string> argv{ivs_program(), "attach", portal, iqn, "--export", export_dir_.string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    child_ = child_process(argv, {work / ("attach-" + std::to_string(count_) + ".log"), ""});
    if (child_.wait_for_output("attached; SIGINT", 60s))
        return;
    if (!child_.running())
        FAIL("attach exited early: " << log());
    FAIL("attach did not finish attaching: " << log());
}

attach_process::~attach_process()
{
    child_.kill();
    if (is_mounted(export_dir_))
        run({"umount", "-l", export_dir_.string()});
}

int attach_process::stop() { return child_.stop(SIGINT, 60s); }

} // namespace ivs::test
