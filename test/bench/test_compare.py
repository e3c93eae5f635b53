#!/usr/bin/env python3
"""Integration test of bench/compare: a short run of two cases against both
targets (its own tgtd and bench/null_target) must produce a full JSON result,
judge the goals, and stop both targets it started; bad arguments are refused.

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
        for t in ("against tgtd", "against null_target", "goals (medians of this run)"):
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
                if r["digests"] == "header+data":
                    check(r["lib_iops"] is None, f"{name}: no libiscsi figure (it has no data digest)")
                    check(r.get("ours_vs_digest_off", 0) > 0, f"{name}: digest ratio")
                else:
                    check(r["lib_iops"] and r["lib_iops"] > 0 and r["lib_cpu_us"] > 0,
                          f"{name}: libiscsi measured")
            goals = {(g["target"], g["goal"]) for g in data["goals"]}
            check(len(goals) == 8, f"four goals judged on each target, got {len(goals)}")
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
    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
