#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Files shared by the processes of a tree: a shell runs the same program
three times under `memprof run --rate 1`, without the disk cache.  The
second and third conversions find the files loaded for the first one
(module.h: the same segment of the same file mapped elsewhere), each with
its own bias: libc, mapped at a different address in each process, and
the program.  Every process's profile names the program's functions with
their lines, and the three name the same frames, libc's included.

usage: check-tree-files.py MEMPROF   (MEMPROF_SHIM set)"""
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import pprof_raw  # noqa: E402
from tap import Tap  # noqa: E402

PROG = r'''#include <stdlib.h>
void *volatile sink;
__attribute__((noinline)) void %(a)s(size_t n) { sink = malloc(n); }
__attribute__((noinline)) void %(b)s(size_t n) { sink = malloc(n); }
int main(void)
{
	for (int i = 0; i < 5; i++) %(a)s(100 + i);
	for (int i = 0; i < 5; i++) %(b)s(200 + i);
	return 0;
}
'''


def raw(prof):
    """The locations' frames as text (without addresses), and the start of
    libc's mapping (the program's own is given relative to its file)."""
    frames, mappings = pprof_raw.frames_and_mappings(prof)
    return frames, [start for start, path in mappings if '/libc.so' in path]


def build(d, name, a, b):
    src, exe = os.path.join(d, name + '.c'), os.path.join(d, name)
    with open(src, 'w') as f:
        f.write(PROG % {'a': a, 'b': b})
    subprocess.run(['gcc', '-g', '-O1', '-o', exe, src], check=True)
    return exe


def tree(memprof, d, script, label, env):
    out = os.path.join(d, label)
    os.mkdir(out)
    r = subprocess.run([memprof, 'run', '-q', '--rate', '1', '-o', os.path.join(out, 't.pb.gz'), '--',
                        'sh', '-c', script], capture_output=True, text=True, env=env, cwd=d)
    profs = sorted((os.path.join(out, f) for f in os.listdir(out)
                    if re.match(r't\.\d+\.pb\.gz$', f)), key=os.path.getmtime)
    return r, [raw(p) for p in profs]


def main():
    memprof = os.path.abspath(sys.argv[1])
    t = Tap()
    with tempfile.TemporaryDirectory() as d:
        env = dict(os.environ, MEMPROF_CACHE_DIR='off')
        env.pop('DEBUGINFOD_URLS', None)
        build(d, 'p', 'first_fn', 'second_fn')
        r, got = tree(memprof, d, './p; ./p; ./p', 'one', env)
        t.eq((r.returncode, len(got)), (0, 3), 'sh and three runs of the program: three profiles '
             'besides the shell\'s', r.stderr)
        for k, (frames, _) in enumerate(got):
            t.ok(any('first_fn' in l and 'p.c:3' in l for l in frames) and
                 any('second_fn' in l and 'p.c:4' in l for l in frames),
                 'process %d: its functions named with their lines' % (k + 1), '\n'.join(frames))
        t.ok(all(g[0] == got[0][0] for g in got), 'the three name the same frames')
        starts = {s for _, ss in got for s in ss}
        t.ok(len(starts) > 1, 'the three mapped libc at different addresses (its frames the same)',
             ' '.join(sorted(starts)))
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
