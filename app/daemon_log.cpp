#include "app/daemon_log.hpp"

#include <syslog.h>

#include <iostream>
#include <mutex>
#include <string>

namespace ivs::app {

namespace {
std::mutex log_mutex;
bool use_stderr = false;
bool syslog_open = false;
} // namespace

void log_to_stderr(bool on)
{
    std::lock_guard lock(log_mutex);
    use_stderr = on;
}

void log_message(log_level level, std::string_view line)
{
    std::lock_guard lock(log_mutex);
    if (use_stderr) {
        std::cerr << "iscsi-vscsi: " << line << std::endl;
        return;
    }
    if (!syslog_open) {
        openlog("iscsi-vscsi", LOG_PID | LOG_NDELAY, LOG_DAEMON);
        syslog_open = true;
    }
    const int prio = level == log_level::error ? LOG_ERR : level == log_level::warning ? LOG_WARNING : LOG_INFO;
    const std::string text(line);
    syslog(prio, "%s", text.c_str());
}

} // namespace ivs::app
