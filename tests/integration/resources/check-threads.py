#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Thread tracking (t-thr): the thread profile beside the heap profile has
exactly the threads still running and the joinable ones never joined, each
with its creating function and state; detached and joined threads are gone;
the leak check reports and gates on them; a clean run has none.
usage: check-threads.py MEMPROF T_THR"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import pprof_raw  # noqa: E402
from tap import Tap  # noqa: E402


def run(argv):
    return subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL)


def threads(path):
    types, samples, locations = pprof_raw.read_raw(path)
    out = []
    for values, locs, labels in samples:
        leaf = locations[locs[0]][0].split('(')[0]
        state = 'running' if 'state:[running]' in labels else 'ended' if 'ended' in labels else '?'
        out += [(leaf, state, 'gatekeeper' in labels)] * values[0]
    return types, sorted(out)


def main():
    memprof, t_thr = sys.argv[1:3]
    t = Tap()
    with tempfile.TemporaryDirectory() as d:
        heap = os.path.join(d, 't.heap.pb.gz')
        r = run([memprof, 'run', '-q', '-o', heap, t_thr, 'leaky'])
        t.eq((r.returncode, r.stdout), (0, 'done\n'), 'leaky: exit 0, output unchanged')
        types, got = threads(os.path.join(d, 't.threads.pb.gz'))
        t.eq(types, ['threads'], 'the thread profile: one sample type, threads/count')
        t.eq(got, [('make_blocked', 'running', True), ('make_unjoined', 'ended', False)],
             'leaky: the blocked thread (named) and the unjoined one, nothing else')
        tid = r.stderr.split('gatekeeper tid ')[1].split()[0] if 'gatekeeper tid ' in r.stderr else '?'
        _, samples, _ = pprof_raw.read_raw(os.path.join(d, 't.threads.pb.gz'))
        t.eq([s[2].count('tid:[%s]' % tid) for s in samples if 'gatekeeper' in s[2]], [1],
             'the blocked thread carries its kernel id (tid label)')
        js = os.path.join(d, 'r.json')
        r = run([memprof, 'run', '-q', '--leak-check', '--leak-report', js, '--error-exitcode', '5',
                 '-o', heap, t_thr, 'leaky'])
        rep = json.load(open(js))
        t.eq((r.returncode, rep['summary']['threads']), (5, 2), 'leak check: two threads, exit 5')
        t.ok('threads: 2 still alive or not joined' in r.stderr, 'leak check: the summary line', r.stderr)
        r = run([memprof, 'run', '-q', '-o', heap, t_thr, 'clean'])
        types, got = threads(os.path.join(d, 't.threads.pb.gz'))
        t.eq((r.returncode, got), (0, []), 'clean: no thread left')
        r = run([memprof, 'run', '-q', '--leak-check', '--error-exitcode', '5', '-o', heap, t_thr, 'clean'])
        t.eq(r.returncode, 0, 'leak check: a clean run passes')
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
