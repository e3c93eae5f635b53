#include "test/support/program.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <iterator>

namespace ivs::test {

namespace fs = std::filesystem;

std::string ivs_program()
{
    const char* p = std::getenv("IVS_PROGRAM");
    REQUIRE(p != nullptr);
    return p;
}

bool is_mounted(const fs::path& dir)
{
    std::ifstream in("/proc/mounts");
    std::string dev, where, rest;
    while (in >> dev >> where && std::getline(in, rest))
        if (where == dir.string())
            return true;
    return false;
}

std::string read_text(const fs::path& p)
{
    std::ifstream in(p);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file_mode(const fs::path& p, const std::string& text, fs::perms mode)
{
    std::ofstream(p, std::ios::trunc) << text;
    fs::permissions(p, mode);
}

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

} // namespace ivs::test
