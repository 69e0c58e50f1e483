#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""POSIX timer tracking (t-tim): the timer profile beside the heap profile
has exactly the timers never deleted, with state, clock and creating
function; the leak check reports and gates on them; deleting them all
clears it.  usage: check-timers.py MEMPROF T_TIM"""
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import pprof_raw  # noqa: E402
from tap import Tap  # noqa: E402


def run(argv):
    return subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL)


def timers(path):
    types, samples, locations = pprof_raw.read_raw(path)
    out = []
    for values, locs, labels in samples:
        leaf = locations[locs[0]][0].split('(')[0]
        state = re.search(r'state:\[([a-z]+)\]', labels).group(1)
        clock = re.search(r'clock:\[([^\]]+)\]', labels).group(1)
        out += [(leaf, state, clock)] * values[0]
    return types, sorted(out)


def main():
    memprof, t_tim = sys.argv[1:3]
    t = Tap()
    with tempfile.TemporaryDirectory() as d:
        heap = os.path.join(d, 't.heap.pb.gz')
        js = os.path.join(d, 'r.json')
        r = run([memprof, 'run', '-q', '--leak-check', '--leak-report', js, '--error-exitcode', '4',
                 '-o', heap, t_tim])
        types, got = timers(os.path.join(d, 't.timers.pb.gz'))
        t.eq(types, ['timers'], 'the timer profile: one sample type, timers/count')
        t.eq(got, [('make_armed', 'armed', 'monotonic interval 1000000000ns'),
                   ('make_idle', 'disarmed', 'realtime')],
             'the two timers left, with state, clock and interval; the deleted one gone')
        rep = json.load(open(js))
        t.eq((r.returncode, r.stdout, rep['summary']['timers']), (4, 'ok\n', 2),
             'leak check: two timers never deleted, exit 4, output unchanged')
        r = run([memprof, 'run', '-q', '--leak-check', '--error-exitcode', '4', '-o', heap, t_tim, 'all'])
        types, got = timers(os.path.join(d, 't.timers.pb.gz'))
        t.eq((r.returncode, got), (0, []), 'all deleted: no timer, the leak check passes')
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
