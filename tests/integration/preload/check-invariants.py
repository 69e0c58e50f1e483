#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The allocator's invariants after stress, in a -Ddebug_checks=full build
(where the shim walks them at every process's exit and, with verbose=1,
says they hold; a broken one is a warning naming the line of alloc/ that
found it).  Each workload runs with the shim preloaded, profiling off and
at rate 1: signal handlers that allocate while the interrupted thread
refills and spills its cache (t-sig), fork in a threaded program, every
child checked too (t-forkmt), glibc's malloc contract (t-conform), two
threads freeing each other's blocks (t-threads, alloc-bench) and python3.
Every run must end as it does natively (t-sig, whose handlers call malloc,
which glibc's malloc does not allow, must end with "ok"), and every
process must report its invariants intact.
usage: check-invariants.py T-SIG T-FORKMT T-CONFORM T-THREADS ALLOC-BENCH"""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from tap import Tap  # noqa: E402

HOLD = 'memprof: allocator invariants hold at exit'
BROKEN = 'allocator invariant broken'
PY = ('d = {}\n'
      'for i in range(200000):\n'
      '    d[str(i)] = [i, str(i) * 3]\n'
      'for i in range(0, 200000, 3):\n'
      '    del d[str(i)]\n'
      'print(len(d), sum(len(v[1]) for v in d.values()))\n')


def run(argv, env=None):
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)


def main():
    tsig, tforkmt, tconform, tthreads, bench = sys.argv[1:6]
    shim = os.environ.get('MEMPROF_SHIM')
    t = Tap()
    if not shim:
        print('1..0 # SKIP no MEMPROF_SHIM (a sanitizer build)')
        return 0
    py3 = '/usr/bin/python3' if os.path.exists('/usr/bin/python3') else shutil.which('python3')
    workloads = [
        # name, argv, processes that report, whether the run is compared with
        # a native one (else it must print "ok ..." and exit 0)
        ('t-sig stress', [tsig, 'stress', '300', 'stay', '150'], 1, False),
        ('t-sig stress, handlers left by siglongjmp', [tsig, 'stress', '300', 'escape', '150'],
         1, False),
        ('t-forkmt', [tforkmt], 21, True),
        ('t-conform', [tconform], 1, True),
        ('t-threads', [tthreads], 1, True),
        ('alloc-bench', [bench, '300000'], 1, True),
        ('python3', [py3, '-c', PY], 1, True),
    ]
    with tempfile.TemporaryDirectory() as d:
        for name, argv, procs, same_out in workloads:
            native = run(argv) if same_out else None
            want = native.returncode if native else 0
            for rate in ('0', '1'):
                env = dict(os.environ, LD_PRELOAD=shim, PYTHONMALLOC='malloc',
                           MEMPROF_OPTIONS='verbose=1,rate=%s,snapdir=%s' % (rate, d))
                r = run(argv, env)
                held = r.stderr.count(HOLD)
                ok = (r.returncode == want and
                      (r.stdout == native.stdout if native else r.stdout.startswith('ok ')) and
                      BROKEN not in r.stderr and held >= procs)
                t.ok(ok, '%s, rate=%s: ends as %s (status %d), invariants hold in %d '
                     'process(es)' % (name, rate, 'natively' if native else 'it should', want,
                                      held),
                     'status %d, stdout %r, stderr %s' % (r.returncode, r.stdout[-200:],
                                                          r.stderr[-600:]))
                for f in os.listdir(d):
                    os.unlink(os.path.join(d, f))
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
