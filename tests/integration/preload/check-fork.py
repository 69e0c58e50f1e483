#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""fork/exec: every process writes its own profile named with its pid, with
exactly its own allocations (a fork child also keeps the parent's blocks it
inherited).  usage: check-fork.py MEMPROF TARGET"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import pprof_raw  # noqa: E402
from tap import Tap  # noqa: E402


def cum(path, fn):
    types, c = pprof_raw.cum_by_function(path)
    return c.get(fn, [0, 0, 0, 0])


def main():
    memprof, target = [os.path.abspath(a) for a in sys.argv[1:3]]
    t = Tap()
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, 'f.heap.pb.gz')
        r = subprocess.run([memprof, 'run', '--rate', '1', '-o', out, target],
                           capture_output=True, text=True, cwd=d)
        t.eq(r.returncode, 0, 'exit status')
        kids = {}
        for line in r.stdout.split('\n'):
            if line.startswith('child'):
                name, pid, status = line.split()
                kids[name] = pid
                t.eq(status, '0', '%s exit status' % name)
        t.eq(sorted(kids), ['child1', 'child2', 'child3'], 'three children reported')
        t.ok(os.path.exists(out), 'parent profile', r.stderr)
        if os.path.exists(out):
            t.eq(cum(out, 'parent_work'), [3, 333, 3, 333], 'parent: parent_work')
            t.eq(cum(out, 'after_fork'), [2, 888, 2, 888], 'parent: after_fork')
            t.eq(cum(out, 'child_work'), [0, 0, 0, 0], 'parent: no child_work')
        want = {
            'child1': ('child_work', [5, 1110, 5, 1110]),
            'child2': ('child2_work', [7, 2331, 7, 2331]),
            'child3': ('exec_work', [4, 220, 4, 220]),
        }
        for k, (fn, vals) in want.items():
            p = os.path.join(d, 'f.%s.heap.pb.gz' % kids.get(k, 'missing'))
            if not t.ok(os.path.exists(p), '%s profile %s' % (k, os.path.basename(p)),
                        '%s\n%s' % (r.stderr, os.listdir(d))):
                continue
            t.eq(cum(p, fn), vals, '%s: %s' % (k, fn))
            if k != 'child3':
                t.eq(cum(p, 'parent_work'), [3, 333, 3, 333], '%s: inherited parent_work' % k)
            t.eq(cum(p, 'after_fork'), [0, 0, 0, 0], '%s: no after_fork' % k)
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
