#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""File descriptor tracking (t-fds): the descriptor profile beside the heap
profile has exactly the live descriptors, each with its kind and creating
function; the count agrees with valgrind --track-fds=yes (inherited ones
excluded); a clean run has none; the leak check reports and gates on them;
close-everything still gets its profile; exec keeps the plain descriptor
and drops the close-on-exec one.  usage: check-fds.py MEMPROF T_FDS"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import pprof_raw  # noqa: E402
from tap import Tap  # noqa: E402

WANT = {  # creating function -> (descriptors, kind)
    'make_file': (1, 'file'), 'make_file_cloexec': (1, 'file'), 'make_fopen': (1, 'file'),
    'make_dir': (1, 'dir'), 'make_socket': (1, 'socket'), 'make_socketpair': (2, 'socket'),
    'make_pipe': (2, 'pipe'), 'make_eventfd': (1, 'eventfd'), 'make_epoll': (1, 'epoll'),
    'make_timerfd': (1, 'timerfd'), 'make_memfd': (1, 'memfd'), 'make_inotify': (1, 'inotify'),
    'make_signalfd': (1, 'signalfd'), 'make_dup': (1, 'file'),
}


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL, **kw)


def descriptors(path):
    """[(leaf function or None, labels text)] of a descriptor profile."""
    types, samples, locations = pprof_raw.read_raw(path)
    out = []
    for values, locs, labels in samples:
        leaf = locations[locs[0]][0].split('(')[0] if locs and locations.get(locs[0]) else None
        out += [(leaf, labels)] * values[0]
    return types, out


def main():
    memprof, t_fds = sys.argv[1:3]
    t = Tap()
    with tempfile.TemporaryDirectory() as d:
        heap = os.path.join(d, 'l.heap.pb.gz')
        r = run([memprof, 'run', '-q', '-o', heap, t_fds, 'leaky'])
        t.eq(r.returncode, 0, 'leaky: exit 0')
        fds = os.path.join(d, 'l.fds.pb.gz')
        types, got = descriptors(fds)
        t.eq(types, ['fds'], 'the descriptor profile: one sample type, fds/count')
        by_fn = {}
        for leaf, labels in got:
            if 'inherited' in labels:
                continue
            kind = re.search(r'kind:\[([a-z]+)\]', labels)
            n, k = by_fn.get(leaf, (0, None))
            by_fn[leaf] = (n + 1, kind.group(1) if kind else None)
        t.eq(by_fn, WANT, 'leaky: every live descriptor, its kind and creating function')
        inherited = [lb for _, lb in got if 'inherited' in lb]
        t.eq(len(inherited), 3, 'leaky: the three standard descriptors, marked inherited')
        t.ok(any('path:[/etc/passwd]' in lb for _, lb in got), 'the path of a file is a label')
        if shutil.which('valgrind'):
            v = run(['valgrind', '--track-fds=yes', t_fds, 'leaky'])
            m = re.search(r'FILE DESCRIPTORS: (\d+) open \((\d+) std\)', v.stderr)
            ours = sum(n for n, _ in WANT.values())
            t.eq(int(m.group(1)) - int(m.group(2)) if m else None, ours,
                 'valgrind --track-fds agrees: %d descriptors open at exit (standard ones aside)' % ours)
        else:
            t.ok(False, 'valgrind is installed')

        r = run([memprof, 'run', '-q', '-o', heap, t_fds, 'clean'])
        types, got = descriptors(fds)
        t.eq([g for g in got if 'inherited' not in g[1]], [], 'clean: no descriptor left')

        js = os.path.join(d, 'r.json')
        r = run([memprof, 'run', '-q', '--leak-check', '--leak-report', js, '--error-exitcode', '9',
                 '-o', heap, t_fds, 'leaky'])
        rep = json.load(open(js))
        t.eq((r.returncode, rep['summary']['fds']), (9, 16), 'leak check: 16 descriptors open, exit 9')
        t.ok('memprof:   file descriptors: 16 still open' in r.stderr, 'leak check: the summary line',
             r.stderr)
        r = run([memprof, 'run', '-q', '--leak-check', '--error-exitcode', '9', '--fail-on', 'definite',
                 '-o', heap, t_fds, 'leaky'])
        t.eq(r.returncode, 0, 'leak check: --fail-on definite ignores descriptors')
        r = run([memprof, 'run', '-q', '--leak-check', '--error-exitcode', '9', '-o', heap, t_fds, 'clean'])
        t.eq(r.returncode, 0, 'leak check: a clean run passes')

        r = run([memprof, 'run', '-q', '-o', heap, t_fds, 'closeall'])
        t.ok(r.returncode == 3 and os.path.exists(fds) and os.path.exists(heap),
             'closing every descriptor, memprof\'s too: status 3, both profiles written', r.stderr)

        fheap = os.path.join(d, 'f.heap.pb.gz')
        r = run([memprof, 'run', '-q', '-o', fheap, t_fds, 'fork'])
        kids = [f for f in os.listdir(d) if re.match(r'f\.\d+\.fds\.pb\.gz$', f)]
        t.eq((r.returncode, len(kids)), (0, 1), 'fork: the child has its own descriptor profile')
        if kids:
            types, got = descriptors(os.path.join(d, kids[0]))
            made = sorted(leaf for leaf, lb in got if 'inherited' not in lb)
            t.eq(made, ['make_file', 'make_file_cloexec', 'make_socket'],
                 "fork: the child holds the parent's two (CLOEXEC too: no exec) and its own socket")
        types, got = descriptors(os.path.join(d, 'f.fds.pb.gz'))
        t.eq(sorted(leaf for leaf, lb in got if 'inherited' not in lb), ['make_file', 'make_file_cloexec'],
             'fork: the parent holds its two')
        r = run([memprof, 'run', '-q', '-o', heap, t_fds, 'exec'])
        t.eq((r.returncode, r.stdout), (0, 'cloexec closed, plain open\n'), 'exec: CLOEXEC closed, plain kept')
        types, got = descriptors(fds)
        t.eq((len(got), all('inherited' in lb for _, lb in got)), (4, True),
             'exec: the new image inherited four (three standard and the plain one)')
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
