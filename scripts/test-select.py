#!/usr/bin/env python3
"""List the tests of a partly built meson tree that can still run.

Usage: test-select.py BUILD_DIR [SUITE...]
Prints the names of the tests (in the given suites, or all) whose programs
were all built, one per line, and writes the names of the others to
BUILD_DIR/meson-logs/not-built.txt so scripts/test can count them as failed.
"""
import json
import subprocess
import sys
from pathlib import Path


def introspect(build_dir, what):
    out = subprocess.run(["meson", "introspect", what, build_dir],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main(argv):
    build_dir, suites = argv[0], set(argv[1:])
    outputs = {t["id"]: t["filename"] for t in introspect(build_dir, "--targets")}
    runnable, not_built = [], []
    for test in introspect(build_dir, "--tests"):
        names = {s.split(":")[-1] for s in test.get("suite", [])}
        if suites and not names & suites:
            continue
        files = [f for dep in test.get("depends", []) for f in outputs.get(dep, [])]
        (runnable if all(Path(f).exists() for f in files) else not_built).append(test["name"])
    log_dir = Path(build_dir) / "meson-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    (log_dir / "not-built.txt").write_text("".join(n + "\n" for n in not_built))
    print("\n".join(runnable))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
