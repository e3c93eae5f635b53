#!/usr/bin/env python3
"""The verify workload on the exported file: fio writes mixed sizes (512 B to
1 MiB) at QD 64 from several jobs through `iscsi-vscsi attach --export` to a
tgtd file LUN, with a CRC32C in every block, and reads it all back checking
each one (verify=crc32c, verify_fatal). Then, with the LUN detached, the
backing file itself is checked by fio (verify_only, the same layout) and
compared byte for byte with what the export read back.

    fio_verify.py --program PATH [--size BYTES] [--jobs N] [--qd N]
                  [--loops N] [--block-size 512|4096] [--seed N]
                  [--direct-io-only] [--keep-going]

The integration suite runs it short (test/fuse/meson.build); scripts/soak
runs it long. Exits 0 when every check passed; prints one line per check.
Needs root (FUSE, tgtd) and fio."""
import argparse
import hashlib
import mmap
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
import benchlib  # noqa: E402

failures = []


def check(cond, what):
    print(("ok: " if cond else "FAILED: ") + what, flush=True)
    if not cond:
        failures.append(what)


def fio_job(path, a, verify_only=False):
    """The workload: each job its own region of size/jobs bytes."""
    region = a.size // a.jobs
    argv = ["fio", "--name=verify", f"--filename={path}", "--rw=randwrite", "--bsrange=512-1m",
            "--blockalign=512", f"--iodepth={a.qd}", f"--numjobs={a.jobs}", f"--size={region}",
            f"--offset_increment={region}", "--verify=crc32c", "--verify_fatal=1", "--do_verify=1",
            f"--randseed={a.seed}", f"--loops={a.loops}", "--group_reporting", "--output-format=normal",
            "--verify_state_save=0"]
    if verify_only:
        # The backing file, read as a file: the same layout, nothing written.
        argv += ["--verify_only=1", "--ioengine=psync", "--direct=0"]
    else:
        argv += ["--ioengine=libaio", "--direct=1"]
    return argv


def sha256_of(path, size, direct):
    """Digest of the first `size` bytes (O_DIRECT reads through the export)."""
    h = hashlib.sha256()
    chunk = 1 << 20
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECT if direct else 0))
    try:
        done = 0
        m = mmap.mmap(-1, chunk)  # page-aligned, as O_DIRECT wants
        try:
            while done < size:
                n = os.preadv(fd, [m], done)
                if n <= 0:
                    break
                h.update(m[:n])
                done += n
        finally:
            m.close()
    finally:
        os.close(fd)
    return h.hexdigest(), done


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--program", required=True, help="the iscsi-vscsi binary")
    ap.add_argument("--size", type=int, default=64 << 20, help="bytes written (the LUN is as large)")
    ap.add_argument("--jobs", type=int, default=4)
    ap.add_argument("--qd", type=int, default=64)
    ap.add_argument("--loops", type=int, default=1, help="passes over each job's region")
    ap.add_argument("--block-size", type=int, default=512, choices=[512, 4096], help="the LUN's block size")
    ap.add_argument("--seed", type=int, default=0x1505)
    a = ap.parse_args()
    if a.size % (a.jobs << 20):
        ap.error("--size must be a multiple of jobs MiB")
    tools = {"ivs": a.program}
    with tempfile.TemporaryDirectory(prefix="ivs-fio-verify-") as tmp:
        backing = os.path.join(tmp, "lun.img")
        with open(backing, "wb") as f:
            f.truncate(a.size)
        target = benchlib.Tgtd(tools, os.path.join(tmp, "tgtd.log"), backing=backing, block_size=a.block_size)
        att = None
        try:
            att = benchlib.Attachment(tools, target, log_dir=tmp)
            check(os.path.getsize(att.file) == a.size, f"the exported file has {a.size} bytes")
            print(f"fio: {a.jobs} jobs x {a.size // a.jobs} bytes, 512 B-1 MiB at QD {a.qd}, {a.loops} loop(s), "
                  f"LUN blocks of {a.block_size} bytes", flush=True)
            p = subprocess.run(fio_job(att.file, a), capture_output=True, text=True)
            check(p.returncode == 0, "fio wrote and verified every block through the export")
            if p.returncode != 0:
                print(p.stdout[-3000:], p.stderr[-2000:], sep="\n")
            through, n = sha256_of(att.file, a.size, direct=True)
            check(n == a.size, "the whole file read back through the export")
            att.stop()
            check(att.proc.returncode == 0, f"attach detached cleanly (exit {att.proc.returncode})")
            att = None
        finally:
            if att:
                att.stop()
            target.stop()
        backing_sum, n = sha256_of(backing, a.size, direct=False)
        check(backing_sum == through, "the backing file holds exactly what the export read back")
        p = subprocess.run(fio_job(backing, a, verify_only=True), capture_output=True, text=True)
        check(p.returncode == 0, "fio verifies the backing file itself (verify_only)")
        if p.returncode != 0:
            print(p.stdout[-3000:], p.stderr[-2000:], sep="\n")
    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
