#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""memprof under a file size limit (ulimit -f, RLIMIT_FSIZE) set around it:
the limit is the program's, never memprof's.  Under a soft limit of 8 KiB
a real program (sh running head) sees its limit as given and is stopped by
it exactly as without memprof, while its profile is written (the shim's
snapshot is bigger than the limit), also after a SIGKILL (the shared tables
are memfds sized past the limit).  Under a hard limit the program sets
itself (dash's ulimit -f), which no process here may lift, memprof sizes
the tables' memfds and writes the profiles of sh and head from them; the
same limit set around memprof binds its files too, and the line that says
there is no profile names it; the leak check and the allocator statistics
come through two more tables.  Under a hard limit smaller than its output,
`memprof merge` says EFBIG and exits 1, never killed by SIGXFSZ, no
temporary file left.
usage: check-limits.py MEMPROF (MEMPROF_SHIM set)"""
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import pprof_raw  # noqa: E402
from tap import Tap  # noqa: E402
from qarun import run  # noqa: E402

LIMIT = 8192


def fsize(soft, hard=None):
    def set_it():
        h = resource.getrlimit(resource.RLIMIT_FSIZE)[1] if hard is None else hard
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, h))
    return set_it


def main():
    memprof = os.path.abspath(sys.argv[1])
    t = Tap()
    sh = shutil.which('sh')
    hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
    hard_text = b'unlimited' if hard == resource.RLIM_INFINITY else b'%d' % (hard // 512)
    # dash's ulimit -f counts 512-byte blocks; head is stopped at 8 KiB.
    script = ('ulimit -S -f; ulimit -H -f; head -c 20000 /dev/zero > big; echo "head $?"; '
              'wc -c < big')
    with tempfile.TemporaryDirectory() as d:
        native = run([sh, '-c', script], d, preexec_fn=fsize(LIMIT))
        want = b'16\n' + hard_text + b'\nhead 153\n8192\n'
        t.eq(native.stdout, want, 'natively: sh sees 8 KiB, head is killed by SIGXFSZ')
        out = os.path.join(d, 'sh.heap.pb.gz')
        r = run([memprof, 'run', '--rate', '1', '-o', out, sh, '-c', script], d,
                preexec_fn=fsize(LIMIT))
        err = r.stderr.decode(errors='replace')
        t.eq((r.returncode, r.stdout), (0, native.stdout),
             'under memprof: the same limit, output and status', err)
        t.ok(os.path.exists(out), 'the profile is written', err)
        try:
            _, fns = pprof_raw.cum_by_function(out)
            ok = fns.get('__libc_start_call_main', [0, 0, 0, 0])[1] > 0
        except RuntimeError as e:
            ok, fns = False, str(e)
        t.ok(ok, 'go tool pprof reads it: allocations under __libc_start_call_main', err)
        t.eq(sorted(f for f in os.listdir(d) if '.tmp' in f), [], 'no temporary file left')

        # Killed: the tables shared with memprof (memfds of MiBs) are there.
        out = os.path.join(d, 'k.heap.pb.gz')
        r = run([memprof, 'run', '--rate', '1', '-o', out, sh, '-c', 'echo x; kill -9 $$'], d,
                preexec_fn=fsize(LIMIT))
        err = r.stderr.decode(errors='replace')
        t.eq((r.returncode, r.stdout), (-signal.SIGKILL, b'x\n'),
             'SIGKILL: memprof dies of it too, same output', err)
        c = subprocess.run(['go', 'tool', 'pprof', '-comments', out], capture_output=True,
                           text=True, env=pprof_raw.go_env()) if os.path.exists(out) else None
        t.ok(c is not None and 'killed by SIGKILL (signal 9)' in c.stdout and
             'read from the tables shared with memprof' in c.stdout,
             'SIGKILL under the limit: the profile from the shared tables',
             err + (c.stdout + c.stderr if c else ''))

        # A hard limit the program sets itself (a shell's ulimit -f sets
        # both), which no process can lift without CAP_SYS_RESOURCE: the
        # shim's snapshot cannot be written, the shared tables are sized by
        # memprof, whose own limit is not the program's, and the profile
        # comes from them, for the shell and for head.
        script_hard = 'ulimit -f 16; ulimit -H -f; head -c 20000 /dev/zero > big; echo "head $?"'
        native = run([sh, '-c', script_hard], d)
        t.eq(native.stdout, b'16\nhead 153\n', 'natively: a hard limit of 8 KiB stops head')
        out = os.path.join(d, 'hard.heap.pb.gz')
        r = run([memprof, 'run', '--rate', '1', '-o', out, sh, '-c', script_hard], d)
        err = r.stderr.decode(errors='replace')
        t.eq((r.returncode, r.stdout), (0, native.stdout),
             'hard limit set by the program: the same output and status', err)
        got = sorted(f for f in os.listdir(d) if f.startswith('hard.') and
                     f.endswith('.heap.pb.gz'))
        t.eq(len(got), 2, 'hard limit: a heap profile for sh and one for head', err + ' '.join(got))
        try:
            _, fns = pprof_raw.cum_by_function(out)
            ok = fns.get('__libc_start_call_main', [0, 0, 0, 0])[1] > 0
        except RuntimeError as e:
            ok, fns = False, str(e)
        t.ok(ok and 'cannot write' not in err, 'hard limit: sh\'s profile reads in pprof, '
             'no warning', err)

        # The leak check and the allocator statistics, which only the
        # snapshot carried: put in two more tables when it cannot be
        # written (shim/snapshot-write.c, salvage).
        out = os.path.join(d, 'hl.heap.pb.gz')
        r = run([memprof, 'run', '--rate', '1', '--leak-check', '-o', out, sh, '-c',
                 'ulimit -f 16; echo z'], d)
        err = r.stderr.decode(errors='replace')
        st = run([memprof, 'stats', out], d)
        t.ok(r.returncode == 0 and r.stdout == b'z\n' and 'leak summary for dash' in err and
             'no leak check' not in err and st.returncode == 0 and b'HeapAlloc' in st.stdout,
             'hard limit set by the program: the leak check runs and the profile has its '
             'statistics', err + st.stderr.decode(errors='replace'))

        # The same limit around memprof: its own files are bound too, and
        # the line that says there is no profile says why.
        ls = [shutil.which('ls'), '/usr/share']
        native = run(ls, d)
        r = run([memprof, 'run', '--rate', '1', '-o', os.path.join(d, 'a.heap.pb.gz')] + ls, d,
                preexec_fn=fsize(LIMIT, LIMIT))
        err = r.stderr.decode(errors='replace')
        t.ok(r.stdout == native.stdout and 'ulimit -f, of 8192 bytes' in err,
             'hard limit around memprof: the program runs, and the missing profile is '
             'explained', err)

        # A hard limit memprof cannot lift: an error, not SIGXFSZ.
        merged = os.path.join(d, 'm.pb.gz')
        src = os.path.join(d, 'sh.heap.pb.gz')
        r = run([memprof, 'merge', '-o', merged, src, src], d, preexec_fn=fsize(1024, 1024))
        err = r.stderr.decode(errors='replace')
        t.ok(r.returncode == 1 and 'File too large' in err,
             'merge past a hard 1 KiB limit: exit 1, "File too large" (not SIGXFSZ)',
             'status %d: %s' % (r.returncode, err))
        t.eq(sorted(f for f in os.listdir(d) if f.startswith('m.pb.gz')), [],
             'merge: no output and no temporary file left')
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
