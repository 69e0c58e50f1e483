#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Default-rate accuracy: over 10 million allocations of mixed sizes the
unbiased estimates must be within 10% (objects) and 5% (bytes) of the truth
the target prints.  With ~20000 samples the relative standard error of the
byte estimate is ~0.7%, so 5% is ~7 standard errors: not flaky.
usage: check-rate.py MEMPROF TARGET"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import pprof_raw  # noqa: E402
from tap import Tap  # noqa: E402


def main():
    memprof, target = sys.argv[1:3]
    t = Tap()
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, 'r.heap.pb.gz')
        r = subprocess.run([memprof, 'run', '-o', out, target], capture_output=True, text=True)
        t.eq(r.returncode, 0, 'exit status')
        objects, nbytes = [int(x) for x in r.stdout.split()]
        types, c = pprof_raw.cum_by_function(out)
        got = c.get('mixed', [0, 0, 0, 0])
        eo = got[types.index('alloc_objects')]
        eb = got[types.index('alloc_space')]
        print('# truth %d objects %d bytes; estimate %d objects %d bytes' % (objects, nbytes, eo, eb))
        t.ok(abs(eo - objects) <= 0.10 * objects, 'alloc_objects within 10%%: %d vs %d' % (eo, objects))
        t.ok(abs(eb - nbytes) <= 0.05 * nbytes, 'alloc_space within 5%%: %d vs %d' % (eb, nbytes))
        t.ok(got[types.index('inuse_space')] <= 0.05 * nbytes, 'in-use space near zero after frees')
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
