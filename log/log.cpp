#include "log/log.hpp"

#include <unistd.h>

#include <cerrno>
#include <string>

namespace ivs::log {

std::string_view name(level l) noexcept
{
    switch (l) {
    case level::error: return "error";
    case level::warning: return "warning";
    case level::notice: return "notice";
    case level::info: return "info";
    case level::debug: return "debug";
    }
    return "?";
}

sink::sink() : sink(to_stderr()) {}

sink to_stderr(bool verbose)
{
    return sink([verbose](level l, std::string_view line) {
        if (l == level::debug && !verbose)
            return;
        std::string text = "iscsi-vscsi: ";
        text.append(line);
        text.push_back('\n');
        std::string_view rest = text;
        while (!rest.empty()) {
            const ssize_t n = ::write(STDERR_FILENO, rest.data(), rest.size());
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                return;
            rest.remove_prefix(static_cast<std::size_t>(n));
        }
    });
}

} // namespace ivs::log
