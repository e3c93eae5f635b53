#include "app/log_sinks.hpp"

#include <syslog.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <string>

namespace ivs::app {

namespace {

void write_line(int fd, std::string_view line)
{
    std::string text = "iscsi-vscsi: ";
    text.append(line);
    text.push_back('\n');
    std::string_view rest = text;
    while (!rest.empty()) {
        const ssize_t n = ::write(fd, rest.data(), rest.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        rest.remove_prefix(static_cast<std::size_t>(n));
    }
}

int priority(log::level l) noexcept
{
    switch (l) {
    case log::level::error: return LOG_ERR;
    case log::level::warning: return LOG_WARNING;
    case log::level::notice: return LOG_NOTICE;
    case log::level::info: return LOG_INFO;
    case log::level::debug: return LOG_DEBUG;
    }
    return LOG_INFO;
}

} // namespace

log::sink to_console()
{
    return log::sink([](log::level l, std::string_view line) {
        if (l == log::level::debug)
            return;
        const bool problem = l == log::level::error || l == log::level::warning;
        write_line(problem ? STDERR_FILENO : STDOUT_FILENO, line);
    });
}

log::sink to_syslog()
{
    return log::sink([](log::level l, std::string_view line) {
        static std::once_flag opened;
        std::call_once(opened, [] { openlog("iscsi-vscsi", LOG_PID | LOG_NDELAY, LOG_DAEMON); });
        const std::string text(line);
        syslog(priority(l), "%s", text.c_str());
    });
}

} // namespace ivs::app
