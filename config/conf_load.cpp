// The file-system side of iscsi-vscsi.conf(5): reading the file and its
// includes, and the ownership/permission check for private files.
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

} // namespace

std::error_code read_conf_file(const std::filesystem::path& file, std::string& text, std::string& error)
{
    text.clear();
    const fd_guard fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (fd.get() < 0) {
        error = std::strerror(errno);
        return conf_errc::read_failed;
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        error = std::strerror(errno);
        return conf_errc::read_failed;
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
        const ssize_t n = ::read(fd.get(), text.data() + done, text.size() - done);
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

std::error_code parse_conf_text(std::string_view text, std::string_view filename, conf& out,
                                std::string& error)
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

std::error_code check_private_file(const std::filesystem::path& file, std::string& error)
{
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) {
        error = file.string() + ": " + std::strerror(errno);
        return conf_errc::read_failed;
    }
    if (!S_ISREG(st.st_mode)) {
        error = file.string() + ": not a regular file";
        return conf_errc::insecure_file;
    }
    if (st.st_uid != 0 && st.st_uid != ::geteuid()) {
        error = file.string() + ": owned by uid " + std::to_string(st.st_uid) +
                ", not by root or the current user";
        return conf_errc::insecure_file;
    }
    if ((st.st_mode & (S_IRGRP | S_IWGRP | S_IROTH | S_IWOTH)) != 0) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        error = file.string() + ": readable or writable by group or others (mode " + mode + ")";
        return conf_errc::insecure_file;
    }
    return {};
}

} // namespace ivs::config
