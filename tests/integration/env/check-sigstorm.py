#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Handlers that allocate on several threads at once (t-sigstorm, its
default mode: threads, alternate stacks, SA_NODEFER, deep stacks, handlers
left by siglongjmp only from the code they interrupted), under
memprof run --rate 1: every run ends, with every block intact.

A watchdog turns a hang into a failure.  The hang this catches: a handler
sampling under the stack table's lock while one nested into it waited for
the page heap's lock, whose holder's handler waited for the stack table's
(10 runs in 26 hung).  Each run takes under a second; RUNS of them all
passed by chance with that bug about once in 2,000 times.  Its 'wild' mode
(which leaves handlers inside malloc: the program's bug) is not run.
usage: check-sigstorm.py MEMPROF T-SIGSTORM"""
import os
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from tap import Tap  # noqa: E402

WATCHDOG = 30     # seconds per run: only a hang reaches it
RUNS = 16
ARGS = ['4', '1000', '300']   # threads besides main, rounds, timer period (us)


def run(memprof, storm, d):
    """(status, stdout, stderr), status None when the watchdog fired."""
    cmd = [memprof, 'run', '-q', '--rate', '1', '-o', os.path.join(d, 'st.heap.pb.gz'), '--',
           storm] + ARGS
    # A session of its own: a hung target is killed with the CLI.
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    try:
        out, err = p.communicate(timeout=WATCHDOG)
        return p.returncode, out, err
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        return None, '', ''


def main():
    memprof, storm = sys.argv[1], sys.argv[2]
    t = Tap()
    bad = []
    handlers = escapes = 0
    with tempfile.TemporaryDirectory() as d:
        for i in range(RUNS):
            st, out, err = run(memprof, storm, d)
            if st is None:
                bad.append('run %d: hung (killed after %d s)' % (i, WATCHDOG))
                break   # one is enough: the next would cost as long
            w = out.split()
            if st != 0 or len(w) != 3 or w[0] != 'ok':
                bad.append('run %d: status %d, %r %s' % (i, st, out, err[-300:]))
                continue
            prof = os.path.join(d, 'st.heap.pb.gz')
            if os.path.exists(prof):
                os.unlink(prof)
            else:
                bad.append('run %d: no profile' % i)
            handlers += int(w[1])
            escapes += int(w[2])
    t.ok(not bad and handlers > 0,
         'memprof run --rate 1, t-sigstorm %s: %d runs, %d handler calls (%d left by '
         'siglongjmp), no hang, no corruption' % (' '.join(ARGS), RUNS, handlers, escapes),
         '\n'.join(bad))
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
