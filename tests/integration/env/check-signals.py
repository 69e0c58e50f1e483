#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Signals and snapshots (t-sig):
  - handlers that allocate, free, calloc and realloc in several size
    classes while the interrupted thread allocates and frees whole batches
    of them (its cache refilled from and spilled to the central lists under
    their locks), a second timer's handler nesting into the first, some
    handlers left by siglongjmp: every run ends, with every block intact
    (a watchdog kills a hung run), at --rate 1 and the default rate, under
    memprof run and with the shim preloaded;
  - `memprof snapshot PID` while the program sleeps (nanosleep), polls,
    selects, reads, waits for a child, or is in sigsuspend, with no SIGUSR2
    handler, one with SA_RESTART and one without: the call returns what it
    returns natively (never EINTR), the program's handler never runs, and
    every request gives a numbered profile;
  - a program that blocks SIGUSR2 and takes it with sigwaitinfo still gets
    every `kill -USR2`, and memprof snapshot works beside it;
  - a fork child is snapshotted on its own, undisturbed.
usage: check-signals.py MEMPROF T-SIG"""
import glob
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from tap import Tap  # noqa: E402

WATCHDOG = 120    # seconds: only a hang reaches it
RUNS = 12         # stress runs per configuration


def stress(t, memprof, tsig, d):
    shim = os.environ.get('MEMPROF_SHIM')
    configs = [('memprof run --rate 1', 'run', '1', '150'),
               ('memprof run, default rate', 'run', '512K', '20')]
    if shim:
        configs.append(('shim preloaded, rate 1', 'preload', '1', '150'))
    for name, how, rate, usec in configs:
        bad = []
        total = escapes = 0
        for i in range(RUNS):
            escape = 'escape' if i % 2 else 'stay'
            argv = [tsig, 'stress', '400', escape, usec]
            if how == 'run':
                cmd = [memprof, 'run', '-q', '--rate', rate, '-o',
                       os.path.join(d, 'st.heap.pb.gz'), '--'] + argv
                env = None
            else:
                cmd = argv
                env = dict(os.environ, LD_PRELOAD=shim,
                           MEMPROF_OPTIONS='rate=%s,snapdir=%s' % (rate, d))
            try:
                r = subprocess.run(cmd, capture_output=True, text=True, timeout=WATCHDOG,
                                   env=env)
            except subprocess.TimeoutExpired:
                bad.append('run %d: hung (killed after %d s)' % (i, WATCHDOG))
                continue
            w = r.stdout.split()
            if r.returncode != 0 or len(w) != 3 or w[0] != 'ok':
                bad.append('run %d: status %d, %r %s' % (i, r.returncode, r.stdout,
                                                           r.stderr[-300:]))
                continue
            total += int(w[1])
            escapes += int(w[2])
        t.ok(not bad and total > 0,
             '%s: %d runs, %d handler calls (%d left by siglongjmp), no hang, no corruption'
             % (name, RUNS, total, escapes), '\n'.join(bad))
        for f in glob.glob(os.path.join(d, '*')):
            os.unlink(f)


def start(memprof, argv, d):
    return subprocess.Popen([memprof, 'run', '--rate', '1', '-o', os.path.join(d, 'w.heap.pb.gz'),
                             '--'] + argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def snapshot(memprof, pid):
    return subprocess.run([memprof, 'snapshot', str(pid)], capture_output=True, text=True,
                          timeout=WATCHDOG)


def waits(t, memprof, tsig, d):
    expect = {'nanosleep': 'nanosleep ok', 'poll': 'poll ok 1', 'select': 'select ok 1',
              'read': 'read ok', 'waitpid': 'waitpid ok', 'sigsuspend': 'sigsuspend woken'}
    for kind in ('nanosleep', 'poll', 'select', 'read', 'waitpid', 'sigsuspend'):
        for handler in ('none', 'restart', 'norestart'):
            for f in glob.glob(os.path.join(d, '*')):
                os.unlink(f)
            what = '%s, %s SIGUSR2 handler' % (kind, handler)
            p = start(memprof, [tsig, 'wait', kind, handler], d)
            line = p.stdout.readline().split()
            if len(line) != 2 or line[0] != 'ready':
                t.ok(False, what + ': started', p.stderr.read())
                p.kill()
                continue
            pid = int(line[1])
            seqs = [snapshot(memprof, pid).stdout.strip() for _ in range(3)]
            if kind == 'sigsuspend':
                try:
                    os.kill(pid, signal.SIGUSR1)
                except ProcessLookupError:
                    pass   # ended already: a request cut its wait short
            try:
                out, err = p.communicate('go\n', timeout=WATCHDOG)
            except subprocess.TimeoutExpired:
                p.kill()
                out, err = p.communicate()
            lines = out.splitlines()
            t.ok(p.returncode == 0 and lines == [expect[kind], 'handler 0'],
                 what + ': the call returns as natively, the program\'s handler never runs',
                 out + err[-400:])
            t.ok(seqs == ['1', '2', '3'] and
                 len(glob.glob(os.path.join(d, 'w.s000[123].heap.pb.gz'))) == 3,
                 what + ': three numbered profiles', '%s %s' % (seqs, err[-400:]))


def sigwait(t, memprof, tsig, d):
    for f in glob.glob(os.path.join(d, '*')):
        os.unlink(f)
    n = 8
    p = start(memprof, [tsig, 'sigwait', str(n)], d)
    line = p.stdout.readline().split()
    pid = int(line[1]) if len(line) == 2 else 0
    got = []
    seqs = []
    for i in range(n):
        if i % 2 == 0:
            seqs.append(snapshot(memprof, pid).stdout.strip())
        os.kill(pid, signal.SIGUSR2)
        got.append(p.stdout.readline().strip())
    out, err = p.communicate(timeout=WATCHDOG)
    t.ok(p.returncode == 0 and got == ['got %d user' % signal.SIGUSR2] * n,
         'sigwaitinfo gets every kill -USR2 (%d), memprof\'s own helper thread waiting too' % n,
         '%s %s %s' % (got, out, err[-400:]))
    t.ok(seqs == ['1', '2', '3', '4'], 'memprof snapshot beside a sigwaitinfo loop', str(seqs))


def fork(t, memprof, tsig, d):
    for f in glob.glob(os.path.join(d, '*')):
        os.unlink(f)
    p = start(memprof, [tsig, 'fork'], d)
    line = p.stdout.readline().split()
    cpid = int(line[1]) if len(line) == 2 and line[0] == 'child' else 0
    p.stdout.readline()   # the child's "ready"
    r = snapshot(memprof, cpid)
    out, err = p.communicate(timeout=WATCHDOG)
    t.ok(r.returncode == 0 and r.stdout.strip() == '1', 'fork child: memprof snapshot', r.stderr)
    t.ok(p.returncode == 0 and out.splitlines() == ['nanosleep ok', 'handler 0'],
         'fork child: its sleep is not cut short', out + err[-300:])
    t.ok(os.path.exists(os.path.join(d, 'w.%d.s0001.heap.pb.gz' % cpid)),
         'fork child: its numbered profile', str(os.listdir(d)))


def main():
    memprof, tsig = sys.argv[1], sys.argv[2]
    t = Tap()
    with tempfile.TemporaryDirectory() as d:
        waits(t, memprof, tsig, d)
        sigwait(t, memprof, tsig, d)
        fork(t, memprof, tsig, d)
        stress(t, memprof, tsig, d)
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
