#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The final snapshot and the leak scan come after every destructor: t-exit
with a linked library and a dlopened one that free their blocks in their
destructors, ended by return, exit() from a thread, _exit and quick_exit.
Exact in-use blocks per function at --rate 1, the leak classes, the exit
status, and the totals in use at exit against valgrind's memcheck (run with
--run-libc-freeres=no --run-cxx-freeres=no, as memprof does not free libc's
own memory either).  usage: check-exit.py MEMPROF T_EXIT PLUGIN"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from pprof_raw import read_raw  # noqa: E402
from tap import Tap  # noqa: E402

FUNCS = ('lib_alloc_blocks', 'plug_alloc_blocks', 'keep_for_exit', 'quick_alloc')

# mode -> (exit status, {function: (in-use objects, in-use bytes)})
MODES = {
    'return': (0, {}),
    'thread': (0, {}),
    '_exit': (7, {'lib_alloc_blocks': (10, 1045), 'plug_alloc_blocks': (10, 1045),
                  'keep_for_exit': (5, 1000)}),
    'quick': (5, {'lib_alloc_blocks': (10, 1045), 'plug_alloc_blocks': (10, 1045)}),
}


# A thread's DTV grows with the number of TLS modules, which the shim adds
# to: an effect of the environment, left out of both sides' totals.
ENV_FUNCS = {'allocate_dtv'}


def inuse(path):
    """({function of FUNCS: (objects, bytes)} in use, (total objects, total
    bytes) but for ENV_FUNCS)."""
    types, samples, locations = read_raw(path)
    io, ib = types.index('inuse_objects'), types.index('inuse_space')
    per, total = {}, [0, 0]
    for vals, locs, _ in samples:
        names = {f.split('(')[0] for l in locs for f in locations.get(l, [])}
        if not names & ENV_FUNCS:
            total[0] += vals[io]
            total[1] += vals[ib]
        for n in names & set(FUNCS):
            o, b = per.get(n, (0, 0))
            per[n] = (o + vals[io], b + vals[ib])
    return {k: v for k, v in per.items() if v != (0, 0)}, tuple(total)


def leak_functions(report):
    """{category: {function of FUNCS}} of the leak report."""
    out = {}
    for leak in report['leaks']:
        for f in leak['stack']:
            if f['function'] in FUNCS:
                out.setdefault(leak['category'], set()).add(f['function'])
    return out


def valgrind_in_use(argv):
    """(blocks, bytes) memcheck finds in use at exit, but for ENV_FUNCS."""
    v = subprocess.run(['valgrind', '--run-libc-freeres=no', '--run-cxx-freeres=no',
                        '--leak-check=full', '--show-leak-kinds=all'] + argv,
                       capture_output=True, text=True)
    if 'All heap blocks were freed' in v.stderr:
        return (0, 0)
    total = [0, 0]
    for rec in re.split(r'\n==\d+== \n', v.stderr):
        m = re.search(r'([\d,]+) bytes in ([\d,]+) blocks are .* in loss record', rec)
        if m and not any(f in rec for f in ENV_FUNCS):
            total[0] += int(m.group(2).replace(',', ''))
            total[1] += int(m.group(1).replace(',', ''))
    return tuple(total)


def main():
    memprof, t_exit, plugin = sys.argv[1:4]
    t = Tap()
    with tempfile.TemporaryDirectory() as d:
        for mode, (status, want) in MODES.items():
            argv = [t_exit, mode, plugin]
            native = subprocess.run(argv, capture_output=True, text=True)
            t.eq(native.returncode, status, '%s: native exit status' % mode)
            prof = os.path.join(d, mode + '.heap.pb.gz')
            js = os.path.join(d, mode + '.json')
            r = subprocess.run([memprof, 'run', '-q', '--rate', '1', '--leak-check',
                                '--leak-report', js, '-o', prof] + argv,
                               capture_output=True, text=True)
            t.eq(r.returncode, status, '%s: exit status under memprof' % mode)
            if not t.ok(os.path.exists(prof) and os.path.exists(js),
                        '%s: profile and leak report written' % mode, r.stderr):
                continue
            per, total = inuse(prof)
            t.eq(per, want, '%s: blocks in use at exit per function' % mode)
            leaks = leak_functions(json.load(open(js)))
            t.eq(leaks, {'reachable': set(want)} if want else {},
                 '%s: leak classes (blocks the destructors freed are not reported)' % mode)
            if shutil.which('valgrind'):
                t.eq(total, valgrind_in_use(argv), '%s: in use at exit, as memcheck counts' % mode)
            else:
                t.ok(False, 'valgrind is installed')
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
