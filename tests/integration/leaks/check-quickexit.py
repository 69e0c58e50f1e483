#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""--leak-check in processes that end at once (short programs, fork children
of a shell): no wait for the shim's helper thread.  The scan stops every
thread but its own and the helper's, and the helper blocks every signal; a
process that reached its end before the scheduler first ran its helper did
not know the helper's thread id yet, signalled it, and waited its 300 ms
for an answer that never came: `memprof run --leak-check true` took 0.31 s
instead of 0.01 s on a loaded machine, 200 fork children 71 s instead of 8.
Two busy loops load both cores while /bin/true runs ten times; before the
fix nearly every run took over 300 ms.  usage: check-quickexit.py MEMPROF"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from tap import Tap  # noqa: E402

RUNS = 10
SLOW = 0.25     # seconds: the stall alone was 0.3 s; a run takes 0.01-0.05 s


def main():
    memprof = os.path.abspath(sys.argv[1])
    t = Tap()
    true = shutil.which('true')
    busy = [subprocess.Popen(['sh', '-c', 'while :; do :; done']) for _ in range(2)]
    took = []
    try:
        with tempfile.TemporaryDirectory() as d:
            for i in range(RUNS):
                t0 = time.monotonic()
                r = subprocess.run([memprof, 'run', '-q', '--leak-check', '-o',
                                    os.path.join(d, 'q.heap.pb.gz'), true],
                                   capture_output=True, text=True, timeout=60)
                took.append(time.monotonic() - t0)
                if r.returncode != 0:
                    t.ok(False, 'true under --leak-check exits 0', r.stderr)
                    break
    finally:
        for b in busy:
            b.kill()
            b.wait()
    slow = [x for x in took if x > SLOW]
    t.ok(len(took) == RUNS and len(slow) <= RUNS // 2,
         'true under --leak-check on loaded cores: %d of %d runs over %.2f s (%s)'
         % (len(slow), RUNS, SLOW, ', '.join('%.3f' % x for x in took)))
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
