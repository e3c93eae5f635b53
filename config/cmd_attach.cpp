// iscsi-vscsi attach HOST[:PORT] IQN: log in, map the target's LUNs onto
// vscsi, let the midlayer probe them, optionally export them through FUSE,
// and stay attached until SIGINT/SIGTERM; then flush, detach, unmount and
// log out.
#include "config/attach_options.hpp"
#include "config/commands.hpp"
#include "config/io_thread.hpp"

#include "bridge/bridge.hpp"
#include "bridge/remote_luns.hpp"
#include "iscsi/session.hpp"

#if defined(__OpenBSD__)
#include "bridge/openbsd_vscsi.hpp"
#else
#include "bridge/embedded_vscsi.hpp"
#endif
#if IVS_HAVE_FUSE
#include "bridge/fuse_export.hpp"
#endif

#include <csignal>
#include <iostream>
#include <optional>
#include <thread>

namespace ivs::config {

namespace {

using namespace std::chrono_literals;

void say(const std::string& line) { std::cout << line << std::endl; }

// Blocks SIGINT and SIGTERM in every thread started after this, so that
// sigwait() on the main thread is the one place they arrive.
sigset_t block_stop_signals()
{
    // A parent that ignored them (nohup, some shells) must not stop the
    // detach from happening: take them back first.
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    return set;
}

class attachment {
public:
    explicit attachment(const attach_options& o) : opts_(o) {}

    int run();

private:
    bool login();
    bool find_luns();
    bool open_device();
    bool map_and_probe();
    bool export_disks();
    void detach();

    const attach_options& opts_;
    io_thread io_;
    std::optional<iscsi::session> session_;
#if defined(__OpenBSD__)
    std::unique_ptr<bridge::vscsi_device> device_;
#else
    std::optional<bridge::embedded_vscsi> vscsi_;
    std::unique_ptr<bridge::vscsi_device> device_;
#endif
    std::optional<bridge::bridge> bridge_;
#if IVS_HAVE_FUSE
    std::optional<bridge::fuse_export> export_;
#endif
    std::vector<std::uint64_t> luns_;
    std::vector<bridge::slot> slots_;
    bool logged_in_ = false;
};

bool attachment::login()
{
    session_.emplace(io_.context(), opts_.session);
    auto [ec, message] = io_.login(*session_);
    if (ec) {
        std::cerr << "iscsi-vscsi: attach: " << message << '\n';
        return false;
    }
    logged_in_ = true;
    const auto& p = session_->params();
    say("iscsi-vscsi: logged in to " + opts_.session.login.target_name + " at " +
        iscsi::format_portal(opts_.session.target_portal) + " (header digest " +
        (p.header_digest ? "CRC32C" : "None") + ", data digest " + (p.data_digest ? "CRC32C" : "None") + ")");
    return true;
}

bool attachment::find_luns()
{
    if (!opts_.luns.empty()) {
        luns_ = opts_.luns;
        return true;
    }
    auto [ec, luns] = io_.call<std::pair<std::error_code, std::vector<std::uint64_t>>>([&](auto done) {
        bridge::report_remote_luns(*session_, [done](std::error_code e, std::vector<std::uint64_t> l) {
            done({e, std::move(l)});
        });
    });
    if (ec) {
        std::cerr << "iscsi-vscsi: attach: REPORT LUNS failed: " << ec.message() << '\n';
        return false;
    }
    if (luns.empty()) {
        std::cerr << "iscsi-vscsi: attach: the target reports no LUNs\n";
        return false;
    }
    luns_ = std::move(luns);
    return true;
}

bool attachment::open_device()
{
    std::error_code ec;
#if defined(__OpenBSD__)
    ec = bridge::openbsd_vscsi::open(opts_.device.empty() ? "/dev/vscsi0" : opts_.device.c_str(), device_);
#else
    bridge::embedded_vscsi_config cfg;
    cfg.logger = [](std::string_view line) { say(std::string(line)); };
    vscsi_.emplace(cfg);
    ec = vscsi_->open(device_);
#endif
    if (ec) {
        std::cerr << "iscsi-vscsi: attach: cannot open the vscsi device: " << ec.message() << '\n';
        return false;
    }
    return true;
}

bool attachment::map_and_probe()
{
    bridge::bridge_options bo;
    bo.logger = [](std::string_view line) { std::cerr << "iscsi-vscsi: " << line << '\n'; };
    auto ec = io_.call<std::error_code>([&](auto done) {
        bridge_.emplace(io_.context(), *device_, bo);
        auto e = bridge_->add_session(*session_, luns_, slots_);
        if (!e)
            bridge_->start();
        done(e);
    });
    if (ec) {
        std::cerr << "iscsi-vscsi: attach: cannot map " << luns_.size() << " LUNs: " << ec.message() << '\n';
        return false;
    }
    for (const auto& s : slots_)
        device_->request_probe(s.target, s.lun);
#if !defined(__OpenBSD__)
    // The midlayer probes on its own thread through the bridge: wait for it.
    const auto deadline = std::chrono::steady_clock::now() + opts_.probe_timeout;
    while (!vscsi_->probe_idle() && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(20ms);
    if (!vscsi_->probe_idle()) {
        std::cerr << "iscsi-vscsi: attach: probing did not finish within "
                  << opts_.probe_timeout.count() / 1000 << " s\n";
        return false;
    }
    if (vscsi_->disks().empty()) {
        std::cerr << "iscsi-vscsi: attach: no disk attached (no direct-access LUN among "
                  << luns_.size() << ")\n";
        return false;
    }
#endif
    return true;
}

bool attachment::export_disks()
{
#if defined(__OpenBSD__)
    for (std::size_t i = 0; i < slots_.size(); ++i)
        say("iscsi-vscsi: LUN " + std::to_string(luns_[i]) + " -> vscsi0 targ " + std::to_string(slots_[i].target) +
            " lun " + std::to_string(slots_[i].lun));
    return true;
#else
    auto remote_of = [&](int target, int lun) -> std::optional<std::uint64_t> {
        for (std::size_t i = 0; i < slots_.size(); ++i)
            if (slots_[i].target == target && slots_[i].lun == lun)
                return luns_[i];
        return std::nullopt;
    };
    const auto disks = vscsi_->disks();
    if (opts_.export_dir.empty()) {
        for (const auto& d : disks)
            if (auto remote = remote_of(d.target, d.lun))
                say("iscsi-vscsi: " + d.name + " is LUN " + std::to_string(*remote));
        return true;
    }
#if IVS_HAVE_FUSE
    bridge::fuse_export_options fo;
    fo.logger = [](std::string_view line) { std::cerr << "iscsi-vscsi: " << line << '\n'; };
    export_.emplace(*vscsi_, opts_.export_dir, fo);
    for (const auto& d : disks) {
        auto remote = remote_of(d.target, d.lun);
        if (!remote || d.block_count == 0)
            continue;
        const std::string name = bridge::fuse_disk_file_name(*remote);
        if (auto ec = export_->add_disk(name, d.target, d.lun, d.block_size, d.block_count)) {
            std::cerr << "iscsi-vscsi: attach: cannot export " << d.name << ": " << ec.message() << '\n';
            return false;
        }
        say("iscsi-vscsi: " + d.name + " (LUN " + std::to_string(*remote) + ") exported as " +
            (opts_.export_dir / name).string());
    }
    if (auto ec = export_->start()) {
        std::cerr << "iscsi-vscsi: attach: cannot mount " << opts_.export_dir.string() << ": " << ec.message()
                  << '\n';
        export_.reset();
        return false;
    }
    return true;
#else
    std::cerr << "iscsi-vscsi: attach: --export needs FUSE, which this build lacks\n";
    return false;
#endif
#endif
}

// Unmount, flush, detach, log out: in this order, each step bounded.
void attachment::detach()
{
#if IVS_HAVE_FUSE
    if (export_) {
        export_->stop();
        export_.reset();
    }
#endif
    if (bridge_) {
        auto ec = io_.call_for([&](auto done) { bridge_->sync_cache_all(done); }, 30s);
        if (ec)
            std::cerr << "iscsi-vscsi: SYNCHRONIZE CACHE failed: " << ec.message() << '\n';
    }
    if (device_) {
        device_->request_detach(-1, -1);
#if !defined(__OpenBSD__)
        const auto deadline = std::chrono::steady_clock::now() + 10s;
        while (!vscsi_->probe_idle() && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(20ms);
#endif
    }
    if (bridge_) {
        io_.call<bool>([&](auto done) {
            bridge_->shutdown();
            done(true);
        });
    }
    device_.reset(); // the last close: anything left completes with RESET
    if (bridge_) {
        io_.call<bool>([&](auto done) {
            bridge_.reset();
            done(true);
        });
    }
    if (session_ && logged_in_) {
        auto ec = io_.call_for([&](auto done) { session_->logout(done); }, 15s);
        if (ec)
            std::cerr << "iscsi-vscsi: logout: " << ec.message() << '\n';
    }
    if (session_) {
        io_.call<bool>([&](auto done) {
            session_.reset();
            done(true);
        });
    }
}

int attachment::run()
{
    const sigset_t stop = block_stop_signals();
    io_.start();
    bool ok = login() && find_luns() && open_device() && map_and_probe() && export_disks();
    if (ok) {
        say("iscsi-vscsi: attached; SIGINT or SIGTERM detaches");
        int sig = 0;
        sigwait(&stop, &sig);
        say("iscsi-vscsi: detaching");
    }
    detach();
    io_.stop();
    if (ok)
        say("iscsi-vscsi: detached");
    return ok ? 0 : 1;
}

} // namespace

int run_attach(std::span<const std::string> args)
{
    attach_options opts;
    std::string error;
    switch (parse_attach_options(args, opts, error)) {
    case parse_outcome::help:
        std::cout << attach_help();
        return 0;
    case parse_outcome::usage_error:
        std::cerr << "iscsi-vscsi: attach: " << error << " (try --help)\n";
        return 2;
    case parse_outcome::bad_value:
        std::cerr << "iscsi-vscsi: attach: " << error << '\n';
        return 1;
    case parse_outcome::ok:
        break;
    }
    attachment a(opts);
    return a.run();
}

} // namespace ivs::config
