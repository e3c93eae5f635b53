// The file-system side of iscsi-vscsi.conf(5): reading the file and its
// includes, and the ownership/permission checks of configuration and
// secret files.
#include "config/conf.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace ivs::config {

namespace {

class fd_guard {
public:
    explicit fd_guard(int fd) : fd_(fd) {}
    ~fd_guard()
    {
        if (fd_ >= 0)
            ::close(fd_);
    }
    fd_guard(const fd_guard&) = delete;
    fd_guard& operator=(const fd_guard&) = delete;
    int get() const { return fd_; }

private:
    int fd_;
};

// Ownership and mode of an opened (fstat) or named (stat) file: root or
// the current user owns it, and neither group nor others may write it; a
// file that holds a secret may not be readable by them either.
// `reason` does not name the file.
std::error_code check_stat(const struct stat& st, bool secret, std::string& reason)
{
    if (!S_ISREG(st.st_mode)) {
        reason = "not a regular file";
        return conf_errc::insecure_file;
    }
    if (st.st_uid != 0 && st.st_uid != ::geteuid()) {
        reason = "owned by uid " + std::to_string(st.st_uid) + ", not by root or the current user";
        return conf_errc::insecure_file;
    }
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        reason = std::string("writable by group or others (mode ") + mode + ")";
        return conf_errc::insecure_file;
    }
    if (secret && (st.st_mode & (S_IRGRP | S_IROTH)) != 0) {
        reason = std::string("holds a secret and is readable by group or others (mode ") + mode +
                 "); make it private, e.g. chmod 600";
        return conf_errc::insecure_file;
    }
    return {};
}

// Reads an opened regular file of at most max_conf_file_size bytes; with
// `check`, refuses it first as check_conf_file does.
std::error_code read_fd(int fd, bool check, std::string& text, std::string& error)
{
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        error = std::strerror(errno);
        return conf_errc::read_failed;
    }
    if (check) {
        if (auto ec = check_stat(st, false, error))
            return ec;
    }
    if (!S_ISREG(st.st_mode)) {
        error = "not a regular file";
        return conf_errc::read_failed;
    }
    if (st.st_size < 0 || static_cast<std::uint64_t>(st.st_size) > max_conf_file_size) {
        error = "larger than " + std::to_string(max_conf_file_size) + " bytes";
        return conf_errc::too_large;
    }
    text.resize(static_cast<std::size_t>(st.st_size));
    std::size_t done = 0;
    for (;;) {
        if (done == text.size()) {
            if (text.size() > max_conf_file_size) {
                error = "larger than " + std::to_string(max_conf_file_size) + " bytes";
                text.clear();
                return conf_errc::too_large;
            }
            text.resize(text.size() + 4096); // the file may have grown; read to its end
        }
        const ssize_t n = ::read(fd, text.data() + done, text.size() - done);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            error = std::strerror(errno);
            text.clear();
            return conf_errc::read_failed;
        }
        if (n == 0)
            break;
        done += static_cast<std::size_t>(n);
    }
    text.resize(done);
    return {};
}

std::error_code read_file(const std::filesystem::path& file, bool check, std::string& text, std::string& error)
{
    text.clear();
    const fd_guard fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (fd.get() < 0) {
        error = std::strerror(errno);
        return conf_errc::read_failed;
    }
    return read_fd(fd.get(), check, text, error);
}

} // namespace

std::error_code read_conf_file(const std::filesystem::path& file, std::string& text, std::string& error)
{
    return read_file(file, false, text, error);
}

std::error_code parse_conf_text(std::string_view text, std::string_view filename, conf& out, std::string& error)
{
    return parse_conf(text, filename, read_conf_file, out, error);
}

std::error_code load_conf(const std::filesystem::path& file, conf& out, std::string& error)
{
    out = {};
    std::string text;
    std::string why;
    if (const std::error_code ec = read_conf_file(file, text, why)) {
        error = file.string() + ": " + why;
        return ec;
    }
    return parse_conf_text(text, file.string(), out, error);
}

std::error_code load_checked_conf(const std::filesystem::path& file, conf& out, std::string& error)
{
    out = {};
    std::string text;
    std::string why;
    if (const std::error_code ec = read_file(file, true, text, why)) {
        error = file.string() + ": " + why;
        return ec;
    }
    const conf_reader checked = [](const std::filesystem::path& p, std::string& t, std::string& e) {
        return read_file(p, true, t, e);
    };
    return parse_conf(text, file.string(), checked, out, error);
}

std::error_code load_checked_conf(const std::filesystem::path& file, conf& out, std::string& error,
                                  conf_sources& sources)
{
    out = {};
    sources = {};
    sources.file = file.string();
    std::string why;
    if (const std::error_code ec = read_file(file, true, sources.text, why)) {
        error = file.string() + ": " + why;
        return ec;
    }
    const conf_reader recording = [&sources](const std::filesystem::path& p, std::string& t, std::string& e) {
        if (auto ec = read_file(p, true, t, e))
            return ec;
        sources.included.emplace_back(p, t);
        return std::error_code{};
    };
    return parse_conf(sources.text, sources.file, recording, out, error);
}

std::error_code parse_conf_sources(const conf_sources& sources, conf& out, std::string& error)
{
    const conf_reader from_memory = [&sources](const std::filesystem::path& p, std::string& t, std::string& e) {
        for (const auto& [path, text] : sources.included)
            if (path == p) {
                t = text;
                return std::error_code{};
            }
        e = "not among the files the configuration was read from";
        return make_error_code(conf_errc::read_failed);
    };
    return parse_conf(sources.text, sources.file, from_memory, out, error);
}

std::error_code check_conf_file(const std::filesystem::path& file, std::string& error)
{
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) {
        error = file.string() + ": " + std::strerror(errno);
        return conf_errc::read_failed;
    }
    if (auto ec = check_stat(st, false, error)) {
        error = file.string() + ": " + error;
        return ec;
    }
    return {};
}

std::error_code check_secret_file(const std::filesystem::path& file, std::string& error)
{
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) {
        error = file.string() + ": " + std::strerror(errno);
        return conf_errc::read_failed;
    }
    if (auto ec = check_stat(st, true, error)) {
        error = file.string() + ": " + error;
        return ec;
    }
    return {};
}

} // namespace ivs::config
