#!/usr/bin/env python3
"""scripts/check-layers catches includes against the layers.

Builds small trees in a temporary directory and runs the checker on them:
a tree that follows the rules passes; each kind of violation (an include
of a folder above, Asio in an I/O-free folder, a relative project include,
a test folder's include of or meson.build path into another test folder)
fails it and is named in its output, and allowed includes are not.
"""
import os
import subprocess
import sys
import tempfile

CHECKER = sys.argv[1]


def tree(files):
    root = tempfile.mkdtemp(prefix="check-layers-")
    for rel, text in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
    return root


def run(root):
    p = subprocess.run([sys.executable, CHECKER, root], capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


failures = []


def expect(cond, what):
    if not cond:
        failures.append(what)


ALLOWED = {
    "pdu/a.hpp": '#include "log/log.hpp"\n#include <cstdint>\n',
    "scsi/b.cpp": '#include "scsi/b.hpp"\n#include "pdu/bytes.hpp"\n',
    "iscsi/c.cpp": '#include "scsi/sense.hpp"\n#include <boost/asio/io_context.hpp>\n',
    "vscsi/d.cpp": '#include "scsi/cdb.hpp"\n',
    "bridge/e.cpp": '#include "iscsi/session.hpp"\n#include "vscsi/vscsi_device.hpp"\n',
    "fuse/f.cpp": '#include "vscsi/embedded_vscsi.hpp"\n#include <fuse.h>\n',
    "config/g.cpp": '#include "iscsi/session.hpp"\n',
    "app/h.cpp": '#include "bridge/bridge.hpp"\n#include "fuse/fuse_export.hpp"\n#include "config/conf.hpp"\n',
    "test/x/i.cpp": '#include "app/commands.hpp"\n#include "test/support/scripted_target.hpp"\n'
                    '#include "test/x/own.hpp"\n#include "own.hpp"\n',
    "test/support/s.hpp": '#include "test/support/process.hpp"\n#include "iscsi/session.hpp"\n',
    "test/x/meson.build": "executable('t', files('i.cpp', '../support/s.cpp', '../../dist/a.in'))\n",
}

rc, out = run(tree(ALLOWED))
expect(rc == 0, f"a tree following the layers fails (rc {rc}):\n{out}")

VIOLATIONS = {
    "pdu/up.hpp": ('#include "iscsi/session.hpp"\n', 'pdu/up.hpp:1: pdu/ may not include "iscsi/session.hpp"'),
    "vscsi/up.cpp": ('\n#include "bridge/bridge.hpp"\n', 'vscsi/up.cpp:2: vscsi/ may not include "bridge/bridge.hpp"'),
    "vscsi/side.cpp": ('#include "iscsi/session.hpp"\n', 'vscsi/side.cpp:1: vscsi/ may not include "iscsi/session.hpp"'),
    "config/up.cpp": ('#  include "app/commands.hpp"\n', 'config/up.cpp:1: config/ may not include "app/commands.hpp"'),
    "scsi/io.hpp": ('#include <boost/asio/io_context.hpp>\n', "scsi/io.hpp:1: scsi/ never includes Asio"),
    "fuse/rel.cpp": ('#include "../vscsi/tag_table.hpp"\n', 'fuse/rel.cpp:1: include project headers from the top'),
    "log/up.hpp": ('#include "pdu/bytes.hpp"\n', 'log/up.hpp:1: log/ may not include "pdu/bytes.hpp"'),
    "test/x/side.cpp": ('#include "test/y/fixture.hpp"\n', 'test/x/side.cpp:1: test/x may not include "test/y/fixture.hpp"'),
    "test/support/up.hpp": ('#include "test/x/own.hpp"\n',
                            'test/support/up.hpp:1: test/support may not include "test/x/own.hpp"'),
    "test/y/meson.build": ("test('t', executable('t', files('t.cpp',\n  '../x/fixture.cpp')))\n",
                           "test/y/meson.build:2: test/y may not use '../x/fixture.cpp'"),
}
files = dict(ALLOWED)
files.update({k: v[0] for k, v in VIOLATIONS.items()})
rc, out = run(tree(files))
expect(rc == 1, f"violations pass the check (rc {rc}):\n{out}")
for rel, (_, message) in VIOLATIONS.items():
    expect(message in out, f"not reported: {message}\n{out}")
for rel in ALLOWED:
    expect(rel + ":" not in out, f"an allowed include of {rel} is reported:\n{out}")

for f in failures:
    print("FAILED:", f)
print(f"{len(failures)} failed")
sys.exit(1 if failures else 0)
