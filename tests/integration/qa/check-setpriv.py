#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""setpriv (util-linux) dropping root to another user under memprof run:
the same output and status.  setpriv keeps its capabilities across
setresuid (PR_SET_KEEPCAPS, then capset to raise them again), which the
kernel does for the calling thread alone, then calls setresgid, which glibc
runs on every thread of the process and aborts when the threads' results
differ: the shim's snapshot thread, without the capabilities, got EPERM and
setpriv died of SIGABRT (status 134 where it exits 0).  Needs root.
usage: check-setpriv.py MEMPROF"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from tap import Tap  # noqa: E402
import qarun  # noqa: E402


def run(argv, cwd):
    return qarun.run(argv, cwd, text=True, timeout=60)


def main():
    memprof = os.path.abspath(sys.argv[1])
    t = Tap()
    setpriv = shutil.which('setpriv')
    cmd = [setpriv, '--reuid=65534', '--regid=65534', '--clear-groups', 'sh', '-c', 'id -u; id -g']
    with tempfile.TemporaryDirectory() as d:
        native = run(cmd, d) if setpriv and os.geteuid() == 0 else None
        if not native or native.returncode != 0:
            t.skip('setpriv not installed, or not root')
            return t.done()
        os.chmod(d, 0o755)
        for opts in ([], ['--snapshot-signal', 'none', '--interval', '1s']):
            r = run([memprof, 'run', '-q', '-o', os.path.join(d, 's.heap.pb.gz')] + opts + cmd, d)
            t.eq((r.returncode, r.stdout), (0, '65534\n65534\n'),
                 'the same output and status (%s)' % ' '.join(opts or ['default options']),
                 r.stderr)
            said = [l for l in r.stderr.splitlines() if 'SIGABRT' in l or 'abort' in l.lower()]
            t.eq(said, [], 'no abort')

        # memprof snapshot of a process that became nobody: it cannot write
        # into memprof's directory (0700), which is said at once, not after
        # the timeout.
        sleeper = [setpriv, '--reuid=65534', '--regid=65534', '--clear-groups', 'sh', '-c',
                   'echo ready; exec sleep 20']
        p = subprocess.Popen([memprof, 'run', '-q', '-o', os.path.join(d, 'n.heap.pb.gz')] +
                             sleeper, cwd=d, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        p.stdout.readline()
        pid = None
        end = time.monotonic() + 60
        while time.monotonic() < end:
            for k in os.listdir('/proc'):
                try:
                    if k.isdigit() and open('/proc/%s/comm' % k).read().strip() == 'sleep' and \
                       '/libmemprof.so' in open('/proc/%s/maps' % k).read() and \
                       int(open('/proc/%s/stat' % k).read().rsplit(')', 1)[1].split()[1]) == p.pid:
                        pid = int(k)
                except OSError:
                    pass
            if pid:
                break
            time.sleep(0.05)
        t0 = time.monotonic()
        r = run([memprof, 'snapshot', str(pid or 0)], d)
        took = time.monotonic() - t0
        t.ok(pid and r.returncode == 1 and 'runs as another user (uid 65534)' in r.stderr and
             took < 2, 'memprof snapshot of a process that became nobody: said at once '
             '(%.2f s)' % took, r.stderr)
        if pid:
            os.kill(pid, signal.SIGKILL)
        p.communicate(timeout=30)
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
