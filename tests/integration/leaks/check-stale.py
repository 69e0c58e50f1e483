#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Leak classes are the program's alone, and the same every run: t-stale
(blocks that only words the program never wrote point to) gets the classes
memcheck gives, run after run; so does perl, a real program whose arenas
left such words behind (one run in about thirty used to turn a definitely
lost arena reachable).  usage: check-stale.py MEMPROF T_STALE"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from tap import Tap  # noqa: E402

FUNCS = ('lose_behind_link', 'lose_behind_slack')


def classes(report):
    """{category: {function: (bytes, count)}} of the leaks whose stack has
    one of FUNCS; all of the report's summary otherwise."""
    out = {}
    for leak in report['leaks']:
        name = next((f['function'] for f in leak['stack'] if f['function'] in FUNCS), None)
        if name:
            cat = out.setdefault(leak['category'], {})
            b, c = cat.get(name, (0, 0))
            cat[name] = (b + leak['bytes'], c + leak['count'])
    return out


def valgrind(argv, env=None):
    v = subprocess.run(['valgrind', '--leak-check=full', '--run-libc-freeres=no',
                        '--run-cxx-freeres=no'] + argv, capture_output=True, text=True, env=env)
    out = {}
    for kind in ('definitely lost', 'indirectly lost'):
        m = re.search(kind + r': ([\d,]+) bytes in ([\d,]+) blocks', v.stderr)
        out[kind] = tuple(int(x.replace(',', '')) for x in m.groups()) if m else (0, 0)
    return out


def main():
    memprof, t_stale = sys.argv[1:3]
    t = Tap()
    want = {'definite': {'lose_behind_link': (32, 1), 'lose_behind_slack': (64, 1)},
            'reachable': {'lose_behind_link': (32, 1), 'lose_behind_slack': (40, 1)}}
    with tempfile.TemporaryDirectory() as d:
        js = os.path.join(d, 'r.json')
        seen = []
        for i in range(5):
            r = subprocess.run([memprof, 'run', '-q', '--leak-check', '--leak-report', js,
                                '-o', os.path.join(d, 's.heap.pb.gz'), t_stale],
                               capture_output=True, text=True)
            if i == 0:
                t.eq(r.stdout, 'reused\n', 'the freed blocks were handed out again (the premise)')
            seen.append(classes(json.load(open(js))) if os.path.exists(js) else None)
        t.eq(seen[0], want, 'blocks behind a stale link or in a class\'s slack are lost')
        t.ok(all(s == seen[0] for s in seen), 'the same classes in 5 runs', seen)
        if shutil.which('valgrind'):
            t.eq(valgrind([t_stale])['definitely lost'], (96, 2), 'valgrind agrees: definitely lost')
        else:
            t.ok(False, 'valgrind is installed')

        perl = shutil.which('perl')
        if not perl:
            t.ok(True, '# SKIP no perl')
            return t.done()
        argv = [perl, '-e', 'print "hi\\n"']
        # perl's own hash randomization changes its allocations from run
        # to run: off, so that any difference left would be memprof's.
        env = dict(os.environ, PERL_HASH_SEED='0', PERL_PERTURB_KEYS='0')
        sums = []
        for i in range(8):
            r = subprocess.run([memprof, 'run', '-q', '--leak-check=summary', '--leak-report', js,
                                '-o', os.path.join(d, 'p.heap.pb.gz')] + argv,
                               capture_output=True, text=True, env=env)
            s = json.load(open(js))['summary'] if os.path.exists(js) else {}
            sums.append((s.get('heap_definite_bytes'), s.get('heap_indirect_bytes'),
                         s.get('heap_reachable_bytes')))
        t.ok(len(set(sums)) == 1, 'perl: the same definite, indirect and reachable bytes in 8 runs',
             sums)
        if shutil.which('valgrind'):
            v = valgrind(argv, env)
            t.eq(sums[0][:2], (v['definitely lost'][0], v['indirectly lost'][0]),
                 'perl: definitely and indirectly lost bytes as memcheck counts them')
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
