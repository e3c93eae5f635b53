// Randomized misbehaving-target runs: each seed draws a workload, the
// target's parameters and one fault of the catalog (test/support/chaos_faults.hpp),
// runs it through embedded vscsi + bridge + session against the chaos target
// and checks the invariants (test/bridge/chaos_run.hpp). A failure prints its
// seed, the fault kind and the command that replays it.
//
//   test_bridge_chaos                       the unit suite (Catch2)
//   test_bridge_chaos --seed N [--persistent] [--verbose]    one run, its journal
//   test_bridge_chaos --seeds FIRST:COUNT [--persistent|--both] [--jobs N]  (scripts/soak)
//   test_bridge_chaos --catalog             the fault kinds
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "chaos_run.hpp"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <string>
#include <vector>

// Under ASan the sanitizer reports a crash itself and exits: it calls the
// death callback, so the run under way is named there too.
#if defined(__SANITIZE_ADDRESS__)
#define IVS_CHAOS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define IVS_CHAOS_ASAN 1
#endif
#endif
#ifdef IVS_CHAOS_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

using namespace ivs::test::chaos;

namespace {

std::string program = "test_bridge_chaos";

struct cli {
    bool chaos_mode = false;
    std::optional<std::uint64_t> seed;
    std::uint64_t first = 0, count = 0;
    bool persistent = false, both = false, verbose = false, quiet = false, catalog = false, determinism = false;
    std::optional<fault_kind> kind;
    long progress_ms = 0, run_ms = 0;
};

std::string replay_command(const run_result& r)
{
    return program + " --seed " + std::to_string(r.seed) + (r.persistent ? " --persistent" : "") + " --verbose";
}

std::string headline(const run_result& r)
{
    const auto& f = r.failures.front();
    return "chaos FAIL seed " + std::to_string(r.seed) + (r.persistent ? " (persistent)" : " (transient)") + " kind " +
           std::string(info(r.kind).name) + " [" + std::string(info(r.kind).group) + "]: " + f.symptom + ": " +
           f.detail;
}

void print_failure(const run_result& r, bool verbose)
{
    std::cout << headline(r) << "\n";
    for (std::size_t i = 1; i < r.failures.size(); ++i)
        std::cout << "    also " << r.failures[i].symptom << ": " << r.failures[i].detail << "\n";
    std::cout << "    fault: " << info(r.kind).what << "\n    plan: " << r.plan << "\n    replay: " << replay_command(r)
              << "\n";
    if (verbose)
        for (const auto& l : r.journal)
            std::cout << "    | " << l << "\n";
    std::cout.flush();
}

run_options options_for(const cli& c, std::uint64_t seed, bool persistent)
{
    run_options o;
    o.seed = seed;
    o.persistent = persistent;
    o.kind = c.kind;
    o.verbose = c.verbose;
    if (c.progress_ms > 0)
        o.progress_limit = std::chrono::milliseconds(c.progress_ms);
    if (c.run_ms > 0)
        o.run_limit = std::chrono::milliseconds(c.run_ms);
    return o;
}

struct tally {
    unsigned runs = 0, failed = 0;
    std::chrono::milliseconds slowest{0};
    std::chrono::milliseconds passed_time{0}; // spent in runs that passed
    std::uint64_t slowest_seed = 0;
    // (kind, symptom) -> count and the first seed
    std::map<std::pair<std::string, std::string>, std::pair<unsigned, std::string>> by_kind;

    void add(const run_result& r)
    {
        ++runs;
        if (r.took > slowest) {
            slowest = r.took;
            slowest_seed = r.seed;
        }
        if (r.ok()) {
            passed_time += r.took;
            return;
        }
        ++failed;
        auto& e = by_kind[{std::string(info(r.kind).name) + (r.persistent ? " (persistent)" : ""),
                           r.failures.front().symptom}];
        if (e.first++ == 0)
            e.second = replay_command(r);
    }
    void print(std::chrono::milliseconds took) const
    {
        std::cout << "chaos: " << runs << " runs, " << failed << " failed, " << took.count() << " ms (passing runs "
                  << passed_time.count() << " ms; slowest " << slowest.count() << " ms, seed " << slowest_seed << ")\n";
        for (const auto& [k, v] : by_kind)
            std::cout << "  " << v.first << " x " << k.first << " -> " << k.second << "   e.g. " << v.second << "\n";
        std::cout.flush();
    }
};

// The wire and the midlayer as a run saw them: the PDUs in and out and the
// midlayer's commands and completions, in order (not the log lines, whose
// place depends on the login thread).
std::vector<std::string> behaviour(const run_result& r)
{
    std::vector<std::string> out;
    for (const auto& l : r.journal)
        if (l.find(": in  ") != std::string::npos || l.find(": out ") != std::string::npos ||
            l.rfind("midlayer:", 0) == 0)
            out.push_back(l);
    return out;
}

// Runs each seed twice and compares what happened. Runs whose PDUs differ
// are those where a real-time timer (the session's keepalive and command
// timeout, the bridge's BUSY retry) fired while other I/O was under way.
int check_determinism(const cli& c)
{
    unsigned same = 0, differ = 0;
    for (bool persistent : {false, true}) {
        if (persistent != c.persistent && !c.both)
            continue;
        for (std::uint64_t s = c.first; s < c.first + c.count; ++s) {
            cli v = c;
            v.verbose = true;
            const auto a = behaviour(run_one(options_for(v, s, persistent)));
            const run_result rb = run_one(options_for(v, s, persistent));
            const auto b = behaviour(rb);
            if (a == b) {
                ++same;
                continue;
            }
            ++differ;
            std::size_t i = 0;
            while (i < a.size() && i < b.size() && a[i] == b[i])
                ++i;
            std::cout << "seed " << s << (persistent ? " (persistent)" : "") << " kind " << info(rb.kind).name
                      << " differs at event " << i << ":\n    first:  " << (i < a.size() ? a[i] : "(end)")
                      << "\n    second: " << (i < b.size() ? b[i] : "(end)") << "\n";
        }
    }
    std::cout << "chaos determinism: " << same << " runs repeated exactly, " << differ << " differed\n";
    return differ == 0 ? 0 : 1;
}

tally run_range(const cli& c, std::uint64_t first, std::uint64_t count, bool persistent)
{
    tally t;
    for (std::uint64_t s = first; s < first + count; ++s) {
        const run_result r = run_one(options_for(c, s, persistent));
        t.add(r);
        if (!r.ok() && !c.quiet)
            print_failure(r, c.verbose);
    }
    return t;
}

// ---- crash reports ----

void write_str(const char* s) { (void)!::write(2, s, std::strlen(s)); }

void write_num(std::uint64_t v)
{
    char buf[24];
    int i = 23;
    buf[i] = 0;
    do {
        buf[--i] = static_cast<char>('0' + v % 10);
        v /= 10;
    } while (v);
    write_str(buf + i);
}

void report_crash()
{
    if (!current_run.active)
        return;
    write_str("\nchaos CRASH during seed ");
    write_num(current_run.seed);
    write_str(current_run.persistent ? " (persistent)" : " (transient)");
    write_str(" kind ");
    write_str(current_run.kind);
    write_str("\n    replay: ");
    write_str(program.c_str());
    write_str(" --seed ");
    write_num(current_run.seed);
    write_str(current_run.persistent ? " --persistent --verbose\n" : " --verbose\n");
}

void on_signal(int sig)
{
    report_crash();
    ::signal(sig, SIG_DFL);
    ::raise(sig);
}

void install_crash_reports()
{
    for (int sig : {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL})
        ::signal(sig, on_signal);
#ifdef IVS_CHAOS_ASAN
    __sanitizer_set_death_callback(report_crash);
#endif
}

bool parse(int argc, char** argv, cli& c, std::vector<char*>& rest)
{
    rest.push_back(argv[0]);
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc)
                throw std::invalid_argument(a + " needs a value");
            return argv[++i];
        };
        if (a == "--seed") {
            c.seed = std::stoull(value());
            c.chaos_mode = true;
        } else if (a == "--seeds") {
            const std::string v = value();
            const auto colon = v.find(':');
            c.first = colon == std::string::npos ? 0 : std::stoull(v.substr(0, colon));
            c.count = std::stoull(colon == std::string::npos ? v : v.substr(colon + 1));
            c.chaos_mode = true;
        } else if (a == "--persistent") {
            c.persistent = true;
        } else if (a == "--both") {
            c.both = true;
        } else if (a == "--verbose") {
            c.verbose = true;
        } else if (a == "--quiet") {
            c.quiet = true;
        } else if (a == "--kind") {
            const std::string v = value();
            c.kind = parse_fault(v);
            if (!c.kind)
                throw std::invalid_argument("unknown fault kind " + v + " (see --catalog)");
        } else if (a == "--progress-ms") {
            c.progress_ms = std::stol(value());
        } else if (a == "--run-ms") {
            c.run_ms = std::stol(value());
        } else if (a == "--check-determinism") {
            c.determinism = true;
        } else if (a == "--catalog") {
            c.catalog = true;
            c.chaos_mode = true;
        } else {
            rest.push_back(argv[i]);
        }
    }
    return true;
}

int chaos_main(const cli& c)
{
    if (c.catalog) {
        for (const auto& f : fault_catalog())
            std::cout << f.name << " [" << f.group << "]: " << f.what << "\n";
        std::cout << fault_catalog().size() << " kinds\n";
        return 0;
    }
    if (c.determinism)
        return check_determinism(c);
    if (c.seed) {
        cli v = c;
        v.verbose = true;
        const run_result r = run_one(options_for(v, *c.seed, c.persistent));
        if (r.ok()) {
            for (const auto& l : r.journal)
                std::cout << "    | " << l << "\n";
            std::cout << "chaos PASS seed " << r.seed << (r.persistent ? " (persistent)" : " (transient)") << " kind "
                      << info(r.kind).name << ": " << r.commands << " commands, " << r.errors << " errors, " << r.logins
                      << " logins, fault fired " << r.fired << "x, " << r.took.count() << " ms\n    plan: " << r.plan
                      << "\n";
            return 0;
        }
        print_failure(r, true);
        return 1;
    }
    const auto t0 = std::chrono::steady_clock::now();
    tally all;
    for (bool persistent : {false, true}) {
        if (persistent != c.persistent && !c.both)
            continue;
        const tally t = run_range(c, c.first, c.count, persistent);
        all.runs += t.runs;
        all.failed += t.failed;
        all.passed_time += t.passed_time;
        if (t.slowest > all.slowest) {
            all.slowest = t.slowest;
            all.slowest_seed = t.slowest_seed;
        }
        for (const auto& [k, v] : t.by_kind)
            all.by_kind[k] = v;
    }
    all.print(std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0));
    return all.failed == 0 ? 0 : 1;
}

void unit_range(bool persistent, std::uint64_t count)
{
    cli c;
    const auto t0 = std::chrono::steady_clock::now();
    const tally t = run_range(c, 0, count, persistent);
    t.print(std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0));
    INFO(t.failed << " of " << t.runs << " runs failed (each printed above with its replay command)");
    CHECK(t.failed == 0);
}

} // namespace

TEST_CASE("chaos: the catalog has at least 25 kinds, each with a name", "[chaos]")
{
    CHECK(fault_catalog().size() >= 25);
    for (const auto& f : fault_catalog()) {
        CHECK(parse_fault(f.name) == f.kind);
        CHECK(!f.what.empty());
    }
}

TEST_CASE("chaos: 500 seeds, one transient fault each, through the bridge", "[chaos]") { unit_range(false, 500); }

TEST_CASE("chaos: 500 seeds, one persistent fault each, through the bridge", "[chaos]") { unit_range(true, 500); }

int main(int argc, char** argv)
{
    program = argv[0];
    install_crash_reports();
    cli c;
    std::vector<char*> rest;
    try {
        parse(argc, argv, c, rest);
    } catch (const std::exception& e) {
        std::cerr << program << ": " << e.what() << "\n";
        return 2;
    }
    if (c.chaos_mode)
        return chaos_main(c);
    Catch::Session session;
    return session.run(static_cast<int>(rest.size()), rest.data());
}
