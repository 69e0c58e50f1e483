#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""--rate 0 turns sampling off and still writes every profile, as
memprof-run(1) says: a heap profile of Go's shape with no samples (and
the heap statistics, which memprof stats prints), the resource profiles, numbered profiles with
--interval; the shim preloaded with rate=0 writes a snapshot too.
usage: check-rate0.py MEMPROF SHIM T_EXIT PLUGIN"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from pprof_raw import go_env, read_raw  # noqa: E402
from tap import Tap  # noqa: E402


def main():
    memprof, shim, t_exit, plugin = sys.argv[1:5]
    t = Tap()
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, 'z.heap.pb.gz')
        r = subprocess.run([memprof, 'run', '--rate', '0', '-o', out, t_exit, 'return', plugin],
                           capture_output=True, text=True)
        t.eq(r.returncode, 0, 'the program\'s own status')
        t.ok("memprof: wrote heap profile '%s'" % out in r.stderr, 'memprof says it wrote it',
             r.stderr)
        for kind in ('heap', 'fds', 'threads', 'timers'):
            t.ok(os.path.exists(os.path.join(d, 'z.%s.pb.gz' % kind)), '%s profile written' % kind)
        if os.path.exists(out):
            types, samples, _ = read_raw(out)
            t.eq((types, samples), (['alloc_objects', 'alloc_space', 'inuse_objects',
                                     'inuse_space'], []), 'heap profile: Go\'s types, no samples')
            top = subprocess.run(['go', 'tool', 'pprof', '-top', out], capture_output=True,
                                 text=True, env=go_env())
            t.ok(top.returncode == 0, 'go tool pprof reads it', top.stderr)
            st = subprocess.run([memprof, 'stats', out], capture_output=True, text=True)
            t.ok(st.returncode == 0 and 'Mallocs' in st.stdout,
                 'memprof stats: the heap statistics are there', (st.stdout, st.stderr))

        # Numbered profiles while it runs.
        sub = os.path.join(d, 'iv')
        os.mkdir(sub)
        r = subprocess.run([memprof, 'run', '-q', '--rate', '0', '--interval', '20ms',
                            '-o', os.path.join(sub, 'i.heap.pb.gz'), 'sleep', '0.3'],
                           capture_output=True, text=True)
        names = sorted(os.listdir(sub))
        t.ok(r.returncode == 0 and 'i.heap.pb.gz' in names and 'i.s0001.heap.pb.gz' in names,
             '--interval: numbered profiles and the final one', (r.stderr, names))

        # The shim alone.
        sub = os.path.join(d, 'shim')
        os.mkdir(sub)
        env = dict(os.environ, LD_PRELOAD=os.path.abspath(shim),
                   MEMPROF_OPTIONS='rate=0,snapdir=' + sub)
        r = subprocess.run([t_exit, 'return', plugin], env=env, capture_output=True, text=True)
        snaps = [f for f in os.listdir(sub) if f.endswith('.snap')]
        t.ok(r.returncode == 0 and len(snaps) == 1, 'preloaded with rate=0: one snapshot', snaps)
        if snaps:
            c = subprocess.run([memprof, 'convert', '-o', os.path.join(sub, 'c.pb.gz'),
                                os.path.join(sub, snaps[0])], capture_output=True, text=True)
            t.eq(c.returncode, 0, 'memprof convert turns it into a profile')
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
