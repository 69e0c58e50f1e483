#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""memprof run --leak-check on t-leaks (one block of each class) and t-clean
(leaks nothing): exact classes and bytes per allocating function, agreement
with valgrind --leak-check=full, exit codes, suppressions, JSON report,
bad options.  usage: check-leaks.py MEMPROF T_LEAKS T_CLEAN"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from tap import Tap  # noqa: E402


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, **kw)


def by_function(report, category):
    """{function: (bytes, count)} of the leaks of `category`, keyed by the
    first frame that is one of the target's functions."""
    out = {}
    for leak in report['leaks']:
        if leak['category'] != category:
            continue
        name = next((f['function'] for f in leak['stack']
                     if f['function'] in ('lose_one', 'lose_list', 'keep_global', 'keep_in_thread',
                                          'keep_in_register', 'keep_in_tls', 'keep_in_container')),
                    None)
        if name:
            b, c = out.get(name, (0, 0))
            out[name] = (b + leak['bytes'], c + leak['count'])
    return out


def main():
    memprof, t_leaks, t_clean = sys.argv[1:4]
    t = Tap()
    with tempfile.TemporaryDirectory() as d:
        js = os.path.join(d, 'r.json')
        r = run([memprof, 'run', '-q', '--leak-check', '--leak-report', js, '--error-exitcode', '42',
                 '-o', os.path.join(d, 'l.heap.pb.gz'), t_leaks])
        t.eq(r.returncode, 42, 'leaky program: --error-exitcode status')
        rep = json.load(open(js))
        t.eq(by_function(rep, 'definite'), {'lose_one': (100, 1), 'lose_list': (48, 1)},
             'definitely lost: exact blocks and bytes per function')
        t.eq(by_function(rep, 'indirect'), {'lose_list': (432, 9)}, 'indirectly lost: the list tail')
        reach = by_function(rep, 'reachable')
        for name, want in [('keep_global', (200, 1)), ('keep_in_thread', (300, 1)),
                           ('keep_in_register', (400, 1)), ('keep_in_tls', (500, 1))]:
            t.eq(reach.get(name), want, 'reachable: %s' % name)
        t.eq(reach.get('keep_in_container'), (48 + 1440 + 820, 41),
             'reachable: a global std::map of 20 heap strings (map, nodes, strings)')
        t.eq((rep['summary']['heap_definite_bytes'], rep['summary']['heap_indirect_bytes']),
             (148, 432), 'summary: definite and indirect bytes')
        t.ok('memprof:    definitely lost: 148 bytes in 2 blocks' in r.stderr and
             re.search(r'100 bytes in 1 block definitely lost\nmemprof:     at lose_one \(.*t-leaks.cc:\d+\)',
                       r.stderr), 'text report: summary and the allocating line', r.stderr)

        if shutil.which('valgrind'):
            v = run(['valgrind', '--leak-check=full', '--show-leak-kinds=all', t_leaks])
            def vg(kind):
                m = re.search(kind + r': ([\d,]+) bytes in ([\d,]+) blocks', v.stderr)
                return tuple(int(x.replace(',', '')) for x in m.groups()) if m else None
            t.eq(vg('definitely lost'), (148, 2), 'valgrind agrees: definitely lost')
            t.eq(vg('indirectly lost'), (432, 9), 'valgrind agrees: indirectly lost')
            ours = sorted(leak['bytes'] for leak in rep['leaks'] if leak['category'] == 'reachable')
            theirs = [int(x.replace(',', '')) for x in
                      re.findall(r'([\d,]+) bytes in [\d,]+ blocks are still reachable', v.stderr)]
            t.ok(theirs and all(x in ours for x in theirs),
                 'valgrind agrees: every still-reachable record is reachable for memprof too',
                 (theirs, ours))
        else:
            t.ok(False, 'valgrind is installed')

        # Suppressions silence exactly what they name.
        supp = os.path.join(d, 's.supp')
        with open(supp, 'w') as f:
            f.write('# comment\nleak:lose_one\n')
        r = run([memprof, 'run', '-q', '--leak-check', '--leak-report', js, '--error-exitcode', '42',
                 '--suppressions', supp, '-o', os.path.join(d, 'l.heap.pb.gz'), t_leaks])
        rep = json.load(open(js))
        t.eq((r.returncode, by_function(rep, 'definite')), (42, {'lose_list': (48, 1)}),
             'suppressing lose_one leaves lose_list failing')
        t.ok('suppressed: 100 bytes in 1 blocks' in r.stderr, 'the summary counts what was suppressed',
             r.stderr)
        with open(supp, 'w') as f:
            # the two threads t-leaks leaves running are on purpose
            f.write('leak:^lose_*$\nthread:^main$\n')
        r = run([memprof, 'run', '-q', '--leak-check', '--error-exitcode', '42', '--suppressions', supp,
                 '-o', os.path.join(d, 'l.heap.pb.gz'), t_leaks])
        t.eq(r.returncode, 0, 'suppressing both lost stacks: the program\'s own status')
        r = run([memprof, 'run', '-q', '--leak-check=summary', '--error-exitcode', '42',
                 '--fail-on', 'indirect', '--suppressions', supp, '-o', os.path.join(d, 'l.heap.pb.gz'),
                 t_leaks])
        t.eq(r.returncode, 0, '--fail-on indirect with the list suppressed: no failure')
        r = run([memprof, 'run', '-q', '--leak-check=summary', '--gen-suppressions',
                 '-o', os.path.join(d, 'l.heap.pb.gz'), t_leaks])
        t.ok('leak:^lose_one$' in r.stderr, '--gen-suppressions prints a ready entry', r.stderr)

        # A clean threaded program: no leak, its own status and output.
        r = run([memprof, 'run', '-q', '--leak-check', '--leak-report', js, '--error-exitcode', '42',
                 '-o', os.path.join(d, 'c.heap.pb.gz'), t_clean])
        t.eq((r.returncode, r.stdout), (3, 'hello\n'), 'clean program: its own status and output')
        rep = json.load(open(js))
        t.eq([leak for leak in rep['leaks'] if leak['category'] != 'reachable'], [],
             'clean program: nothing lost, nothing from glibc internals')

        # Bad options and files.
        for argv, what in [
                (['--error-exitcode', '3'], '--error-exitcode without --leak-check'),
                (['--leak-check=most'], 'bad --leak-check mode'),
                (['--leak-check', '--error-exitcode', '0'], '--error-exitcode 0'),
                (['--leak-check', '--fail-on', 'lots'], 'bad --fail-on'),
                (['--leak-check', '--suppressions', os.path.join(d, 'missing')], 'missing suppressions'),
                (['--leak-check', '--allocator', 'system'], '--leak-check with the system allocator')]:
            r = run([memprof, 'run'] + argv + [t_clean])
            t.ok(r.returncode == 2 and r.stderr.startswith('memprof: ') and r.stderr.count('\n') == 1
                 and r.stdout == '', '%s: one-line error, exit 2' % what, r.stderr)
        with open(supp, 'w') as f:
            f.write('leak:ok\nbogus line\n')
        r = run([memprof, 'run', '--leak-check', '--suppressions', supp, t_clean])
        t.ok(r.returncode == 2 and 'line 2' in r.stderr and r.stdout == '',
             'a bad suppression line is named, exit 2', r.stderr)
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
