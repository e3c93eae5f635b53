#include "test/support/process.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <poll.h>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <thread>
#include <utility>
#include <sys/wait.h>
#include <unistd.h>

// Linux only: the child's death signal and network namespaces. Elsewhere a
// child outlives an aborted test (kill_and_reap() still ends it), and a
// namespace cannot be asked for.
#if defined(__linux__)
#include <sched.h>
#include <sys/prctl.h>
#endif

namespace ivs::test {
namespace {

std::string join(const std::vector<std::string>& argv)
{
    std::string s;
    for (const auto& a : argv) {
        if (!s.empty())
            s += ' ';
        s += a;
    }
    return s;
}

std::vector<char*> c_argv(const std::vector<std::string>& argv)
{
    if (argv.empty())
        throw std::invalid_argument("process: empty argv");
    std::vector<char*> v;
    for (const auto& a : argv)
        v.push_back(const_cast<char*>(a.c_str()));
    v.push_back(nullptr);
    return v;
}

struct pipe_pair {
    int fd[2] = {-1, -1};
    pipe_pair()
    {
        if (pipe2(fd, O_CLOEXEC) != 0)
            throw std::runtime_error("pipe2 failed");
    }
    ~pipe_pair() { close_both(); }
    void close_both()
    {
        for (int& f : fd)
            if (f >= 0) {
                close(f);
                f = -1;
            }
    }
    pipe_pair(const pipe_pair&) = delete;
    pipe_pair& operator=(const pipe_pair&) = delete;
};

// fork + exec with stdin from /dev/null and stdout/stderr on out_fd/err_fd,
// optionally inside a network namespace (Linux). On Linux the child dies
// with this thread (PR_SET_PDEATHSIG). Exec failures come back through a
// CLOEXEC pipe, so a missing program is an exception here, not a
// mysterious exit status.
pid_t start_child(const std::vector<std::string>& argv, int out_fd, int err_fd, const std::string& ns_path)
{
#if !defined(__linux__)
    if (!ns_path.empty())
        throw std::runtime_error("cannot run " + join(argv) + " in " + ns_path + ": network namespaces are Linux-only");
#endif
    auto args = c_argv(argv);
    pipe_pair status;
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid < 0)
        throw std::runtime_error("fork failed for " + join(argv));
    if (pid == 0) {
        // Only async-signal-safe calls from here on.
        const int report = status.fd[1];
        auto fail = [report](const char* step) {
            int e = errno;
            (void)!write(report, &e, sizeof e);
            (void)!write(report, step, strlen(step));
            _exit(127);
        };
#if defined(__linux__)
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
            fail("prctl");
        if (getppid() != parent)
            _exit(127); // parent already gone
#else
        (void)parent;
#endif
        int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (devnull < 0 || dup2(devnull, STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0 ||
            dup2(err_fd, STDERR_FILENO) < 0)
            fail("redirect");
#if defined(__linux__)
        if (!ns_path.empty()) {
            int nsfd = open(ns_path.c_str(), O_RDONLY | O_CLOEXEC);
            if (nsfd < 0 || setns(nsfd, CLONE_NEWNET) != 0)
                fail("setns");
        }
#endif
        execvp(args[0], args.data());
        fail("exec");
    }
    close(status.fd[1]);
    status.fd[1] = -1;
    char buf[64] = {};
    ssize_t got;
    while ((got = read(status.fd[0], buf, sizeof buf - 1)) < 0 && errno == EINTR) {
    }
    if (got >= static_cast<ssize_t>(sizeof(int))) {
        int e;
        std::memcpy(&e, buf, sizeof e);
        int st;
        waitpid(pid, &st, 0);
        throw std::runtime_error("cannot run " + join(argv) + ": " + (buf + sizeof(int)) + ": " + std::strerror(e));
    }
    return pid;
}

} // namespace

std::string run_result::describe(const std::vector<std::string>& argv) const
{
    std::string s = join(argv) + ": ";
    if (timed_out)
        s += "timed out";
    else if (term_signal != 0)
        s += "killed by signal " + std::to_string(term_signal);
    else
        s += "exit " + std::to_string(exit_code);
    if (!out.empty())
        s += "\n--- stdout ---\n" + out;
    if (!err.empty())
        s += "\n--- stderr ---\n" + err;
    return s;
}

run_result run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout)
{
    pipe_pair out_pipe, err_pipe;
    const pid_t pid = start_child(argv, out_pipe.fd[1], err_pipe.fd[1], "");
    close(out_pipe.fd[1]);
    out_pipe.fd[1] = -1;
    close(err_pipe.fd[1]);
    err_pipe.fd[1] = -1;

    run_result r;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    pollfd fds[2] = {{out_pipe.fd[0], POLLIN, 0}, {err_pipe.fd[0], POLLIN, 0}};
    std::string* sinks[2] = {&r.out, &r.err};
    int open_fds = 2;
    while (open_fds > 0) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            r.timed_out = true;
            break;
        }
        int n = poll(fds, 2, static_cast<int>(left.count()));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || fds[i].revents == 0)
                continue;
            char buf[4096];
            ssize_t got = read(fds[i].fd, buf, sizeof buf);
            if (got > 0) {
                sinks[i]->append(buf, static_cast<std::size_t>(got));
            } else if (got == 0 || errno != EINTR) {
                fds[i].fd = -1; // EOF: the pipe_pair closes it
                --open_fds;
            }
        }
    }
    if (r.timed_out)
        kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status)) {
        r.exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        r.term_signal = WTERMSIG(status);
    }
    return r;
}

std::string run_checked(const std::vector<std::string>& argv, std::chrono::milliseconds timeout)
{
    run_result r = run(argv, timeout);
    if (!r.ok())
        throw std::runtime_error(r.describe(argv));
    return r.out;
}

pid_t spawn(const std::vector<std::string>& argv, const spawn_options& opts)
{
    const std::string log = opts.log_file.empty() ? "/dev/null" : opts.log_file.string();
    int logfd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (logfd < 0)
        throw std::runtime_error("cannot open " + log + ": " + std::strerror(errno));
    const std::string ns_path = opts.netns.empty() ? "" : "/var/run/netns/" + opts.netns;
    try {
        pid_t pid = start_child(argv, logfd, logfd, ns_path);
        close(logfd);
        return pid;
    } catch (...) {
        close(logfd);
        throw;
    }
}

bool reap_if_exited(pid_t pid, int* status)
{
    int st = 0;
    pid_t r;
    while ((r = waitpid(pid, &st, WNOHANG)) < 0 && errno == EINTR) {
    }
    if (r == pid) {
        if (status)
            *status = st;
        return true;
    }
    return r < 0; // ECHILD: already reaped
}

void kill_and_reap(pid_t pid)
{
    if (pid <= 0)
        return;
    if (kill(pid, SIGKILL) != 0 && errno == ESRCH) {
        reap_if_exited(pid);
        return;
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
}

child_process::child_process(const std::vector<std::string>& argv, const spawn_options& opts)
    : pid_(spawn(argv, opts)), log_(opts.log_file)
{}

child_process::~child_process() { kill(); }

child_process::child_process(child_process&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), status_(other.status_), log_(std::move(other.log_))
{}

child_process& child_process::operator=(child_process&& other) noexcept
{
    if (this != &other) {
        kill();
        pid_ = std::exchange(other.pid_, -1);
        status_ = other.status_;
        log_ = std::move(other.log_);
    }
    return *this;
}

// waitpid() for our own child: its status once it has ended, nullopt while it
// runs; an ECHILD (reaped elsewhere) ends it with no status.
std::optional<std::optional<int>> child_process::reap(bool block)
{
    int st = 0;
    pid_t r;
    while ((r = waitpid(pid_, &st, block ? 0 : WNOHANG)) < 0 && errno == EINTR) {
    }
    if (r == 0)
        return std::nullopt;
    return r == pid_ ? std::optional<int>(st) : std::nullopt;
}

bool child_process::running()
{
    if (pid_ <= 0)
        return false;
    if (auto ended = reap(false)) {
        pid_ = -1;
        status_ = *ended;
        return false;
    }
    return true;
}

int child_process::exit_code() const
{
    if (pid_ > 0 || !status_ || !WIFEXITED(*status_))
        return -1;
    return WEXITSTATUS(*status_);
}

int child_process::wait(std::chrono::milliseconds limit)
{
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (running()) {
        if (std::chrono::steady_clock::now() >= deadline)
            return -1;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return exit_code();
}

bool child_process::signal(int sig)
{
    // Never kill(0, ...) or kill(-1, ...): that signals every process we may.
    return running() && ::kill(pid_, sig) == 0;
}

int child_process::stop(int sig, std::chrono::milliseconds limit, on_timeout then)
{
    if (!signal(sig) && pid_ <= 0)
        return exit_code();
    if (wait(limit) == -1 && pid_ > 0) {
        if (then == on_timeout::kill)
            kill();
        return -1;
    }
    return exit_code();
}

void child_process::kill()
{
    if (pid_ <= 0)
        return;
    ::kill(pid_, SIGKILL);
    status_ = reap(true).value_or(std::nullopt);
    pid_ = -1;
}

std::string child_process::output() const
{
    if (log_.empty())
        return "";
    std::ifstream in(log_, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

bool child_process::wait_for_output(const std::string& text, std::chrono::milliseconds limit)
{
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
        if (output().find(text) != std::string::npos)
            return true;
        if (!running())
            return output().find(text) != std::string::npos;
        if (std::chrono::steady_clock::now() >= deadline)
            return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
}

std::string file_tail(const std::filesystem::path& path, std::size_t bytes)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return "";
    in.seekg(0, std::ios::end);
    const auto size = static_cast<std::size_t>(in.tellg());
    const auto start = size > bytes ? size - bytes : 0;
    in.seekg(static_cast<std::streamoff>(start));
    std::string s(size - start, '\0');
    in.read(s.data(), static_cast<std::streamsize>(s.size()));
    return s;
}

} // namespace ivs::test
