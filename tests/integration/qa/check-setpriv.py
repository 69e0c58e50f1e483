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
import sys
import tempfile

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
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
