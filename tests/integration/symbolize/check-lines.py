#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The symbolizer's own line table reader (src/symbolize/lines.c) against
libdw on whole files: every unit's files, directories and, for every row
address (and the bytes either side), the answer of dwarf_getsrc_die
(`sym-bench lines`).  Files: programs built here with gcc (DWARF 2 to 5,
compressed sections, split DWARF, LTO) and clang (DWARF 4 and 5, MD5
file entries), dwz-processed copies with a shared alternate file when dwz
is installed, and the real debug files of libc (libc6-dbg) and pyenv's
libpython when present.  Every table must be read by lines.c (none left
to libdw) with no difference.

usage: check-lines.py SYM-BENCH"""
import glob
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from tap import Tap  # noqa: E402

SRC = r'''#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "inc.h"
struct node { struct node *next; int key; };
static inline int mix(int a, int b) { return (a * 31) ^ (b >> 3); }
int walk(struct node *n, int k) { int s = 0; for (; n; n = n->next) s = mix(s, n->key + k); return s; }
struct node *push(struct node *h, int k) { struct node *n = malloc(sizeof(*n)); n->next = h; n->key = k; return n; }
int main(int argc, char **argv) { struct node *h = 0; for (int i = 0; i < argc * 100; i++) h = push(h, twice(i));
  printf("%d\n", walk(h, (int)strlen(argv[0]))); return 0; }
'''
INC = 'static inline int twice(int x) { return x + x; }\n'


def main():
    bench = os.path.abspath(sys.argv[1])
    t = Tap()
    with tempfile.TemporaryDirectory() as d:
        os.mkdir(os.path.join(d, 'sub'))
        with open(os.path.join(d, 'sub', 'prog.c'), 'w') as f:
            f.write(SRC)
        with open(os.path.join(d, 'sub', 'inc.h'), 'w') as f:
            f.write(INC)
        builds = [('gcc', ['-gdwarf-%d' % v]) for v in (2, 3, 4, 5)]
        builds += [('gcc', ['-gdwarf-5', '-gz=zlib']), ('gcc', ['-gdwarf-5', '-gsplit-dwarf']),
                   ('gcc', ['-gdwarf-5', '-flto']), ('gcc', ['-gdwarf-4', '-ffunction-sections'])]
        if shutil.which('clang'):
            builds += [('clang', ['-gdwarf-4']), ('clang', ['-gdwarf-5'])]
        files = []
        for i, (cc, flags) in enumerate(builds):
            out = os.path.join(d, 'p%d' % i)
            # Relative names, as a Makefile build gives them.
            r = subprocess.run([cc, '-O2', '-g'] + flags + ['-o', out, 'sub/prog.c'], cwd=d,
                               capture_output=True, text=True)
            t.ok(r.returncode == 0, '%s %s builds' % (cc, ' '.join(flags)), r.stderr)
            if r.returncode == 0:
                files.append((out, '%s %s' % (cc, ' '.join(flags))))
        if shutil.which('dwz') and len(files) >= 2:
            a, b = os.path.join(d, 'z1'), os.path.join(d, 'z2')
            shutil.copy(files[3][0], a)
            shutil.copy(files[2][0], b)
            r = subprocess.run(['dwz', '-m', os.path.join(d, 'common.dwz'), a, b], capture_output=True,
                               text=True)
            if r.returncode == 0:
                files += [(a, 'dwz (DWARF 4)'), (b, 'dwz (DWARF 3)'),
                          (os.path.join(d, 'common.dwz'), "dwz's alternate file")]
            else:
                t.ok(True, '# SKIP dwz found nothing to share: ' + r.stderr.strip())
        libc = subprocess.run(['readelf', '-n', '/lib/x86_64-linux-gnu/libc.so.6'], capture_output=True,
                              text=True).stdout
        for line in libc.splitlines():
            if 'Build ID' in line:
                bid = line.split(':')[1].strip()
                dbg = '/usr/lib/debug/.build-id/%s/%s.debug' % (bid[:2], bid[2:])
                if os.path.exists(dbg):
                    files.append((dbg, "libc's debug file (compressed DWARF 5)"))
        for py in glob.glob(os.path.expanduser('~/.pyenv/versions/*/lib/libpython3*.so.1.0'))[:1]:
            files.append((py, 'pyenv libpython'))
        for path, what in files:
            r = subprocess.run([bench, 'lines', path], capture_output=True, text=True)
            last = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ''
            t.ok(r.returncode == 0 and '(0 left to libdw)' in last and ' 0 differences' in last,
                 '%s: %s' % (what, last), r.stderr[-3000:])
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
