#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The symbolization cache end to end: a program that allocates, sleeps
(so that the CLI symbolizes while it runs) and allocates again, run under
`memprof run --rate 1` with MEMPROF_CACHE_DIR pointing at a fresh
directory.  After the first run the cache holds the program's answers (by
its build ID) and libc's; a second run and a run after the file was
truncated give the same frames as the first, and the truncated file is
whole again afterwards; with MEMPROF_CACHE_DIR=off nothing is written.

usage: check-cache.py MEMPROF   (MEMPROF_SHIM set)"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import pprof_raw  # noqa: E402
from tap import Tap  # noqa: E402

PROG = r'''#include <stdlib.h>
#include <time.h>
void *volatile sink;
static inline __attribute__((always_inline)) void *grab(size_t n) { return malloc(n); }
__attribute__((noinline)) void early(size_t n) { sink = grab(n); }
__attribute__((noinline)) void late(size_t n) { sink = grab(n); }
int main(void)
{
	struct timespec ts = { 0, 400 * 1000000L };
	for (int i = 0; i < 5; i++) early(100 + i);
	nanosleep(&ts, NULL);
	for (int i = 0; i < 5; i++) late(200 + i);
	return 0;
}
'''


def main():
    memprof = sys.argv[1]
    t = Tap()
    with tempfile.TemporaryDirectory() as d:
        src, exe, cache = os.path.join(d, 'p.c'), os.path.join(d, 'p'), os.path.join(d, 'cache')
        with open(src, 'w') as f:
            f.write(PROG)
        subprocess.run(['gcc', '-g', '-O1', '-Wl,--build-id', '-o', exe, src], check=True)
        bid = [l.split(':')[1].strip() for l in subprocess.run(['readelf', '-n', exe], capture_output=True,
                                                                 text=True).stdout.splitlines()
               if 'Build ID' in l][0]
        mine = os.path.join(cache, bid + '.dwarf.symc')
        env = dict(os.environ, MEMPROF_CACHE_DIR=cache)
        env.pop('DEBUGINFOD_URLS', None)
        got = []
        for k, label in enumerate(['first run', 'second run (from the cache)', 'after truncation']):
            if label == 'after truncation':
                with open(mine, 'r+b') as f:
                    f.truncate(os.path.getsize(mine) // 2)
            prof = os.path.join(d, 'p%d.pb.gz' % k)
            r = subprocess.run([memprof, 'run', '-q', '--rate', '1', '-o', prof, '--', exe],
                               capture_output=True, text=True, env=env)
            t.eq(r.returncode, 0, '%s: memprof run' % label)
            got.append(pprof_raw.frames_and_mappings(prof)[0])
            t.ok(any('early' in l and 'p.c:5' in l for l in got[-1]) and
                 any('late' in l and 'p.c:6' in l for l in got[-1]),
                 '%s: early and late named with their lines' % label, '\n'.join(got[-1]))
            t.ok(os.path.exists(mine) and os.path.getsize(mine) > 176,
                 "%s: the program's answers are in the cache" % label)
            if k:
                t.ok(got[-1] == got[0], '%s: the same frames as the first run' % label)
        names = os.listdir(cache)
        t.ok(any(n.endswith('.symc') and n != os.path.basename(mine) for n in names),
             "libc's answers are in the cache too", ' '.join(names))
        off = os.path.join(d, 'off')
        r = subprocess.run([memprof, 'run', '-q', '--rate', '1', '-o', os.path.join(d, 'q.pb.gz'), '--', exe],
                           capture_output=True, text=True, env=dict(env, MEMPROF_CACHE_DIR='off',
                                                                    XDG_CACHE_HOME=off, HOME=off))
        t.ok(r.returncode == 0 and not os.path.exists(off), 'MEMPROF_CACHE_DIR=off: nothing written')
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
