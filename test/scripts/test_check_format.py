#!/usr/bin/env python3
"""scripts/check-format finds a file that is not formatted as .clang-format says.

In a temporary tree with the repository's .clang-format: a formatted file
passes, a misformatted one fails the check and is named, and --report lists
it but exits 0. Skipped (exit 77) without clang-format.
"""
import os
import shutil
import subprocess
import sys
import tempfile

CHECKER, STYLE = sys.argv[1], sys.argv[2]

tool = os.environ.get("CLANG_FORMAT") or shutil.which("clang-format") or next(
    (shutil.which(f"clang-format-{v}") for v in range(20, 13, -1) if shutil.which(f"clang-format-{v}")), None)
if tool is None:
    print("no clang-format: skipped")
    sys.exit(77)

FORMATTED = """namespace ivs::x {

int twice(int v)
{
    if (v > 0) {
        return 2 * v;
    }
    return 0;
}

} // namespace ivs::x
"""
MISFORMATTED = """namespace ivs::x {
int twice(int v) {
  if(v>0){return 2*v;}
  return 0;
}
}
"""

failures = []


def tree(files):
    root = tempfile.mkdtemp(prefix="check-format-")
    shutil.copy(STYLE, os.path.join(root, ".clang-format"))
    for rel, text in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
    return root


def run(*args):
    p = subprocess.run([sys.executable, CHECKER, *args], capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


rc, out = run(tree({"scsi/a.cpp": FORMATTED}))
if rc != 0:
    failures.append(f"a formatted tree fails (rc {rc}):\n{out}")

bad = tree({"scsi/a.cpp": FORMATTED, "vscsi/b.cpp": MISFORMATTED})
rc, out = run(bad)
if rc != 1 or "vscsi/b.cpp" not in out or "scsi/a.cpp:" in out:
    failures.append(f"a misformatted file is not caught alone (rc {rc}):\n{out}")
rc, out = run("--report", bad)
if rc != 0 or "vscsi/b.cpp" not in out or "report only" not in out:
    failures.append(f"--report does not list and pass (rc {rc}):\n{out}")

for f in failures:
    print("FAILED:", f)
print(f"{len(failures)} failed")
sys.exit(1 if failures else 0)
