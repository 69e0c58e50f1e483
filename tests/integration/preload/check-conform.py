#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The malloc conformance target (t-conform) prints the same lines, all
passing, natively, with the shim preloaded on memprof's allocator (profiling
off and at rate 1) and on glibc's, and under memprof run.
usage: check-conform.py MEMPROF SHIM T_CONFORM"""
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
        native = subprocess.run([target], capture_output=True, text=True)
        t.eq(native.returncode, 0, 'native: exit 0')
        lines = native.stdout.splitlines()
        # every check's value is its pass flag (1) or a count of failures (0)
        bad = [ln for ln in lines
               if not (ln.endswith(': 1') or (ln.endswith(': 0') and ('aligned' in ln.split(':')[0]
                                                                      or 'keeps' in ln or 'zeroes' in ln)))]
        t.eq(bad, [], 'native: every check passes (%d lines)' % len(lines))
        for opts in ['allocator=memprof,rate=0', 'allocator=memprof,rate=1',
                     'allocator=system,rate=0']:
            env = dict(os.environ, LD_PRELOAD=os.path.abspath(shim),
                       MEMPROF_OPTIONS=opts + ',snapdir=' + d)
            got = subprocess.run([target], capture_output=True, text=True, env=env)
            t.eq(got.returncode, 0, '%s: exit 0' % opts)
            t.eq(got.stdout.splitlines(), lines, '%s: same output as glibc' % opts)
        got = subprocess.run([memprof, 'run', '-q', '--rate', '1', '-o',
                              os.path.join(d, 'c.pb.gz'), target], capture_output=True, text=True)
        t.eq(got.returncode, 0, 'memprof run --rate 1: exit 0')
        t.eq(got.stdout.splitlines(), lines, 'memprof run --rate 1: same output as glibc')
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
