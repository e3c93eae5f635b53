#!/usr/bin/env python3
"""Integration test of bench/compare: a short run of two cases against both
targets (its own tgtd and bench/null_target) must produce a full JSON result
with all three sides (libiscsi, the engine, fio on the exported file),
judge the goals, and stop both targets and the attachments it started; bad
arguments are refused.

usage: test_compare.py COMPARE BUILD_DIR"""
import json
import os
import re
import subprocess
import sys
import tempfile

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAILED:", what, file=sys.stderr)


def running(pid):
    """True while pid is a live (not zombie) process."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def main():
    compare, build = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as tmp:
        out_json = os.path.join(tmp, "compare.json")
        cases = "read:4096:32,write:131072:4"  # each of the four goals judges one
        p = subprocess.run([compare, "--build", build, "--runs", "1", "--seconds", "1", "--cases", cases,
                            "--json-out", out_json], capture_output=True, text=True, timeout=600)
        print(p.stdout)
        print(p.stderr, file=sys.stderr)
        check(p.returncode == 0, f"compare exited {p.returncode}")
        for t in ("against tgtd", "against null_target", "goals (medians of this run)",
                  "the exported file on tgtd", "the exported file on null_target"):
            check(t in p.stdout, f"output has '{t}'")
        pids = [int(m) for m in re.findall(r"^against \S+ \(\S+, pid (\d+)\)", p.stdout, re.M)]
        check(len(pids) == 2, f"both targets' PIDs printed, got {pids}")
        for pid in pids:
            check(not running(pid), f"target pid {pid} stopped")
        if p.returncode == 0:
            data = json.load(open(out_json))
            check(data["targets"] == ["tgtd", "null_target"], "both targets ran")
            rows = data["rows"]
            check(len(rows) == 2 * 3 * 2, f"12 rows (2 targets x 3 digest settings x 2 cases), got {len(rows)}")
            for r in rows:
                name = f"{r['target']} {r['mode']} {r['bs']} QD{r['qd']} {r['digests']}"
                check(r["ours_iops"] > 0 and r["ours_cpu_us"] > 0, f"{name}: iscsi-vscsi measured")
                check(r["ours_target_us"] >= 0, f"{name}: target CPU measured")
                if r["digests"] == "off":
                    check(r.get("file_iops", 0) > 0 and r.get("file_cpu_us", 0) > 0 and r.get("file_lat_us", 0) > 0,
                          f"{name}: fio on the exported file measured")
                else:
                    check("file_iops" not in r, f"{name}: no file figure (digests are the engine's)")
                if r["digests"] == "header+data":
                    check(r["lib_iops"] is None, f"{name}: no libiscsi figure (it has no data digest)")
                    check(r.get("ours_vs_digest_off", 0) > 0, f"{name}: digest ratio")
                else:
                    check(r["lib_iops"] and r["lib_iops"] > 0 and r["lib_cpu_us"] > 0,
                          f"{name}: libiscsi measured")
            goals = {(g["target"], g["goal"]) for g in data["goals"]}
            engine_goals = {k for k in goals if not k[1].startswith("file:")}
            file_goals = {k for k in goals if k[1].startswith("file:")}
            check(len(engine_goals) == 8, f"four engine goals judged on each target, got {len(engine_goals)}")
            check({t for t, _ in file_goals} == {"tgtd", "null_target"},
                  f"the exported file's goals judged on both targets, got {file_goals}")
            for g in data["goals"]:
                check(0 <= g["met"] <= g["judged"] and g["judged"] > 0, f"goal counts: {g}")

        # Bad arguments: refused before any target starts.
        for bad in (["--cases", "read:4000:1"], ["--cases", "trim:4096:1"], ["--targets", "istgt"],
                    ["--runs", "0"]):
            p = subprocess.run([compare, "--build", build, *bad], capture_output=True, text=True, timeout=60)
            check(p.returncode == 2 and p.stderr.strip() != "", f"{bad} refused with a message")
        p = subprocess.run([compare, "--build", os.path.join(tmp, "no-such-build")], capture_output=True,
                           text=True, timeout=60)
        check(p.returncode != 0 and "missing" in p.stderr, "a build dir without the tools is refused")
        # bench/fio_export: the exported file beside the engine and the
        # FUSE floor (bench/fuse_null), one case.
        fio_export = os.path.join(os.path.dirname(compare), "fio_export")
        fx_json = os.path.join(tmp, "fio_export.json")
        p = subprocess.run([fio_export, "--build", build, "--targets", "null_target", "--cases", "randread:4096:1",
                            "--runs", "1", "--seconds", "1", "--fuse-null", "--json-out", fx_json],
                           capture_output=True, text=True, timeout=300)
        print(p.stdout)
        print(p.stderr, file=sys.stderr)
        check(p.returncode == 0, f"fio_export exited {p.returncode}")
        if p.returncode == 0:
            data = json.load(open(fx_json))
            r = data["rows"][0] if data["rows"] else {}
            check(r.get("file_iops", 0) > 0 and r.get("ours_iops", 0) > 0 and r.get("file_lat_us", 0) > 0,
                  "fio_export measured the file and the engine")
            check(r.get("null_iops", 0) > 0 and r.get("null_lat_us", 0) > 0, "fio_export measured fuse_null's file")
            check(any(g["goal"].startswith("file: 4 KiB QD1 latency") for g in data["goals"]),
                  "fio_export judged the QD1 latency goal")
        mounts = open("/proc/mounts").read()
        check("ivs-fio-export-" not in mounts, "no export left mounted")
        check("ivs-fuse-null-" not in mounts, "fuse_null left nothing mounted")
    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
