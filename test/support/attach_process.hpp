// One `iscsi-vscsi attach PORTAL IQN --export DIR` for the integration
// tests (the program named by $IVS_PROGRAM): waited for until it logs
// "attached; SIGINT", stopped with SIGINT and reaped. The destructor kills
// it if the test did not stop it, and lazily unmounts the export directory.
#pragma once

#include "test/support/process.hpp"

#include <filesystem>
#include <string>
#include <vector>

#include <sys/types.h>

namespace ivs::test {

class attach_process {
public:
    // `extra` goes after "attach PORTAL IQN --export WORK/export-N". Fails
    // the test when attach exits or has not attached within a minute.
    attach_process(const std::string& portal, const std::string& iqn, const std::filesystem::path& work,
                   const std::vector<std::string>& extra = {});
    ~attach_process();
    attach_process(const attach_process&) = delete;
    attach_process& operator=(const attach_process&) = delete;

    // SIGINT, then wait (at most a minute) for it to exit: its exit status,
    // or -1 when a signal ended it or it did not exit in time (then it is
    // killed).
    int stop();

    [[nodiscard]] std::string log() const { return child_.output(); }
    [[nodiscard]] const std::filesystem::path& export_dir() const { return export_dir_; }
    [[nodiscard]] std::filesystem::path lun(int n) const { return export_dir_ / ("lun" + std::to_string(n)); }
    // -1 once reaped.
    [[nodiscard]] pid_t pid() const { return child_.pid(); }

private:
    static inline int count_ = 0;
    std::filesystem::path export_dir_;
    child_process child_;
};

} // namespace ivs::test
