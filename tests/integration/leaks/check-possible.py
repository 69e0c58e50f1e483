#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""memprof run --leak-check --rate 1 on t-possible (blocks reached only
through interior pointers, and one case for each of memcheck's four
heuristics): per class, the bytes and blocks valgrind --leak-check=full
reports, exactly (summary totals for the lost classes, loss records per
function of the target for all four); possibly lost blocks listed with
their stacks, failing by default, suppressible, in the JSON, SARIF and JUnit
reports.  usage: check-possible.py MEMPROF T_POSSIBLE"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from tap import Tap  # noqa: E402

FUNCS = ('keep_inside', 'keep_chain', 'keep_upgraded', 'lose_interior', 'keep_stdstring',
         'keep_length64', 'keep_newarray', 'keep_multiple')
CLASSES = {'definite': 'definitely lost', 'indirect': 'indirectly lost',
           'possible': 'possibly lost', 'reachable': 'still reachable'}
WANT = {
    'definite': {'keep_inside': (24, 1), 'lose_interior': (32, 1)},
    'indirect': {'lose_interior': (48, 1)},
    'possible': {'keep_inside': (64, 1), 'keep_chain': (72, 2)},
    'reachable': {'keep_upgraded': (320, 8), 'keep_stdstring': (40, 1),
                  'keep_length64': (64, 1), 'keep_newarray': (68, 1), 'keep_multiple': (40, 1)},
}


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, **kw)


def add(d, cls, fn, b, n):
    ob, on = d.setdefault(cls, {}).get(fn, (0, 0))
    d[cls][fn] = (ob + b, on + n)


def memprof_classes(report):
    """{class: {function: (bytes, blocks)}} of the heap groups allocated in FUNCS."""
    out = {}
    for leak in report['leaks']:
        fn = next((f['function'] for f in leak['stack'] if f['function'] in FUNCS), None)
        if leak['kind'] == 'heap' and fn:
            add(out, leak['category'], fn, leak['bytes'], leak['count'])
    return out


SUMMARY = re.compile(r'memprof:\s+(definitely lost|indirectly lost|possibly lost|still reachable): '
                     r'(\d+) bytes in (\d+) blocks')


def memprof_summary(text):
    return {k: (int(b), int(n)) for k, b, n in SUMMARY.findall(text)}


def valgrind(prog, *opts):
    """(summary {kind: (bytes, blocks)}, records {class: {function: (bytes, blocks)}})."""
    v = run(['valgrind', '--leak-check=full', '--show-leak-kinds=all'] + list(opts) + [prog])
    summary = {}
    for kind in CLASSES.values():
        m = re.search(kind + r': ([\d,]+) bytes in ([\d,]+) blocks', v.stderr)
        summary[kind] = tuple(int(x.replace(',', '')) for x in m.groups()) if m else (0, 0)
    records = {}
    lines = [re.sub(r'^==\d+== ?', '', x) for x in v.stderr.splitlines()]
    for i, line in enumerate(lines):
        m = re.match(r'([\d,]+) (?:\(([\d,]+) direct, [\d,]+ indirect\) )?bytes in ([\d,]+) blocks '
                     r'are (definitely lost|indirectly lost|possibly lost|still reachable)', line)
        if not m:
            continue
        cls = next(c for c, k in CLASSES.items() if k == m.group(4))
        fn = None
        for frame in lines[i + 1:]:
            f = re.match(r'\s+(?:at|by) 0x[0-9A-F]+: ([\w:]+)', frame)
            if not f:
                break
            if f.group(1) in FUNCS:
                fn = f.group(1)
                break
        if fn:
            direct = m.group(2) or m.group(1)
            add(records, cls, fn, int(direct.replace(',', '')), int(m.group(3).replace(',', '')))
    return summary, records


def main():
    memprof, prog = sys.argv[1:3]
    t = Tap()
    with tempfile.TemporaryDirectory() as d:
        js, sarif_p, xml_p = (os.path.join(d, 'r' + e) for e in ('.json', '.sarif', '.xml'))
        out = os.path.join(d, 'p.heap.pb.gz')
        r = run([memprof, 'run', '-q', '--rate', '1', '--leak-check=full', '--leak-report', js,
                 '--leak-report', sarif_p, '--leak-report', xml_p, '--error-exitcode', '42',
                 '-o', out, prog])
        t.eq(r.returncode, 42, 'possibly lost and lost blocks: --error-exitcode status', r.stderr)
        rep = json.load(open(js))
        ours = memprof_classes(rep)
        for cls in CLASSES:
            t.eq(ours.get(cls, {}), WANT[cls], '%s: exact bytes and blocks per function' % cls)
        summ = memprof_summary(r.stderr)
        t.eq([k for k, _, _ in SUMMARY.findall(r.stderr)],
             ['definitely lost', 'indirectly lost', 'possibly lost', 'still reachable'],
             'the summary in valgrind\'s order', r.stderr)
        t.eq(summ.get('possibly lost'), (136, 3), 'summary: possibly lost 136 bytes in 3 blocks')
        t.ok(re.search(r'memprof: 64 bytes in 1 block possibly lost\nmemprof:     at keep_inside '
                       r'\(.*t-possible.cc:\d+\)', r.stderr),
             '--leak-check=full lists possibly lost blocks with their stacks', r.stderr)
        t.eq(rep['summary'].get('heap_possible_bytes'), 136, 'JSON summary: heap_possible_bytes')

        if shutil.which('valgrind'):
            vsum, vrec = valgrind(prog)
            for cls, kind in CLASSES.items():
                t.eq(vrec.get(cls, {}), ours.get(cls, {}),
                     'valgrind agrees: %s, per function' % kind)
            for cls in ('definite', 'indirect', 'possible'):
                kind = CLASSES[cls]
                t.eq(vsum[kind], summ.get(kind), 'valgrind agrees: %s in all' % kind)
            # The premise: each heuristic case is reachable through its
            # heuristic alone; without them, memcheck calls them possibly lost.
            nsum, nrec = valgrind(prog, '--leak-check-heuristics=none')
            t.eq(sorted(nrec.get('possible', {})),
                 sorted(['keep_inside', 'keep_chain', 'keep_stdstring', 'keep_length64',
                         'keep_newarray', 'keep_multiple']),
                 'without heuristics valgrind calls the heuristic cases possibly lost (premise)')
        else:
            t.ok(False, 'valgrind is installed')

        # CI formats carry the class.
        sarif = json.load(open(sarif_p))
        res = [x for x in sarif['runs'][0]['results'] if x['ruleId'] == 'possible-leak']
        t.eq(sorted((x['properties']['bytes'], x['level']) for x in res),
             [(32, 'error'), (40, 'error'), (64, 'error')],
             'SARIF: a possible-leak result per group, level error by default')
        proc = sarif['runs'][0]['properties']['processes'][0]
        t.eq((proc['possiblyLostBytes'], proc['possiblyLostBlocks']), (136, 3),
             'SARIF: possibly lost bytes and blocks of the process')
        cases = [c for c in ET.parse(xml_p).getroot().iter('testcase')
                 if c.get('classname', '').endswith('.possible')]
        t.ok(len(cases) == 3 and all(c.find('failure') is not None and
                                     c.find('failure').get('type') == 'possible' for c in cases),
             'JUnit: a failing test case per possibly lost group', [ET.tostring(c) for c in cases])

        # --fail-on and suppressions.
        supp = os.path.join(d, 's.supp')
        with open(supp, 'w') as f:
            f.write('leak:^lose_interior$\nleak:^keep_inside$\n')
        r = run([memprof, 'run', '-q', '--rate', '1', '--leak-check=summary', '--error-exitcode', '42',
                 '--suppressions', supp, '-o', out, prog])
        t.eq(r.returncode, 42, 'keep_chain\'s possibly lost blocks still fail the run by default')
        r = run([memprof, 'run', '-q', '--rate', '1', '--leak-check=summary', '--error-exitcode', '42',
                 '--fail-on', 'definite,indirect', '--suppressions', supp, '-o', out, prog])
        t.eq(r.returncode, 0, '--fail-on definite,indirect: possibly lost blocks do not fail')
        with open(supp, 'a') as f:
            f.write('leak:^keep_chain$\n')
        r = run([memprof, 'run', '-q', '--rate', '1', '--leak-check=summary', '--error-exitcode', '42',
                 '--suppressions', supp, '-o', out, prog])
        t.eq(r.returncode, 0, 'suppressions apply to possibly lost blocks', r.stderr)
        t.ok('possibly lost: 0 bytes in 0 blocks' in r.stderr and
             'suppressed: 240 bytes in 6 blocks' in r.stderr,
             'the summary counts them as suppressed (lost ones too)', r.stderr)
        r = run([memprof, 'run', '-q', '--rate', '1', '--leak-check=summary', '--error-exitcode', '42',
                 '--fail-on', 'possible', '-o', out, prog])
        t.eq(r.returncode, 42, '--fail-on possible')
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
