#!/usr/bin/env python3
"""Summarize the meson test runs of scripts/test.

Arguments: triples TREE DESCRIPTION STATUS, where STATUS is "ran:<exit code
of meson test>", with ":build-failed" appended if part of the tree did not
build, "skipped:<reason>" for a step that could not run here and is not a
failure (the OpenBSD check without a sysroot), or the reason no tests ran
("configure failed", ...). Reads
TREE/meson-logs/testlog.json, prints a summary per tree and the tail of every
failed test's output (stdout, then stderr), and ends with the line
"N passed, N failed". A tree that could not be built or tested counts as
one failure, and so does every test that was not built. Exit status 1 if
anything failed.
"""
import json
import sys
from pathlib import Path

PASS = {"OK", "EXPECTEDFAIL"}
SKIP = {"SKIP"}
TAIL_LINES = 60


def read_log(tree):
    path = Path(tree) / "meson-logs" / "testlog.json"
    if not path.exists():
        return []
    results = []
    for line in path.read_text(errors="replace").splitlines():
        line = line.strip()
        if line:
            results.append(json.loads(line))
    return results


def tail(text, n=TAIL_LINES):
    lines = (text or "").rstrip("\n").splitlines()
    return "\n".join(lines[-n:])


def main(argv):
    if len(argv) % 3 != 0:
        print("test-summary: expected TREE DESCRIPTION STATUS triples", file=sys.stderr)
        return 2
    total_pass = total_fail = total_skip = 0
    rows, failures = [], []
    for i in range(0, len(argv), 3):
        tree, desc, status = argv[i:i + 3]
        if status.startswith("skipped:"):
            rows.append(f"{tree:<11} ({desc}): SKIPPED: {status[len('skipped:'):]}")
            continue
        if not status.startswith("ran:"):
            total_fail += 1
            rows.append(f"{tree:<11} ({desc}): {status.upper()} (counted as 1 failed)")
            continue
        fields = status.split(":")
        meson_rc = int(fields[1])
        build_failed = "build-failed" in fields[2:]
        p = f = s = 0
        for t in read_log(tree):
            result = t.get("result", "?")
            if result in PASS:
                p += 1
            elif result in SKIP:
                s += 1
            else:
                f += 1
                out = tail(t.get("stdout"))
                err = tail(t.get("stderr"), TAIL_LINES // 2)
                if err:
                    out += "\n--- stderr ---\n" + err
                failures.append((tree, t.get("name", "?"), result, out))
        not_built = Path(tree) / "meson-logs" / "not-built.txt"
        if not_built.exists():
            for name in not_built.read_text().split():
                f += 1
                failures.append((tree, name, "NOT BUILT", ""))
        note = ""
        if meson_rc != 0 and f == 0:
            f = 1  # meson test failed without a failed test in its log
            note = f" (meson test exited {meson_rc})"
        if p + f + s == 0:
            note = " (no tests registered)"
        if build_failed:
            f += 1
            note += "; BUILD FAILED (counted as 1 failed)"
        rows.append(f"{tree:<11} ({desc}): {p} passed, {f} failed, {s} skipped{note}")
        total_pass, total_fail, total_skip = total_pass + p, total_fail + f, total_skip + s

    for tree, name, result, out in failures:
        if result == "NOT BUILT":
            continue
        print(f"\n----- FAILED {tree}: {name} ({result}), end of its output -----")
        print(out)
    if failures:
        print()
    for row in rows:
        print(row)
    for tree, name, result, _ in failures:
        print(f"  failed: {tree}: {name} ({result})")
    print(f"{total_pass} passed, {total_fail} failed")
    return 1 if total_fail else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
