#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Code unloaded with dlclose before exit keeps its names, in the heap
profile and in the leak report, even when a later library takes its
address range with code at the very same addresses: t-dlclose's plugins
A (unloaded, its range then reused by B), B (loaded at the end; A's code
with another frame size) and C (unloaded, range left free), at --rate 1,
exact bytes per function, callers included (a walker that kept A's unwind
rules would lose B's); every stack as libunwind walks it (unwind=2); also
from a snapshot the shim alone wrote, through memprof convert.
usage: check-dlclose.py MEMPROF T_DLCLOSE PLUGIN_A PLUGIN_B PLUGIN_C"""
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from pprof_raw import cum_by_function  # noqa: E402
from tap import Tap  # noqa: E402

FUNCS = ('plugin_a_alloc', 'plugin_b_alloc', 'plugin_c_alloc')
CALLERS = ('use', 'run')


def per_function(path):
    """({function: alloc bytes}, {function: in-use bytes}) for FUNCS."""
    types, cum = cum_by_function(path)
    a, u = types.index('alloc_space'), types.index('inuse_space')
    return ({f: cum[f][a] for f in FUNCS + CALLERS if f in cum},
            {f: cum[f][u] for f in FUNCS if f in cum and cum[f][u]})


def leaks(report):
    """{category: {function: bytes}}, by the innermost frame."""
    out = {}
    for leak in report['leaks']:
        f = leak['stack'][0]['function'] if leak['stack'] else ''
        if f in FUNCS:
            cat = out.setdefault(leak['category'], {})
            cat[f] = cat.get(f, 0) + leak['bytes']
    return out


def main():
    memprof, t_dlclose = sys.argv[1:3]
    argv = [t_dlclose] + sys.argv[3:6]
    t = Tap()
    want_alloc = {'plugin_a_alloc': 666, 'plugin_b_alloc': 999, 'plugin_c_alloc': 777,
                  'use': 2442, 'run': 2442}
    want_inuse = {'plugin_a_alloc': 333, 'plugin_b_alloc': 999, 'plugin_c_alloc': 777}
    with tempfile.TemporaryDirectory() as d:
        out, js = os.path.join(d, 'd.heap.pb.gz'), os.path.join(d, 'd.json')
        # Where the kernel puts B is its choice: a mapping the shim makes
        # between A's dlclose and B's dlopen (its tables grow on demand) can
        # take A's range (about 1 run in 50).  The case under test needs B
        # at A's address, so up to 8 runs are made to get it.
        for attempt in range(8):
            r = subprocess.run([memprof, 'run', '-q', '--rate', '1', '--leak-check',
                                '--leak-report', js, '-o', out] + argv,
                               capture_output=True, text=True)
            if r.returncode != 0 or r.stdout != 'not reused\n':
                break
        t.eq((r.returncode, r.stdout), (0, 'reused\n'),
             'B was loaded where A was (the case under test; %d runs)' % (attempt + 1))
        if not t.ok(os.path.exists(out) and os.path.exists(js), 'profile and report written',
                    r.stderr):
            return t.done()
        alloc, inuse = per_function(out)
        t.eq(alloc, want_alloc, 'heap profile: allocations named per plugin')
        t.eq(inuse, want_inuse, 'heap profile: in use at exit named per plugin')
        t.eq(leaks(json.load(open(js))),
             {'definite': {'plugin_a_alloc': 222, 'plugin_b_alloc': 555},
              'reachable': {'plugin_a_alloc': 111, 'plugin_b_alloc': 444, 'plugin_c_alloc': 777}},
             'leak report: each block under its own plugin')

        # memprof's walker against libunwind on every stack.
        env = dict(os.environ, MEMPROF_OPTIONS='unwind=2')
        r = subprocess.run([memprof, 'run', '-q', '--rate', '1', '-o', out] + argv, env=env,
                           capture_output=True, text=True)
        m = re.search(r'unwind check: (\d+) of (\d+)', r.stderr)
        t.ok(r.returncode == 0 and m and m.group(1) == '0' and int(m.group(2)) > 0,
             'unwind=2: every stack as libunwind walks it', r.stderr)

        # The shim alone, then memprof convert.
        env = dict(os.environ, LD_PRELOAD=os.environ['MEMPROF_SHIM'],
                   MEMPROF_OPTIONS='rate=1,snapdir=' + d)
        r = subprocess.run(argv, env=env, capture_output=True, text=True)
        snaps = [f for f in os.listdir(d) if f.endswith('.snap')]
        if t.ok(r.returncode == 0 and len(snaps) == 1, 'the shim alone wrote a snapshot', snaps):
            conv = os.path.join(d, 'c.heap.pb.gz')
            c = subprocess.run([memprof, 'convert', '-o', conv, os.path.join(d, snaps[0])],
                               capture_output=True, text=True)
            t.eq(c.returncode, 0, 'memprof convert')
            if c.returncode == 0:
                t.eq(per_function(conv)[0], want_alloc, 'converted: allocations named per plugin')
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
