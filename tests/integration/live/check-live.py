#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The live endpoint end to end: `memprof run --http 127.0.0.1:0` on a
waiting program; `go tool pprof -raw` as the client shows the function
holding memory with exact values (--rate 1), for the program and, with
?pid=, its child; the fds, threads and timers profiles; the index; Go's
query parameters (?debug=1 text, ?gc=1, ?seconds=N delta); bad, oversized
and slow requests get HTTP errors and the server goes on; idle, memprof
sleeps in poll(2) using no CPU; the program's output and status are its
own and nothing is left behind.
usage: check-live.py MEMPROF T-LIVE"""
import os
import signal
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import pprof_raw  # noqa: E402
from tap import Tap  # noqa: E402

HOLD = 40 * 1000      # t-live.c: live_hold's bytes
CHILD = 7 * 1000      # child_hold's


def get(url, method='GET'):
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def raw_request(port, data, read_timeout=60):
    """Send bytes, return the status line's code (0: none) and the answer."""
    s = socket.create_connection(('127.0.0.1', port), timeout=read_timeout)
    try:
        if data:
            s.sendall(data)
        out = b''
        while True:
            try:
                b = s.recv(65536)
            except ConnectionResetError:
                break
            if not b:
                break
            out += b
    finally:
        s.close()
    m = re.match(rb'HTTP/1\.1 (\d{3}) ', out)
    return (int(m.group(1)) if m else 0), out


def inuse(path_or_url, fn):
    return pprof_raw.cum_by_function(path_or_url)[1].get(fn, [0, 0, 0, 0])[3]


def accepted(pid, port, peer, limit=30):
    """Whether process pid has accepted the connection to 127.0.0.1:port
    from local port peer, waiting up to limit seconds: the server side's
    socket (in /proc/net/tcp, its inode 0 while in the accept queue) among
    the process's descriptors."""
    want = ':%04X' % port, ':%04X' % peer
    end = time.monotonic() + limit
    while time.monotonic() < end:
        inode = None
        with open('/proc/net/tcp') as f:
            for line in f.readlines()[1:]:
                x = line.split()
                if x[1].endswith(want[0]) and x[2].endswith(want[1]) and x[9] != '0':
                    inode = x[9]
        if inode:
            for fd in os.listdir('/proc/%d/fd' % pid):
                try:
                    if os.readlink('/proc/%d/fd/%s' % (pid, fd)) == 'socket:[%s]' % inode:
                        return True
                except OSError:
                    pass
        time.sleep(0.02)
    return False


def proc_state(pid):
    f = open('/proc/%d/stat' % pid).read()
    return f[f.rindex(')') + 2]


def cpu_ticks(pid):
    f = open('/proc/%d/stat' % pid).read()
    rest = f[f.rindex(')') + 2:].split()
    return int(rest[11]) + int(rest[12])


def main():
    return pprof_raw.in_own_tempdir('memprof-live-', checks)


def checks(d):
    memprof, t_live = [os.path.abspath(a) for a in sys.argv[1:3]]
    t = Tap()
    env = dict(os.environ, TMPDIR=d)
    p = subprocess.Popen([memprof, 'run', '--rate', '1', '--http', '127.0.0.1:0', '-o',
                          os.path.join(d, 'x.heap.pb.gz'), '--', t_live], cwd=d, env=env,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    line = p.stderr.readline().decode()
    m = re.match(r'memprof: serving http://127\.0\.0\.1:(\d+)/debug/pprof/$', line.strip())
    if not t.ok(m, 'memprof run --http 127.0.0.1:0 says where it serves', line):
        p.kill()
        return t.done()
    port = int(m.group(1))
    base = 'http://127.0.0.1:%d/debug/pprof/' % port
    ready = p.stdout.readline().decode().split()
    t.eq(ready[0] if ready else '', 'ready', 'the program runs and prints as usual')
    child = int(ready[1])
    prog = None
    for pid in os.listdir('/proc'):
        if pid.isdigit() and int(pid) != child:
            try:
                if os.readlink('/proc/%s/exe' % pid) == os.path.realpath(t_live) and \
                   int(open('/proc/%s/stat' % pid).read().split(')')[1].split()[1]) == p.pid:
                    prog = int(pid)
            except OSError:
                pass

    # go tool pprof as the client, twice: each request a fresh snapshot.
    for i in range(2):
        try:
            got = inuse(base + 'heap', 'live_hold')
        except RuntimeError as e:
            got = str(e)
        t.eq(got, HOLD, 'go tool pprof -raw %sheap: live_hold holds %d bytes (request %d)'
             % (base, HOLD, i + 1))
    try:
        got = inuse(base + 'heap?pid=%d' % child, 'child_hold')
    except RuntimeError as e:
        got = str(e)
    t.eq(got, CHILD, '?pid=CHILD: the child\'s heap, child_hold holds %d bytes' % CHILD)
    try:
        got = inuse(base + 'allocs?gc=1', 'live_hold')
    except RuntimeError as e:
        got = str(e)
    t.eq(got, HOLD, 'allocs?gc=1 (Go\'s name and parameter) is the heap profile')
    for kind, want in (('allocs', 'alloc_space'), ('heap', 'inuse_space')):
        r = subprocess.run(['go', 'tool', 'pprof', '-top', base + kind], capture_output=True,
                           text=True, env=pprof_raw.go_env())
        t.ok(('Type: %s' % want) in r.stdout,
             '%s: pprof shows %s first, as Go\'s %s' % (kind, want, kind), r.stdout[:400] + r.stderr)
    for kind in ('fds', 'threads', 'threadcreate', 'timers'):
        try:
            types, _ = pprof_raw.cum_by_function(base + kind)
            ok = True
        except RuntimeError as e:
            ok, types = False, str(e)
        t.ok(ok, 'go tool pprof reads %s%s' % (base, kind), types)

    st, hdr, body = get(base)
    t.ok(st == 200 and b'href="heap' in body and (b'%d' % child) in body and
         (prog is None or (b'%d' % prog) in body),
         'the index links the profiles and names the program and its child', body[:2000])
    st, hdr, body = get(base + 'heap?debug=1')
    t.ok(st == 200 and b'live_hold' in body and hdr.get('Content-Type', '').startswith('text/'),
         '?debug=1: the profile as text, live_hold in it', body[:2000])
    st, hdr, body = get(base + 'heap', 'HEAD')
    t.ok(st == 200 and body == b'' and int(hdr.get('Content-Length', '0')) > 0,
         'HEAD: the headers of the answer, no body', hdr)

    # A stopped process cannot answer: 503 at once, saying why, not a 504
    # after the timeout (the server is the supervise loop's: it would stall
    # everything meanwhile); continued, it answers again.
    os.kill(child, signal.SIGSTOP)
    for _ in range(500):    # until the kernel shows it stopped, on a loaded machine too
        if proc_state(child) in 'Tt':
            break
        time.sleep(0.01)
    t0 = time.monotonic()
    st, hdr, body = get(base + 'heap?pid=%d' % child)
    took = time.monotonic() - t0
    os.kill(child, signal.SIGCONT)
    t.ok(st == 503 and b'stopped' in body and took < 2,
         'a stopped process: 503 at once, saying it is stopped (%.2f s)' % took, body[:300])
    try:
        got = inuse(base + 'heap?pid=%d' % child, 'child_hold')
    except RuntimeError as e:
        got = str(e)
    t.eq(got, CHILD, 'continued, it answers again')

    # ?seconds=1: the change over a second in which nothing changed.
    try:
        _, fns = pprof_raw.cum_by_function(base + 'heap?seconds=1')
        net = fns.get('live_hold', [0, 0, 0, 0])
        ok = net == [0, 0, 0, 0]
    except RuntimeError as e:
        ok, net = False, str(e)
    t.ok(ok, '?seconds=1: a delta profile, live_hold unchanged (net 0)', net)
    # Its Duration is the interval, as Go's net/http/pprof sets it: at least
    # the second asked for (the server waits that long between its two
    # snapshots), and shorter than a profile taken afterwards, which counts
    # from the program's start (before the first snapshot).  A merge of the
    # two snapshots would add up their durations since the start instead.
    def header(url):
        out = subprocess.run(['go', 'tool', 'pprof', '-raw', url], capture_output=True,
                             text=True, env=pprof_raw.go_env())
        m = re.search(r'^Duration: ([0-9.]+)', out.stdout, re.M)
        return float(m.group(1)) if m else None, out.stderr[-500:]
    delta, e1 = header(base + 'heap?seconds=1')
    later, e2 = header(base + 'heap')
    t.ok(delta is not None and later is not None and 1.0 <= delta < later,
         '?seconds=1: Duration %s s is the interval (>= 1 s, < %s s since start)'
         % (delta, later), e1 + e2)

    # Bad requests: HTTP errors, never a crash or a hang.
    bad = [
        (b'POST /debug/pprof/heap HTTP/1.1\r\nHost: x\r\n\r\n', 405, 'POST'),
        (b'DELETE /debug/pprof/ HTTP/1.0\r\n\r\n', 405, 'DELETE'),
        (b'GET /debug/pprof/nope HTTP/1.1\r\n\r\n', 404, 'an unknown profile'),
        (b'GET / HTTP/1.1\r\n\r\n', 404, 'the root'),
        (b'GET /debug/pprof HTTP/1.1\r\n\r\n', 301, '/debug/pprof: to the directory, as Go'),
        (b'GET /debug/pprof/heap?seconds=abc HTTP/1.1\r\n\r\n', 400, 'a bad ?seconds='),
        (b'GET /debug/pprof/heap?seconds=99999 HTTP/1.1\r\n\r\n', 400, 'too many seconds'),
        (b'GET /debug/pprof/heap?pid=1 HTTP/1.1\r\n\r\n', 404, '?pid= outside the tree'),
        (b'GET /debug/pprof/heap HTTP/2.0\r\n\r\n', 505, 'HTTP/2.0'),
        (b'garbage\r\n\r\n', 400, 'garbage'),
        (b'GET x HTTP/1.1\r\n\r\n', 400, 'a target without /'),
        (b'GET /debug/pprof/heap HTTP/1.1\r\n bad: fold\r\n\r\n', 400, 'a folded header'),
        (b'GET /debug/pprof/heap HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello', 413, 'a body'),
        (b'GET /debug/pprof/heap HTTP/1.1\r\nX: ' + b'a' * 9000 + b'\r\n\r\n', 431,
         'a 9000-byte header'),
        (b'GET /' + b'a' * 5000 + b' HTTP/1.1\r\n\r\n', 414, 'a 5000-byte target'),
        (b'GET /debug/pprof/\x00 HTTP/1.1\r\n\r\n', 400, 'a NUL byte'),
    ]
    for data, want, what in bad:
        code, out = raw_request(port, data)
        t.eq(code, want, '%s: HTTP %d' % (what, want))

    # Slow clients: one that sends half a request and waits gets 408 after
    # the read timeout; meanwhile 40 idle connections (more than the server
    # takes at once) do not keep others from being served.
    slow = {}

    def slow_client():
        slow['code'], _ = raw_request(port, b'GET /debug/pprof/heap HTTP/1.1\r\n', 60)
    th = threading.Thread(target=slow_client)
    th.start()
    idle = [socket.create_connection(('127.0.0.1', port)) for _ in range(40)]
    for s in idle[:8]:
        s.close()   # a few of those go away without a word
    th.join()
    t.eq(slow.get('code'), 408, 'a client that stops mid-request gets 408 Request Timeout')
    code, out = raw_request(port, b'GET /debug/pprof/heap HTTP/1.1\r\n\r\n')
    t.eq(code, 200, 'the server still answers after slow and idle clients')
    for s in idle[8:]:
        s.close()

    # Idle: memprof sleeps in poll(2), using no CPU.
    time.sleep(0.5)
    before = cpu_ticks(p.pid)
    time.sleep(2)
    after = cpu_ticks(p.pid)
    # A spinning server would use about 200 ticks in 2 s; up to 10 (5% of a
    # core) leaves room for a loaded machine's accounting and the
    # supervisor's occasional work (seen: 2 under a parallel CI run).
    t.ok(after - before <= 10, 'idle for 2 s: memprof used %d clock ticks (at most 10 of 200)'
         % (after - before))

    # A delta still waiting when the program ends: an answer saying so.  The
    # program is ended once memprof has taken the request, not after a
    # guessed time.
    s = socket.create_connection(('127.0.0.1', port), timeout=60)
    s.sendall(b'GET /debug/pprof/heap?seconds=60 HTTP/1.1\r\nHost: x\r\n\r\n')
    taken = accepted(p.pid, port, s.getsockname()[1])
    time.sleep(0.2)     # it reads the request in the same turn as it accepts
    p.stdin.close()
    body = b''
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            body += b
    except OSError:
        pass
    s.close()
    t.ok(taken and body.startswith(b'HTTP/1.1 503 ') and b'ended before' in body,
         '?seconds=60 pending at the end: 503, saying the program ended', body[:300])
    rc = p.wait(timeout=120)
    err = p.stderr.read().decode()
    t.eq(rc, 0, 'the program\'s exit status passes through')
    t.ok(os.path.exists(os.path.join(d, 'x.heap.pb.gz')),
         'the final profile is written as without --http', err)
    left = [f for f in os.listdir(d) if f.startswith('memprof.')]
    t.eq(left, [], 'no snapshot directory or live snapshot left behind')

    # The address: in use, malformed.
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    s.listen(1)
    used = s.getsockname()[1]
    r = subprocess.run([memprof, 'run', '--http', '127.0.0.1:%d' % used, '--', 'true'], cwd=d,
                       env=env, capture_output=True, text=True)
    t.ok(r.returncode != 0 and 'cannot listen' in r.stderr and r.stderr.count('\n') == 1,
         'an address in use: one line, non-zero exit', r.stderr)
    s.close()
    for addr in ('nope', '127.0.0.1:99999', '::1:80', ''):
        r = subprocess.run([memprof, 'run', '--http', addr, '--', 'true'], cwd=d, env=env,
                           capture_output=True, text=True)
        t.ok(r.returncode != 0 and r.stderr.startswith('memprof: ') and
             r.stderr.count('\n') == 1, 'a bad address %r: one line, non-zero exit' % addr,
             r.stderr)
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
