#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Daemons a program starts (processes that leave its session with setsid:
the gpg-agent that gpg-connect-agent starts, setsid -f) are not waited
for: `memprof run gpg-connect-agent ...` never returned while the agent
lived (for good).  The program's output and status are those of a native
run, the daemon's profile is its state when memprof ended (said in its
comment), and it prints nothing once memprof is gone.  Orphans that stay
in the session are still waited for.  usage: check-daemon.py MEMPROF"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import pprof_raw  # noqa: E402
from tap import Tap  # noqa: E402


def run(argv, cwd, timeout=60):
    try:
        return subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        return subprocess.CompletedProcess(argv, 'timeout', e.stdout or '', e.stderr or '')


def comments(d):
    out = {}
    for f in sorted(os.listdir(d)):
        if f.endswith('.heap.pb.gz'):
            c = subprocess.run(['go', 'tool', 'pprof', '-comments', os.path.join(d, f)],
                               capture_output=True, text=True, env=pprof_raw.go_env())
            out[f] = c.stdout
    return out


def kill(pidfile):
    """The daemon's whole session (it leads its process group)."""
    try:
        with open(pidfile) as f:
            os.killpg(int(f.read()), signal.SIGKILL)
    except (OSError, ValueError):
        pass


def main():
    memprof = os.path.abspath(sys.argv[1])
    t = Tap()
    sh = shutil.which('sh')
    with tempfile.TemporaryDirectory() as d:
        # setsid -f: the detached shell runs on (60 s); the program ends.
        pidfile = os.path.join(d, 'daemon.pid')
        late = os.path.join(d, 'late.txt')
        script = ('setsid -f sh -c \'echo $$ > %s; sleep 60; echo late > %s\' '
                  '</dev/null >/dev/null 2>&1; echo started' % (pidfile, late))
        out = os.path.join(d, 'out')
        os.mkdir(out)
        try:
            start = time.monotonic()
            r = run([memprof, 'run', '--rate', '1', '-o', os.path.join(out, 's.heap.pb.gz'),
                     sh, '-c', script], d)
            took = time.monotonic() - start
            t.ok(r.returncode == 0 and r.stdout == 'started\n' and took < 30,
                 'setsid -f: memprof returns with the program (%.1f s), not with the daemon'
                 % took, r.stderr)
            for _ in range(100):
                if os.path.exists(pidfile):
                    break
                time.sleep(0.05)
            c = comments(out)
            # The daemon's profile is there when its shim had sent its
            # tables before memprof ended (a race with the program's end):
            # then it says it runs on; no profile ever says it died.
            t.ok(not any('without writing its profile' in text or 'killed by' in text
                         for text in c.values()),
                 'no profile says the daemon died', c)
            t.eq([l for l in r.stderr.splitlines() if not l.startswith('memprof: wrote heap')],
                 [], 'no other line')
        finally:
            kill(pidfile)

        # A detached process that ends after memprof: nothing from the shim
        # on its standard error (memprof's directory is gone).
        err = os.path.join(d, 'late.err')
        script = ('setsid -f sh -c \'sleep 1; ls /nonexistent-x; echo bye\' </dev/null >/dev/null '
                  '2>%s; echo started' % err)
        r = run([memprof, 'run', '-q', '-o', os.path.join(d, 'q.heap.pb.gz'), sh, '-c', script], d)
        time.sleep(2.5)
        with open(err) as f:
            text = f.read()
        t.ok(r.stdout == 'started\n' and 'nonexistent-x' in text and 'memprof' not in text,
             'the daemon\'s later processes print their own errors, nothing of memprof\'s', text)

        # An orphan in the program's session is still waited for.
        r = run([memprof, 'run', '-q', '-o', os.path.join(d, 'o.heap.pb.gz'), sh, '-c',
                 '(sleep 1; echo late) & echo early'], d)
        t.eq((r.returncode, r.stdout), (0, 'early\nlate\n'), 'a background job of the session: waited for')

        # The real case: gpg-connect-agent starts gpg-agent --daemon.
        gca, gpgconf = shutil.which('gpg-connect-agent'), shutil.which('gpgconf')
        if not gca or not gpgconf:
            for _ in range(3):
                t.ok(True, '# SKIP gpg-connect-agent is not installed')
            return t.done()
        homes = []
        try:
            results = []
            for name in ('native', 'memprof'):
                home = os.path.join(d, 'gnupg-' + name)
                os.mkdir(home, 0o700)
                homes.append(home)
                cmd = [gca, '--homedir', home, 'GETINFO version', '/bye']
                gout = os.path.join(d, 'gpg')
                os.makedirs(gout, exist_ok=True)
                if name == 'memprof':
                    cmd = [memprof, 'run', '-q', '--rate', '1', '-o',
                           os.path.join(gout, 'g.heap.pb.gz')] + cmd
                results.append(run(cmd, d, timeout=30))
            native, r = results
            t.eq((r.returncode, r.stdout, r.stderr), (native.returncode, native.stdout, native.stderr),
                 'gpg-connect-agent: the same output and status, no wait for its gpg-agent')
            c = comments(gout)
            t.ok(any('gpg-agent' in text and 'still running in a session of its own' in text
                     for text in c.values()), 'gpg-agent\'s profile: its state as it runs on', c)
        finally:
            for home in homes:
                subprocess.run([gpgconf, '--homedir', home, '--kill', 'gpg-agent'],
                               capture_output=True)
        t.ok(True, 'the agents are stopped')
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
