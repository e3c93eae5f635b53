// The one log sink of the program: every layer (iscsi/, bridge/, vscsi/,
// the FUSE export, the program) is handed a log::sink and writes whole lines
// through it; the program decides where they go (standard error under
// `attach`, syslog(3) under `serve`). Thread-safe as long as the function
// it wraps is (both below are).
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

namespace ivs::log {

// syslog(3) priorities, most severe first.
enum class level : std::uint8_t { error, warning, notice, info, debug };

[[nodiscard]] std::string_view name(level l) noexcept;

class sink {
public:
    using function = std::function<void(level, std::string_view)>;

    // Writes to the standard error (see to_stderr()).
    sink();
    explicit sink(function f) : f_(std::move(f)) {}

    void operator()(level l, std::string_view line) const
    {
        if (f_)
            f_(l, line);
    }
    void error(std::string_view line) const { (*this)(level::error, line); }
    void warning(std::string_view line) const { (*this)(level::warning, line); }
    void notice(std::string_view line) const { (*this)(level::notice, line); }
    void info(std::string_view line) const { (*this)(level::info, line); }
    void debug(std::string_view line) const { (*this)(level::debug, line); }

    // A sink that drops everything (tests that do not look at the log).
    static sink discard() { return sink(function{}); }

private:
    function f_;
};

// "iscsi-vscsi: LINE\n" on the standard error, one write(2) per line so
// lines from several threads never interleave; debug lines only when
// `verbose`.
[[nodiscard]] sink to_stderr(bool verbose = false);

} // namespace ivs::log
