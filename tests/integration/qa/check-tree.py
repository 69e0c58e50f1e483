#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A process tree of real programs (bash starting /bin/true ten times, the
way a build runs its tools) under `memprof run`: same output and status,
one profile set per process, and the cost of writing them: each file is
fsync'd once before its rename, and the output directory once for the whole
run, not after every file (counted with strace -f -y; an fsync of the
directory per file made the writing after a 200-process run 9 s instead of
4), besides the one sync of the output and snapshot directories that starts
beside the conversion (mp_file_presync).  usage: check-tree.py MEMPROF
(MEMPROF_SHIM set)"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from tap import Tap  # noqa: E402

KINDS = ('heap', 'peak', 'fds', 'threads', 'timers')


def main():
    memprof = os.path.abspath(sys.argv[1])
    t = Tap()
    strace = shutil.which('strace')
    bash = shutil.which('bash')
    true = shutil.which('true')
    script = 'for i in 1 2 3 4 5 6 7 8 9 10; do %s; done; echo done' % true
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, 'out')
        os.mkdir(out)
        log = os.path.join(d, 'strace.txt')
        if not t.ok(strace is not None, 'strace is installed (scripts/setup.sh)'):
            return t.done()
        # LeakSanitizer cannot run under ptrace (a sanitized CLI, suite asan-cli).
        env = dict(os.environ)
        env['ASAN_OPTIONS'] = (env.get('ASAN_OPTIONS', '') + ':detect_leaks=0').lstrip(':')
        r = subprocess.run([strace, '-f', '-qq', '-y', '-e', 'trace=fsync', '-o', log,
                            memprof, 'run', '-q', '-o', os.path.join(out, 't.heap.pb.gz'),
                            bash, '-c', script], stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=300, env=env)
        t.eq((r.returncode, r.stdout), (0, b'done\n'), 'bash and ten /bin/true: same output, status 0',
             r.stderr)
        files = sorted(os.listdir(out))
        names = {f for f in files}
        pids = sorted({m.group(1) for f in files for m in [re.match(r't\.(\d+)\.heap\.pb\.gz$', f)]
                       if m})
        want = {'t.%s.pb.gz' % k for k in KINDS} | \
               {'t.%s.%s.pb.gz' % (p, k) for p in pids for k in KINDS}
        t.eq((len(pids), names), (10, want), 'eleven processes, five profiles each, nothing else')
        # (fsyncs of several threads at once are split into "fsync(fd<path> <unfinished
        # ...>" and "<... fsync resumed>" lines: the first names the file)
        with open(log) as f:
            calls = [l for l in f if 'fsync(' in l]
        on_dir = [l for l in calls if '<%s>' % out in l]
        on_snapdir = [l for l in calls if re.search(r'<[^>]*/memprof\.[^/>]*>', l)]
        on_tmp = [l for l in calls if re.search(r'<%s/t\.[^>]*\.pb\.gz\.tmp\.[^>]*>' %
                                                re.escape(out), l)]
        t.eq(len(on_tmp), len(want), 'each profile fsync\'d once before its rename')
        t.eq(len(on_dir), 2, 'the output directory fsync\'d once for the run, once as it starts',
             ''.join(on_dir[:5]))
        t.eq(len(on_snapdir), 1, 'the snapshot directory fsync\'d once, as the conversion starts',
             ''.join(on_snapdir[:5]))
        t.eq(len(calls), len(want) + 3, 'no other fsync', ''.join(calls[:5]))
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
