#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The other processes of a tree have their profiles written while the
program still runs (collect.h, mp_collect_early_start), and memprof says
nothing until the program has ended: the program runs /bin/true, then
waits (up to 10 s) for its heap profile to appear in the output directory,
says whether it did on stdout, and writes a marker on stderr (python3 runs
it, so that no other process is made).  Then every line of memprof's comes
after the marker, and one names the child's files as before.
usage: check-early.py MEMPROF (MEMPROF_SHIM set)"""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from tap import Tap  # noqa: E402


def main():
    memprof = os.path.abspath(sys.argv[1])
    t = Tap()
    py = shutil.which('python3')
    true = shutil.which('true')
    with tempfile.TemporaryDirectory() as d:
        # (python3 polls with time.sleep: no process but the child's)
        prog = ('import os, subprocess, sys, time\n'
                'c = subprocess.Popen([%r]); c.wait()\n'
                'open(os.path.join(%r, "child"), "w").write(str(c.pid))\n'
                'want = os.path.join(%r, "t.%%d.heap.pb.gz" %% c.pid)\n'
                'for i in range(100):\n'
                '    if os.path.exists(want):\n'
                '        break\n'
                '    time.sleep(0.1)\n'
                'print("written" if os.path.exists(want) else "absent", flush=True)\n'
                'print("marker", file=sys.stderr, flush=True)\n' % (true, d, d))
        r = subprocess.run([memprof, 'run', '-o', os.path.join(d, 't.heap.pb.gz'), py, '-c',
                            prog], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=120)
        t.eq((r.returncode, r.stdout), (0, 'written\n'),
             "the child's profile written while the program ran", r.stderr)
        lines = r.stderr.splitlines()
        t.eq(lines[:1], ['marker'], "no line of memprof's before the program's last", r.stderr)
        with open(os.path.join(d, 'child')) as f:
            child = f.read().strip()
        said = [l for l in lines if ("'%s'" % os.path.join(d, 't.%s.heap.pb.gz' % child)) in l
                and l.startswith('memprof: wrote heap profile ')]
        t.eq(len(said), 1, "one line names the child's files, after the program's", r.stderr)
        kinds = ('heap', 'peak', 'fds', 'threads', 'timers')
        t.eq(sorted(os.listdir(d)),
             sorted(['child'] + ['t.%s.pb.gz' % k for k in kinds] +
                    ['t.%s.%s.pb.gz' % (child, k) for k in kinds]),
             'two processes, five profiles each')
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
