#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""debuginfod: a program whose debug info was split off (objcopy
--only-keep-debug, then stripped) runs under `memprof run --rate 1`;
without DEBUGINFOD_URLS its profile names functions from the symbol table
only, with DEBUGINFOD_URLS pointing at a local `debuginfod` serving the
split-off file on 127.0.0.1 it has files, lines and inlined frames
(libdw's client does the fetching); a second run finds the file in
debuginfod's client cache and in memprof's own cache.  When it can (root,
unshare), the server and the runs live in a network namespace of their
own, so nothing but this test can reach the server.

usage: check-debuginfod.py MEMPROF   (MEMPROF_SHIM set)"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import pprof_raw  # noqa: E402
from tap import Tap  # noqa: E402

PROG = r'''#include <stdlib.h>
void *volatile sink;
static inline __attribute__((always_inline)) void *grab(size_t n) { return malloc(n); }
__attribute__((noinline)) void leaf(size_t n) { sink = grab(n); }
int main(void) { for (int i = 0; i < 5; i++) leaf(100 + i); return 0; }
'''


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def frames(memprof, prof):
    out = subprocess.run(['go', 'tool', 'pprof', '-raw', prof], capture_output=True, text=True,
                         env=pprof_raw.go_env()).stdout
    return [l.strip() for l in out.splitlines() if ' leaf ' in l or ' grab ' in l or l.strip().startswith('grab ')]


def main():
    memprof = os.path.abspath(sys.argv[1])
    if os.environ.get('MEMPROF_IN_NETNS') != '1' and os.geteuid() == 0 and shutil.which('unshare') \
            and shutil.which('ip'):
        r = subprocess.run(['unshare', '-n', 'sh', '-c', 'ip link set lo up && exec "$@"', 'sh',
                            sys.executable, os.path.abspath(__file__), memprof],
                           env=dict(os.environ, MEMPROF_IN_NETNS='1'))
        return r.returncode
    t = Tap()
    if not shutil.which('debuginfod'):
        t.ok(False, 'debuginfod is installed (Debian package debuginfod)')
        return t.done()
    with tempfile.TemporaryDirectory() as d:
        src, exe = os.path.join(d, 'prog.c'), os.path.join(d, 'prog')
        served = os.path.join(d, 'served')
        os.mkdir(served)
        with open(src, 'w') as f:
            f.write(PROG)
        subprocess.run(['gcc', '-g', '-O1', '-Wl,--build-id', '-o', exe, src], check=True)
        subprocess.run(['objcopy', '--only-keep-debug', exe, os.path.join(served, 'prog.debug')], check=True)
        subprocess.run(['strip', '--strip-debug', exe], check=True)
        bid = subprocess.run(['readelf', '-n', exe], capture_output=True, text=True).stdout
        bid = [l.split(':')[1].strip() for l in bid.splitlines() if 'Build ID' in l][0]

        port = free_port()
        server = subprocess.Popen(['debuginfod', '-p', str(port), '-d', os.path.join(d, 'db.sqlite'),
                                   '-F', '-t', '0', '-g', '0', served],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            url = 'http://127.0.0.1:%d' % port
            ready = False
            for _ in range(100):        # up to 20 s for the first scan
                try:
                    with urllib.request.urlopen('%s/buildid/%s/debuginfo' % (url, bid), timeout=2) as r:
                        ready = r.status == 200
                except Exception:
                    pass
                if ready or server.poll() is not None:
                    break
                time.sleep(0.2)
            t.ok(ready, 'debuginfod on 127.0.0.1 serves the debug file of build ID %s' % bid)
            base = dict(os.environ, MEMPROF_CACHE_DIR=os.path.join(d, 'memprof-cache'),
                        DEBUGINFOD_CACHE_PATH=os.path.join(d, 'client-cache'))
            base.pop('DEBUGINFOD_URLS', None)
            # The first run leaves symbols-only answers in memprof's cache:
            # with a server named, they must not hide what it serves.  The
            # last runs after the server is gone: the caches answer.
            for label, env in [('without DEBUGINFOD_URLS', base),
                               ('with DEBUGINFOD_URLS', dict(base, DEBUGINFOD_URLS=url)),
                               ('again, server stopped (caches)', dict(base, DEBUGINFOD_URLS=url))]:
                if label.startswith('again'):
                    server.terminate()
                    server.wait(timeout=10)
                prof = os.path.join(d, 'p.pb.gz')
                r = subprocess.run([memprof, 'run', '-q', '--rate', '1', '-o', prof, '--', exe],
                                   capture_output=True, text=True, env=env)
                if r.returncode != 0:
                    t.ok(False, '%s: memprof run' % label, r.stderr)
                    continue
                got = frames(memprof, prof)
                with_lines = any('leaf ' in l and 'prog.c:4' in l for l in got) and \
                    any('grab ' in l and 'prog.c:3' in l for l in got)
                if label.startswith('without'):
                    t.ok(any(' leaf ' in l for l in got) and not any('prog.c' in l for l in got),
                         '%s: leaf named from the symbol table, no file' % label, '\n'.join(got))
                    t.ok(os.path.exists(os.path.join(d, 'memprof-cache', bid + '.symtab.symc')),
                         '%s: symbols-only answers cached' % label)
                else:
                    t.ok(with_lines, '%s: leaf at prog.c:4 with grab inlined at prog.c:3' % label,
                         '\n'.join(got))
            cached = os.path.join(d, 'client-cache', bid, 'debuginfo')
            t.ok(os.path.exists(cached), "debuginfod's client cache holds the file")
            mine = os.listdir(os.path.join(d, 'memprof-cache')) if os.path.isdir(os.path.join(d, 'memprof-cache')) else []
            t.ok(any(f.startswith(bid) and '.dwarf.' in f for f in mine),
                 "memprof's cache holds the program's answers with DWARF", ' '.join(mine))
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
