#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The peak profile and lifetimes end to end (issue 16), on t-peak: 4 MiB
kept to exit (steady_alloc), 100,000 blocks of 24 bytes freed at once
(churn_alloc), a 32 MiB spike freed in the middle (spike_alloc).

At --rate 1 the peak profile holds exactly the spike and the steady blocks,
compared with massif's peak snapshot (--peak-inaccuracy=0), and its comment
says the peak's size and time; the exit profile has no spike in use; the
churned and the steady blocks carry different `lifetime` labels, which
go tool pprof's -tags, -tagfocus and -tagignore read; -diff_base works on
labelled profiles; `memprof snapshot` after the spike carries the peak so
far, and so do --interval's; `memprof timeline` marks it; `memprof top --lifetimes` shows the
short-lived share.  At the default rate the peak is within the sampling
error.  On Debian's python3, the peak at --rate 1 is massif's within 1%.
usage: check-peak.py MEMPROF T-PEAK"""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import pprof_raw  # noqa: E402
from tap import Tap  # noqa: E402

MIB = 1 << 20
STEADY = [64, 4 * MIB, 64, 4 * MIB]          # alloc_objects, alloc_space, inuse_*
SPIKE = [8, 32 * MIB, 8, 32 * MIB]
CHURN_ALLOC = [100000, 2400000]
TYPES = ['alloc_objects', 'alloc_space', 'inuse_objects', 'inuse_space']
WAIT = 120


def pprof(*args):
    return subprocess.run(['go', 'tool', 'pprof'] + list(args), capture_output=True, text=True,
                          env=pprof_raw.go_env(), timeout=WAIT)


def total(path, i):
    """Sum of value i over every sample."""
    return sum(v[i] for v, _, _ in pprof_raw.read_raw(path)[1])


def labels_of(path, fn):
    """The lifetime labels of the samples whose stack holds fn."""
    _, samples, locs = pprof_raw.read_raw(path)
    out = set()
    for vals, ids, text in samples:
        if any(fn in name for l in ids for name in locs.get(l, [])):
            m = re.search(r'lifetime:\[([^\]]*)\]', text)
            out.add(m.group(1) if m else None)
    return out


def massif_peak(target, d, args=(), env=None):
    """massif's peak snapshot: (mem_heap_B, {function: bytes of its largest node})."""
    out = os.path.join(d, 'massif.out')
    r = subprocess.run(['valgrind', '--tool=massif', '--peak-inaccuracy=0', '--threshold=0',
                        '--massif-out-file=' + out, target] + list(args), capture_output=True,
                       text=True, timeout=WAIT * 3, env=env)
    if r.returncode != 0:
        raise RuntimeError('massif failed: ' + r.stderr[-2000:])
    heap = None
    funcs = {}
    cur = {}
    for line in open(out):
        line = line.rstrip('\n')
        if line.startswith('mem_heap_B='):
            cur = {'heap': int(line.split('=')[1])}
        elif line.startswith('heap_tree='):
            cur['tree'] = line.split('=')[1]
            if cur['tree'] == 'peak':
                heap = cur['heap']
        elif heap is not None and cur.get('tree') == 'peak':
            m = re.match(r'\s*n\d+: (\d+) 0x[0-9A-Fa-f]+: (\w+)', line)
            if m:
                funcs[m.group(2)] = max(funcs.get(m.group(2), 0), int(m.group(1)))
            elif line.startswith('#'):
                break
    return heap, funcs


def rate1(t, memprof, target, d):
    heap = os.path.join(d, 'p.heap.pb.gz')
    peak = os.path.join(d, 'p.peak.pb.gz')
    r = subprocess.run([memprof, 'run', '--rate', '1', '-o', heap, target],
                       capture_output=True, text=True, timeout=WAIT)
    t.eq(r.returncode, 0, 'rate 1: target exits 0 under memprof')
    t.ok("'%s'" % peak in r.stderr, 'rate 1: memprof run names the peak profile', r.stderr)
    if not t.ok(os.path.exists(peak), 'rate 1: peak profile written beside the heap profile',
                r.stderr):
        return
    v = pprof(peak and '-raw', peak)
    t.eq(v.returncode, 0, 'go tool pprof reads the peak profile')
    types, cum = pprof_raw.cum_by_function(peak)
    t.eq(types, TYPES, 'peak profile: the heap profile\'s four sample types')
    t.eq(cum.get('steady_alloc'), STEADY, 'peak: steady_alloc, all 64 blocks of 64 KiB in use')
    t.eq(cum.get('spike_alloc'), SPIKE, 'peak: spike_alloc, all 8 blocks of 4 MiB in use')
    churn = cum.get('churn_alloc', [0] * 4)
    t.eq(churn, CHURN_ALLOC + [0, 0], 'peak: churn_alloc allocated before, nothing in use')
    inuse = total(peak, 3)
    want = STEADY[3] + SPIKE[3]
    t.ok(want <= inuse <= want * 1.01, 'peak: in use %d, the steady blocks and the spike (%d) '
         'and under 1%% more' % (inuse, want))
    comment = v.stdout.splitlines()[0] if v.stdout else ''
    m = re.search(r'peak heap in use ([\d.]+) MiB at (\d{4}-\d\d-\d\dT[\d:.]+Z) '
                  r'\(([\d.]+) s after start\)', comment)
    t.ok(m and abs(float(m.group(1)) * MIB - inuse) < 0.05 * MIB,
         'peak comment: size and time of the peak', comment)

    # massif's peak snapshot, taken with no inaccuracy allowed.
    if shutil.which('valgrind'):
        mheap, mfuncs = massif_peak(target, d)
        t.ok(mheap is not None and abs(inuse - mheap) <= mheap * 0.01,
             'peak within 1%% of massif\'s peak (memprof %d, massif %s)' % (inuse, mheap))
        t.eq((mfuncs.get('steady_alloc'), mfuncs.get('spike_alloc'), mfuncs.get('churn_alloc', 0)),
             (STEADY[3], SPIKE[3], 0),
             'massif\'s peak snapshot holds the same steady and spike bytes, no churn')
    else:
        t.ok(True, 'massif comparison # SKIP valgrind not installed')

    # The exit profile: the spike was freed.
    types, cum = pprof_raw.cum_by_function(heap)
    t.eq(cum.get('spike_alloc'), SPIKE[:2] + [0, 0], 'exit profile: spike allocated, none in use')
    t.eq(cum.get('steady_alloc'), STEADY, 'exit profile: steady blocks in use')
    t.eq(cum.get('churn_alloc'), CHURN_ALLOC + [0, 0], 'exit profile: churn allocated, none in use')

    # Lifetimes.
    steady_l, churn_l = labels_of(heap, 'steady_alloc'), labels_of(heap, 'churn_alloc')
    t.eq(steady_l, {'in-use'}, 'lifetime: steady blocks labelled in-use')
    t.ok(churn_l and 'in-use' not in churn_l and None not in churn_l and
         not (churn_l & steady_l), 'lifetime: churned blocks carry other classes %s' % churn_l)
    r = pprof('-tags', heap)
    t.ok(r.returncode == 0 and re.search(r'^\s*lifetime: Total', r.stdout, re.M),
         'go tool pprof -tags lists the lifetime label', r.stdout + r.stderr)
    r = pprof('-sample_index=alloc_space', '-tagfocus=lifetime=in-use', '-top', heap)
    t.ok(r.returncode == 0 and 'steady_alloc' in r.stdout and 'churn_alloc' not in r.stdout and
         'spike_alloc' not in r.stdout, '-tagfocus lifetime=in-use keeps only the steady blocks',
         r.stdout + r.stderr)
    r = pprof('-sample_index=alloc_objects', '-tagignore=lifetime=in-use', '-top', heap)
    t.ok(r.returncode == 0 and 'churn_alloc' in r.stdout and 'steady_alloc' not in r.stdout,
         '-tagignore lifetime=in-use drops the steady blocks', r.stdout + r.stderr)
    r = pprof('-sample_index=alloc_space', '-diff_base', heap, '-top', heap)
    t.ok(r.returncode == 0 and re.search(r'Showing nodes accounting for 0, ', r.stdout),
         '-diff_base between labelled profiles: a profile minus itself is 0',
         r.stdout + r.stderr)
    other = os.path.join(d, 'q.heap.pb.gz')
    subprocess.run([memprof, 'run', '--rate', '1', '-o', other, target],
                   capture_output=True, text=True, timeout=WAIT)
    r = pprof('-sample_index=alloc_objects', '-diff_base', heap, '-raw', other)
    t.ok(r.returncode == 0 and 'lifetime:' in r.stdout,
         '-diff_base between two runs: read, labels kept', r.stdout[-2000:] + r.stderr)

    # (Lifetimes are times: the churn lives a few milliseconds, and 10 s
    # holds it on any machine; the steady blocks are in use, never short.)
    r = subprocess.run([memprof, 'top', '--lifetimes=10s', heap], capture_output=True, text=True)
    row = [l for l in r.stdout.splitlines() if l.rstrip().endswith('churn_alloc')]
    srow = [l for l in r.stdout.splitlines() if l.rstrip().endswith('steady_alloc')]
    t.ok(r.returncode == 0 and row and re.search(r' 100\.0% +100\.0% ', row[0]) and srow and
         re.search(r' 0\.0% +0\.0% ', srow[0]),
         'memprof top --lifetimes: churn_alloc all short-lived, steady_alloc none',
         r.stdout + r.stderr)


def snapshot_and_timeline(t, memprof, target, d):
    p = subprocess.Popen([memprof, 'run', '--rate', '1', '-o', os.path.join(d, 's.heap.pb.gz'),
                          '--', target, 'wait'], cwd=d, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    t.eq(line, 'ready\n', 'snapshot: target past its spike')
    # The program: memprof run's child.
    kids = open('/proc/%d/task/%d/children' % (p.pid, p.pid)).read().split()
    r = subprocess.run([memprof, 'snapshot', kids[0]], capture_output=True, text=True,
                       timeout=WAIT)
    t.eq(r.returncode, 0, 'memprof snapshot of the running target', r.stderr)
    p.stdin.write('\n')
    p.stdin.flush()
    out, err = p.communicate(timeout=WAIT)
    t.eq(p.returncode, 0, 'snapshot run exits 0', err)
    sp = os.path.join(d, 's.s0001.peak.pb.gz')
    if t.ok(os.path.exists(sp), 'the numbered snapshot has a peak profile', str(os.listdir(d))):
        cum = pprof_raw.cum_by_function(sp)[1]
        t.eq((cum.get('spike_alloc'), cum.get('steady_alloc')), (SPIKE, STEADY),
             'the snapshot\'s peak so far: the spike and the steady blocks')
        cum = pprof_raw.cum_by_function(os.path.join(d, 's.s0001.heap.pb.gz'))[1]
        t.eq(cum.get('spike_alloc'), SPIKE[:2] + [0, 0], 'the snapshot\'s heap: spike freed')
    svg = os.path.join(d, 't.svg')
    r = subprocess.run([memprof, 'timeline', '-o', svg, d], capture_output=True, text=True)
    t.eq(r.returncode, 0, 'timeline of the run', r.stderr)
    text = open(svg).read() if os.path.exists(svg) else ''
    m = re.search(r'class="peak"[^>]*data-peak="(\d+)"', text)
    t.ok(m and abs(int(m.group(1)) - (STEADY[3] + SPIKE[3])) <= (STEADY[3] + SPIKE[3]) * 0.01,
         'timeline marks the peak (36 MiB)', m.group(0) if m else text[:1500])


PY_SPIKE = '''
keep = [bytes(1000) for _ in range(2000)]
spike = [bytearray(10000) for _ in range(3000)]
del spike
x = {str(i): i for i in range(20000)}
'''


def real_program(t, memprof, d):
    """A program we did not write: Debian's python3 (glibc's malloc
    interface, its own arenas on top), whose peak massif measures too."""
    py = '/usr/bin/python3'
    if not (os.path.exists(py) and shutil.which('valgrind')):
        t.ok(True, 'python3 against massif # SKIP no /usr/bin/python3 or valgrind')
        return
    script = os.path.join(d, 's.py')
    with open(script, 'w') as f:
        f.write(PY_SPIKE)
    env = dict(os.environ, PYTHONHASHSEED='0', PYTHONMALLOC='malloc')
    heap = os.path.join(d, 'py.heap.pb.gz')
    r = subprocess.run([memprof, 'run', '-q', '--rate', '1', '-o', heap, py, script],
                       capture_output=True, text=True, timeout=WAIT, env=env)
    t.eq(r.returncode, 0, 'python3: exit 0 under memprof', r.stderr)
    peak = os.path.join(d, 'py.peak.pb.gz')
    if not t.ok(os.path.exists(peak), 'python3: peak profile written'):
        return
    inuse = total(peak, 3)
    mheap, _ = massif_peak(py, d, [script], env)
    t.ok(mheap and abs(inuse - mheap) <= mheap * 0.01,
         'python3: peak %d within 1%% of massif\'s %s' % (inuse, mheap))
    t.ok(total(heap, 3) < inuse - 25 * 1000 * 1000,
         'python3: the 30 MB spike in use at the peak, not at exit')


def interval(t, memprof, target, d):
    """--interval: every numbered snapshot has a peak profile, its peak at
    least what is in use then; those taken after the spike hold it."""
    p = subprocess.Popen([memprof, 'run', '--rate', '1', '--interval', '10ms', '-o',
                          os.path.join(d, 'i.heap.pb.gz'), '--', target, 'wait'], cwd=d,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    t.eq(p.stdout.readline(), 'ready\n', 'interval: target past its spike')
    first = len(glob.glob(os.path.join(d, 'i.s*.heap.pb.gz')))
    end = time.monotonic() + WAIT
    while len(glob.glob(os.path.join(d, 'i.s*.heap.pb.gz'))) < first + 2 and time.monotonic() < end:
        time.sleep(0.02)
    p.stdin.write('\n')
    p.stdin.flush()
    out, err = p.communicate(timeout=WAIT)
    t.eq(p.returncode, 0, 'interval: exit 0', err)
    heaps = sorted(glob.glob(os.path.join(d, 'i.s*.heap.pb.gz')))
    ok = bool(heaps)
    last = None
    for h in heaps:
        pk = h.replace('.heap.pb.gz', '.peak.pb.gz')
        ok &= os.path.exists(pk) and total(pk, 3) >= total(h, 3)
        last = pk
    t.ok(ok, 'interval: %d numbered snapshots, each with a peak profile at least its heap in '
         'use' % len(heaps))
    if last and os.path.exists(last):
        cum = pprof_raw.cum_by_function(last)[1]
        t.eq(cum.get('spike_alloc'), SPIKE, 'interval: the last numbered peak holds the spike')


def convert(t, memprof, target, d):
    """The shim preloaded by hand, then memprof convert: the peak profile
    beside the heap profile there too."""
    shim = os.environ.get('MEMPROF_SHIM')
    if not shim:
        t.ok(True, 'convert # SKIP no MEMPROF_SHIM')
        return
    env = dict(os.environ, LD_PRELOAD=shim, MEMPROF_OPTIONS='rate=1,snapdir=' + d)
    r = subprocess.run([target], env=env, capture_output=True, text=True, timeout=WAIT)
    snaps = glob.glob(os.path.join(d, 'memprof.*.snap'))
    if not t.ok(r.returncode == 0 and len(snaps) == 1, 'convert: the shim wrote one snapshot',
                r.stderr):
        return
    heap = os.path.join(d, 'c.heap.pb.gz')
    r = subprocess.run([memprof, 'convert', '-o', heap, snaps[0]], capture_output=True,
                       text=True, timeout=WAIT)
    peak = os.path.join(d, 'c.peak.pb.gz')
    t.eq(r.stderr, "memprof: wrote heap profile '%s', with '%s'\n" % (heap, peak),
         'convert: names the peak profile beside the heap profile')
    if os.path.exists(peak):
        cum = pprof_raw.cum_by_function(peak)[1]
        t.eq((cum.get('spike_alloc'), cum.get('steady_alloc')), (SPIKE, STEADY),
             'convert: the peak holds the spike and the steady blocks')


def default_rate(t, memprof, target, d):
    peak = os.path.join(d, 'r.peak.pb.gz')
    r = subprocess.run([memprof, 'run', '-o', os.path.join(d, 'r.heap.pb.gz'), target],
                       capture_output=True, text=True, timeout=WAIT)
    t.eq(r.returncode, 0, 'default rate: target exits 0')
    if not t.ok(os.path.exists(peak), 'default rate: peak profile written', r.stderr):
        return
    cum = pprof_raw.cum_by_function(peak)[1]
    # 4 MiB blocks are sampled with probability 1 - exp(-8) and weighed
    # 1.0003: the spike is all but exact, but one of its 8 blocks goes
    # unsampled in 0.27% of runs (8 exp(-8): CI met it), two in 4e-6; so
    # the spike is its 8 blocks or 7 of them, and the peak in use is checked
    # against the spike found.  The 64 blocks of 64 KiB are each sampled
    # with probability 1 - exp(-1/8) = 0.1175: 7.5 samples of 557 KiB, a
    # standard error of 1.4 MiB.  9 MiB is 16.5 samples over the mean: 25
    # or more of 64 come in 2e-8 of runs (6 MiB, 19 or more: 1e-4).
    spike = cum.get('spike_alloc', [0] * 4)[3]
    t.ok(any(abs(spike - SPIKE[3] * k / 8) <= SPIKE[3] * 0.01 for k in (8, 7)),
         'default rate: the spike at the peak, %d of %d bytes (all 8 blocks, or 7)'
         % (spike, SPIKE[3]))
    inuse = total(peak, 3)
    want = STEADY[3] + spike
    t.ok(abs(inuse - want) <= 9 * MIB,
         'default rate: peak in use %d, %d (the steady blocks and the spike found) within '
         'the sampling error' % (inuse, want))
    heap = os.path.join(d, 'r.heap.pb.gz')
    cum = pprof_raw.cum_by_function(heap)[1]
    t.eq(cum.get('spike_alloc', [0] * 4)[3], 0, 'default rate: no spike in use at exit')


def main():
    memprof, target = [os.path.abspath(a) for a in sys.argv[1:3]]
    t = Tap()
    with tempfile.TemporaryDirectory() as d:
        rate1(t, memprof, target, d)
    with tempfile.TemporaryDirectory() as d:
        snapshot_and_timeline(t, memprof, target, d)
    with tempfile.TemporaryDirectory() as d:
        interval(t, memprof, target, d)
    with tempfile.TemporaryDirectory() as d:
        real_program(t, memprof, d)
    with tempfile.TemporaryDirectory() as d:
        convert(t, memprof, target, d)
    with tempfile.TemporaryDirectory() as d:
        default_rate(t, memprof, target, d)
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
