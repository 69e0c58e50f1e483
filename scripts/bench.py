#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""memprof benchmark: allocation-heavy real programs from Debian packages and
our own 2-thread allocation benchmark, run natively, under `memprof run` at
the default rate and at --rate 1, and under heaptrack, in one run; prints the
median wall time of each and its ratio to the native run, plus geometric
means.  Not a test: nothing here asserts a time.

usage: bench.py --memprof PATH --alloc-bench PATH [--reps N] [--quick]
"""
import argparse
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def gen_inputs(d, scale):
    rnd = random.Random(1)
    xml = os.path.join(d, 'big.xml')
    with open(xml, 'w') as f:
        f.write('<?xml version="1.0"?>\n<root>\n')
        for i in range(int(120000 * scale)):
            f.write('<item id="%d" kind="k%d"><name>item %d</name><tags><t>a%d</t><t>b%d</t>'
                    '</tags><v>%f</v></item>\n' % (i, i % 17, i, i % 7, i % 11, rnd.random()))
        f.write('</root>\n')
    js = os.path.join(d, 'big.json')
    with open(js, 'w') as f:
        f.write('[')
        for i in range(int(150000 * scale)):
            f.write('%s{"id":%d,"name":"n%d","tags":["x%d","y%d"],"v":%f,"o":{"a":%d,"b":"s%d"}}'
                    % (',' if i else '', i, i, i % 13, i % 5, rnd.random(), i % 100, i))
        f.write(']\n')
    py = os.path.join(d, 'alloc.py')
    with open(py, 'w') as f:
        f.write('d = {}\n'
                'for i in range(%d):\n'
                '    d[str(i)] = [i, str(i) * 3, (i, i + 1)]\n'
                'for i in range(0, %d, 2):\n'
                '    del d[str(i)]\n'
                's = sorted(d.values(), key=lambda x: x[1])\n'
                'print(len(s), sum(len(x[1]) for x in s))\n' % (int(600000 * scale), int(600000 * scale)))
    sql = os.path.join(d, 'load.sql')
    with open(sql, 'w') as f:
        f.write('CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, grp INTEGER, v REAL);\nBEGIN;\n')
        for i in range(int(150000 * scale)):
            f.write("INSERT INTO t(name, grp, v) VALUES('name%d', %d, %f);\n" % (i, i % 97, rnd.random()))
        f.write('COMMIT;\nCREATE INDEX t_name ON t(name);\n'
                'SELECT grp, count(*), avg(v) FROM t GROUP BY grp ORDER BY 2 DESC LIMIT 3;\n'
                'SELECT count(DISTINCT name) FROM t;\n')
    return xml, js, py, sql


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--memprof', required=True)
    ap.add_argument('--alloc-bench', required=True)
    ap.add_argument('--reps', type=int, default=3)
    ap.add_argument('--quick', action='store_true', help='small inputs (smoke run)')
    ap.add_argument('--modes', default='native,memprof,memprof-rate1,heaptrack')
    args = ap.parse_args()
    scale = 0.1 if args.quick else 1.0
    py3 = '/usr/bin/python3' if os.path.exists('/usr/bin/python3') else shutil.which('python3')
    work = tempfile.mkdtemp(prefix='memprof-bench-')
    try:
        xml, js, py, sql = gen_inputs(work, scale)
        steps = str(int(3000000 * scale))
        workloads = [
            ('xmllint', ['xmllint', '--noout', xml], None, {}),
            ('jq', ['jq', '-c', 'map({id, n: .name, t: .tags[0]}) | length', js], None, {}),
            ('python3', [py3, py], None, {'PYTHONMALLOC': 'malloc'}),
            ('sqlite3', ['sqlite3', ':memory:'], sql, {}),
            ('alloc-bench-2t', [args.alloc_bench, steps], None, {}),
        ]
        modes = args.modes.split(',')
        prof = os.path.join(work, 'out.pb.gz')
        wrap = {
            'native': lambda c: c,
            'memprof': lambda c: [args.memprof, 'run', '-q', '-o', prof, '--'] + c,
            'memprof-rate1': lambda c: [args.memprof, 'run', '-q', '--rate', '1', '-o', prof, '--'] + c,
            'heaptrack': lambda c: ['heaptrack', '-o', os.path.join(work, 'ht')] + c,
        }
        results = {}
        for name, cmd, stdin, extra in workloads:
            env = dict(os.environ, **extra)
            for mode in modes:
                times = []
                for _ in range(args.reps):
                    fin = open(stdin) if stdin else subprocess.DEVNULL
                    t0 = time.perf_counter()
                    r = subprocess.run(wrap[mode](cmd), stdin=fin, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL, env=env)
                    t1 = time.perf_counter()
                    if stdin:
                        fin.close()
                    if r.returncode != 0:
                        print('bench: %s under %s failed with status %d' % (name, mode, r.returncode),
                              file=sys.stderr)
                        return 1
                    times.append(t1 - t0)
                    for f in os.listdir(work):
                        if f.startswith('ht') or f.startswith('out.'):
                            os.unlink(os.path.join(work, f))
                results[(name, mode)] = statistics.median(times)
                print('# %-15s %-14s %.3fs' % (name, mode, results[(name, mode)]), file=sys.stderr)
        names = [w[0] for w in workloads]
        print('| workload | native (s) | ' + ' | '.join('%s ×' % m for m in modes if m != 'native') + ' |')
        print('|---|---:|' + '---:|' * (len(modes) - 1))
        for n in names:
            base = results[(n, 'native')]
            cells = ['%.2f' % (results[(n, m)] / base) for m in modes if m != 'native']
            print('| %s | %.3f | %s |' % (n, base, ' | '.join(cells)))
        geo = []
        for m in modes:
            if m == 'native':
                continue
            g = math.exp(sum(math.log(results[(n, m)] / results[(n, 'native')]) for n in names) / len(names))
            geo.append('%.2f' % g)
        print('| geometric mean | | %s |' % ' | '.join(geo))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
