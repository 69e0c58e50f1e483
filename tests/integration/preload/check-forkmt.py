#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Fork in a threaded program (t-forkmt): same output and status 0 natively,
on memprof's allocator (profiling off and at rate 1) and on glibc's through
the shim, and under memprof run, where every child writes its profile.
usage: check-forkmt.py MEMPROF SHIM T_FORKMT"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from tap import Tap  # noqa: E402


def main():
    memprof, shim, target = sys.argv[1:4]
    t = Tap()
    with tempfile.TemporaryDirectory() as d:
        native = subprocess.run([target], capture_output=True, text=True, timeout=120)
        t.ok(native.returncode == 0 and native.stdout.startswith('children failed: 0,'),
             'native: every child exits 0', native.stdout)
        for opts in ['allocator=memprof,rate=0', 'allocator=memprof,rate=1', 'allocator=system,rate=0']:
            env = dict(os.environ, LD_PRELOAD=os.path.abspath(shim), MEMPROF_OPTIONS=opts + ',snapdir=' + d)
            got = subprocess.run([target], capture_output=True, text=True, env=env, timeout=120)
            t.eq((got.returncode, got.stdout), (0, native.stdout), '%s: same output, status 0' % opts)
        out = os.path.join(d, 'f.heap.pb.gz')
        got = subprocess.run([memprof, 'run', '-q', '-o', out, target], capture_output=True, text=True,
                             timeout=300)
        t.ok((got.returncode, got.stdout) == (0, native.stdout), 'memprof run: same output, status 0',
             'got %r, want %r; stderr: %s' % ((got.returncode, got.stdout), (0, native.stdout),
                                             got.stderr))
        profiles = [f for f in os.listdir(d) if f.startswith('f.') and f.endswith('.heap.pb.gz')]
        t.eq(len(profiles), 21, 'memprof run: a profile for the program and each of its 20 children')
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
