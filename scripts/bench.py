#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""memprof benchmark: allocation-heavy real programs from Debian packages and
our own 2-thread allocation benchmark, each run in several modes in one run;
prints the median wall time and peak RSS of each mode as ratios to the
native (glibc malloc) run, plus geometric means.  Not a test: nothing here
asserts a time.

Modes:
  native          the program as it is (glibc's malloc)
  memprof         `memprof run` at the default rate (profiler + own allocator)
  memprof-rate1   `memprof run --rate 1`
  memprof-rate1-nocache  the same without the symbolization cache (every
                  run symbolizes from scratch; the other memprof modes keep
                  their cache in the benchmark's scratch directory, so their
                  first repetition is cold and the later ones are not)
  memprof-system  `memprof run --allocator=system` (profiler on glibc's malloc)
  heaptrack       `heaptrack`
  memprof-alloc   the shim preloaded with profiling off (rate=0): memprof's
                  allocator alone
  shim, shim-shm  the shim preloaded at the default rate, its tables private
                  (shm=0) or shared as `memprof run` shares them (shm=1):
                  what crash-safe profiles cost the program
  jemalloc, tcmalloc, mimalloc   Debian's allocators, preloaded
  memprof-leak    `memprof run --leak-check=summary` (every allocation recorded,
                  heap scanned at exit)
  valgrind        `valgrind --leak-check=full --trace-children=yes`
  lsan            Debian's LeakSanitizer runtime (liblsan.so.0, package
                  liblsan0, which gcc depends on) preloaded, with
                  LSAN_OPTIONS=exitcode=0 (its report at exit, on stderr,
                  leaves the status alone: gcc's cc1 leaks, and a status of
                  23 would fail the compile) and tests/bench/lsan-preinit.c
                  preloaded after it to start it before main, as linking
                  -fsanitize=leak does (sqlite3's shell calls signal() before
                  it allocates, and the preloaded runtime's signal()
                  interceptor jumps to a null pointer until LSan has
                  started: SIGSEGV)

Processes: on the compile, gcc's driver runs cc1 and as.  memprof,
LD_PRELOAD (the allocators, lsan) and valgrind (--trace-children=yes)
follow all three.  heaptrack profiles only the process it starts: its
figure on cc1 is the driver's, marked † and left out of its geometric
mean.  (heaptrack 1.4 on cc1 itself, e.g. through gcc's -wrapper, cannot
finish here: heaptrack_interpret grows past 18 GB in under a minute and
dies of std::bad_alloc, and cc1 of SIGPIPE.)

--set symbolize measures the symbolizer alone on gcc's cc1 (33 MB,
stripped): unique addresses per second cold and from the cache
(tests/bench/sym-bench.c); then, on --rate 1 snapshots of a compile, of
python3 and of sqlite3, the resident memory symbolizing takes against the
symbol and line tables it loaded (their ratio: issue 14's target is 1.5),
and `memprof convert` of each: CPU time and peak RSS of the whole
process, also as a ratio to those tables.

--set cost is the one figure here that does not move with the machine's
load: gcc's cc1 compiling a generated file (250 functions; --quick: 60)
natively, with the shim at the default rate and at --rate 1, each under
valgrind's cachegrind with a 32 KiB first-level and a 512 KiB second-level
cache (this machine's L1d and L2).  It prints instructions, first- and
second-level misses, and a cost: 1 per instruction, 10 per first-level
miss and 40 per second-level miss (about the latency, in cycles, of an L2
hit and of an L3 hit on the AMD EPYC these figures were taken on).  The
cost is a model, not a time: it knows nothing of the TLB, of branch
mispredictions or of overlapping misses, and it overstates cheap
well-predicted loops.  Its use is to compare two builds of the shim's hot
path to well under 1% in a few minutes, where timings on a shared virtual
machine vary by 5-20% from run to run.  The tables are private (shm=0),
not shared with memprof run's CLI: the same code touches the same lines.

--set profiler (default), --set allocator, --set leak or --set peers pick
a list of modes; --modes gives one explicitly, --workloads a subset of the
workloads (xmllint,jq,python3,sqlite3,alloc-bench-2t,cc1).  --set leak also
measures the leak scan's throughput on tests/bench/leak-bench.c (512 MiB of
live heap).  --set peers is every peer installed here in one run, against
native: memprof at the default rate and at --rate 1, memprof-leak,
jemalloc, lsan, heaptrack and valgrind.  valgrind is most of its time: at
full size expect about 20 minutes with the default 3 repetitions (about 5
minutes a repetition under valgrind, half of it the compile; --workloads
without cc1, or --modes without valgrind, for a shorter run); --quick
--reps 1 takes about a minute.

Peak RSS (GNU time's %M: the largest process of the tree) is shown for the
modes where that is the program's own: the preloaded ones and valgrind
(the tool runs inside the program's process); under memprof run and
heaptrack it may be the profiler's own process.

usage: bench.py --memprof PATH --shim PATH --alloc-bench PATH [--set S]
                [--lsan-preinit PATH] [--modes A,B] [--workloads W,X]
                [--reps N] [--quick]
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


TIME = '/usr/bin/time'   # GNU time (Debian package "time")


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
    csrc = os.path.join(d, 'big.c')
    gen_c(csrc, int(1200 * scale))
    return xml, js, py, sql, csrc


def gen_c(path, nfuncs):
    """A C file of nfuncs functions of four kinds (loops, switches over
    strings, list code with allocation, floating point): what gcc's cc1, a
    33 MB stripped C++ binary, compiles in about 3 s at -O2 -g."""
    rnd = random.Random(7)
    with open(path, 'w') as f:
        f.write('#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n\n')
        f.write('struct node { struct node *next; int key; double val; char name[16]; };\n')
        f.write('static inline int mix(int a, int b) { return (a * 31) ^ (b >> 3); }\n\n')
        for i in range(nfuncs):
            k = rnd.randrange(4)
            if k == 0:
                f.write('int f%d(int *v, int n)\n{\n\tint s = %d;\n\tfor (int i = 0; i < n; i++) {\n'
                        '\t\tif (v[i] %% %d == 0)\n\t\t\ts = mix(s, v[i]);\n\t\telse\n'
                        '\t\t\ts += v[i] * %d;\n\t}\n\treturn s;\n}\n\n'
                        % (i, rnd.randrange(100), rnd.randrange(2, 9), rnd.randrange(1, 50)))
            elif k == 1:
                cases = ''.join('\tcase %d: return "str%d";\n' % (c, rnd.randrange(1000))
                                for c in range(rnd.randrange(4, 24)))
                f.write('const char *f%d(int x)\n{\n\tswitch (x) {\n%s\tdefault: return NULL;\n\t}\n}\n\n'
                        % (i, cases))
            elif k == 2:
                f.write('struct node *f%d(struct node *h, int key)\n{\n\tstruct node *n = malloc(sizeof(*n));\n'
                        '\tif (!n)\n\t\treturn h;\n\tn->key = key + %d;\n\tn->val = key * %d.5;\n'
                        '\tsnprintf(n->name, sizeof(n->name), "n%%d", key);\n\tn->next = h;\n'
                        '\twhile (h && h->key < key)\n\t\th = h->next;\n\treturn n;\n}\n\n'
                        % (i, rnd.randrange(9), rnd.randrange(9)))
            else:
                f.write('double f%d(const double *a, const double *b, int n)\n{\n\tdouble s = 0, t = 1;\n'
                        '\tfor (int i = 0; i < n; i++) {\n\t\ts += a[i] * b[(i + %d) %% n];\n'
                        '\t\tt = t * 0.5 + (a[i] > %d ? a[i] : b[i]);\n\t}\n\treturn s / (t + %d);\n}\n\n'
                        % (i, rnd.randrange(1, 7), rnd.randrange(10), rnd.randrange(1, 5)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--memprof', required=True)
    ap.add_argument('--alloc-bench', required=True)
    ap.add_argument('--reps', type=int, default=3)
    ap.add_argument('--quick', action='store_true', help='small inputs (smoke run)')
    ap.add_argument('--shim', required=True)
    ap.add_argument('--set', default='profiler',
                    choices=['profiler', 'allocator', 'leak', 'peers', 'report', 'resources', 'attach',
                             'symbolize', 'cost'])
    ap.add_argument('--lsan-preinit', help='mode lsan: tests/bench/lsan-preinit.so')
    ap.add_argument('--res-bench')
    ap.add_argument('--leak-bench')
    ap.add_argument('--mkbig')
    ap.add_argument('--sym-bench')
    ap.add_argument('--uprobe-floor', help='--set attach: tests/bench/uprobe-floor')
    ap.add_argument('--memleak', default=os.environ.get('MEMPROF_BENCH_MEMLEAK'),
                    help='--set attach: a libbpf-tools memleak binary to run side by side '
                    '(default: $MEMPROF_BENCH_MEMLEAK). bcc does not ship it in Debian 12; '
                    'to build it outside this tree, from a checkout of iovisor/bcc: '
                    'cd libbpf-tools; bpftool btf dump file /sys/kernel/btf/vmlinux format c '
                    '> vmlinux.h; clang -g -O2 -target bpf -D__TARGET_ARCH_x86 '
                    '-DBPF_UPROBE=BPF_KPROBE -DBPF_URETPROBE=BPF_KRETPROBE -I. -c '
                    'memleak.bpf.c -o memleak.bpf.o (the two -D: macros libbpf 1.1 lacks); '
                    'bpftool gen skeleton memleak.bpf.o > memleak.skel.h; gcc -O2 -I. -o '
                    'memleak memleak.c trace_helpers.c uprobe_helpers.c btf_helpers.c '
                    'compat.c map_helpers.c errno_helpers.c -lbpf -lelf -lz')
    ap.add_argument('--modes', help='--set attach: of floor,native,empty,attach,rate1,memleak')
    ap.add_argument('--workloads', help='comma-separated names of the workloads to run (default: all)')
    args = ap.parse_args()
    if args.set == 'report':
        return report_bench(args)
    if args.set == 'resources':
        return resources_bench(args)
    if args.set == 'symbolize':
        return symbolize_bench(args)
    if args.set == 'cost':
        return cost_bench(args)
    if not args.modes and args.set != 'attach':
        args.modes = {
            'profiler': 'native,memprof,memprof-rate1,heaptrack',
            'allocator': 'native,memprof-alloc,jemalloc,tcmalloc,mimalloc,memprof',
            'leak': 'native,memprof-leak,valgrind,heaptrack',
            'peers': 'native,memprof,memprof-rate1,memprof-leak,jemalloc,lsan,heaptrack,valgrind',
        }[args.set]
    scale = 0.1 if args.quick else 1.0
    py3 = '/usr/bin/python3' if os.path.exists('/usr/bin/python3') else shutil.which('python3')
    work = tempfile.mkdtemp(prefix='memprof-bench-')
    try:
        xml, js, py, sql, csrc = gen_inputs(work, scale)
        steps = str(int(3000000 * scale))
        workloads = [
            ('xmllint', ['xmllint', '--noout', xml], None, {}),
            ('jq', ['jq', '-c', 'map({id, n: .name, t: .tags[0]}) | length', js], None, {}),
            ('python3', [py3, py], None, {'PYTHONMALLOC': 'malloc'}),
            ('sqlite3', ['sqlite3', ':memory:'], sql, {}),
            ('alloc-bench-2t', [args.alloc_bench, steps], None, {}),
            # gcc's driver, cc1 (33 MB, stripped) and as: a big real binary.
            ('cc1', ['gcc', '-O2', '-g', '-c', csrc, '-o', os.path.join(work, 'big.o')], None, {}),
        ]
        if args.workloads:
            want = args.workloads.split(',')
            extra = ['python3-json'] if args.set == 'attach' else []
            unknown = [w for w in want if w not in [x[0] for x in workloads] + extra]
            if unknown:
                print('bench: unknown workload %r' % unknown[0], file=sys.stderr)
                return 2
            workloads = [w for w in workloads if w[0] in want]
        if args.set == 'attach':
            sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
            import bench_attach
            return bench_attach.attach_bench(args, workloads, work, py3)
        modes = args.modes.split(',')
        prof = os.path.join(work, 'out.pb.gz')
        lib = '/usr/lib/x86_64-linux-gnu/'
        lsan_preinit = os.path.abspath(args.lsan_preinit) if args.lsan_preinit else ''
        preload = {
            'memprof-alloc': (os.path.abspath(args.shim), {'MEMPROF_OPTIONS': 'rate=0,snapdir=' + work}),
            # the shim at the default rate with its tables private, and
            # shared as memprof run shares them (shm=1: memfds mapped and
            # grown by mremap; no CLI listens here, so only the target's
            # side of the cost is measured): the price of crash-safe profiles
            'shim': (os.path.abspath(args.shim), {'MEMPROF_OPTIONS': 'snapdir=' + work}),
            'shim-shm': (os.path.abspath(args.shim), {'MEMPROF_OPTIONS': 'shm=1,snapdir=' + work}),
            'jemalloc': (lib + 'libjemalloc.so.2', {}),
            'tcmalloc': (lib + 'libtcmalloc_minimal.so.4', {}),
            'mimalloc': (lib + 'libmimalloc.so.2', {}),
            # exitcode=0: the leak report does not change the status.
            'lsan': (lib + 'liblsan.so.0:' + lsan_preinit, {'LSAN_OPTIONS': 'exitcode=0'}),
        }
        wrap = {
            'native': lambda c: c,
            'memprof-system': lambda c: [args.memprof, 'run', '-q', '--allocator=system',
                                         '-o', prof, '--'] + c,
            'memprof-leak': lambda c: [args.memprof, 'run', '-q', '--leak-check=summary',
                                       '-o', prof, '--'] + c,
            'valgrind': lambda c: ['valgrind', '-q', '--leak-check=full', '--trace-children=yes',
                                   '--log-file=' + os.path.join(work, 'vg.%p.log')] + c,
            'memprof': lambda c: [args.memprof, 'run', '-q', '-o', prof, '--'] + c,
            'memprof-rate1': lambda c: [args.memprof, 'run', '-q', '--rate', '1', '-o', prof, '--'] + c,
            'memprof-rate1-nocache': lambda c: ['env', 'MEMPROF_CACHE_DIR=off', args.memprof, 'run', '-q',
                                                '--rate', '1', '-o', prof, '--'] + c,
            'heaptrack': lambda c: ['heaptrack', '-o', os.path.join(work, 'ht')] + c,
        }
        if not os.path.exists(TIME):
            print('bench: %s (Debian package time) is missing' % TIME, file=sys.stderr)
            return 1
        for m in modes:
            if m not in wrap and m not in preload:
                print('bench: unknown mode %r' % m, file=sys.stderr)
                return 2
            if m == 'lsan' and not lsan_preinit:
                print('bench: lsan needs --lsan-preinit (bench.sh gives it)', file=sys.stderr)
                return 2
            for lib_ in preload[m][0].split(':') if m in preload else []:
                if not os.path.exists(lib_):
                    print('bench: %s is not installed (%s)' % (m, lib_), file=sys.stderr)
                    return 1
        results, rss, cpu = {}, {}, {}
        # Modes interleave within each repetition so that slow drifts of the
        # machine hit every mode alike.
        for name, cmd, stdin, extra in workloads:
            times = {m: [] for m in modes}
            peaks = {m: [] for m in modes}
            cpus = {m: [] for m in modes}
            for _ in range(args.reps):
                for mode in modes:
                    env = dict(os.environ, MEMPROF_CACHE_DIR=os.path.join(work, 'symcache'), **extra)
                    if mode in preload:
                        # env(1) sets the preload for the program only.
                        argv = ['env', 'LD_PRELOAD=' + preload[mode][0]] + \
                            ['%s=%s' % kv for kv in preload[mode][1].items()] + cmd
                    else:
                        argv = wrap[mode](cmd)
                    # Peak RSS through GNU time: the maximum RSS of a child
                    # is at least that of the process it was forked from,
                    # and time(1) is much smaller than this script.
                    rssfile = os.path.join(work, 'rss')
                    argv = [TIME, '-f', '%M %U %S', '-o', rssfile] + argv
                    fin = open(stdin) if stdin else subprocess.DEVNULL
                    t0 = time.perf_counter()
                    proc = subprocess.Popen(argv, stdin=fin, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL, env=env)
                    # CPU time from wait4's rusage (microseconds) rather
                    # than time(1)'s %U %S (hundredths of a second: on a
                    # 0.23 s program one tick either way is 4%).  It covers
                    # time(1) itself, about a millisecond, alike in every mode.
                    _, status, usage = os.wait4(proc.pid, 0)
                    t1 = time.perf_counter()
                    proc.returncode = os.waitstatus_to_exitcode(status)
                    if stdin:
                        fin.close()
                    if proc.returncode != 0:
                        print('bench: %s under %s failed with status %d' % (name, mode, proc.returncode),
                              file=sys.stderr)
                        return 1
                    times[mode].append(t1 - t0)
                    # Meaningful for native and the preloaded modes (under the
                    # memprof and heaptrack wrappers it is the wrapper's).
                    with open(rssfile) as f:
                        m_ = f.read().split()[-3]
                        peaks[mode].append(int(m_))
                        cpus[mode].append(usage.ru_utime + usage.ru_stime)
                    for f in os.listdir(work):
                        if f.startswith('ht') or f.startswith('out.') or f.startswith('vg.'):
                            os.unlink(os.path.join(work, f))
            for mode in modes:
                results[(name, mode)] = statistics.median(times[mode])
                rss[(name, mode)] = statistics.median(peaks[mode])
                cpu[(name, mode)] = statistics.median(cpus[mode])
                print('# %-15s %-14s %.3fs %7d KiB cpu %.3fs' % (name, mode, results[(name, mode)],
                                                               rss[(name, mode)], cpu[(name, mode)]),
                      file=sys.stderr)
        names = [w[0] for w in workloads]
        others = [m for m in modes if m != 'native']

        # A tool that does not follow the workload's child processes
        # measures part of it: shown with a mark, left out of the mean.
        partial = {('cc1', 'heaptrack')}

        def table(title, data, unit, fmt, modes_shown):
            print('\n%s\n' % title)
            print('| workload | native (%s) | ' % unit + ' | '.join('%s ×' % m for m in modes_shown) + ' |')
            print('|---|---:|' + '---:|' * len(modes_shown))
            for n in names:
                base = data[(n, 'native')]
                cells = ['%.2f%s' % (data[(n, m)] / base, ' †' if (n, m) in partial else '')
                         for m in modes_shown]
                print('| %s | %s | %s |' % (n, fmt % base, ' | '.join(cells)))
            geo = []
            for m in modes_shown:
                whole = [n for n in names if (n, m) not in partial]
                g = [math.log(data[(n, m)] / data[(n, 'native')]) for n in whole]
                geo.append('%.2f' % math.exp(sum(g) / len(g)) if g else '-')
            print('| geometric mean | | %s |' % ' | '.join(geo))
            if any((n, m) in partial for n in names for m in modes_shown):
                print('\n† heaptrack follows no child process: on cc1 it profiles gcc\'s driver '
                      'alone (not in the mean)')

        table('Wall time, median of %d, ratio to native' % args.reps, results, 's', '%.3f', others)
        # CPU time of the whole process tree (the program, memprof's CLI and
        # its threads): what a loaded machine cannot blur.
        table('CPU time (user + sys of the whole tree), median of %d, ratio to native' % args.reps,
              cpu, 's', '%.3f', others)
        if 'memprof-leak' in modes and 'valgrind' in modes:
            speedups = [results[(n, 'valgrind')] / results[(n, 'memprof-leak')] for n in names]
            print('\nvalgrind / memprof --leak-check: %s (min %.1f)'
                  % (', '.join('%s %.1f' % (n, x) for n, x in zip(names, speedups)), min(speedups)))
        if args.set == 'leak' and args.leak_bench:
            r = subprocess.run([args.memprof, 'run', '-q', '--leak-check=summary', '--stats', '-o', prof,
                                '--', args.leak_bench, '512'],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            import re
            m = re.search(r'LeakScanBytes ([\d.]+) MiB, LeakScanNs (\d+)', r.stderr)
            if m:
                mib, ns = float(m.group(1)), int(m.group(2))
                print('leak scan: %.0f MiB of live heap in %.3f s: %.2f GiB/s'
                      % (mib, ns / 1e9, mib / 1024 / (ns / 1e9)))
            else:
                print('bench: no leak scan timing from leak-bench', file=sys.stderr)
        # The program's own peak: preloaded, or inside valgrind's process.
        rss_modes = [m for m in others if m in preload or m == 'valgrind']
        if rss_modes:
            table('Peak RSS, median of %d, ratio to native' % args.reps, rss, 'KiB', '%d', rss_modes)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def symbolize_bench(args):
    """The symbolizer on gcc's cc1: sym-bench speed (unique addresses per
    second, cold and from the cache); then, for three real workloads at
    --rate 1 (gcc compiling the generated C file: cc1's snapshot; python3
    with PYTHONMALLOC=malloc; sqlite3 loading a generated SQL script), the
    memory symbolization takes against the symbol and line tables it
    loaded, and `memprof convert` of the snapshot, cold (no cache) and from
    the cache: median CPU time (user + sys) and peak RSS of the convert
    process alone.

    The measured quantities:
      tables     what the symbolizer loaded to answer, as mp_symbolize_stats
                 counts it: the symbol table libdwfl reads (.symtab, else
                 .dynsym) with its string table, of every file symbolized
                 (its debug file's and MiniDebugInfo's included), and the
                 DWARF sections answers are read from, at their uncompressed
                 size (.debug_info, _abbrev, _line, _line_str, _str,
                 _str_offsets, _addr, _ranges, _rnglists, _aranges); each file
                 once.
      added RSS  the rise of the resident set (VmHWM after minus VmRSS
                 before, peak reset through /proc/self/clear_refs) of
                 `sym-bench rss`, which reads the snapshot and then
                 symbolizes every address of its stacks as convert does
                 (no disk cache).
      ratio      added RSS / tables: issue 14's target is <= 1.5."""
    cc1 = subprocess.run(['gcc', '-print-prog-name=cc1'], capture_output=True, text=True).stdout.strip()
    work = tempfile.mkdtemp(prefix='memprof-bench-')
    try:
        cache = os.path.join(work, 'symcache')
        n = '100000' if args.quick else '500000'
        print('\nSymbolizer alone on %s (%.0f MB), %s unique addresses\n' % (cc1, os.path.getsize(cc1) / 1e6, n))
        print('| pass | addresses/s |')
        print('|---|---:|')
        speeds = {'cold': [], 'from cache': []}
        for _ in range(args.reps):
            shutil.rmtree(cache, ignore_errors=True)
            out = subprocess.run([args.sym_bench, 'speed', cc1, n], capture_output=True, text=True,
                                 env=dict(os.environ, MEMPROF_CACHE_DIR=cache), check=True).stdout
            for line in out.splitlines():
                for k in speeds:
                    if (' %s:' % k) in line:
                        speeds[k].append(float(line.split(': ')[-1].split()[0]))
        for k, v in speeds.items():
            print('| %s | %.0f |' % (k, statistics.median(v)))

        # Snapshots of real workloads at --rate 1, converted by the CLI alone.
        xml, js, py, sql, csrc = gen_inputs(work, 0.1 if args.quick else 1.0)
        py3 = '/usr/bin/python3' if os.path.exists('/usr/bin/python3') else shutil.which('python3')
        workloads = [
            ('cc1', ['gcc', '-O2', '-g', '-c', csrc, '-o', os.path.join(work, 'big.o')], None, {}),
            ('python3', [py3, py], None, {'PYTHONMALLOC': 'malloc'}),
            ('sqlite3', ['sqlite3', ':memory:'], sql, {}),
        ]
        mem, conv = [], []
        for name, argv, stdin, env in workloads:
            snaps = os.path.join(work, 'snaps-' + name)
            os.mkdir(snaps)
            with open(stdin) if stdin else open(os.devnull) as f:
                subprocess.run(argv, stdin=f, stdout=subprocess.DEVNULL, check=True,
                               env=dict(os.environ, LD_PRELOAD=os.path.abspath(args.shim),
                                        MEMPROF_OPTIONS='rate=1,snapdir=' + snaps, **env))
            # The workload's own process: the largest snapshot (gcc's cc1).
            snap = max((os.path.join(snaps, f) for f in os.listdir(snaps)), key=os.path.getsize)
            got = []
            for _ in range(args.reps):
                out = subprocess.run([args.sym_bench, 'rss', snap], capture_output=True, text=True,
                                     env=dict(os.environ, MEMPROF_CACHE_DIR='off')).stdout
                for line in out.splitlines():
                    if line.startswith('rss-summary:'):
                        got.append(dict((k, int(v)) for k, v in (f.split('=') for f in line.split()[1:])))
            if not got:
                print('bench: sym-bench rss failed on %s' % name, file=sys.stderr)
                return 1
            added = statistics.median(g['added_kib'] for g in got)
            g = got[0]
            tables = g['symtab_kib'] + g['dwarf_kib']
            mem.append((name, g['addresses'], g['files'], g['symtab_kib'], g['dwarf_kib'], added,
                        added / tables if tables else 0))
            shutil.rmtree(cache, ignore_errors=True)
            for label, cdir in (('none', 'off'), ('cold', cache), ('warm', cache)):
                cpu, rss = [], []
                for _ in range(args.reps if label != 'cold' else 1):
                    rssfile = os.path.join(work, 'rss')
                    r = subprocess.run([TIME, '-f', '%U %S %M', '-o', rssfile, args.memprof, 'convert',
                                        '-o', os.path.join(work, 'c.pb.gz'), snap],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                       env=dict(os.environ, MEMPROF_CACHE_DIR=cdir))
                    if r.returncode != 0:
                        print('bench: memprof convert failed', file=sys.stderr)
                        return 1
                    u, s_, m = open(rssfile).read().split()[-3:]
                    cpu.append(float(u) + float(s_))
                    rss.append(int(m))
                conv.append((name, label, statistics.median(cpu), statistics.median(rss), tables))
        print('\nMemory of symbolization (sym-bench rss: a --rate 1 snapshot, every address, no cache; '
              'median of %d)\n' % args.reps)
        print('| workload | addresses | files | symbol tables KiB | DWARF KiB | added RSS KiB | '
              'added RSS / tables |')
        print('|---|---:|---:|---:|---:|---:|---:|')
        for row in mem:
            print('| %s | %d | %d | %d | %d | %d | %.2f |' % row)
        print('\n`memprof convert` of the same snapshots (whole process; median of %d, cold: 1)\n'
              % args.reps)
        # (The whole process: the CLI's code and libraries, the snapshot,
        # the tables and the profile it builds and encodes.)
        print('| workload | cache | CPU s (user+sys) | peak RSS MiB | peak RSS / tables |')
        print('|---|---|---:|---:|---:|')
        for name, label, c, m, t in conv:
            print('| %s | %s | %.3f | %.1f | %.2f |' % (name, label, c, m / 1024, m / t if t else 0))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def resources_bench(args):
    """Per-call cost of descriptor and thread tracking.  tests/bench/res-bench.c
    times every call of its loops on its own and prints the median of each
    call; each loop runs natively and with the shim preloaded (default
    rate) in pairs whose order alternates, pinned to one CPU.  The overhead
    of a call is the median over the pairs of the difference of its
    medians; the middle half of the pairs shows the spread.  (pthread_join's
    time includes the new thread's start and exit, which memprof also
    wraps.)"""
    n = '4000' if args.quick else '20000'
    pairs = max(args.reps, 2) * 4
    loops = ['open', 'socket', 'thread']
    runs = {'native': {}, 'memprof': {}}
    diffs = {}
    names = []
    work = tempfile.mkdtemp(prefix='memprof-bench-')
    cpu = max(os.sched_getaffinity(0))
    try:
        for loop in loops:
            for rep in range(pairs):
                got = {}
                for mode in (('native', 'memprof') if rep % 2 == 0 else ('memprof', 'native')):
                    env = dict(os.environ)
                    if mode == 'memprof':
                        env['LD_PRELOAD'] = os.path.abspath(args.shim)
                        env['MEMPROF_OPTIONS'] = 'snapdir=' + work
                    out = subprocess.run([args.res_bench, n, loop], capture_output=True, text=True,
                                         env=env, check=True,
                                         preexec_fn=lambda: os.sched_setaffinity(0, {cpu})).stdout
                    got[mode] = {}
                    for line in out.splitlines():
                        name, ns = line.rsplit(' ', 1)
                        got[mode][name] = float(ns)
                        runs[mode].setdefault(name, []).append(float(ns))
                        if name not in names:
                            names.append(name)
                for name in got['native']:
                    diffs.setdefault(name, []).append(got['memprof'][name] - got['native'][name])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print('\nResource calls on one CPU, %d alternating pairs of runs per loop '
          '(median ns per call)\n' % pairs)
    print('| call | native | memprof | overhead (ns) | middle half of the pairs (ns) |')
    print('|---|---:|---:|---:|---:|')
    for name in names:
        a, b = statistics.median(runs['native'][name]), statistics.median(runs['memprof'][name])
        d = sorted(diffs[name])
        q1, q3 = d[len(d) // 4], d[(3 * len(d)) // 4]
        print('| %s | %.0f | %.0f | %.0f | %.0f to %.0f |' % (name, a, b, statistics.median(d), q1, q3))
    return 0


def report_bench(args):
    """memprof diff, top, merge and flame against go tool pprof (-top
    -diff_base, -top, -proto of both files, -svg) on two profiles of 100 000 samples each
    (tests/bench/mkbig.c), medians of --reps runs.  Flame's peer is pprof -svg
    (graphviz's dot must be installed), since pprof draws flame graphs only in
    its web UI."""
    work = tempfile.mkdtemp(prefix='memprof-bench-')
    try:
        n = '10000' if args.quick else '100000'
        a, b = os.path.join(work, 'a.pb.gz'), os.path.join(work, 'b.pb.gz')
        subprocess.run([args.mkbig, '1', n, a], check=True)
        subprocess.run([args.mkbig, '2', n, b], check=True)
        env = dict(os.environ, GOCACHE=os.path.join(work, 'gocache'), GOTOOLCHAIN='local', GOPROXY='off')
        cases = [
            ('diff', [args.memprof, 'diff', a, b], ['go', 'tool', 'pprof', '-top', '-diff_base', a, b]),
            ('top', [args.memprof, 'top', b], ['go', 'tool', 'pprof', '-top', b]),
            ('merge', [args.memprof, 'merge', '-o', os.path.join(work, 'm.pb.gz'), a, b],
             ['go', 'tool', 'pprof', '-proto', '-output', os.path.join(work, 'g.pb.gz'), a, b]),
            # pprof draws flame graphs only in its web UI; its picture from
            # the command line is the call graph (-svg, through graphviz).
            ('flame', [args.memprof, 'flame', '-o', os.path.join(work, 'f.svg'), b],
             ['go', 'tool', 'pprof', '-svg', '-output', os.path.join(work, 'g.svg'), b]
             if shutil.which('dot') else None),
        ]
        print('\nReports on profiles of %s samples, median of %d (s)\n' % (n, args.reps))
        print('| report | memprof (s) | go tool pprof (s) | pprof / memprof |')
        print('|---|---:|---:|---:|')
        for name, ours, theirs in cases:
            t = {}
            for which, argv in (('memprof', ours), ('pprof', theirs)):
                if argv is None:
                    t[which] = None
                    continue
                times = []
                for _ in range(args.reps):
                    t0 = time.perf_counter()
                    r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
                    times.append(time.perf_counter() - t0)
                    if r.returncode != 0:
                        print('bench: %s failed' % ' '.join(argv), file=sys.stderr)
                        return 1
                t[which] = statistics.median(times)
            if t['pprof'] is None:
                print('| %s | %.3f | - | - |' % (name, t['memprof']))
            else:
                print('| %s | %.3f | %.3f | %.1f |' % (name, t['memprof'], t['pprof'],
                                                      t['pprof'] / t['memprof']))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


# Cachegrind's caches for --set cost: this machine's L1d and L2 (lscpu).
COST_CACHES = ['--I1=32768,8,64', '--D1=32768,8,64', '--LL=524288,8,64']


def cost_bench(args):
    """Deterministic cost of the shim's hot path (see the module's doc)."""
    if not shutil.which('valgrind'):
        print('bench: --set cost needs valgrind (Debian package "valgrind")', file=sys.stderr)
        return 2
    cc1 = subprocess.run(['gcc', '-print-prog-name=cc1'], capture_output=True, text=True,
                         check=True).stdout.strip()
    work = tempfile.mkdtemp(prefix='memprof-bench-')
    try:
        src = os.path.join(work, 'cost.c')
        gen_c(src, 60 if args.quick else 250)
        # Preprocessed by the driver: cc1 then needs no include paths.
        subprocess.run(['gcc', '-E', src, '-o', src[:-1] + 'i'], check=True)
        src = src[:-1] + 'i'
        modes = [('native', None), ('memprof', 'snapdir=%s,shm=0'),
                 ('memprof-rate1', 'rate=1,snapdir=%s,shm=0')]
        if args.modes:
            want = args.modes.split(',')
            unknown = [m for m in want if m not in [x[0] for x in modes]]
            if unknown:
                print('bench: --set cost has no mode %r (native,memprof,memprof-rate1)' % unknown[0],
                      file=sys.stderr)
                return 2
            modes = [m for m in modes if m[0] in want or m[0] == 'native']
        runs = []
        for name, opts in modes:
            env = dict(os.environ)
            if opts:
                d = os.path.join(work, name)
                os.mkdir(d)
                env['LD_PRELOAD'] = os.path.abspath(args.shim)
                env['MEMPROF_OPTIONS'] = opts % d
            out = os.path.join(work, name + '.cg')
            cmd = (['valgrind', '-q', '--tool=cachegrind', '--cache-sim=yes',
                    '--cachegrind-out-file=' + out] + COST_CACHES +
                   [cc1, '-quiet', '-fpreprocessed', '-O2', '-g', src, '-o',
                    os.path.join(work, name + '.s')])
            runs.append((name, out, subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                                                     stderr=subprocess.PIPE, text=True)))
        got = {}
        for name, out, p in runs:
            err = p.communicate()[1]
            if p.returncode != 0:
                print('bench: %s under cachegrind failed (status %d): %s'
                      % (name, p.returncode, err.strip()[-300:]), file=sys.stderr)
                return 1
            events = summary = None
            with open(out) as f:
                for line in f:
                    if line.startswith('events:'):
                        events = line.split()[1:]
                    elif line.startswith('summary:'):
                        summary = [int(x) for x in line.split()[1:]]
            e = dict(zip(events, summary))
            l1 = e['I1mr'] + e['D1mr'] + e['D1mw']
            l2 = e['ILmr'] + e['DLmr'] + e['DLmw']
            got[name] = (e['Ir'], l1, l2, e['Ir'] + 10 * l1 + 40 * l2)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    base = got['native']
    print('\nCost model under cachegrind, gcc\'s cc1 on a generated file (%d functions); '
          'ratios to native\n' % (60 if args.quick else 250))
    print('| mode | instructions (M) | L1 misses (M) | L2 misses (M) | cost (M) | instructions × | cost × |')
    print('|---|---:|---:|---:|---:|---:|---:|')
    for name, _ in modes:
        ir, l1, l2, cost = got[name]
        print('| %s | %.1f | %.2f | %.2f | %.1f | %.3f | %.3f |'
              % (name, ir / 1e6, l1 / 1e6, l2 / 1e6, cost / 1e6, ir / base[0], cost / base[3]))
    return 0


if __name__ == '__main__':
    sys.exit(main())
