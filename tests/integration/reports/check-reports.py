#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Reports a user can trust (issue 13) on t-repeat, a real C++ program that
also calls into a stripped library:
- two identical runs diff to zero in every report: `memprof diff
  --fail-on-stack-growth 1` passes, the difference's flame graph has no red
  or blue frame, frames without a symbol are named by object and file
  offset (never a run-time address) in top, the flame graph and the text and
  JSON leak reports, and those reports are the same in both runs;
- generated suppressions single out the leaks they were made from: with
  them the same run passes --error-exitcode, a new strdup leak from another
  caller still fails it;
- no wall of statistics: one comment line per profile in `go tool pprof
  -top` and `memprof top` (heap and resource profiles, differences), the
  statistics shown by `memprof stats` and `--stats`;
- a profile with few samples says so (how many, and --rate 1), in `memprof
  run` and `memprof top`, and its comment gives the number;
- pprof's source and disassembly views work for a PIE program (Debian's
  default): `go tool pprof -list` and `-disasm` show fill_names with its
  samples, and the main mapping is flagged with its functions, files, lines
  and inline frames.
usage: check-reports.py MEMPROF T_REPEAT LIBMPSTRIPPED"""
import json
import os
import shutil
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import pprof_raw  # noqa: E402
from tap import Tap  # noqa: E402

RUNTIME_ADDR = re.compile(r'0x7f[0-9a-f]{10}|0x5[56][0-9a-f]{10}')
OFFSET_NAME = re.compile(r'libmpstripped\.so\+0x[0-9a-f]+')


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, **kw)


def strip_pids(js):
    for leak in js['leaks']:
        leak.pop('pid', None)
        leak.pop('program', None)
    return js


def header_comments(top_output):
    """The comment lines of a -top report: between File:/Build ID: and Type:."""
    lines = []
    for ln in top_output.splitlines():
        if ln.startswith('Type:'):
            break
        if not ln.startswith(('File:', 'Build ID:')):
            lines.append(ln)
    return lines


def main():
    memprof, t_repeat, lib = sys.argv[1:4]
    lib = os.path.abspath(lib)
    t = Tap()
    with tempfile.TemporaryDirectory() as d:
        # ---- item 1: two identical runs ----
        profiles, reports, texts = [], [], []
        for k in range(2):
            out = os.path.join(d, 'r%d.heap.pb.gz' % k)
            js = os.path.join(d, 'r%d.json' % k)
            r = run([memprof, 'run', '-q', '--rate', '1', '--leak-check=full', '--leak-report', js,
                     '-o', out, t_repeat, lib])
            t.eq(r.returncode, 0, 'run %d of t-repeat' % (k + 1))
            profiles.append(out)
            reports.append(json.load(open(js)))
            texts.append(r.stderr)
        r = run([memprof, 'diff', '--fail-on-stack-growth', '1', profiles[0], profiles[1]])
        t.ok(r.returncode == 0, 'two identical runs pass diff --fail-on-stack-growth 1',
             r.stderr[-600:])
        r = run([memprof, 'diff', '--fail-on-growth', '1', profiles[0], profiles[1]])
        t.eq(r.returncode, 0, 'two identical runs pass diff --fail-on-growth 1')
        dp = os.path.join(d, 'diff.pb.gz')
        svg = os.path.join(d, 'diff.svg')
        r = run([memprof, 'diff', '-o', dp, profiles[0], profiles[1]])
        r2 = run([memprof, 'flame', '-o', svg, dp])
        t.ok(r.returncode == 0 and r2.returncode == 0, 'difference profile and its flame graph',
             r.stderr + r2.stderr)
        doc = open(svg).read() if os.path.exists(svg) else ''
        nets = re.findall(r'data-net="(-?\d+)"', doc)
        t.ok('data-diff="1"' in doc and nets and all(n == '0' for n in nets),
             'the difference flame graph has no red or blue frame (every net 0)',
             [n for n in nets if n != '0'][:10])
        t.ok('rgb(255,' not in doc.split('<script')[0] and ',255)' not in doc.split('<script')[0],
             'no red or blue fill in the difference flame graph')

        top = run([memprof, 'top', profiles[0]])
        t.ok(OFFSET_NAME.search(top.stdout) is not None,
             'top: the stripped library\'s frame named libmpstripped.so+0x<offset>', top.stdout)
        t.ok(re.search(r'libstdc\+\+\.so[.0-9]*\+0x[0-9a-f]+', top.stdout) is not None,
             'top: libstdc++\'s emergency pool named libstdc++.so.6...+0x<offset>', top.stdout)
        fsvg = os.path.join(d, 'r0.svg')
        run([memprof, 'flame', '-o', fsvg, profiles[0]])
        fdoc = open(fsvg).read() if os.path.exists(fsvg) else ''
        t.ok(OFFSET_NAME.search(fdoc) is not None and not RUNTIME_ADDR.search(fdoc),
             'flame: object+offset names, no run-time address')
        t.ok(not RUNTIME_ADDR.search(top.stdout), 'top: no run-time address', top.stdout)

        rep = json.dumps(reports[0])
        t.ok(OFFSET_NAME.search(rep) is not None and not RUNTIME_ADDR.search(rep),
             'JSON leak report: object+offset names, no run-time address', rep[:2000])
        t.ok(OFFSET_NAME.search(texts[0]) is not None and not RUNTIME_ADDR.search(texts[0]),
             'text leak report: object+offset names, no run-time address', texts[0])
        t.eq(strip_pids(reports[0]), strip_pids(reports[1]),
             'JSON leak reports of the two runs are the same but for the pid')
        lost = [leak for leak in reports[0]['leaks'] if leak['category'] == 'definite']
        stripped = [leak for leak in lost if leak['stack'] and
                    OFFSET_NAME.fullmatch(leak['stack'][0]['function'])]
        t.ok(len(stripped) == 1 and stripped[0]['bytes'] == 777 and
             stripped[0]['stack'][1]['function'] == 'mp_stripped_alloc',
             'the stripped library\'s lost block: 777 B at libmpstripped.so+0x..., '
             'by mp_stripped_alloc', lost)

        # ---- item 2: generated suppressions ----
        r = run([memprof, 'run', '-q', '--leak-check', '--gen-suppressions',
                 '-o', os.path.join(d, 'g.heap.pb.gz'), t_repeat, lib])
        gen = [ln for ln in r.stderr.splitlines() if re.match(r'^(leak|fd|thread|timer):', ln)]
        t.ok(len(gen) >= 2, 'suppressions generated', r.stderr)
        t.ok(not any(re.search(r'strdup|malloc|__new_allocator|operator new', g) for g in gen),
             'no suppression names an allocator or libc wrapper frame', gen)
        t.ok(any('config_dup' in g for g in gen), 'the strdup leak anchored on config_dup', gen)
        supp = os.path.join(d, 'gen.supp')
        with open(supp, 'w') as f:
            f.write('\n'.join(gen) + '\n')
        r = run([memprof, 'run', '-q', '--leak-check', '--suppressions', supp,
                 '--error-exitcode', '42', '-o', os.path.join(d, 's.heap.pb.gz'), t_repeat, lib])
        t.eq(r.returncode, 0, 'the same run with the generated suppressions passes --error-exitcode')
        r = run([memprof, 'run', '-q', '--leak-check', '--suppressions', supp,
                 '--error-exitcode', '42', '-o', os.path.join(d, 'o.heap.pb.gz'), t_repeat, lib,
                 'other'])
        t.ok(r.returncode == 42 and 'other_dup' in r.stderr,
             'a new strdup leak from another caller still fails --error-exitcode', r.stderr)
        # ---- item 4: no wall of statistics ----
        heap = profiles[0]
        res = [heap.replace('.heap.pb.gz', '.%s.pb.gz' % k) for k in ('fds', 'threads', 'timers')]
        for p in [heap] + res + [dp]:
            m = run([memprof, 'top', p])
            c = header_comments(m.stdout)
            t.ok(m.returncode == 0 and len(c) <= (2 if p == dp else 1) and
                 all(len(x) < 120 and '=' not in x for x in c),
                 'memprof top %s: at most one short comment line per profile'
                 % os.path.basename(p), c)
            if shutil.which('go'):
                g = run(['go', 'tool', 'pprof', '-top', p], env=pprof_raw.go_env())
                t.eq(header_comments(g.stdout), c,
                     'go tool pprof -top %s: the same comment lines' % os.path.basename(p))
        c = header_comments(run([memprof, 'top', heap]).stdout)
        t.ok(len(c) == 1 and re.search(r'^memprof \S+: t-repeat \(pid \d+\), rate 1, \d+ '
                                       r'allocations recorded, heap in use [\d.]+ KiB$', c[0]),
             'the comment: program, pid, rate, allocations recorded, heap in use', c)
        st = run([memprof, 'stats', heap])
        t.ok(st.returncode == 0 and re.search(r'^HeapAlloc +\d+ ', st.stdout, re.M) and
             re.search(r'^RSS +\d+ ', st.stdout, re.M) and
             re.search(r'^ +16 +\d+ +\d+ +\d+$', st.stdout, re.M),
             'memprof stats: HeapAlloc, RSS and the size classes', st.stdout + st.stderr)
        st = run([memprof, 'stats', res[0]])
        t.ok(st.returncode == 1 and 'no statistics' in st.stderr, 'memprof stats: none in a '
             'descriptor profile, one line, exit 1', st.stderr)
        r = run([memprof, 'run', '--rate', '1', '--stats', '-o', os.path.join(d, 'st.heap.pb.gz'),
                 t_repeat, lib])
        t.ok(re.search(r'^memprof: pid \d+ at exit: HeapAlloc [\d.]+ KiB, .*Mallocs \d+', r.stderr,
                       re.M), '--stats: one line of statistics', r.stderr)

        # ---- item 5: few samples ----
        out = os.path.join(d, 'few.heap.pb.gz')
        r = run([memprof, 'run', '--rate', '4096', '-o', out, t_repeat, lib])
        m = re.search(r"^memprof: note: '%s' rests on (\d+) sampled allocations? \(one every "
                      r"4 KiB allocated, on average\).*--rate 1 records every allocation$"
                      % re.escape(out), r.stderr, re.M)
        t.ok(m, 'run at --rate 4K: a note with the number of samples', r.stderr)
        top = run([memprof, 'top', out])
        c = header_comments(top.stdout)
        n = m.group(1) if m else '?'
        t.ok(c and (', rate 4 KiB, %s samples' % n) in c[0], 'the comment gives the samples', c)
        t.ok(re.search(r'^memprof: note: these figures are estimates from only %s sampled '
                       r'allocations? \(one sample every 4 KiB allocated, on average\); '
                       r"'memprof run --rate 1' records every allocation$" % n, top.stderr, re.M),
             'top: the same number of samples, and --rate 1', top.stderr)
        out = os.path.join(d, 'none.heap.pb.gz')
        r = run([memprof, 'run', '--rate', '1G', '-o', out, t_repeat, lib])
        top = run([memprof, 'top', out])
        t.ok("'%s' holds no sample" % out in r.stderr and 'Total samples = 0' in top.stdout and
             'no allocation was sampled' in top.stderr and '--rate 1' in top.stderr,
             'no sample at all: run and top say so and suggest --rate 1', r.stderr + top.stderr)
        r = run([memprof, 'top', profiles[0]])
        t.eq(r.stderr, '', 'top of a --rate 1 profile: no note')

        # ---- item 7: pprof's source and disassembly views of a PIE ----
        with open(t_repeat, 'rb') as f:
            t.eq(f.read(18)[16:18], b'\x03\x00', 't-repeat is a PIE (ET_DYN)')
        if shutil.which('go'):
            env = pprof_raw.go_env()
            raw = run(['go', 'tool', 'pprof', '-raw', heap], env=env).stdout
            m = re.search(r'^1: (0x[0-9a-f]+)/(0x[0-9a-f]+)/(0x[0-9a-f]+) (\S+) ([0-9a-f]*) ?(.*)$',
                          raw, re.M)
            t.ok(m and m.group(4).endswith('/t-repeat') and len(m.group(5)) == 40 and
                 m.group(6) == '[FN][FL][LN][IN]',
                 'main mapping: the executable, its build id, functions, files, lines and '
                 'inline frames', raw[raw.find('Mappings'):][:400])
            dis = run(['go', 'tool', 'pprof', '-disasm', 'fill_names', heap], env=env)
            # (Go's disassembler names it by its linker name, _ZL10fill_namesi)
            t.ok(dis.returncode == 0 and re.search(r'ROUTINE =+ \S*fill_names', dis.stdout)
                 and re.search(r'^ +\d+(\.\d+)?[kM]?B +\d+(\.\d+)?[kM]?B +[0-9a-f]+: CALL ',
                               dis.stdout, re.M),
                 'go tool pprof -disasm fill_names: the function with its samples on its calls',
                 dis.stdout[:1500] + dis.stderr)
            lst = run(['go', 'tool', 'pprof', '-list', 'fill_names', heap], env=env)
            t.ok(lst.returncode == 0 and 'ROUTINE ======================== fill_names' in lst.stdout
                 and re.search(r'^ +\S+ +\d+(\.\d+)?[kM]?B +\d+:.*push_back', lst.stdout, re.M),
                 'go tool pprof -list fill_names: its source with the samples',
                 lst.stdout[:1500] + lst.stderr)
        else:
            print('# go is not installed: pprof views not checked')
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
