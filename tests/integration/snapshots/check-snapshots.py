#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Numbered snapshots end to end: `memprof snapshot PID` between known steps
gives profiles with exact contents; a program's own SIGUSR2 handler (set
after the shim, or before it by a library constructor, or an inherited
SIG_IGN) is kept and still gets plain signals; --interval keeps writing;
SIGKILL leaves every profile already written whole; a fork child snapshots
on its own; `memprof timeline` charts the series, checked in headless
chromium when it is installed.
usage: check-snapshots.py MEMPROF T-SNAP T-SNAP-EARLY"""
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import pprof_raw  # noqa: E402
from browser import chromium, dump_dom  # noqa: E402
from tap import Tap  # noqa: E402

STEP = [1000, 256000, 1000, 256000]   # leak_step: objects and bytes, alloc and inuse
WAIT = 60                              # seconds: generous, only a hang hits it


def eq(t, got, want, what, detail=''):
    return t.ok(got == want, what, 'got %r, want %r\n%s' % (got, want, detail))


def cum(path, fn):
    return pprof_raw.cum_by_function(path)[1].get(fn, [0, 0, 0, 0])


def start(memprof, args, d, extra=(), **kw):
    return subprocess.Popen([memprof, 'run', '--rate', '1', '-o', os.path.join(d, 's.heap.pb.gz')]
                            + list(extra) + ['--'] + args, cwd=d, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def wait_for(pred):
    end = time.monotonic() + WAIT
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.02)
    return False


def pending(pid, sig):
    for line in open('/proc/%d/status' % pid):
        if line.startswith('ShdPnd:'):
            return int(line.split()[1], 16) & (1 << (sig - 1)) != 0
    return False


def snapshot(memprof, pid, *extra):
    return subprocess.run([memprof, 'snapshot'] + list(extra) + [str(pid)],
                          capture_output=True, text=True, timeout=WAIT + 10)


def on_demand(t, memprof, target, d):
    p = start(memprof, [target, 'steps', '3'], d)
    seqs = []
    for i in range(1, 4):
        line = p.stdout.readline().split()
        if not eq(t, line[:2], ['step', str(i)], 'step %d reached' % i):
            break
        r = snapshot(memprof, int(line[2]))
        eq(t, r.returncode, 0, 'memprof snapshot after step %d' % i)
        seqs.append(r.stdout.strip())
        prof = os.path.join(d, 's.s%04d.heap.pb.gz' % i)
        eq(t, r.stderr, "memprof: process %s wrote snapshot %d: '%s'\n" % (line[2], i, prof),
           'memprof snapshot names the profile made of snapshot %d (not a removed .snap)' % i)
        t.ok(os.path.exists(prof), 'the profile it names exists when it returns')
        p.stdin.write('\n')
        p.stdin.flush()
    out, err = p.communicate(timeout=WAIT)
    eq(t, p.returncode, 0, 'run exit status')
    eq(t, seqs, ['1', '2', '3'], 'memprof snapshot prints the snapshot numbers')
    for i in range(1, 4):
        path = os.path.join(d, 's.s%04d.heap.pb.gz' % i)
        if t.ok(os.path.exists(path), 'numbered profile %d' % i, err + str(os.listdir(d))):
            eq(t, cum(path, 'leak_step'), [v * i for v in STEP], 'snapshot %d: leak_step' % i)
    final = os.path.join(d, 's.heap.pb.gz')
    eq(t, cum(final, 'leak_step'), [v * 3 for v in STEP], 'final profile: leak_step')
    stats = subprocess.run([memprof, 'stats', os.path.join(d, 's.s0002.heap.pb.gz')],
                           capture_output=True, text=True)
    t.ok(re.search(r'^RSS +[1-9]\d* ', stats.stdout, re.M), 'numbered profile carries RSS',
         stats.stdout + stats.stderr)
    eq(t, sorted(f for f in os.listdir(d) if 'tmp' in f or f.endswith('.snap')), [],
         'no temporary or raw files left')


def overwritten_environment(t, memprof, target, d):
    """A process that wrote its title over its environment (redis, nginx,
    postgres): memprof snapshot finds its run's directory all the same."""
    p = start(memprof, [target, 'title'], d)
    line = p.stdout.readline().split()
    if eq(t, line[:2], ['step', '1'], 'title: step 1 reached'):
        pid = int(line[2])
        with open('/proc/%d/environ' % pid, 'rb') as f:
            t.ok(b'MEMPROF_OPTIONS' not in f.read(), 'title: its environment is written over')
        os.kill(pid, signal.SIGSTOP)
        wait_for(lambda: open('/proc/%d/stat' % pid).read().rsplit(')', 1)[1].split()[0] == 'T')
        r = snapshot(memprof, pid, '--timeout', '5s')
        os.kill(pid, signal.SIGCONT)
        eq(t, (r.returncode, r.stderr),
           (1, 'memprof: cannot take a snapshot of process %d: it is stopped (SIGSTOP or a '
               'debugger); it answers once continued (kill -CONT %d)\n' % (pid, pid)),
           'title: a stopped process is said to be stopped at once, not timed out')
        r = snapshot(memprof, pid, '--timeout', '5s')
        prof = os.path.join(d, 's.s0001.heap.pb.gz')
        eq(t, (r.returncode, r.stderr),
           (0, "memprof: process %d wrote snapshot 1: '%s'\n" % (pid, prof)),
           'title: memprof snapshot finds the run\'s directory without the environment')
    p.stdin.write('\n')
    p.stdin.flush()
    p.communicate(timeout=WAIT)
    eq(t, p.returncode, 0, 'title: run exit status')


def exec_keeps_numbering(t, memprof, target, d):
    p = start(memprof, [target, 'exec'], d)
    seqs = []
    for _ in range(2):
        line = p.stdout.readline().split()
        if len(line) != 3:
            break
        seqs.append(snapshot(memprof, int(line[2])).stdout.strip())
        p.stdin.write('\n')
        p.stdin.flush()
    p.communicate(timeout=WAIT)
    eq(t, seqs, ['1', '2'], 'exec: the new program goes on numbering from the old one')
    for i in (1, 2):
        path = os.path.join(d, 's.s%04d.heap.pb.gz' % i)
        if t.ok(os.path.exists(path), 'exec: numbered profile %d' % i):
            eq(t, cum(path, 'leak_step'), STEP, 'exec: snapshot %d has its own image\'s step' % i)


def handler(t, memprof, target, d, mode, want_disp, env=None, preexec=None):
    p = start(memprof, [target, mode], d, env=env, preexec_fn=preexec)
    line = p.stdout.readline().split()
    eq(t, line[:1] + line[2:], ['ready', want_disp], '%s: program sees its own disposition' % mode)
    pid = int(line[1])
    # Standard signals do not queue: wait until each one has been taken
    # before the next is sent, or two become one.
    plain = 0 if want_disp in ('default', 'ignore') else 2
    for _ in range(plain):
        os.kill(pid, signal.SIGUSR2)
        wait_for(lambda: not pending(pid, signal.SIGUSR2))
    r = snapshot(memprof, pid)
    eq(t, r.returncode, 0, '%s: memprof snapshot' % mode, r.stderr)
    p.stdin.write('\n')
    p.stdin.flush()
    out, err = p.communicate(timeout=WAIT)
    eq(t, p.returncode, 0, '%s: exit status' % mode, err)
    eq(t, out.split(), ['calls', str(plain), want_disp],
         '%s: program handler got exactly the plain signals' % mode)
    eq(t, sorted(glob.glob(os.path.join(d, 's.s*.heap.pb.gz'))),
         [os.path.join(d, 's.s0001.heap.pb.gz')], '%s: one numbered profile' % mode)


def no_signal(t, memprof, target, d):
    p = start(memprof, [target, 'query'], d, extra=['--snapshot-signal', 'none'])
    line = p.stdout.readline().split()
    pid = int(line[1])
    tasks = os.listdir('/proc/%d/task' % pid)
    eq(t, len(tasks), 1, 'snapshot-signal none: no helper thread')
    r = snapshot(memprof, pid)
    eq(t, r.returncode, 1, 'snapshot-signal none: memprof snapshot refuses')
    t.ok('snapshot_signal=0' in r.stderr, 'snapshot-signal none: says why', r.stderr)
    p.stdin.write('\n')
    p.stdin.flush()
    out, _ = p.communicate(timeout=WAIT)
    eq(t, out.split(), ['calls', '0', 'default'], 'snapshot-signal none: disposition untouched')


def numbered(d):
    return sorted(glob.glob(os.path.join(d, 's.s[0-9]*.heap.pb.gz')))


def interval(t, memprof, target, d, kill):
    p = start(memprof, [target, 'loop'], d, extra=['--interval', '20ms'])
    p.stdout.readline()
    t.ok(wait_for(lambda: len(numbered(d)) >= 3), 'interval: three numbered profiles appear '
         'while the program runs')
    if kill:
        line = open('/proc/%d/task/%d/children' % (p.pid, p.pid)).read().split()
        os.kill(int(line[0]), signal.SIGKILL)
    else:
        p.stdin.write('stop\n')
        p.stdin.flush()
    out, err = p.communicate(timeout=WAIT)
    what = 'SIGKILL' if kill else 'interval'
    eq(t, p.returncode, -signal.SIGKILL if kill else 0, '%s: exit status' % what)
    prev = 0
    ok = True
    for path in numbered(d):
        top = subprocess.run([memprof, 'top', path], capture_output=True, text=True)
        v = cum(path, 'leak_step')
        ok &= top.returncode == 0 and v[0] == v[2] and v[3] == 256 * v[2] and v[3] >= prev
        prev = v[3]
    t.ok(ok and prev > 0, '%s: every numbered profile whole, leak_step never shrinks' % what)
    # after SIGKILL too: memprof run reads the tables it shared with the program
    eq(t, os.path.exists(os.path.join(d, 's.heap.pb.gz')), True,
       '%s: final profile present' % what)
    eq(t, sorted(f for f in os.listdir(d) if 'tmp' in f), [], '%s: no temporary files' % what)


def fork(t, memprof, target, d):
    p = start(memprof, [target, 'fork'], d, extra=['--interval', '20ms'])
    line = p.stdout.readline().split()
    cpid = line[1] if len(line) == 2 else 'missing'
    want = os.path.join(d, 's.%s.s0002.heap.pb.gz' % cpid)
    t.ok(wait_for(lambda: os.path.exists(want)), 'fork: child writes numbered profiles')
    p.stdin.write('\n')
    p.stdin.flush()
    p.communicate(timeout=WAIT)
    eq(t, p.returncode, 0, 'fork: exit status')
    if os.path.exists(want):
        eq(t, cum(want, 'child_leak'), STEP, 'fork: child snapshot has child_leak exactly')


def other_signal(t, memprof, target, d):
    # A real-time signal: the program's SIGUSR2 stays its own (default), and
    # memprof snapshot finds the signal in the process's MEMPROF_OPTIONS.
    p = start(memprof, [target, 'query'], d, extra=['--snapshot-signal', 'RTMIN+1'])
    line = p.stdout.readline().split()
    r = snapshot(memprof, int(line[1]))
    eq(t, r.returncode, 0, 'snapshot-signal RTMIN+1: memprof snapshot', r.stderr)
    p.stdin.write('\n')
    p.stdin.flush()
    out, _ = p.communicate(timeout=WAIT)
    eq(t, out.split(), ['calls', '0', 'default'], 'snapshot-signal RTMIN+1: SIGUSR2 untouched')
    t.ok(os.path.exists(os.path.join(d, 's.s0001.heap.pb.gz')),
         'snapshot-signal RTMIN+1: numbered profile')
    for bad in ('KILL', 'SIGSEGV', 'nosuch', 'RTMIN+99', '65', ''):
        r = subprocess.run([memprof, 'run', '--snapshot-signal', bad, 'true'],
                           capture_output=True, text=True)
        t.ok(r.returncode == 2 and r.stderr.count('\n') == 1 and 'snapshot-signal' in r.stderr,
             'bad --snapshot-signal %r: usage error' % bad, r.stderr)
    for bad in ('10x', '1x', '500us', '0.0005', '-1s'):
        r = subprocess.run([memprof, 'run', '--interval', bad, 'true'],
                           capture_output=True, text=True)
        t.ok(r.returncode == 2 and 'interval' in r.stderr, 'bad --interval %r: usage error' % bad,
             r.stderr)
    # A bare number is seconds.
    r = subprocess.run([memprof, 'run', '-q', '--interval', '10', '-o',
                        os.path.join(d, 'bare.heap.pb.gz'), 'true'],
                       capture_output=True, text=True)
    t.eq((r.returncode, r.stderr), (0, ''), '--interval 10 (seconds): accepted')


def bad_snapshot(t, memprof):
    r = snapshot(memprof, 'abc')
    eq(t, r.returncode, 2, 'snapshot: bad pid is a usage error')
    s = subprocess.Popen(['sleep', '30'])
    try:
        r = snapshot(memprof, s.pid)
        eq(t, r.returncode, 1, 'snapshot: process without the shim')
        t.ok('shim is not loaded' in r.stderr and s.poll() is None,
             'snapshot: says so and sends nothing', r.stderr)
    finally:
        s.kill()
        s.wait()


def cache_timeline(t, memprof, target, d):
    """A cache that grows through the run and is freed at exit: the
    timeline's top grower all the same, measured to the largest heap, and
    named by its frame in the program with file:line."""
    p = start(memprof, [target, 'cache', '3'], d)
    for i in range(1, 4):
        line = p.stdout.readline().split()
        if not eq(t, line[:2], ['step', str(i)], 'cache: step %d reached' % i):
            break
        snapshot(memprof, int(line[2]))
        p.stdin.write('\n')
        p.stdin.flush()
    p.communicate(timeout=WAIT)
    eq(t, p.returncode, 0, 'cache: run exit status')
    svg = os.path.join(d, 'cache.svg')
    r = subprocess.run([memprof, 'timeline', '-o', svg, d], capture_output=True, text=True)
    eq(t, r.returncode, 0, 'cache: timeline', r.stderr)
    root = ET.parse(svg).getroot()
    eq(t, root.get('data-points'), '4', 'cache: four points, the last at exit')
    stacks = [g for g in root.iter('{http://www.w3.org/2000/svg}g')
              if g.get('class') == 'stack-legend']
    text = ''.join(stacks[0].itertext()) if stacks else ''
    t.ok(stacks and stacks[0].get('data-growth') == '512000' and
         re.search(r'leak_step \(t-snap\.c:\d+\)$', text),
         'cache freed at exit: still the top grower (+512000 B to the largest heap), named '
         'leak_step (t-snap.c:LINE)', text)
    t.ok('to the largest heap, s.s0003.heap.pb.gz' in open(svg).read(),
         'the legend says which snapshot growth is measured to')
    # The same series named as `memprof run -o s.pb.gz` names it: the heap
    # profiles s.pb.gz, s.s0001.pb.gz, ..., their siblings s.s0001.fds.pb.gz.
    plain = os.path.join(d, 'plain')
    os.mkdir(plain)
    for f in glob.glob(os.path.join(d, 's.*pb.gz')):
        name = os.path.basename(f).replace('.heap.pb.gz', '.pb.gz')
        shutil.copy(f, os.path.join(plain, name))
    svg2 = os.path.join(d, 'plain.svg')
    r = subprocess.run([memprof, 'timeline', '-o', svg2, plain], capture_output=True, text=True)
    eq(t, r.returncode, 0, 'plain names: timeline DIR', r.stderr)
    root = ET.parse(svg2).getroot() if r.returncode == 0 else None
    eq(t, root.get('data-points') if root is not None else None, '4',
       'plain names (s.s0001.pb.gz): the same four points')
    fds = open(svg).read().count('open fds')
    t.ok(r.returncode == 0 and fds > 0 and open(svg2).read().count('open fds') == fds,
         'plain names: the descriptor series from s.s0001.fds.pb.gz and the rest')


def timeline(t, memprof, d):
    html = os.path.join(d, 't.html')
    svg = os.path.join(d, 't.svg')
    r = subprocess.run([memprof, 'timeline', '-o', html, d], capture_output=True, text=True)
    eq(t, r.returncode, 0, 'timeline: run directory to HTML', r.stderr)
    r = subprocess.run([memprof, 'timeline', '-n', '3', '-o', svg] + sorted(
        glob.glob(os.path.join(d, 's*.heap.pb.gz'))), capture_output=True, text=True)
    eq(t, r.returncode, 0, 'timeline: profiles to SVG', r.stderr)
    root = ET.parse(svg).getroot()
    eq(t, root.get('data-points'), '4', 'timeline SVG: four points (three numbered, final)')
    stacks = [g for g in root.iter('{http://www.w3.org/2000/svg}g')
              if g.get('class') == 'stack-legend']
    t.ok(stacks and stacks[0].get('data-growth') == '512000' and
         'leak_step' in ''.join(stacks[0].itertext()),
         'timeline SVG: leak_step named, grown by exactly 512000 B',
         [ET.tostring(g) for g in stacks])
    before = open(html, 'rb').read()
    r = subprocess.run([memprof, 'timeline', '-o', html, os.path.join(d, 'nothing')],
                       capture_output=True, text=True)
    t.ok(r.returncode == 1 and open(html, 'rb').read() == before and
         r.stderr.count('\n') == 1, 'timeline: a failed run leaves the output alone', r.stderr)

    browser = chromium()
    if not browser:
        print('ok %d - timeline in chromium # SKIP chromium not installed' % (t.n + 1))
        t.n += 1
        return
    # The HTML as the browser lays it out: a script appended to a copy
    # measures the drawn series.
    probe = os.path.join(d, 'probe.html')
    with open(probe, 'w') as f:
        f.write(open(html).read().replace('</body>', '''<script>
const r = {};
for (const id of ['heap', 'rss', 'stack1']) {
  const p = document.querySelector('#' + id + ' polyline');
  r[id] = p ? Math.round(p.getBBox().width) : -1;
}
r.rows = document.querySelectorAll('#stacks tr').length;
document.body.setAttribute('data-probe', JSON.stringify(r));
</script></body>'''))
    dom = dump_dom(browser, 'file://' + probe, d)
    m = re.search(r'data-probe="([^"]*)"', dom)
    got = m.group(1).replace('&quot;', '"') if m else ''
    t.ok(re.match(r'\{"heap":[1-9]\d\d,"rss":[1-9]\d\d,"stack1":[1-9]\d\d,"rows":2\}$', got),
         'timeline HTML in chromium: heap, RSS and the growing stack drawn across the chart',
         got or dom[:2000])
    dom = dump_dom(browser, 'file://' + svg, d)
    t.ok('parsererror' not in dom and 'memprof-timeline' in dom and 'leak_step' in dom,
         'timeline SVG in chromium: parses as SVG', dom[:2000])


def main():
    memprof, target, early = [os.path.abspath(a) for a in sys.argv[1:4]]
    t = Tap()
    with tempfile.TemporaryDirectory() as d:
        on_demand(t, memprof, target, d)
        timeline(t, memprof, d)
    with tempfile.TemporaryDirectory() as d:
        cache_timeline(t, memprof, target, d)
    with tempfile.TemporaryDirectory() as d:
        handler(t, memprof, target, d, 'handler', 'own-siginfo')
    with tempfile.TemporaryDirectory() as d:
        handler(t, memprof, early, d, 'query', 'early')
    with tempfile.TemporaryDirectory() as d:
        handler(t, memprof, target, d, 'query', 'ignore',
                preexec=lambda: signal.signal(signal.SIGUSR2, signal.SIG_IGN))
    with tempfile.TemporaryDirectory() as d:
        handler(t, memprof, target, d, 'query', 'default')
    with tempfile.TemporaryDirectory() as d:
        no_signal(t, memprof, target, d)
    for kill in (False, True):
        with tempfile.TemporaryDirectory() as d:
            interval(t, memprof, target, d, kill)
    with tempfile.TemporaryDirectory() as d:
        fork(t, memprof, target, d)
    with tempfile.TemporaryDirectory() as d:
        exec_keeps_numbering(t, memprof, target, d)
    with tempfile.TemporaryDirectory() as d:
        overwritten_environment(t, memprof, target, d)
    with tempfile.TemporaryDirectory() as d:
        other_signal(t, memprof, target, d)
    bad_snapshot(t, memprof)
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
