#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Resource leaks say what the resource is (issue 13), on t-resleak: every
descriptor with its number and what it is (a file's absolute path though it
was opened by a relative name, where valgrind repeats the relative name, a socket's family, type and addresses, a
listener, a unix socket's path, a pipe's end, an eventfd), the thread's tid,
name and state, the timer's clock, state and interval, in the text and the
JSON report; the summary names the program.  Cross-checked with valgrind
--track-fds=yes: each file and socket valgrind reports open, memprof reports
the same way (ports and numbers are those of each run, printed by the
program).  usage: check-resleak.py MEMPROF T_RESLEAK"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from tap import Tap  # noqa: E402


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, **kw)


def printed(stdout):
    """What the program says it made: {fd: (kind, what)}, thread tid."""
    fds, tid = {}, None
    for ln in stdout.splitlines():
        m = re.match(r'^fd (\d+) (\w+) ?(.*)$', ln)
        if m:
            fds[int(m.group(1))] = (m.group(2), m.group(3))
        m = re.match(r'^thread (\d+) worker$', ln)
        if m:
            tid = int(m.group(1))
    return fds, tid


def main():
    memprof, t_resleak = sys.argv[1:3]
    t = Tap()
    with tempfile.TemporaryDirectory() as d:
        work = os.path.join(d, 'w')
        os.mkdir(work)
        js = os.path.join(d, 'r.json')
        r = run([memprof, 'run', '-q', '--leak-check=full', '--leak-report', js,
                 '-o', os.path.join(d, 'r.heap.pb.gz'), t_resleak, work])
        t.eq(r.returncode, 0, 't-resleak ran')
        fds, tid = printed(r.stdout)
        kinds = sorted(k for k, _ in fds.values())
        t.ok([k for k in kinds if k != 'listen6'] ==
             sorted(['file', 'listen', 'connected', 'accepted', 'unix', 'pipe', 'pipe',
                     'eventfd']), 'the program made its descriptors', r.stdout)
        if 'listen6' not in kinds:
            print('# no IPv6 loopback here: the IPv6 listener is not checked')
        rep = json.load(open(js))
        got = {}
        for leak in rep['leaks']:
            if leak['kind'] == 'fd':
                for res in leak['resources']:
                    got[res['fd']] = (res['type'], res['detail'], leak['stack'][0]['function'])
        want_detail = {
            'file': lambda w: ('file', w, 'open_config'),
            'listen': lambda w: ('socket', 'inet stream %s listening' % w, 'open_sockets'),
            'listen6': lambda w: ('socket', 'inet6 stream %s listening' % w, 'open_sockets'),
            'connected': lambda w: ('socket', 'inet stream %s' % w, 'open_sockets'),
            'accepted': lambda w: ('socket', 'inet stream %s' % w, 'open_sockets'),
            'unix': lambda w: ('socket', 'unix stream %s listening' % w, 'open_sockets'),
            'pipe': lambda w: ('pipe', w, 'open_pipe_and_eventfd'),
            'eventfd': lambda w: ('eventfd', '', 'open_pipe_and_eventfd'),
        }
        for fd, (kind, what) in sorted(fds.items()):
            t.eq(got.get(fd), want_detail[kind](what),
                 'JSON: fd %d, %s %s: its type, what it is and where it was made' % (fd, kind, what))
        for fd, (kind, what) in sorted(fds.items()):
            text = {'file': what, 'listen': 'socket inet stream %s listening' % what,
                    'listen6': 'socket inet6 stream %s listening' % what,
                    'connected': 'socket inet stream %s' % what,
                    'accepted': 'socket inet stream %s' % what,
                    'unix': 'socket unix stream %s listening' % what,
                    'pipe': 'pipe, %s' % what, 'eventfd': 'eventfd'}[kind]
            t.ok(re.search(r'^memprof: \d+ file descriptors? still open: (.*, )?%d \(%s\)'
                           % (fd, re.escape(text)), r.stderr, re.M),
                 'text: fd %d (%s)' % (fd, text), r.stderr)
        threads = [res for leak in rep['leaks'] if leak['kind'] == 'thread'
                   for res in leak['resources']]
        t.eq(threads, [{'tid': tid, 'name': 'worker', 'state': 'running', 'start': ''}],
             'JSON: the thread, its tid, name and state')
        t.ok(re.search(r"^memprof: 1 thread still alive or never joined: %d 'worker' \(running\)$"
                       % tid, r.stderr, re.M), 'text: the thread', r.stderr)
        timers = [res for leak in rep['leaks'] if leak['kind'] == 'timer'
                  for res in leak['resources']]
        t.eq(timers, [{'clock': 'monotonic', 'state': 'armed', 'interval_ns': 250000000}],
             'JSON: the timer, its clock, state and interval')
        t.ok('memprof: 1 timer never deleted: monotonic clock, armed, every 250ms\n' in r.stderr,
             'text: the timer', r.stderr)
        t.ok(re.search(r'^memprof: leak summary for t-resleak \(pid \d+\):$', r.stderr, re.M),
             'the summary names the program and the pid', r.stderr)
        t.ok(all(leak['program'] == 't-resleak' for leak in rep['leaks']),
             'JSON: every leak names the program')

        # valgrind --track-fds=yes on the same program: what it says is open
        # (files and sockets; it names pipes and eventfds by number only),
        # memprof says the same way.
        if not shutil.which('valgrind'):
            print('# valgrind is not installed: cross-check skipped')
            return t.done()
        v = run(['valgrind', '--track-fds=yes', '--log-file=' + os.path.join(d, 'vg.log'),
                 t_resleak, work])
        vfds, _ = printed(v.stdout)
        vg = open(os.path.join(d, 'vg.log')).read()
        checked = 0
        for fd, (kind, what) in sorted(vfds.items()):
            if kind == 'file':
                # valgrind names the file as the program did ("data.txt"),
                # memprof as the kernel does (absolute): the same file
                m = re.search(r'Open file descriptor %d: (.*)' % fd, vg)
                vpath = os.path.join(work, m.group(1)) if m else None
                t.ok(vpath == what and
                     any(g[0] == 'file' and g[1] == vpath for g in got.values()),
                     'valgrind: fd %d %s, memprof names the same file' % (fd, what),
                     m.group(0) if m else vg)
                checked += 1
            elif kind in ('connected', 'accepted', 'listen'):
                m = re.search(r'Open AF_INET socket %d: (\S+) <-> (\S+)' % fd, vg)
                # valgrind: "local <-> peer", "unbound" for a listener's peer
                mine = what.replace(' listening', '')
                t.ok(m and (m.group(1) + (' <-> ' + m.group(2) if m.group(2) != 'unbound' else ''))
                     == mine, 'valgrind: AF_INET socket %d %s, as its program printed' % (fd, what),
                     m.group(0) if m else vg)
                checked += 1
        t.ok(checked == 4, 'valgrind reported the file and the three TCP sockets', vg)
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
