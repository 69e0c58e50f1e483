#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The in-program API (<memprof.h>) end to end with t-api.c: natively the
program prints the same, links nothing of memprof and every call says
ENOSYS (memprof_running 0); under `memprof run --leak-check` its output
and exit status are unchanged, memprof_leak_check reports its 1000 lost
bytes and the program goes on, an ignored block and what it points to are
never reported (not by later checks, not at exit), a freed block leaves the
ignore set, memprof_snapshot writes a numbered profile whose comment names
it, a bad name is EINVAL; with --allocator system the checks say ENOTSUP.
Under load (t-api-stress: four threads allocating and freeing as fast as
they can), every check comes back, the program goes on and nothing is
reported lost, at rate 1 and at the default rate.
usage: check-api.py MEMPROF T-API T-API-STRESS"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import pprof_raw  # noqa: E402
from tap import Tap  # noqa: E402

STDOUT = 'sum of squares to 100: 338350\ndone\n'


def answers(stderr):
    """'name value errno' lines -> {name: (value, errno)}."""
    out = {}
    for line in stderr.splitlines():
        f = line.split()
        if len(f) == 3 and not line.startswith('memprof:'):
            out[f[0]] = (int(f[1]), f[2])
    return out


def main():
    return pprof_raw.in_own_tempdir('memprof-api-', checks)


def checks(d):
    memprof, t_api, t_stress = [os.path.abspath(a) for a in sys.argv[1:4]]
    t = Tap()
    env = dict(os.environ)
    env.pop('LD_PRELOAD', None)

    r = subprocess.run([t_api], capture_output=True, text=True, env=env, cwd=d)
    t.eq((r.returncode, r.stdout), (3, STDOUT), 'natively: its output and status')
    a = answers(r.stderr)
    t.eq(a.get('running'), (0, '-'), 'natively: memprof_running() is 0')
    for call in ('leak_check', 'ignore', 'leak_check_ignored', 'leak_check_reused', 'snapshot',
                 'snapshot_bad_name'):
        t.eq(a.get(call), (-1, 'ENOSYS'), 'natively: %s returns -1, errno ENOSYS' % call)
    needed = subprocess.run(['readelf', '-d', t_api], capture_output=True, text=True).stdout
    t.ok('memprof' not in needed and 'libdl' not in needed,
         'the program links nothing of memprof', needed)

    out = os.path.join(d, 'api.heap.pb.gz')
    report = os.path.join(d, 'leaks.json')
    r = subprocess.run([memprof, 'run', '--leak-check', '--leak-report', report, '-o', out,
                        t_api], capture_output=True, text=True, env=env, cwd=d)
    t.eq((r.returncode, r.stdout), (3, STDOUT), 'under memprof: the same output and status',
         )
    a = answers(r.stderr)
    t.eq(a.get('running'), (1, '-'), 'under memprof: memprof_running() is 1')
    t.eq(a.get('leak_check'), (1000, '-'),
         'memprof_leak_check(): the 1000 bytes lost, and the program goes on')
    t.eq(a.get('ignore'), (0, '-'), 'memprof_ignore() on a block: 0')
    t.eq(a.get('leak_check_ignored'), (1000, '-'),
         'an ignored block and the block it points to are not lost')
    if a.get('same_address', (0,))[0] == 1:
        t.eq(a.get('leak_check_reused'), (1700, '-'),
             'a freed ignored block leaves the set: its address, reused, leaks again')
    else:
        t.eq(a.get('leak_check_reused', (0,))[0], 1700, 'a new 700-byte block lost')
    t.eq(a.get('snapshot'), (0, '-'), 'memprof_snapshot("after-load"): 0')
    t.eq(a.get('snapshot_bad_name'), (-1, 'EINVAL'), 'a name with a space: EINVAL')
    named = os.path.join(d, 'api.s0001.heap.pb.gz')
    comment = ''
    if os.path.exists(named):
        raw = subprocess.run(['go', 'tool', 'pprof', '-raw', named], capture_output=True,
                             text=True, env=pprof_raw.go_env()).stdout
        comment = next((ln for ln in raw.splitlines() if ln.startswith('Comment:')), '')
    t.ok("snapshot 'after-load'" in comment,
         'the snapshot is a numbered profile whose comment names it', comment or r.stderr)
    try:
        import json
        leaks = json.load(open(report))['leaks']
        text = json.dumps(leaks)
        lost = {e['stack'][0]['function']: e['bytes'] for e in leaks
                if e['category'] in ('definite', 'indirect')}
        ok = lost == {'lose': 1000, 'lose_reused': 700}
    except (OSError, ValueError) as e:
        ok, text = False, str(e)
    t.ok(ok, 'the report at exit: lose and lose_reused lost, never the ignored blocks',
         text[:3000])
    t.ok('definitely lost: 1700 bytes in 2 blocks' in r.stderr,
         'the summary at exit: 1700 bytes definitely lost', r.stderr)

    r = subprocess.run([memprof, 'run', '-q', '--allocator', 'system', '-o', out, t_api],
                       capture_output=True, text=True, env=env, cwd=d)
    a = answers(r.stderr)
    t.eq((r.returncode, r.stdout), (3, STDOUT), '--allocator system: the same output and status')
    # ENOTSUP is EOPNOTSUPP on Linux
    t.eq((a.get('running'), a.get('leak_check'), a.get('ignore')),
         ((1, '-'), (-1, 'EOPNOTSUPP'), (-1, 'EOPNOTSUPP')),
         '--allocator system: running, but no leak check or ignore (ENOTSUP)')

    for opts in (['--leak-check'], []):
        r = subprocess.run([memprof, 'run', '-q'] + opts + ['-o', out, t_stress],
                           capture_output=True, text=True, env=env, cwd=d, timeout=600)
        t.ok((r.returncode, r.stdout) == (0, 'checks 40 nonzero 0 errors 0\n'),
             'memprof run %s: 40 checks while 4 threads allocate: all come back, none '
             'finds a loss' % ' '.join(opts), r.stdout + r.stderr[-2000:])
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
