#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`memprof run` and the processes a program leaves running (memprof-run(1),
PROCESSES LEFT RUNNING): those still in the program's session (`cmd &`) are
waited for and profiled; those that left it (setsid(2): daemon(3),
`setsid -f`, ssh-agent) are not: memprof returns with the program's status
and output while they run, says so in one line each, and they live on
unaware of it: no output from the shim, no descriptor of memprof's, the
exit status they would have had, nothing left in the temporary directory,
and `memprof snapshot PID` still works on them.  This process is a child
subreaper, so the processes memprof left behind become its children and
their exit status can be read.  TAP output.

usage: check-daemon.py MEMPROF T_DAEMON (MEMPROF_SHIM set)
"""
import ctypes
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from tap import Tap  # noqa: E402

PR_SET_CHILD_SUBREAPER = 36
LINE = re.compile(r"memprof: '([^']+)' \(pid (\d+)\) left the program's session and still runs: "
                  r"not waited for, no profile of it at its exit"
                  r"( \('memprof snapshot \2' takes one while it runs\))?\n")


class T(Tap):
    def eq(self, got, want, what, detail=''):
        return self.ok(got == want, what,
                       'got %r, want %r%s' % (got, want, '\n' + str(detail) if detail else ''))


def running(pid):
    """Whether pid runs (a zombie does not)."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


def end(pid, sig=signal.SIGTERM):
    """Stop a process left behind (our child by now) and return its wait status."""
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
    try:
        return os.waitpid(pid, 0)[1]
    except ChildProcessError:
        return None


def wait_file(path, limit=30.0):
    """A hang guard, not a timing check: the file a detached process writes."""
    deadline = time.monotonic() + limit
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.01)
    return os.path.exists(path)


def main():
    memprof, t_daemon = [os.path.abspath(a) for a in sys.argv[1:3]]
    t = T()
    libc = ctypes.CDLL(None, use_errno=True)
    if not t.ok(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0,
                'this test is a child subreaper'):
        return t.done()
    d = tempfile.mkdtemp(prefix='check-daemon.')
    tmp = os.path.join(d, 'tmp')
    work = os.path.join(d, 'work')
    os.mkdir(tmp)
    os.mkdir(work)
    env = dict(os.environ, TMPDIR=tmp)
    env.pop('LD_PRELOAD', None)
    env.pop('MEMPROF_OPTIONS', None)
    left = []

    def run(argv, cwd=work):
        # Files, not pipes: a process left running holds the streams it
        # inherited from the program, as it would without memprof, and a
        # pipe would only reach its end with that process.
        with tempfile.TemporaryFile() as o, tempfile.TemporaryFile() as e:
            rc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=o, stderr=e, env=env,
                                cwd=cwd, timeout=120).returncode
            o.seek(0)
            e.seek(0)
            return rc, o.read(), e.read().decode(errors='replace')

    def lines_of(err):
        return [(m.group(1), int(m.group(2)), bool(m.group(3))) for m in LINE.finditer(err)]

    def clean():
        for f in os.listdir(work):
            os.unlink(os.path.join(work, f))

    # --- a plain `setsid cmd &`: not waited for, the program's status -----------
    rc, o, err = run([memprof, 'run', '-q', 'sh', '-c', 'setsid sleep 30 & echo x; exit 3'])
    got = lines_of(err)
    t.eq((rc, o), (3, b'x\n'), "sh -c 'setsid sleep 30 &': sh's status and output")
    t.ok(len(got) == 1 and got[0][0] == 'sleep' and got[0][2] and LINE.fullmatch(err),
         'setsid sleep: one line naming it, with the snapshot hint', err)
    if got:
        left.append(got[0][1])
        t.ok(running(got[0][1]), 'setsid sleep: still running when memprof returned')
        st = end(got[0][1])
        t.eq(st is not None and os.WIFSIGNALED(st) and os.WTERMSIG(st), signal.SIGTERM,
             'setsid sleep: ends by our SIGTERM, as it would have')
    t.eq(os.listdir(tmp), [], 'setsid sleep: temporary directory removed')
    clean()

    # --- `cmd &` stays in the session: waited for and profiled, as before -------
    marker = os.path.join(d, 'bg-done')
    rc, o, err = run([memprof, 'run', '-o', 'p.heap.pb.gz', 'sh', '-c',
                      '(sleep 0.3; : > %s) & echo x' % shlex.quote(marker)])
    t.eq((rc, o), (0, b'x\n'), "sh -c '(sleep 0.3; ...) &': status and output")
    t.ok(os.path.exists(marker), "'cmd &': waited for")
    heaps = [f for f in os.listdir(work) if f.startswith('p.') and f.endswith('.heap.pb.gz')]
    t.eq(len(heaps), 3, "'cmd &': a profile for sh, the subshell and sleep", err)
    t.eq(lines_of(err), [], "'cmd &': no process left running", err)
    t.ok('has ended; waiting' not in err, "'cmd &' ending within 2 s: no line on the wait", err)
    clean()

    # --- a longer one: the wait is said once, 2 s after the program's end (the
    # line comes at the supervisor's recheck after 2 s, about 2.3 s; sleep 5
    # leaves a loaded machine time to spare) ---------------------------------
    rc, o, err = run([memprof, 'run', '-q', '-o', 'p.heap.pb.gz', 'sh', '-c', 'sleep 5 & echo x'])
    said = re.findall(r"memprof: 'sh' has ended; waiting for the 1 process it left running in "
                      r"its session \(pid \d+ sleep\), whose profile is written when it ends "
                      r"\(Ctrl-C stops it\)\n", err)
    t.ok(rc == 0 and o == b'x\n' and len(said) == 1,
         "'sleep 5 &': one line says what memprof waits for (even with -q)", err)
    clean()

    # --- more than 3: one line for them all -----------------------------------
    rc, o, err = run([memprof, 'run', '-q', 'sh', '-c',
                      'for i in 1 2 3 4 5; do setsid sleep 30 & done; echo x'])
    kids = []
    for tid in os.listdir('/proc/self/task'):
        with open('/proc/self/task/%s/children' % tid) as f:
            kids += [int(k) for k in f.read().split()]
    kids = sorted(k for k in kids if running(k))
    left += kids
    m = re.fullmatch(r"memprof: 5 processes left the program's session and still run \(pids (\d+) "
                     r"to (\d+)\): not waited for, no profile of them at their exit \('memprof "
                     r"snapshot PID' takes one while it runs\)\n", err)
    t.eq((rc, o, bool(m)), (0, b'x\n', True), 'five setsid sleeps: one line for them', err)
    t.eq(len(kids) == 5 and m and (kids[0], kids[-1]) == (int(m.group(1)), int(m.group(2))), True,
         'five setsid sleeps: still running, the pids of the line', kids)
    for k in kids:
        end(k)
    clean()

    # --- the program made a session of its own: that one counts ---------------
    marker = os.path.join(d, 'own-done')
    rc, o, err = run([memprof, 'run', '-q', 'setsid', 'sh', '-c',
                      '(sleep 1; : > %s) & echo x' % shlex.quote(marker)])
    t.eq((rc, o, lines_of(err)), (0, b'x\n', []), 'setsid sh: its own session waited for')
    t.ok(os.path.exists(marker), "setsid sh -c 'cmd &': cmd waited for")
    rc, o, err = run([memprof, 'run', '-q', 'setsid', 'sh', '-c', 'setsid sleep 30 & echo x'])
    got = lines_of(err)
    t.eq((rc, o, [g[0] for g in got]), (0, b'x\n', ['sleep']),
         'setsid sh: a process that left its session is not waited for', err)
    left += [g[1] for g in got]
    for g in got:
        end(g[1])

    # --- setsid -f ------------------------------------------------------------
    rc, o, err = run([memprof, 'run', '-q', 'setsid', '-f', 'sleep', '30'])
    got = lines_of(err)
    t.eq((rc, o, [g[0] for g in got]), (0, b'', ['sleep']), 'setsid -f sleep: not waited for', err)
    left += [g[1] for g in got]
    for g in got:
        t.ok(running(g[1]), 'setsid -f sleep: still running')
        end(g[1])
    t.eq(os.listdir(tmp), [], 'setsid -f: temporary directory removed')
    clean()

    # --- daemon(3): the program's profile, the daemon unaware -------------------
    pidfile = os.path.join(d, 'daemon.pid')
    log = os.path.join(d, 'daemon.log')
    p = subprocess.Popen([memprof, 'run', '-o', 'p.heap.pb.gz', t_daemon, pidfile, log],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=env, cwd=work)
    pipes = {os.fstat(p.stdout.fileno()).st_ino, os.fstat(p.stderr.fileno()).st_ino}
    rc = p.wait(timeout=120)
    dpid = None
    if t.ok(wait_file(pidfile), 'daemon: it wrote its pid'):
        with open(pidfile) as f:
            dpid = int(f.read())
        left.append(dpid)
        held = []
        for fd in os.listdir('/proc/%d/fd' % dpid):
            try:
                target = os.readlink('/proc/%d/fd/%s' % (dpid, fd))
            except OSError:
                continue
            if any(target == 'pipe:[%d]' % ino for ino in pipes):
                held.append(fd)
        t.eq(held, [], "daemon: holds no stream of memprof's")
    o, err = p.communicate(timeout=120)
    err = err.decode(errors='replace')
    t.eq((rc, o), (0, b'starting\n'), 'daemon: the program returns at once, status 0')
    t.eq([(g[0], g[1], g[2]) for g in lines_of(err)], [('t-daemon', dpid, True)],
         'daemon: one line naming it', err)
    t.ok("memprof: wrote heap profile 'p.heap.pb.gz'" in err, 'daemon: the program profiled', err)
    t.eq([f for f in os.listdir(work) if dpid is not None and '.%d.' % dpid in f], [],
         'daemon: no profile of it (its tables do not make one as if it had died)')
    t.eq(os.listdir(tmp), [], 'daemon: temporary directory removed while it runs')
    clean()
    if dpid is not None:
        # memprof snapshot makes the directory again for the snapshot, and
        # removes it.
        rc, o, err = run([memprof, 'snapshot', str(dpid)])
        seq = o.decode().strip()
        t.eq((rc, seq.isdigit()), (0, True), 'daemon: memprof snapshot works after the run', err)
        name = 'memprof.%d.s%04d.heap.pb.gz' % (dpid, int(seq or 0))
        t.ok(os.path.exists(os.path.join(work, name)), 'daemon: its profile %s' % name,
             sorted(os.listdir(work)))
        t.ok(name in err, 'daemon: memprof snapshot names it', err)
        t.eq(os.listdir(tmp), [], 'daemon: the directory made for the snapshot removed')
        t.ok(running(dpid), 'daemon: still running after the snapshot')
        st = end(dpid, signal.SIGUSR1)
        t.eq(st is not None and os.WIFEXITED(st) and os.WEXITSTATUS(st), 0,
             'daemon: exits 0 when told to')
        with open(log, 'rb') as f:
            t.eq(f.read(), b'', 'daemon: the shim said nothing on its standard error')
        t.eq(os.listdir(tmp), [], 'daemon: its exit leaves nothing in the temporary directory')
    clean()

    # --- a daemon writing numbered snapshots and scanning leaks at exit -------
    os.unlink(pidfile)
    rc, o, err = run([memprof, 'run', '-q', '--interval', '20ms', '--leak-check', t_daemon,
                      pidfile, log])
    t.eq((rc, o), (0, b'starting\n'), 'daemon, --interval --leak-check: status and output', err)
    if wait_file(pidfile):
        with open(pidfile) as f:
            dpid = int(f.read())
        left.append(dpid)
        time.sleep(0.2)   # a few numbered snapshots due meanwhile, with nowhere to go
        st = end(dpid, signal.SIGUSR1)
        t.eq(st is not None and os.WIFEXITED(st) and os.WEXITSTATUS(st), 0,
             'daemon, --interval --leak-check: exits 0')
        with open(log, 'rb') as f:
            t.eq(f.read(), b'', 'daemon, --interval --leak-check: nothing said')
        t.eq(os.listdir(tmp), [], 'daemon, --interval --leak-check: nothing left')
    else:
        t.ok(False, 'daemon, --interval --leak-check: it wrote its pid')
    clean()

    # --- ssh-agent: profiled (a copy, without its setgid bit) and not ----------
    agent = shutil.which('ssh-agent')
    if not agent:
        t.skip('ssh-agent is not installed')
    else:
        copy = os.path.join(d, 'ssh-agent')
        shutil.copy(agent, copy)
        for prog, hint in [(copy, True), (agent, not (os.stat(agent).st_mode & 0o6000))]:
            rc, o, err = run([memprof, 'run', '-q', prog, '-s'])
            m = re.search(rb'SSH_AGENT_PID=(\d+);', o)
            apid = int(m.group(1)) if m else None
            if apid:
                left.append(apid)
            t.eq((rc, lines_of(err)), (0, [('ssh-agent', apid, hint)]),
                 'ssh-agent -s (%s): returns, one line naming it' %
                 ('profiled' if prog == copy else 'as installed'), err)
            if apid:
                t.ok(running(apid), 'ssh-agent: still running')
                st = end(apid)
                t.ok(st is not None and (os.WIFEXITED(st) or os.WIFSIGNALED(st)),
                     'ssh-agent: ended by its pid')
        t.eq(os.listdir(tmp), [], 'ssh-agent: temporary directory removed')

    for pid in left:   # whatever a failed check left running
        if running(pid):
            end(pid, signal.SIGKILL)
    shutil.rmtree(d)
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
