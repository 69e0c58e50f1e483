#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Run an exact-count target under `memprof run --rate 1` and compare the
cumulative values of every function named in the source's EXPECT lines with
what `go tool pprof -raw` reads from the profile.  TAP output.

With --unwind-check it also runs the target with unwind=2, where the shim
walks every stack both with memprof's walker and with libunwind, and
expects no difference.

usage: check.py [--unwind-check] MEMPROF SOURCE TARGET
"""
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import pprof_raw  # noqa: E402

TYPES = ['alloc_objects', 'alloc_space', 'inuse_objects', 'inuse_space']


def main():
    args = sys.argv[1:]
    unwind_check = args[:1] == ['--unwind-check']
    if unwind_check:
        args = args[1:]
    memprof, source, target = args[:3]
    expect = []
    for line in open(source):
        m = re.search(r'EXPECT (\w+) (\d+) (\d+) (\d+) (\d+)', line)
        if m:
            expect.append((m.group(1), [int(x) for x in m.group(2, 3, 4, 5)]))
    n = 0
    failed = 0

    def ok(cond, what, detail=''):
        nonlocal n, failed
        n += 1
        if not cond:
            failed += 1
        print('%sok %d - %s' % ('' if cond else 'not ', n, what))
        if not cond and detail:
            print('# ' + detail.replace('\n', '\n# '))

    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, 'p.heap.pb.gz')
        r = subprocess.run([memprof, 'run', '--rate', '1', '-o', out, target],
                           capture_output=True, text=True)
        ok(r.returncode == 0, 'target exits 0 under memprof', r.stderr)
        ok(os.path.exists(out), 'profile written', r.stderr)
        if not os.path.exists(out):
            print('1..%d' % n)
            return 1
        types, cum = pprof_raw.cum_by_function(out)
        ok(types == TYPES, 'sample types %s' % types)
        for fn, want in expect:
            got = [cum.get(fn, [0] * 4)[types.index(t)] for t in TYPES] if types == TYPES else None
            ok(got == want, '%s %s' % (fn, ' '.join('%s=%d' % kv for kv in zip(TYPES, want))),
               'got %s' % got)
        if unwind_check:
            env = dict(os.environ, MEMPROF_OPTIONS='unwind=2')
            r = subprocess.run([memprof, 'run', '--rate', '1', '-o', out, target],
                               capture_output=True, text=True, env=env)
            m = re.search(r'unwind check: (\d+) of (\d+)', r.stderr)
            ok(r.returncode == 0 and m is not None and int(m.group(2)) > 0,
               'unwind=2 run reports its check', r.stderr)
            ok(m is not None and m.group(1) == '0',
               "every stack as libunwind walks it (%s of %s differ)" %
               (m.group(1) if m else '?', m.group(2) if m else '?'))
    print('1..%d' % n)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
