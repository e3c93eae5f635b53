// The embedded vscsi opened by a test that plays the daemon itself, and the
// commands and errno values those tests use (Catch2 tests only).
#pragma once

#include "test/support/vscsi_test_support.hpp"

#include <catch2/catch.hpp>

#include <memory>
#include <span>
#include <system_error>

namespace ivs::vscsi::test {

inline const std::error_code eagain = std::make_error_code(std::errc::resource_unavailable_try_again);
inline const std::error_code efault = std::make_error_code(std::errc::bad_address);
inline const std::error_code enomem = std::make_error_code(std::errc::not_enough_memory);
inline const std::error_code einval = std::make_error_code(std::errc::invalid_argument);

// The device and the test's daemon handle; closing it is the last close.
struct opened {
    embedded_vscsi dev;
    std::unique_ptr<vscsi_device> h;
    explicit opened(embedded_vscsi_config cfg = {}) : dev(std::move(cfg))
    {
        REQUIRE_FALSE(dev.open(h));
        REQUIRE(h);
    }
    ~opened() { h.reset(); }
};

inline scsi_command read_cmd(std::span<std::byte> buf, int lun = 0)
{
    scsi_command c = cmd6(0, lun, 0x08);
    c.dir = vscsi_dir::read;
    c.data_in = buf;
    return c;
}

inline scsi_command write_cmd(std::span<const std::byte> buf, int lun = 0)
{
    scsi_command c = cmd6(0, lun, 0x0a);
    c.dir = vscsi_dir::write;
    c.data_out = buf;
    return c;
}

} // namespace ivs::vscsi::test
