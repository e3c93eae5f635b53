// log::sink: lines reach the function they wrap with their level; the
// stderr sink writes one prefixed line per message and hides debug unless
// verbose.
#include "log/log.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <utility>
#include <vector>

using ivs::log::level;

namespace {

// Runs f with the standard error sent to a pipe; returns what it wrote.
template <class F>
std::string capture_stderr(F&& f)
{
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    const int saved = ::dup(STDERR_FILENO);
    ::dup2(fds[1], STDERR_FILENO);
    ::close(fds[1]);
    f();
    ::dup2(saved, STDERR_FILENO);
    ::close(saved);
    std::string out;
    char buf[256];
    ssize_t n;
    while ((n = ::read(fds[0], buf, sizeof buf)) > 0)
        out.append(buf, static_cast<std::size_t>(n));
    ::close(fds[0]);
    return out;
}

} // namespace

TEST_CASE("a sink hands each line and its level to its function")
{
    std::vector<std::pair<level, std::string>> seen;
    const ivs::log::sink s([&](level l, std::string_view line) { seen.emplace_back(l, std::string(line)); });
    s.error("e");
    s.warning("w");
    s.notice("n");
    s.info("i");
    s.debug("d");
    s(level::warning, "w2");
    REQUIRE(seen == std::vector<std::pair<level, std::string>>{{level::error, "e"},
                                                               {level::warning, "w"},
                                                               {level::notice, "n"},
                                                               {level::info, "i"},
                                                               {level::debug, "d"},
                                                               {level::warning, "w2"}});
    CHECK(ivs::log::name(level::notice) == "notice");
}

TEST_CASE("the discarding sink drops lines")
{
    const auto out = capture_stderr([] { ivs::log::sink::discard().error("lost"); });
    CHECK(out.empty());
}

TEST_CASE("the stderr sink prefixes each line and hides debug unless verbose")
{
    const auto out = capture_stderr([] {
        const ivs::log::sink quiet; // default: standard error
        quiet.warning("connection lost");
        quiet.debug("hidden");
        ivs::log::to_stderr(true).debug("shown");
    });
    CHECK(out == "iscsi-vscsi: connection lost\niscsi-vscsi: shown\n");
}
