// One command inside the embedded vscsi (its kernel half's struct): shared
// by the files of embedded_vscsi only.
#pragma once

#include "vscsi/embedded_vscsi.hpp"

namespace ivs::vscsi {

struct embedded_vscsi::ccb {
    scsi_command cmd;
    scsi_completion_handler done;
    int tag = 0;
    bool dequeued = false; // moved to the in-progress list by i2t
    std::size_t moved = 0; // bytes moved by data_read/data_write so far
    int retries_left = 0;  // re-issues left (vscsi/retry_rules.hpp)
};

} // namespace ivs::vscsi
