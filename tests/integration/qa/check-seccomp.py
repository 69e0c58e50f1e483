#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Processes under a seccomp filter that refuses memfd_create and opening
files for writing (ENOSYS), as man-db runs col, tbl and groff: the same
output and status as without memprof; a process whose tables were shared
before its filter gets its profile from them without a word (each such
process printed "cannot write snapshot '.../memprof.N.snap.tmp': ENOSYS"
while its profile was written all the same); one the filter kept from
sharing them (exec'd under it) has none, and one line says why.  Then
`man -P cat ls`, the real case.  usage: check-seccomp.py MEMPROF T_SECCOMP"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import pprof_raw  # noqa: E402
from tap import Tap  # noqa: E402
import qarun  # noqa: E402

NOTE = re.compile(r'^memprof: warning: no profile for process (\d+) \(([^)]*)\): a seccomp filter '
                  r'refuses the system calls that write it \(ENOSYS\)$')


def run(argv, cwd):
    return qarun.run(argv, cwd, text=True)


def main():
    memprof, prog = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    t = Tap()
    with tempfile.TemporaryDirectory() as d:
        native = run([prog], d)
        t.eq((native.returncode, native.stdout, native.stderr), (0, 'child\nleaf\nchild 3\n', ''),
             'natively: the child, its leaf under the filter, status 0')
        out = os.path.join(d, 's.heap.pb.gz')
        r = run([memprof, 'run', '--rate', '1', '-o', out, prog], d)
        t.eq((r.returncode, r.stdout), (native.returncode, native.stdout),
             'under memprof: the same output and status', r.stderr)
        lines = r.stderr.splitlines()
        notes = [NOTE.match(l) for l in lines if 'warning' in l]
        t.ok(len(notes) == 1 and notes[0] and notes[0].group(2) == 't-seccomp',
             'one warning: the leaf has no profile, because of the seccomp filter', r.stderr)
        t.ok('cannot write snapshot' not in r.stderr, 'no "cannot write snapshot" line', r.stderr)
        heaps = sorted(f for f in os.listdir(d) if f.endswith('.heap.pb.gz'))
        t.eq(len(heaps), 2, 'profiles of the parent and the child, none of the leaf', heaps)
        child = [f for f in heaps if f != 's.heap.pb.gz']
        if child:
            path = os.path.join(d, child[0])
            c = subprocess.run(['go', 'tool', 'pprof', '-comments', path], capture_output=True,
                               text=True, env=pprof_raw.go_env())
            t.ok('ended without writing its profile' in c.stdout,
                 'the child\'s profile comes from its shared tables', c.stdout + c.stderr)
            _, fns = pprof_raw.cum_by_function(path)
            t.eq(fns.get('work', [0, 0, 0, 0])[:2], [1, 2000],
                 'the child\'s profile: work() allocated 2000 bytes once')
        else:
            t.ok(False, 'the child\'s profile comes from its shared tables')
            t.ok(False, 'the child\'s profile: work() allocated 2000 bytes once')

        # The real case: man-db sandboxes the filters of its pipeline.
        man = shutil.which('man')
        if not man or run([man, '-w', 'ls'], d).returncode != 0:
            t.ok(True, '# SKIP man or the page of ls is not installed')
            t.ok(True, '# SKIP man or the page of ls is not installed')
            return t.done()
        env_cmd = [man, '-P', 'cat', 'ls']
        native = run(env_cmd, d)
        r = run([memprof, 'run', '-q', '-o', os.path.join(d, 'man.heap.pb.gz')] + env_cmd, d)
        t.ok((r.returncode, r.stdout) == (native.returncode, native.stdout) and native.stdout,
             'man -P cat ls: the same page (%d bytes) and status' % len(native.stdout), r.stderr)
        other = [l for l in r.stderr.splitlines() if not NOTE.match(l)]
        t.eq(other, native.stderr.splitlines(),
             'man: no other line from memprof than one per process kept from its profile')
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
