// What `serve`'s parent and worker say to each other over the privsep
// channel (app/privsep_channel.hpp): the message types, and a payload codec
// of length-prefixed fields, each read back with its bounds checked. The
// parent reads what the worker sends as hostile input: every decode here
// fails cleanly on a short, long or garbled payload.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ivs::app {

enum class privsep_msg : std::uint32_t {
    // parent -> worker
    configuration = 1, // a conf_bundle (app/conf_bundle.hpp): at start, on SIGHUP, answering `reload`
    ok,                // a request succeeded; data per request, fd for `mount`
    error,             // a request failed; data: one field, the reason
    // worker -> parent
    reload = 16, // read the configuration again; answer: configuration or error
    mount,       // FUSE-mount the export directory [dir]; answer: ok with the /dev/fuse fd
    unmount,     // unmount [dir] that the parent mounted; answer: ok or error
    resolve,     // [host, family ("any", "inet", "inet6")]; answer: ok [address...]
    disk_users,  // [n, then n x (target, lun, export file)]; answer: ok [n, then n x (in use 0|1, what)]
};

// Fields: a u32 length (host order: both ends are this program) and bytes.
class payload_writer {
public:
    payload_writer& add(std::string_view field);
    payload_writer& add(std::uint64_t number); // as its decimal text
    [[nodiscard]] const std::string& data() const noexcept { return data_; }
    [[nodiscard]] std::string take() noexcept { return std::move(data_); }

private:
    std::string data_;
};

class payload_reader {
public:
    explicit payload_reader(std::string_view data) noexcept : rest_(data) {}
    // False (and stays false) when the payload ends early or a length runs
    // past its end; `out` is left empty then.
    bool next(std::string& out);
    // A decimal number of at most `max`; false on anything else.
    bool next(std::uint64_t& out, std::uint64_t max);
    // True when every field was read and nothing failed.
    [[nodiscard]] bool done() const noexcept { return ok_ && rest_.empty(); }
    [[nodiscard]] bool ok() const noexcept { return ok_; }

private:
    std::string_view rest_;
    bool ok_ = true;
};

// The most entries a disk_users request may name, and the longest path.
inline constexpr std::uint64_t max_disk_users_entries = 4096;
inline constexpr std::size_t max_request_path = 4096;

} // namespace ivs::app
