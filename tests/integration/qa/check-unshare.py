#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""unshare --pid --fork --mount-proc (util-linux) under memprof run: the
same output and status, a profile for every process, and not a word but
the profile lines.  The unshare parent cannot read its /proc/self/maps
(/proc is then the procfs of the new pid namespace, which it is not in):
its snapshot fails, its profile comes from the tables shared with memprof,
and it printed "memprof: warning: cannot read /proc/self/maps: ENOENT".
usage: check-unshare.py MEMPROF"""
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import pprof_raw  # noqa: E402
from tap import Tap  # noqa: E402
import qarun  # noqa: E402


def run(argv, cwd):
    return qarun.run(argv, cwd, text=True)


def main():
    memprof = os.path.abspath(sys.argv[1])
    t = Tap()
    # A real locale, whatever the caller's: in the C locale (LC_ALL=C, as
    # CI jobs often set) glibc's setlocale(LC_ALL, "") allocates nothing,
    # and the symbolization check below looks for its allocations.
    os.environ['LC_ALL'] = 'C.UTF-8'
    unshare = shutil.which('unshare')
    cmd = [unshare, '-r', '--pid', '--fork', '--mount-proc', 'sh', '-c',
           'echo $$; sort /etc/passwd | head -1']
    with tempfile.TemporaryDirectory() as d:
        native = run(cmd, d) if unshare else None
        if not native or native.returncode != 0:
            t.ok(True, '# SKIP unshare, or user and pid namespaces, not available')
            return t.done()
        out = os.path.join(d, 'u.heap.pb.gz')
        r = run([memprof, 'run', '--rate', '1', '-o', out] + cmd, d)
        t.eq((r.returncode, r.stdout), (native.returncode, native.stdout),
             'the same output ("1": the shell is pid 1) and status', r.stderr)
        other = [l for l in r.stderr.splitlines() if not l.startswith('memprof: wrote heap profile')]
        t.eq(other, [], 'nothing said but the profiles written')
        try:
            _, fns = pprof_raw.cum_by_function(out)
            ok = fns.get('__GI_setlocale', [0, 0])[0] > 0   # unshare is stripped
        except RuntimeError as e:
            ok, fns = False, str(e)
        t.ok(ok, 'the unshare parent\'s profile, from its shared tables, is symbolized', fns)
        heaps = [f for f in os.listdir(d) if f.endswith('.heap.pb.gz')]
        t.eq(len(heaps), 4, 'a profile for unshare, sh (its fork, pid 1), sort and head', heaps)
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
