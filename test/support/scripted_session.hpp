// Shared pieces of the session tests against the scripted target: a session
// configuration whose connector hands out scripted_target socketpair ends,
// completion counting, and running the io_context until a script ends.
#pragma once

#include "test/support/scripted_target.hpp"
#include "test/support/session_harness.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace ivs::test {

using namespace std::chrono_literals;

inline const std::string target_iqn = "iqn.2026-11.org.iscsi-vscsi.test:disk";
inline const std::string initiator_iqn = "iqn.2026-11.org.iscsi-vscsi.test:initiator";
inline const iscsi::portal home{"target.test", "3260"};

// The connector hands out the targets' socketpair ends in order and records
// the portals it was asked for.
inline iscsi::session_config make_config(std::vector<scripted_target*> links,
                                         std::vector<iscsi::portal>* portals = nullptr)
{
    iscsi::session_config cfg;
    cfg.target_portal = home;
    cfg.login.initiator_name = initiator_iqn;
    cfg.login.target_name = target_iqn;
    cfg.recover = false;
    cfg.login_timeout = 10s;
    // Scripts expect exact PDU sequences: no unsolicited pings or aborts
    // unless a test asks for them (test_session_scripted_timers.cpp).
    cfg.nop_interval = 0ms;
    cfg.command_timeout = 0ms;
    auto next = std::make_shared<std::size_t>(0);
    cfg.connector = [links, next, portals](const iscsi::portal& p) {
        if (portals)
            portals->push_back(p);
        if (*next >= links.size()) {
            errno = ECONNREFUSED;
            return -1;
        }
        return links[(*next)++]->take_initiator_fd();
    };
    return cfg;
}

// Counts completions: every submit must complete exactly once.
struct tracked {
    int calls = 0;
    iscsi::scsi_result result;
};

inline void submit(iscsi::session& s, const iscsi::scsi_request& r, tracked& t)
{
    s.submit(r, [&t](const iscsi::scsi_result& res) {
        ++t.calls;
        t.result = res;
    });
}

// Runs the io_context a while longer, so a second completion would show.
inline void settle(test::session_harness& h, std::chrono::milliseconds d = 200ms)
{
    const auto end = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < end) {
        if (h.io.stopped())
            h.io.restart();
        h.io.run_one_for(10ms);
    }
}

// Holds a script until the test thread sets `go` (the script fails after 20 s).
inline void wait_for_go(scripted_target& tg, const std::atomic<bool>& go)
{
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!go.load()) {
        if (std::chrono::steady_clock::now() > deadline)
            tg.fail("the test never let the script go on");
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

// Runs the session until the script ends; the script must have run to its end.
inline void finish(test::session_harness& h, scripted_target& t)
{
    const bool done = h.run_until([&] { return t.finished(); }, std::chrono::seconds(30));
    const std::string failure = t.join();
    INFO("script: " << failure);
    CHECK(done);
    CHECK(failure.empty());
}

inline iscsi::scsi_request test_unit_ready()
{
    iscsi::scsi_request r;
    const std::byte cdb[6] = {};
    r.set_cdb(cdb);
    return r;
}

inline void set_key(login_script& ls, const std::string& key, const std::string& value)
{
    for (auto& k : ls.operational)
        if (k.key == key) {
            k.value = value;
            return;
        }
    ls.operational.push_back({key, value});
}

inline bool has_pair(const pdu::text_list& keys, const std::string& key, const std::string& value)
{
    const pdu::text_pair* p = pdu::find_pair(keys, key);
    return p && p->value == value;
}

// "" when equal, else where the two first differ (keeps failure output short).
inline std::string compare_bytes(std::span<const std::byte> got, std::span<const std::byte> want)
{
    if (got.size() != want.size())
        return "size " + std::to_string(got.size()) + " instead of " + std::to_string(want.size());
    const auto m = std::mismatch(got.begin(), got.end(), want.begin());
    if (m.first == got.end())
        return {};
    return "first difference at offset " + std::to_string(m.first - got.begin());
}

inline std::span<const std::byte> bytes_of(const std::vector<std::byte>& v, std::size_t offset, std::size_t n)
{
    return std::span<const std::byte>(v).subspan(offset, n);
}

} // namespace ivs::test
