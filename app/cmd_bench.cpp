// iscsi-vscsi bench HOST[:PORT] IQN --lun N: log in, map one LUN through the
// bridge onto the embedded vscsi (no FUSE), wait for the midlayer probe, then
// keep --qd READs or WRITEs of --bs bytes in flight on the midlayer side for
// --seconds and report IOPS, MB/s, latency (submit to completion) and the
// process's CPU time on the standard output (the log goes to the standard
// error). Then flush, detach and log out as attach does (disk_attachment).
#include "app/commands.hpp"
#include "app/disk_attachment.hpp"
#include "app/host.hpp"
#include "config/initiator_name.hpp"
#include "config/options.hpp"

#include "vscsi/embedded_vscsi.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

namespace ivs::app {

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

constexpr config::option_spec bench_specs[] = {
    {"lun", true, false, "N", "remote LUN to drive (required)"},
    {"bs", true, false, "BYTES", "bytes per request, a multiple of the block size (default 4096)"},
    {"qd", true, false, "N", "requests kept in flight (default 1)"},
    {"seconds", true, false, "S", "how long to run (default 10)"},
    {"read", false, false, {}, "READ requests (the default)"},
    {"write", false, false, {}, "WRITE requests (overwrites the LUN's data)"},
    {"random", false, false, {}, "random offsets aligned to --bs (default sequential)"},
    {"max-transfer", true, false, "BYTES",
     "largest command of the vscsi split (default 1048576, as attach and serve on Linux; 65536 is OpenBSD's MAXPHYS)"},
    {"openings", true, false, "N",
     "commands in flight per LUN in the vscsi (default: enough for qd requests split by max-transfer, at least 16)"},
    {"header-digest", true, false, "LIST",
     "header digests in preference order: none, crc32c, crc32c,none or none,crc32c (default none)"},
    {"data-digest", true, false, "LIST", "data digests in preference order, as --header-digest (default none)"},
    {"initiator-name", true, false, "IQN", "initiator name (default: derived from the host name)"},
    {"json", false, false, {}, "print the result as one JSON object"},
    {"help", false, false, {}, "show this help"},
};

struct bench_options {
    iscsi::session_config session;
    std::uint64_t lun = 0;
    std::size_t bs = 4096;
    unsigned qd = 1;
    unsigned seconds = 10;
    bool write = false;
    bool random = false;
    std::size_t max_transfer = host_options{}.max_transfer;
    unsigned openings = 0; // 0: default_openings()
    bool json = false;
};

std::string bench_help()
{
    return "usage: iscsi-vscsi bench HOST[:PORT] IQN --lun N [options]\n\n"
           "Logs in to target IQN, attaches LUN N through the embedded vscsi (no FUSE) and\n"
           "keeps QD requests of BS bytes in flight for S seconds through the midlayer\n"
           "side, split by the maximum transfer as the kernel does. Prints IOPS, MB/s\n"
           "(10^6 bytes), mean and p99 latency (submit to completion) and the CPU time\n"
           "of the process during the run. --write overwrites the LUN.\n\noptions:\n" +
           config::format_options_help(bench_specs);
}

// Returns 0 when parsed, else the exit status (help: -1).
int parse_bench_options(std::span<const std::string> args, bench_options& out, std::string& error)
{
    config::parsed_options o;
    if (!config::parse_options(args, bench_specs, o, error))
        return 2;
    if (o.has("help"))
        return -1;
    if (o.positionals.size() != 2) {
        error = "expected HOST[:PORT] and IQN";
        return 2;
    }
    if (!o.has("lun")) {
        error = "--lun N is required";
        return 2;
    }
    auto& cfg = out.session;
    if (!iscsi::parse_portal(o.positionals[0], cfg.target_portal)) {
        error = "bad portal '" + o.positionals[0] + "' (expected HOST[:PORT])";
        return 1;
    }
    cfg.login.target_name = o.positionals[1];
    cfg.login.initiator_name = o.get("initiator-name", config::default_initiator_name());
    // A benchmark fails rather than silently reconnecting mid-run.
    cfg.recover = false;
    unsigned long long n = 0;
    auto number = [&](const char* name, unsigned long long lo, unsigned long long hi) {
        if (!config::parse_unsigned(o.get(name), lo, hi, n)) {
            error = std::string("bad --") + name + " '" + o.get(name) + "' (" + std::to_string(lo) + ".." +
                    std::to_string(hi) + ")";
            return false;
        }
        return true;
    };
    if (!number("lun", 0, 16383))
        return 1;
    out.lun = n;
    if (o.has("bs")) {
        if (!number("bs", 512, 64ull << 20))
            return 1;
        out.bs = n;
    }
    if (o.has("qd")) {
        if (!number("qd", 1, 1024))
            return 1;
        out.qd = static_cast<unsigned>(n);
    }
    if (o.has("seconds")) {
        if (!number("seconds", 1, 3600))
            return 1;
        out.seconds = static_cast<unsigned>(n);
    }
    if (o.has("max-transfer")) {
        if (!number("max-transfer", 512, 16ull << 20))
            return 1;
        out.max_transfer = n;
    }
    if (o.has("openings")) {
        if (!number("openings", 1, 4096))
            return 1;
        out.openings = static_cast<unsigned>(n);
    }
    if (o.has("read") && o.has("write")) {
        error = "--read and --write exclude each other";
        return 2;
    }
    out.write = o.has("write");
    out.random = o.has("random");
    out.json = o.has("json");
    if (o.has("header-digest") &&
        !iscsi::parse_digest_offer(o.get("header-digest"), cfg.login.proposals.header_digest)) {
        error = "bad --header-digest '" + o.get("header-digest") + "' (none, crc32c, crc32c,none or none,crc32c)";
        return 1;
    }
    if (o.has("data-digest") && !iscsi::parse_digest_offer(o.get("data-digest"), cfg.login.proposals.data_digest)) {
        error = "bad --data-digest '" + o.get("data-digest") + "' (none, crc32c, crc32c,none or none,crc32c)";
        return 1;
    }
    return 0;
}

// Openings that keep --qd requests in flight: each request of bs bytes is
// split into ceil(bs / max_transfer) commands, as the kernel splits by
// MAXPHYS, so with --max-transfer 65536 QD 8 of 1 MiB is 128 commands of 64
// KiB (iscsi-perf keeps 8 commands of 1 MiB). At least the kernel's 16, at
// most 4096.
unsigned default_openings(const bench_options& o)
{
    const std::uint64_t chunks = (o.bs + o.max_transfer - 1) / o.max_transfer;
    return static_cast<unsigned>(std::clamp<std::uint64_t>(chunks * o.qd, 16, 4096));
}

double cpu_seconds()
{
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
    return s(ru.ru_utime) + s(ru.ru_stime);
}

struct bench_result {
    std::uint64_t ios = 0;
    std::uint64_t failed = 0;
    double elapsed_s = 0;
    double cpu_s = 0;
    double lat_mean_us = 0;
    double lat_p99_us = 0;
    std::uint64_t max_in_flight = 0; // most SCSI commands dequeued by the bridge at once
};

class bench_run {
public:
    explicit bench_run(const bench_options& o) : opts_(o) {}
    int run();

private:
    bool attach();
    bool drive();
    void submit_next(unsigned slot);
    void completed(unsigned slot, const vscsi::scsi_completion& c);
    void print() const;
    unsigned openings() const { return opts_.openings ? opts_.openings : default_openings(opts_); }

    const bench_options& opts_;
    // The standard output holds the result alone; the log goes to stderr.
    const log::sink log_ = log::to_stderr();
    std::optional<host> host_;
    std::optional<disk_attachment> disks_;
    vscsi::embedded_vscsi* vscsi_ = nullptr;
    attached_lun disk_;
    bool header_digest_ = false, data_digest_ = false;

    // The load: one buffer per slot in flight, guarded by m_.
    std::mutex m_;
    std::condition_variable idle_cv_;
    std::vector<std::vector<std::byte>> buffers_;
    std::vector<clock_type::time_point> started_; // per slot: when its request was submitted
    unsigned in_flight_ = 0;
    bool stop_ = false;
    clock_type::time_point deadline_;
    std::uint64_t next_block_ = 0; // sequential cursor, in units of bs
    std::uint64_t span_ = 0;       // bs-sized units in the LUN
    std::mt19937_64 rng_{0x1505c51};
    std::vector<std::uint32_t> lat_us_;
    std::uint64_t failed_ = 0;
    std::string failure_;
    bench_result result_;
};

// Log in and attach the one LUN through the embedded vscsi (no export).
bool bench_run::attach()
{
    host_options ho;
    ho.max_transfer = opts_.max_transfer;
    ho.openings = static_cast<int>(openings());
    ho.log = log_;
    host_.emplace(ho);
    std::string error;
    if (host_->open(error)) {
        log_.error("bench: " + error);
        return false;
    }
    vscsi_ = host_->midlayer();
    if (!vscsi_) {
        log_.error("bench: drives the embedded vscsi, which this platform does not use");
        return false;
    }
    disk_attachment_options ao;
    ao.session = opts_.session;
    ao.luns = {opts_.lun};
    disks_.emplace(*host_, ao);
    if (!disks_->attach(error)) {
        log_.error("bench: " + error);
        return false;
    }
    const auto params = host_->io().call<iscsi::session_params>([&](auto done) { done(disks_->session()->params()); });
    header_digest_ = params.header_digest;
    data_digest_ = params.data_digest;
    disk_ = disks_->luns().front();
    if (disk_.device.empty() || disk_.block_size == 0 || disk_.block_count == 0) {
        log_.error("bench: LUN " + std::to_string(opts_.lun) + " did not attach as a disk with a capacity");
        return false;
    }
    if (opts_.bs % disk_.block_size != 0 || opts_.bs / disk_.block_size > disk_.block_count) {
        log_.error("bench: --bs " + std::to_string(opts_.bs) + " is not a multiple of the block size " +
                   std::to_string(disk_.block_size) + " within the LUN");
        return false;
    }
    return true;
}

// Picks the next offset and submits one request into `slot`; called with m_
// not held. A failed submit ends the run.
void bench_run::submit_next(unsigned slot)
{
    const std::uint32_t blocks_per = static_cast<std::uint32_t>(opts_.bs / disk_.block_size);
    std::uint64_t unit = 0;
    {
        std::lock_guard lock(m_);
        if (opts_.random) {
            unit = std::uniform_int_distribution<std::uint64_t>(0, span_ - 1)(rng_);
        } else {
            unit = next_block_;
            next_block_ = (next_block_ + 1) % span_;
        }
    }
    const std::uint64_t lba = unit * blocks_per;
    auto& buf = buffers_[slot];
    started_[slot] = clock_type::now();
    // Captures small enough for std::function's inline storage: no allocation per request.
    auto done = [this, slot](const vscsi::scsi_completion& c) { completed(slot, c); };
    const auto ec = opts_.write
                        ? vscsi_->submit_write(disk_.where.target, disk_.where.lun, lba, disk_.block_size, buf, done)
                        : vscsi_->submit_read(disk_.where.target, disk_.where.lun, lba, disk_.block_size, buf, done);
    if (ec) {
        std::lock_guard lock(m_);
        stop_ = true;
        if (failure_.empty())
            failure_ = "submit failed: " + ec.message();
        --in_flight_;
        idle_cv_.notify_all();
    }
}

void bench_run::completed(unsigned slot, const vscsi::scsi_completion& c)
{
    const auto now = clock_type::now();
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(now - started_[slot]).count();
    bool again = false;
    {
        std::lock_guard lock(m_);
        if (c.status == vscsi::vscsi_status::done && c.residual == 0) {
            lat_us_.push_back(static_cast<std::uint32_t>(std::min<long long>(us, UINT32_MAX)));
        } else {
            ++failed_;
            stop_ = true;
            if (failure_.empty())
                failure_ = "a request completed with status " + std::to_string(static_cast<int>(c.status));
        }
        if (now >= deadline_)
            stop_ = true;
        again = !stop_;
        if (!again) {
            --in_flight_;
            idle_cv_.notify_all();
        }
    }
    if (again)
        submit_next(slot);
}

bool bench_run::drive()
{
    span_ = disk_.block_count / (opts_.bs / disk_.block_size);
    buffers_.assign(opts_.qd, std::vector<std::byte>(opts_.bs));
    started_.assign(opts_.qd, clock_type::time_point{});
    for (auto& b : buffers_)
        for (std::size_t i = 0; i < b.size(); ++i)
            b[i] = static_cast<std::byte>(i * 131 + 7);
    lat_us_.reserve(1u << 20);
    log_.info(disk_.device + ": " + std::to_string(disk_.block_count) + " blocks of " +
              std::to_string(disk_.block_size) + " bytes; " + (opts_.random ? "random " : "sequential ") +
              (opts_.write ? "writes" : "reads") + " of " + std::to_string(opts_.bs) + " bytes at QD " +
              std::to_string(opts_.qd) + " for " + std::to_string(opts_.seconds) + " s");
    const double cpu0 = cpu_seconds();
    const auto t0 = clock_type::now();
    {
        std::lock_guard lock(m_);
        deadline_ = t0 + std::chrono::seconds(opts_.seconds);
        in_flight_ = opts_.qd;
    }
    for (unsigned i = 0; i < opts_.qd; ++i)
        submit_next(i);
    std::unique_lock lock(m_);
    // Bounded: every request has the session's command timeout behind it.
    idle_cv_.wait(lock, [&] { return in_flight_ == 0; });
    result_.elapsed_s = std::chrono::duration<double>(clock_type::now() - t0).count();
    result_.cpu_s = cpu_seconds() - cpu0;
    result_.ios = lat_us_.size();
    result_.failed = failed_;
    result_.max_in_flight =
        host_->io().call<std::uint64_t>([&](auto done) { done(host_->bridge().counters().max_outstanding); });
    if (!lat_us_.empty()) {
        double sum = 0;
        for (auto v : lat_us_)
            sum += v;
        result_.lat_mean_us = sum / static_cast<double>(lat_us_.size());
        const std::size_t k = std::min(lat_us_.size() - 1, lat_us_.size() * 99 / 100);
        std::nth_element(lat_us_.begin(), lat_us_.begin() + static_cast<std::ptrdiff_t>(k), lat_us_.end());
        result_.lat_p99_us = lat_us_[k];
    }
    if (!failure_.empty()) {
        log_.error("bench: " + failure_);
        return false;
    }
    return true;
}

void bench_run::print() const
{
    const double secs = result_.elapsed_s > 0 ? result_.elapsed_s : 1;
    const double iops = static_cast<double>(result_.ios) / secs;
    const double mbps = iops * static_cast<double>(opts_.bs) / 1e6;
    const char* mode = opts_.random ? (opts_.write ? "randwrite" : "randread") : (opts_.write ? "write" : "read");
    char line[512];
    if (opts_.json) {
        std::snprintf(line, sizeof line,
                      "{\"mode\":\"%s\",\"bs\":%zu,\"qd\":%u,\"seconds\":%.3f,\"ios\":%llu,\"iops\":%.1f,"
                      "\"mbps\":%.2f,\"lat_mean_us\":%.1f,\"lat_p99_us\":%.1f,\"cpu_s\":%.3f,"
                      "\"cpu_us_per_io\":%.2f,\"max_transfer\":%zu,\"openings\":%u,\"max_in_flight\":%llu,"
                      "\"header_digest\":%s,\"data_digest\":%s}",
                      mode, opts_.bs, opts_.qd, result_.elapsed_s, static_cast<unsigned long long>(result_.ios), iops,
                      mbps, result_.lat_mean_us, result_.lat_p99_us, result_.cpu_s,
                      result_.ios ? result_.cpu_s * 1e6 / static_cast<double>(result_.ios) : 0.0, opts_.max_transfer,
                      openings(), static_cast<unsigned long long>(result_.max_in_flight),
                      header_digest_ ? "true" : "false", data_digest_ ? "true" : "false");
    } else {
        std::snprintf(line, sizeof line,
                      "%s bs=%zu qd=%u: %llu I/Os in %.2f s: %.0f IOPS, %.2f MB/s, latency mean %.1f us, "
                      "p99 %.1f us, CPU %.3f s (%.2f us/IO)",
                      mode, opts_.bs, opts_.qd, static_cast<unsigned long long>(result_.ios), result_.elapsed_s, iops,
                      mbps, result_.lat_mean_us, result_.lat_p99_us, result_.cpu_s,
                      result_.ios ? result_.cpu_s * 1e6 / static_cast<double>(result_.ios) : 0.0);
    }
    std::cout << line << std::endl;
}

int bench_run::run()
{
    bool ok = attach() && drive();
    // Flush, detach, log out, as attach does.
    disks_.reset();
    host_.reset();
    if (ok)
        print();
    return ok ? 0 : 1;
}

} // namespace

int run_bench(std::span<const std::string> args)
{
    bench_options opts;
    std::string error;
    const int parsed = parse_bench_options(args, opts, error);
    if (parsed == -1) {
        std::cout << bench_help();
        return 0;
    }
    if (parsed != 0) {
        std::cerr << "iscsi-vscsi: bench: " << error << (parsed == 2 ? " (try --help)" : "") << '\n';
        return parsed;
    }
    bench_run b(opts);
    return b.run();
}

} // namespace ivs::app
