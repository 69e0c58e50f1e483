#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Separate debug files found by .gnu_debuglink, as release builds ship
them (objcopy --only-keep-debug, strip, --add-gnu-debuglink), without
debuginfod: the symbolizer's own search (src/symbolize/debuginfo.c, which
spares the CLI libdwfl's loading of libdebuginfod and its TLS libraries)
must find what libdwfl's would.  A program with a build ID and one
without, the debug file beside it and in its .debug directory; without a
build ID the debuglink's CRC decides, so a different file under the same
name is refused (symbol table names only); a compressed debug file (found
by build ID) is read the same.  Each program runs under the
shim at --rate 1 and `memprof convert` writes its profile; `go tool pprof
-raw` must show leaf at prog.c:4 with grab inlined at prog.c:3.  Finally,
LD_DEBUG shows the CLI never loads libdebuginfod without DEBUGINFOD_URLS,
and does with it.

usage: check-debuglink.py MEMPROF   (MEMPROF_SHIM set)"""
import glob
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import pprof_raw  # noqa: E402
from tap import Tap  # noqa: E402

PROG = r'''#include <stdlib.h>
void *volatile sink;
static inline __attribute__((always_inline)) void *grab(size_t n) { return malloc(n); }
__attribute__((noinline)) void leaf(size_t n) { sink = grab(n); }
int main(void) { for (int i = 0; i < 5; i++) leaf(100 + i); return 0; }
'''


def profile(memprof, exe, d, env, convert_env=None):
    """Run exe under the shim, convert its snapshot (in convert_env, by
    default env); the pprof -raw lines naming leaf or grab, and the
    convert's stderr."""
    snaps = os.path.join(d, 'snaps')
    shutil.rmtree(snaps, ignore_errors=True)
    os.mkdir(snaps)
    subprocess.run([exe], check=True, env=dict(env, LD_PRELOAD=os.environ['MEMPROF_SHIM'],
                                               MEMPROF_OPTIONS='rate=1,snapdir=' + snaps))
    snap = glob.glob(os.path.join(snaps, '*.snap'))[0]
    prof = os.path.join(d, 'p.pb.gz')
    r = subprocess.run([memprof, 'convert', '-o', prof, snap], capture_output=True, text=True,
                       env=convert_env or env)
    if r.returncode != 0:
        return None, r.stderr
    out = subprocess.run(['go', 'tool', 'pprof', '-raw', prof], capture_output=True, text=True,
                         env=pprof_raw.go_env()).stdout
    return [l.strip() for l in out.splitlines() if ' leaf ' in l or 'grab ' in l], r.stderr


def main():
    memprof = os.path.abspath(sys.argv[1])
    t = Tap()
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, 'prog.c')
        with open(src, 'w') as f:
            f.write(PROG)
        env = dict(os.environ, MEMPROF_CACHE_DIR='off')
        env.pop('DEBUGINFOD_URLS', None)
        for build_id in ('sha1', 'none'):
            bdir = os.path.join(d, 'b-' + build_id)
            os.mkdir(bdir)
            exe = os.path.join(bdir, 'prog')
            subprocess.run(['gcc', '-g', '-O1', '-Wl,--build-id=' + build_id, '-o', exe, src], check=True)
            dbg = os.path.join(bdir, 'prog.debug')
            subprocess.run(['objcopy', '--only-keep-debug', exe, dbg], check=True)
            # --add-gnu-debuglink records the file's name and CRC.
            subprocess.run(['objcopy', '--strip-debug', '--add-gnu-debuglink=' + dbg, exe], check=True)
            for place in ('beside the program', 'in its .debug directory', 'compressed'):
                if place.startswith('in'):
                    os.mkdir(os.path.join(bdir, '.debug'))
                    os.rename(dbg, os.path.join(bdir, '.debug', 'prog.debug'))
                if place == 'compressed':
                    # As Debian's debug packages ship them: the symbolizer
                    # inflates only what it reads (src/symbolize/dwopen.c).
                    # The debuglink's CRC is of the file as linked.
                    if build_id == 'none':
                        continue
                    d2 = os.path.join(bdir, '.debug', 'prog.debug')
                    subprocess.run(['objcopy', '--compress-debug-sections=zlib', d2], check=True)
                got, err = profile(memprof, exe, d, env)
                what = 'build ID %s, debug file %s' % (build_id, place)
                t.ok(got is not None and any('leaf ' in l and 'prog.c:4' in l for l in got) and
                     any('grab ' in l and 'prog.c:3' in l for l in got),
                     '%s: leaf at prog.c:4 with grab inlined at prog.c:3' % what,
                     '\n'.join(got) if got is not None else err)
            # Another file under the debuglink's name: its CRC (or build
            # ID) differs, so it is not taken.
            other = os.path.join(d, 'other')
            subprocess.run(['gcc', '-g', '-O0', '-Wl,--build-id=' + build_id, '-DOTHER', '-o', other, src],
                           check=True)
            subprocess.run(['objcopy', '--only-keep-debug', other, os.path.join(bdir, '.debug', 'prog.debug')],
                           check=True)
            got, err = profile(memprof, exe, d, env)
            t.ok(got is not None and any(' leaf ' in l for l in got) and not any('prog.c' in l for l in got),
                 'build ID %s, a wrong file under the debuglink name: refused, symbol table names' % build_id,
                 '\n'.join(got) if got is not None else err)

        # The CLI and libdebuginfod: loaded only when servers are named.
        exe = os.path.join(d, 'b-sha1', 'prog')
        for urls in (None, 'http://127.0.0.1:9'):
            e = dict(env, LD_DEBUG='files')
            if urls:
                e['DEBUGINFOD_URLS'] = urls
                e['DEBUGINFOD_TIMEOUT'] = '2'
                e['DEBUGINFOD_CACHE_PATH'] = os.path.join(d, 'client-cache')
            got, err = profile(memprof, exe, d, env, e)
            loaded = 'libdebuginfod' in err
            t.ok(loaded == bool(urls), 'DEBUGINFOD_URLS %s: libdebuginfod %s' %
                 ('set' if urls else 'unset', 'loaded' if urls else 'never loaded'),
                 '\n'.join(l for l in err.splitlines() if 'debuginfod' in l))
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
