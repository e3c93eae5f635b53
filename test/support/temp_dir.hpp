// A private directory for one test (mkdtemp), removed with what is in it.
#pragma once

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <system_error>

namespace ivs::test {

struct temp_dir {
    std::filesystem::path path;

    // TMPDIR (or /tmp)/ivs-TAG-XXXXXX; throws when it cannot be made.
    explicit temp_dir(const std::string& tag = "test")
    {
        std::string pattern = (std::filesystem::temp_directory_path() / ("ivs-" + tag + "-XXXXXX")).string();
        if (::mkdtemp(pattern.data()) == nullptr)
            throw std::runtime_error("mkdtemp " + pattern + ": " + std::strerror(errno));
        path = pattern;
    }
    ~temp_dir()
    {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;

    // Writes `text` to path/name with `mode` (default 0600): the file's path.
    std::filesystem::path write(const std::string& name, const std::string& text,
                                std::filesystem::perms mode = std::filesystem::perms::owner_read |
                                                              std::filesystem::perms::owner_write) const
    {
        const std::filesystem::path p = path / name;
        std::ofstream(p, std::ios::trunc) << text;
        std::filesystem::permissions(p, mode);
        return p;
    }
};

} // namespace ivs::test
