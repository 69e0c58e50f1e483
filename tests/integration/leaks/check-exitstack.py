#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The exiting thread's stack in the leak check (t-exitstack): blocks whose
addresses main left in its dead frame are definitely lost, as memcheck
says (memprof called 4 of 16 reachable: words below exit's caller that
exit's and the shim's frames never wrote), while a block whose only
address is in a callee-saved register at the call to exit(), _exit() or
memprof_leak_check() stays reachable; the same classes every run, and
memcheck's (but at _exit(), where memcheck reads no register).  usage: check-exitstack.py MEMPROF T_EXITSTACK"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from tap import Tap  # noqa: E402

SUMMARY = re.compile(r'memprof:\s+(definitely lost|indirectly lost|still reachable): (\d+) bytes '
                     r'in (\d+) blocks?')


def summary(text):
    return {k: (int(b), int(n)) for k, b, n in SUMMARY.findall(text)}


def valgrind(argv):
    v = subprocess.run(['valgrind', '--leak-check=full', '--run-libc-freeres=no',
                        '--run-cxx-freeres=no'] + argv, capture_output=True, text=True)
    out = {}
    for kind in ('definitely lost', 'indirectly lost', 'still reachable'):
        m = re.search(kind + r': ([\d,]+) bytes in ([\d,]+) blocks', v.stderr)
        out[kind] = tuple(int(x.replace(',', '')) for x in m.groups()) if m else (0, 0)
    return v.stdout, out


def main():
    memprof, prog = sys.argv[1:3]
    t = Tap()
    main_bytes = sum(32 + i for i in range(16))
    want = {
        'main': {'definitely lost': (main_bytes, 16), 'indirectly lost': (0, 0),
                 'still reachable': (0, 0)},
        'exit': {'definitely lost': (0, 0), 'indirectly lost': (0, 0),
                 'still reachable': (100, 1)},
        '_exit': {'definitely lost': (0, 0), 'indirectly lost': (0, 0),
                  'still reachable': (100, 1)},
    }
    with tempfile.TemporaryDirectory() as d:
        for mode, classes in want.items():
            seen = []
            for i in range(3):
                r = subprocess.run([memprof, 'run', '-q', '--leak-check=summary',
                                    '-o', os.path.join(d, 'x.heap.pb.gz'), prog, mode],
                                   capture_output=True, text=True, timeout=120)
                seen.append(summary(r.stderr))
            t.eq(seen, [classes] * 3, '%s: the classes memcheck gives, every run' % mode,
                 r.stderr[-2000:])
            if mode == '_exit':
                # memcheck reads no register at the exit_group system
                # call: the block is definitely lost for it.  memprof
                # keeps it reachable, as at exit() (and as before).
                continue
            if shutil.which('valgrind'):
                out, vg = valgrind([prog, mode])
                t.eq(vg, classes, '%s: valgrind agrees' % mode)
            else:
                t.ok(False, 'valgrind is installed')

        # memprof_leak_check() while a block's only address is in rbx.
        js = os.path.join(d, 'api.json')
        r = subprocess.run([memprof, 'run', '-q', '--leak-check', '--leak-report', js,
                            '-o', os.path.join(d, 'a.heap.pb.gz'), prog, 'api'],
                           capture_output=True, text=True, timeout=120)
        t.eq((r.returncode, r.stdout), (0, 'api 0\n'),
             'memprof_leak_check(): nothing lost while the caller holds the block in a register',
             r.stderr[-2000:])
        rep = json.load(open(js))
        t.eq([leak for leak in rep['leaks'] if leak['category'] != 'reachable'], [],
             'api: and nothing lost at exit')
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
