"""Shared parts of bench/compare and bench/fio_export: the targets they start
(tgtd and bench/null_target on a free loopback port, stopped by PID), the
three ways of driving a LUN (libiscsi's tools, `iscsi-vscsi bench`, fio on
the file an `iscsi-vscsi attach --export` shows), and CPU accounting.

Client CPU of a run is the user+sys time of the processes doing the I/O:
the tool's own (os.times() children delta), plus for the exported file the
attach process's (from /proc/PID/stat), since it does the iSCSI side."""
import json
import os
import random
import re
import signal
import socket
import subprocess
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def end_process(proc, timeout):
    """SIGTERM to a child this script started, SIGKILL after `timeout` s; reaped."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Tgtd:
    """tgtd on a free loopback portal with one LUN (LUN 1): a null LUN of 1 TiB
    (--bstype null), or with backing=PATH a file LUN over that file (bstype
    rdwr; block_size 512 or 4096). CRC32C digests allowed (tgtd answers None
    to a digest offer otherwise)."""
    name = "tgtd"
    IQN = "iqn.2026-11.org.iscsi-vscsi.bench:compare"
    lun = 1

    def __init__(self, tools, log_path, backing=None, block_size=512):
        self.port = free_port()
        self.ctl = random.randint(20000, 32000)
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(
            ["tgtd", "-f", "-C", str(self.ctl), "--iscsi", f"portal=127.0.0.1:{self.port}"],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.portal = f"127.0.0.1:{self.port}"
        lu = ["--bstype", "null", "-b", "/dev/null"] if backing is None else ["--bstype", "rdwr", "-b", backing]
        if block_size != 512:
            lu += ["--blocksize", str(block_size)]
        try:
            for _ in range(100):
                if self.proc.poll() is not None:
                    raise RuntimeError(f"tgtd exited at start-up (see {log_path})")
                if subprocess.run(self.adm("--op", "show", "--mode", "target"),
                                  capture_output=True).returncode == 0:
                    break
                time.sleep(0.05)
            else:
                raise RuntimeError("tgtd does not answer tgtadm")
            for args in (("--op", "new", "--mode", "target", "--tid", "1", "-T", self.IQN),
                         ("--op", "new", "--mode", "logicalunit", "--tid", "1", "--lun", "1", *lu),
                         ("--op", "bind", "--mode", "target", "--tid", "1", "-I", "ALL"),
                         ("--op", "update", "--mode", "target", "--tid", "1", "-n", "HeaderDigest",
                          "-v", "None,CRC32C"),
                         ("--op", "update", "--mode", "target", "--tid", "1", "-n", "DataDigest",
                          "-v", "None,CRC32C")):
                p = subprocess.run(self.adm(*args), capture_output=True, text=True)
                if p.returncode != 0:
                    raise RuntimeError(f"tgtadm {' '.join(args)}: {p.stdout}{p.stderr}")
        except BaseException:
            self.stop()
            raise

    def adm(self, *args):
        return ["tgtadm", "-C", str(self.ctl), "--lld", "iscsi", *args]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)  # tgtd ignores SIGTERM
        self.proc.wait()
        self.log.close()


class NullTarget:
    """bench/null_target on a free loopback port: a null LUN 0 with fast
    (ISA-L) CRC32C digests."""
    name = "null_target"
    IQN = "iqn.2026-11.org.iscsi-vscsi.bench:null"
    lun = 0

    def __init__(self, tools, log_path):
        path = tools["null_target"]
        if not os.access(path, os.X_OK):
            raise RuntimeError(f"{path} is missing (or pass --targets tgtd)")
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen([path, "--port", "0", "--iqn", self.IQN],
                                     stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline()
        m = re.search(r"listening on (\S+):(\d+)", line)
        if not m:
            self.stop()
            raise RuntimeError(f"null_target did not start: {line!r} (see {log_path})")
        self.portal = f"{m.group(1)}:{m.group(2)}"

    def stop(self):
        end_process(self.proc, 10)
        self.log.close()


TARGETS = {"tgtd": Tgtd, "null_target": NullTarget}


def tools_of(build):
    """Where the tools of a build dir are."""
    return {"ivs": os.path.join(build, "app", "iscsi-vscsi"),
            "write_perf": os.path.join(build, "bench", "iscsi_write_perf"),
            "iscsi_perf": "iscsi-perf",
            "null_target": os.path.join(build, "bench", "null_target"),
            "fuse_null": os.path.join(build, "bench", "fuse_null")}


def run_child(argv, timeout):
    """Runs argv and returns its stdout; raises on failure or timeout."""
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        raise RuntimeError(f"{argv[0]} did not finish within {timeout} s")
    except BaseException:  # Ctrl-C, SIGTERM: leave no tool running
        p.kill()
        p.wait()
        raise
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({p.returncode}): {err.decode(errors='replace')[-500:]}")
    return out.decode(errors="replace")


class ChildCpu:
    """CPU seconds (user+sys) of the children reaped between enter and exit."""
    def __enter__(self):
        r = os.times()
        self.start = r.children_user + r.children_system
        return self

    def __exit__(self, *exc):
        r = os.times()
        self.seconds = r.children_user + r.children_system - self.start


def process_cpu(pid):
    """CPU seconds (user+sys) a process has used so far, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---- the three sides ---------------------------------------------------------

def libiscsi_run(tools, target, mode, bs, qd, seconds, digests="off"):
    """iscsi-perf (READ) or bench/iscsi_write_perf (WRITE), sequential.
    Returns {iops, cpu_s, ios}."""
    url = f"iscsi://{target.portal}/{target.IQN}/{target.lun}"
    if digests == "header":
        url += "?header_digest=crc32c"
    prog = tools["iscsi_perf"] if mode in ("read", "randread") else tools["write_perf"]
    with ChildCpu() as cpu:
        out = run_child([prog, "-m", str(qd), "-b", str(bs // 512), "-t", str(seconds), url], seconds + 60)
    found = re.findall(r"iops average (\d+)", out.replace("\r", "\n"))
    if not found:
        raise RuntimeError(f"no 'iops average' in the output of {prog}: {out[-300:]}")
    iops = float(found[-1])
    return {"iops": iops, "cpu_s": cpu.seconds, "ios": max(1.0, iops * seconds)}


def engine_run(tools, target, mode, bs, qd, seconds, digests="off", extra=()):
    """`iscsi-vscsi bench`: the engine through the embedded vscsi, no FUSE.
    Returns {iops, cpu_s, ios, lat_us}."""
    argv = [tools["ivs"], "bench", target.portal, target.IQN, "--lun", str(target.lun), "--bs", str(bs),
            "--qd", str(qd), "--seconds", str(seconds), "--" + mode.replace("rand", ""), "--json", *extra]
    if mode.startswith("rand"):
        argv.append("--random")
    if digests in ("header", "header+data"):
        argv += ["--header-digest", "crc32c"]
    if digests == "header+data":
        argv += ["--data-digest", "crc32c"]
    with ChildCpu() as cpu:
        out = run_child(argv, seconds + 120)
    r = json.loads(out)
    return {"iops": r["iops"], "cpu_s": cpu.seconds, "ios": max(1, r["ios"]), "lat_us": r["lat_mean_us"]}


class Attachment:
    """`iscsi-vscsi attach PORTAL IQN --lun N --export DIR`, running until
    stop() (SIGTERM, then a clean exit is waited for)."""

    def __init__(self, tools, target, extra=(), log_dir=None):
        self.dir = tempfile.mkdtemp(prefix="ivs-fio-export-")
        self.export = os.path.join(self.dir, "export")
        os.mkdir(self.export)
        self.log_path = os.path.join(log_dir or self.dir, f"attach-{os.getpid()}.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([tools["ivs"], "attach", target.portal, target.IQN, "--lun", str(target.lun),
                                      "--export", self.export, *extra],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self.file = os.path.join(self.export, f"lun{target.lun}")
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"attach exited ({self.proc.returncode}): {self.tail()}")
            if "attached; SIGINT" in open(self.log_path).read() and os.path.exists(self.file):
                break
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"attach did not attach within 60 s: {self.tail()}")
            time.sleep(0.05)

    def tail(self):
        try:
            return open(self.log_path).read()[-600:]
        except OSError:
            return ""

    def cpu(self):
        return process_cpu(self.proc.pid)

    def stop(self):
        end_process(self.proc, 60)
        self.log.close()
        if os.path.ismount(self.export):
            subprocess.run(["umount", "-l", self.export], capture_output=True)
        try:
            os.rmdir(self.export)
            os.remove(self.log_path) if self.log_path.startswith(self.dir) else None
            os.rmdir(self.dir)
        except OSError:
            pass


class FuseNull:
    """bench/fuse_null mounted on a directory of its own: a FUSE file that
    answers at once, for the floor of the FUSE round trip. stop() sends
    SIGTERM to its PID (it unmounts on the way out)."""

    def __init__(self, tools, threads=0):
        self.dir = tempfile.mkdtemp(prefix="ivs-fuse-null-")
        self.log_path = os.path.join(self.dir, "fuse_null.log")
        self.log = open(self.log_path, "w")
        argv = [tools["fuse_null"], *(["--threads", str(threads)] if threads else []), self.dir]
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT)
        self.file = os.path.join(self.dir, "null")
        deadline = time.monotonic() + 30
        while not os.path.exists(self.file):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("fuse_null did not mount")
            time.sleep(0.05)

    def cpu(self):
        return process_cpu(self.proc.pid)

    def stop(self):
        end_process(self.proc, 30)
        self.log.close()
        if os.path.ismount(self.dir):
            subprocess.run(["umount", "-l", self.dir], capture_output=True)
        try:
            os.remove(self.log_path)
            os.rmdir(self.dir)
        except OSError:
            pass


FIO_MODES = {"read": "read", "write": "write", "randread": "randread", "randwrite": "randwrite"}


def fio_run(path, mode, bs, qd, seconds, attachment=None, engine="libaio", extra=()):
    """fio on a file (O_DIRECT, one job, QD requests of bs bytes). Returns
    {iops, cpu_s, ios, lat_us}; cpu_s counts fio and the attach process."""
    argv = ["fio", "--name=export", f"--filename={path}", f"--rw={FIO_MODES[mode]}", f"--bs={bs}",
            f"--iodepth={qd}", f"--ioengine={engine}", "--direct=1", "--time_based", f"--runtime={seconds}",
            "--numjobs=1", "--output-format=json", "--randrepeat=0", *extra]
    a0 = attachment.cpu() if attachment else 0.0
    with ChildCpu() as cpu:
        out = run_child(argv, seconds + 120)
    a1 = attachment.cpu() if attachment else 0.0
    r = json.loads(out[out.index("{"):])
    job = r["jobs"][0]
    side = job["read"] if mode in ("read", "randread") else job["write"]
    ios = max(1, side["total_ios"])
    return {"iops": side["iops"], "cpu_s": cpu.seconds + (a1 - a0), "ios": ios,
            "lat_us": side["lat_ns"]["mean"] / 1000.0}


# ---- the goals of the exported file ------------------------------------------

def case_label(r):
    bs = r["bs"]
    size = f"{bs // 1048576} MiB" if bs >= 1048576 else f"{bs // 1024} KiB"
    return f"{r['mode']} {size} QD{r['qd']}"


def export_goals(rows):
    """The exported file's goals on rows with file_* and ours_* (the engine)
    medians: a list of (target, goal, cases met, cases judged, worst case).
    Against null_target: 4 KiB QD32 IOPS >= 1/3 of the engine's, 1 MiB
    sequential reads >= 4 GB/s and writes >= 3 GB/s, 4 KiB QD1 latency <= 1.5x
    the engine's. Against tgtd (there the target is the limit): IOPS >= 0.9x
    the engine's in every case, 4 KiB QD1 latency <= 1.1x."""
    out = []
    for t in dict.fromkeys(r["target"] for r in rows):
        tr = [r for r in rows if r["target"] == t and r.get("file_iops")]
        with_engine = [r for r in tr if r.get("ours_iops")]
        with_lat = [r for r in with_engine if r["bs"] == 4096 and r["qd"] == 1 and r.get("ours_lat_us")]
        iops_ratio = lambda r: r["file_iops"] / r["ours_iops"]
        lat_ratio = lambda r: r["file_lat_us"] / r["ours_lat_us"]
        mbps = lambda r: r["file_iops"] * r["bs"] / 1e6
        if t == "null_target":
            checks = [
                ("file: 4 KiB QD32 IOPS >= 1/3 of the engine's",
                 [r for r in with_engine if r["bs"] == 4096 and r["qd"] == 32], iops_ratio, 1 / 3, "x"),
                ("file: 1 MiB sequential reads >= 4000 MB/s",
                 [r for r in tr if r["bs"] == 1048576 and r["mode"] == "read"], mbps, 4000, " MB/s"),
                ("file: 1 MiB sequential writes >= 3000 MB/s",
                 [r for r in tr if r["bs"] == 1048576 and r["mode"] == "write"], mbps, 3000, " MB/s"),
                ("file: 4 KiB QD1 latency <= 1.5x the engine's", with_lat, lat_ratio, -1.5, "x"),
            ]
        else:
            checks = [
                ("file: IOPS >= 0.9x the engine's, every case", with_engine, iops_ratio, 0.9, "x"),
                ("file: 4 KiB QD1 latency <= 1.1x the engine's", with_lat, lat_ratio, -1.1, "x"),
            ]
        # bound > 0: at least bound; bound < 0: at most -bound
        for name, judged, value, bound, unit in checks:
            if not judged:
                continue
            vals = [(value(r), r) for r in judged]
            met = sum(1 for v, _ in vals if (v >= bound if bound > 0 else v <= -bound))
            worst_v, worst_r = (min if bound > 0 else max)(vals, key=lambda p: p[0])
            spec = ".0f" if unit == " MB/s" else ".2f"
            out.append((t, name, met, len(vals), f"{case_label(worst_r)}: {worst_v:{spec}}{unit}"))
    return out
