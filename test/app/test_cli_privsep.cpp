// Integration: `iscsi-vscsi serve`'s privilege separation, its refusal to
// detach a disk in use, and iscsictl(8)'s show verbs, against real tgtd
// fixtures, real FUSE, real loop devices and ext4:
// - the worker runs as an unprivileged user, chrooted, with no capability
//   and no way to gain one, and holds no descriptor of the configuration or
//   its secret files;
// - a secret changed on disk reaches the worker only through a reload (the
//   worker's own retries keep failing with the old one);
// - an export file open, or a mounted ext4 on a loop device over it, blocks
//   detach and SIGTERM with a message naming the disk; detach -f forces; a
//   disk not in use detaches;
// - show, show summary, show vscsi stats, status with the digests.
#include "test/support/process.hpp"
#include "test/support/serve_process.hpp"
#include "test/support/tgtd_fixture.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

using namespace ivs;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
using test::contains;
using test::serve_process;

namespace {

const std::string iqn_base = "iqn.2026-11.org.iscsi-vscsi.privsep:";

std::string target_block(const std::string& name, const test::tgtd_fixture& t, const std::string& iqn,
                         const fs::path& export_dir, const std::string& extra = "")
{
    return "target " + name + " {\n\ttargetaddr " + t.host() + " port " + std::to_string(t.port()) +
           "\n\ttargetname \"" + iqn + "\"\n" +
           (export_dir.empty() ? std::string() : "\texport \"" + export_dir.string() + "\"\n") + extra + "}\n";
}

// "Key:\tvalue" of /proc/PID/status.
std::string status_field(pid_t pid, const std::string& key)
{
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(key + ":", 0) == 0) {
            auto v = line.substr(key.size() + 1);
            v.erase(0, v.find_first_not_of(" \t"));
            v.erase(v.find_last_not_of(" \t") + 1);
            return v;
        }
    return {};
}

std::string trim(std::string s)
{
    while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
        s.pop_back();
    return s;
}

struct loop_mount {
    std::string loop;
    fs::path mountpoint;
    ~loop_mount() { release(); }
    void release()
    {
        if (!mountpoint.empty() && test::is_mounted(mountpoint))
            test::run({"umount", "-l", mountpoint.string()});
        if (!loop.empty())
            test::run({"losetup", "-d", loop});
        loop.clear();
    }
};

} // namespace

TEST_CASE("serve's worker runs unprivileged, chrooted, without the configuration's files",
          "[cli][serve][privsep][tgtd]")
{
    test::tgtd_fixture filer;
    filer.add_target(1, iqn_base + "chap");
    filer.add_file_lun(1, 1, 16 << 20);
    filer.add_incoming_account(1, "host1", "host1-secret-0123");
    filer.allow_initiator_address(1);
    const fs::path work = filer.temp_dir();
    const fs::path exp = work / "exp";
    fs::create_directories(exp);
    const fs::path secret = work / "host1.secret";
    test::write_file_mode(secret, "host1-secret-0123\n");
    const fs::path conf = work / "iscsi-vscsi.conf";
    test::write_file_mode(conf, target_block("chap", filer, iqn_base + "chap", exp,
                                             "\tchap user host1 secret-file \"" + secret.string() + "\"\n"));

    serve_process serve(conf, work, {"-u", "nobody"});
    serve.watch_mount(exp);
    INFO(serve.log());
    REQUIRE(filer.connections(1).size() == 1);
    REQUIRE(fs::file_size(exp / "lun1") == (16u << 20));

    const pid_t w = serve.worker();
    REQUIRE(w > 0);
    const passwd* nobody = ::getpwnam("nobody");
    REQUIRE(nobody != nullptr);
    const std::string uid = std::to_string(nobody->pw_uid);
    CHECK(status_field(w, "Uid") == uid + "\t" + uid + "\t" + uid + "\t" + uid);
    CHECK(status_field(w, "Groups") == std::to_string(nobody->pw_gid));
    for (const char* set : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"})
        CHECK(status_field(w, set) == "0000000000000000");
    CHECK(status_field(w, "NoNewPrivs") == "1");
    CHECK(fs::read_symlink("/proc/" + std::to_string(w) + "/root") == "/var/empty");
    // The parent stays root: it mounts and reads the secrets.
    CHECK(status_field(serve.pid(), "Uid").rfind("0\t", 0) == 0);

    // No descriptor of the configuration or the secret file in the worker;
    // the FUSE mount's descriptor is there (the parent mounted, it serves).
    bool fuse_fd = false;
    for (const auto& e : fs::directory_iterator("/proc/" + std::to_string(w) + "/fd")) {
        std::error_code ec;
        const auto target = fs::read_symlink(e.path(), ec).string();
        CHECK(target != conf.string());
        CHECK(target != secret.string());
        fuse_fd |= target == "/dev/fuse";
    }
    CHECK(fuse_fd);
    // With the worker's credentials the secret file cannot be read (what a
    // compromised worker could do short of a kernel hole, even outside its
    // chroot).
    auto r = test::run({"setpriv", "--reuid=" + uid, "--regid=" + std::to_string(nobody->pw_gid), "--clear-groups",
                        "--bounding-set=-all", "--no-new-privs", "cat", secret.string()});
    CHECK(r.exit_code != 0);
    CHECK(contains(r.err, "Permission denied"));
    CHECK_FALSE(contains(r.out, "host1-secret"));

    // I/O through the export the parent mounted and the worker serves.
    const std::string pattern(1 << 20, 'z');
    std::ofstream(work / "pattern.bin", std::ios::binary) << pattern;
    REQUIRE(test::run({"dd", "if=" + (work / "pattern.bin").string(), "of=" + (exp / "lun1").string(), "bs=64k",
                       "oflag=direct", "conv=notrunc,fsync", "status=none"})
                .ok());
    CHECK(test::run(
              {"cmp", "-n", std::to_string(1 << 20), (work / "pattern.bin").string(), filer.lun_path(1, 1).string()})
              .ok());

    CHECK(serve.stop() == 0);
    CHECK(filer.connections(1).empty());
    CHECK_FALSE(test::is_mounted(exp));
    CHECK_FALSE(fs::exists(serve.socket()));
    CHECK(::kill(w, 0) != 0); // the worker is gone too
}

TEST_CASE("a changed secret reaches the worker through the parent's reload only", "[cli][serve][privsep][tgtd]")
{
    test::tgtd_fixture filer;
    filer.add_target(1, iqn_base + "rotated");
    filer.add_file_lun(1, 1, 8 << 20);
    filer.add_incoming_account(1, "host2", "the-right-secret-42");
    filer.allow_initiator_address(1);
    const fs::path work = filer.temp_dir();
    const fs::path secret = work / "host2.secret";
    test::write_file_mode(secret, "a-wrong-secret-0000\n");
    const fs::path conf = work / "iscsi-vscsi.conf";
    test::write_file_mode(conf, target_block("rotated", filer, iqn_base + "rotated", {},
                                             "\tchap user host2 secret-file \"" + secret.string() + "\"\n"));
    serve_process serve(conf, work);
    INFO(serve.log());
    CHECK(filer.connections(1).empty()); // refused: the wrong secret
    auto st = serve.ctl({"status", "--json"});
    CHECK(contains(st.out, "\"name\":\"rotated\",\"type\":\"normal\",\"error\":\"target rotated ("));

    // The right secret on disk: the worker's retries (every 10 s) still use
    // what the parent gave it, it cannot read the file itself.
    test::write_file_mode(secret, "the-right-secret-42\n");
    const auto retries = [&] {
        std::size_t n = 0;
        for (std::size_t at = 0; (at = serve.log().find("attaching again", at)) != std::string::npos; ++at)
            ++n;
        return n;
    };
    const std::size_t before = retries();
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (retries() < before + 1 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(100ms);
    REQUIRE(retries() >= before + 1);
    std::this_thread::sleep_for(1s); // that retry's login done
    CHECK(filer.connections(1).empty());

    // reload: the parent reads the secret again and hands it over.
    auto rl = serve.ctl({"reload"});
    INFO(rl.describe({"reload"}));
    CHECK(rl.ok());
    CHECK(filer.connections(1).size() == 1);
    st = serve.ctl({"status"});
    CHECK(contains(st.out, "logged in"));
    CHECK(serve.stop() == 0);
    CHECK(filer.connections(1).empty());
}

TEST_CASE("a disk in use is not detached by detach or SIGTERM unless forced", "[cli][serve][privsep][tgtd]")
{
    test::tgtd_fixture filer;
    filer.add_target(1, iqn_base + "busy");
    filer.add_file_lun(1, 1, 64 << 20);
    filer.add_target(2, iqn_base + "idle");
    filer.add_file_lun(2, 1, 8 << 20);
    filer.allow_initiator_address(1);
    filer.allow_initiator_address(2);
    const fs::path work = filer.temp_dir();
    const fs::path exp_busy = work / "exp-busy", exp_idle = work / "exp-idle", mnt = work / "mnt";
    for (const auto& d : {exp_busy, exp_idle, mnt})
        fs::create_directories(d);
    const fs::path conf = work / "iscsi-vscsi.conf";
    test::write_file_mode(conf, target_block("busy", filer, iqn_base + "busy", exp_busy) +
                                    target_block("idle", filer, iqn_base + "idle", exp_idle));
    serve_process serve(conf, work);
    serve.watch_mount(exp_busy);
    serve.watch_mount(exp_idle);
    INFO(serve.log());
    const fs::path file = exp_busy / "lun1";
    REQUIRE(fs::file_size(file) == (64u << 20));

    // ext4 on a loop device over the export file, mounted.
    loop_mount lm;
    auto r = test::run({"losetup", "--find", "--show", file.string()});
    REQUIRE(r.ok());
    lm.loop = trim(r.out);
    REQUIRE(test::run({"mkfs.ext4", "-q", "-F", lm.loop}, 60s).ok());
    REQUIRE(test::run({"mount", lm.loop, mnt.string()}).ok());
    lm.mountpoint = mnt;
    std::ofstream(mnt / "hello.txt") << "still here\n";

    // detach: refused, the disk named, the target still logged in.
    auto dt = serve.ctl({"detach", "busy"});
    INFO(dt.describe({"detach", "busy"}));
    CHECK(dt.exit_code == 1);
    CHECK(contains(dt.err, "target busy: disk LUN 1 (sd0), " + file.string() +
                               ", is in use: 1 open handle on the "
                               "export file; " +
                               lm.loop + " backs it (" + lm.loop + " mounted on " + mnt.string() + ")"));
    CHECK(contains(dt.err, "detach -f busy"));
    CHECK(filer.connections(1).size() == 1);
    // A disk nobody uses detaches.
    CHECK(serve.ctl({"detach", "idle"}).ok());
    CHECK(filer.connections(2).empty());
    CHECK_FALSE(test::is_mounted(exp_idle));

    // SIGTERM: serve stays, says why, and keeps serving the disk.
    REQUIRE(serve.signal(SIGTERM));
    REQUIRE(serve.wait_for_log("not stopping: 1 disk in use"));
    CHECK(contains(serve.log(), "target busy: disk LUN 1 (sd0), " + file.string() + ", is in use"));
    CHECK(serve.running());
    CHECK(filer.connections(1).size() == 1);
    std::ofstream(mnt / "more.txt") << "written after the refused SIGTERM\n";
    CHECK(test::run({"sync"}).ok());
    CHECK(test::read_text(mnt / "hello.txt") == "still here\n");

    // Unmounted and the loop device gone: SIGTERM detaches and serve exits.
    lm.release();
    int status = -1;
    for (int i = 0; i < 20 && serve.running(); ++i)
        status = serve.stop(SIGTERM, 3s); // the last handle may be released a moment after losetup -d
    CHECK(status == 0);
    CHECK(filer.connections(1).empty());
    CHECK_FALSE(test::is_mounted(exp_busy));
    // What was written on the disk arrived.
    r = test::run({"fsck.ext4", "-n", "-f", filer.lun_path(1, 1).string()}, 60s);
    INFO(r.out << r.err);
    CHECK(r.ok());
}

TEST_CASE("detach -f detaches a disk in use", "[cli][serve][privsep][tgtd]")
{
    test::tgtd_fixture filer;
    filer.add_target(1, iqn_base + "forced");
    filer.add_file_lun(1, 1, 32 << 20);
    filer.allow_initiator_address(1);
    const fs::path work = filer.temp_dir();
    const fs::path exp = work / "exp", mnt = work / "mnt";
    fs::create_directories(exp);
    fs::create_directories(mnt);
    const fs::path conf = work / "iscsi-vscsi.conf";
    test::write_file_mode(conf, target_block("forced", filer, iqn_base + "forced", exp));
    serve_process serve(conf, work);
    serve.watch_mount(exp);
    INFO(serve.log());

    // The export file merely open (no file system): in use all the same.
    {
        const int fd = ::open((exp / "lun1").c_str(), O_RDONLY | O_CLOEXEC);
        REQUIRE(fd >= 0);
        auto dt = serve.ctl({"detach", "forced"});
        ::close(fd);
        INFO(dt.describe({"detach", "forced"}));
        CHECK(dt.exit_code == 1);
        CHECK(contains(dt.err, "target forced: disk LUN 1 (sd0), " + (exp / "lun1").string() +
                                   ", is in use: 1 open handle on the export file\n"));
        CHECK(filer.connections(1).size() == 1);
    }

    loop_mount lm;
    auto r = test::run({"losetup", "--find", "--show", (exp / "lun1").string()});
    REQUIRE(r.ok());
    lm.loop = trim(r.out);
    REQUIRE(test::run({"mkfs.ext4", "-q", "-F", lm.loop}, 60s).ok());
    REQUIRE(test::run({"mount", lm.loop, mnt.string()}).ok());
    lm.mountpoint = mnt;

    auto dt = serve.ctl({"detach", "-f", "forced"});
    INFO(dt.describe({"detach", "-f", "forced"}));
    CHECK(dt.ok());
    CHECK(contains(dt.out, "detached forced"));
    CHECK(contains(serve.log(), "is in use: 1 open handle on the export file"));
    CHECK(contains(serve.log(), "detached anyway (forced)"));
    CHECK(filer.connections(1).empty());
    CHECK_FALSE(test::is_mounted(exp)); // lazily detached, its connection aborted
    lm.release();
    CHECK(serve.stop() == 0);
}

TEST_CASE("show, show summary, show vscsi stats and status as an OpenBSD admin uses them", "[cli][serve][tgtd]")
{
    test::tgtd_fixture filer;
    filer.add_target(1, iqn_base + "shown");
    filer.add_file_lun(1, 1, 8 << 20);
    filer.allow_initiator_address(1);
    filer.set_target_param(1, "HeaderDigest", "CRC32C,None");
    const fs::path work = filer.temp_dir();
    const fs::path exp = work / "exp";
    fs::create_directories(exp);
    const fs::path conf = work / "iscsi-vscsi.conf";
    test::write_file_mode(conf,
                          "isid en 32473 17\n" + target_block("shown", filer, iqn_base + "shown", exp,
                                                              "\theader-digest crc32c\n\tdata-digest none,crc32c\n"));
    serve_process serve(conf, work);
    serve.watch_mount(exp);
    INFO(serve.log());

    const std::string portal = filer.host() + ":" + std::to_string(filer.port());
    auto sh = serve.ctl({"show"});
    INFO(sh.describe({"show"}));
    REQUIRE(sh.ok());
    CHECK(sh.out.rfind("Initiator: ISID base 40007ed9 qualifier 11\n", 0) == 0);
    CHECK(contains(sh.out, "\nSession 'shown':\n    SessionType: normal\tMaxConnections: 1\n    TargetName: " +
                               iqn_base + "shown\n    TargetAddr: " + portal + "\n"));
    CHECK(contains(sh.out, "    InitiatorAddr: any\n"));
    CHECK(contains(sh.out, "    State: logged in\tHeaderDigest: CRC32C\tDataDigest: None\tISID base 40007ed9 "
                           "qualifier 11\n"));
    CHECK(serve.ctl({"show", "summary"}).out == sh.out);
    CHECK(serve.ctl({"show", "sum"}).out == sh.out); // iscsictl's abbreviations

    // Status names the negotiated digests too.
    auto st = serve.ctl({"status"});
    CHECK(contains(st.out, "HeaderDigest CRC32C, DataDigest None"));
    st = serve.ctl({"status", "--json"});
    CHECK(contains(st.out, "\"HeaderDigest\":\"CRC32C\",\"DataDigest\":\"None\""));

    // 1 MiB written and read through the export.
    const std::string pattern(1 << 20, 'v');
    std::ofstream(work / "p.bin", std::ios::binary) << pattern;
    REQUIRE(test::run({"dd", "if=" + (work / "p.bin").string(), "of=" + (exp / "lun1").string(), "bs=64k",
                       "oflag=direct", "conv=notrunc,fsync", "status=none"})
                .ok());
    REQUIRE(test::run({"dd", "if=" + (exp / "lun1").string(), "of=/dev/null", "bs=64k", "count=16", "iflag=direct",
                       "status=none"})
                .ok());
    auto vs = serve.ctl({"show", "vscsi", "stats"});
    INFO(vs.out);
    REQUIRE(vs.ok());
    // LUN 0 (tgtd's controller, which no driver takes) and LUN 1 probed.
    CHECK(vs.out.rfind("VSCSI ioctl statistics:\n2 probe calls and 0 detach calls\n", 0) == 0);
    CHECK(contains(vs.out, " data writes (1.0M bytes written)\n"));
    CHECK(contains(vs.out, " sense errors, 0 errors)\n"));
    CHECK(serve.ctl({"show", "v", "s"}).out.substr(0, 40) == vs.out.substr(0, 40));

    auto bad = serve.ctl({"show", "nothing"});
    CHECK(bad.exit_code == 2);
    CHECK(serve.ctl({"show", "s"}).exit_code == 2); // summary or session, as iscsictl says
    CHECK(serve.stop() == 0);
}
