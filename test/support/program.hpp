// The program under test ($IVS_PROGRAM) and small file helpers the
// integration tests around it share.
#pragma once

#include <filesystem>
#include <string>

namespace ivs::test {

// $IVS_PROGRAM, the iscsi-vscsi under test.
std::string ivs_program();
bool is_mounted(const std::filesystem::path& dir);
std::string read_text(const std::filesystem::path& p);
// Writes `text` and sets `mode` (default 0600).
void write_file_mode(const std::filesystem::path& p, const std::string& text,
                     std::filesystem::perms mode = std::filesystem::perms::owner_read |
                                                   std::filesystem::perms::owner_write);
bool contains(const std::string& hay, const std::string& needle);

} // namespace ivs::test
