#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Source paths the Makefile way: a small program built from a project
root with relative, "./", "../" and absolute source names, a relative
comp_dir (-fdebug-prefix-map, as Debian builds), DWARF 4 and 5, gcc and
clang, and an inlined function from a header found through -I.  Each build
runs under `memprof run --rate 1`; every frame of every location in the
program's own mapping must name the function, file and line that
`addr2line -f -i` gives for that address (file names compared after
lexical cleaning: addr2line joins comp_dir and name without cleaning), and
every file name must be printable and clean.  Then the CLI itself runs
under valgrind on one of them: no invalid read or write (the first path
cleaner wrote and read past its buffer: garbage names, heap corruption).

usage: check-relpaths.py MEMPROF   (MEMPROF_SHIM set)"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import pprof_raw  # noqa: E402
from tap import Tap  # noqa: E402

LEAF = r'''#include <stdlib.h>
#include "inl.h"
void *volatile sink;
__attribute__((noinline)) void leaf(size_t n)
{
	sink = malloc(n);
	sink = grab(n + 1);
}
'''
INL = r'''#include <stdlib.h>
static inline __attribute__((always_inline)) void *grab(size_t n)
{
	return malloc(n * 2);
}
'''
MID = r'''#include <stddef.h>
void leaf(size_t n);
__attribute__((noinline)) void mid(size_t n)
{
	leaf(n);
	leaf(n + 100);
}
'''
MAIN = r'''#include <stddef.h>
void mid(size_t n);
int main(void)
{
	for (int i = 0; i < 3; i++)
		mid(16 + (size_t)i);
	return 0;
}
'''

FRAME_RE = re.compile(r'^(.*) (\S*):(\d+)(?: s=\d+)?$')


def frames_of(text):
    """Locations of `go tool pprof -raw` as {address: [(function, file, line)]}
    and the mappings as [(start, limit, offset, path)]."""
    locs, maps, cur, section = {}, [], None, None
    for line in text.splitlines():
        if line in ('Locations', 'Mappings'):
            section = line
            continue
        if section == 'Locations':
            m = pprof_raw.LOC_RE.match(line)
            if m:
                cur = []
                locs[int(m.group(2), 16)] = (int(m.group(3)), cur)
                rest = m.group(4)
            elif cur is not None and line.strip():
                rest = line.strip()
            else:
                continue
            if rest:
                f = FRAME_RE.match(rest.strip())
                cur.append((f.group(1), f.group(2), int(f.group(3))) if f else (rest.strip(), '', 0))
        elif section == 'Mappings':
            m = re.match(r'^(\d+): (0x[0-9a-f]+)/(0x[0-9a-f]+)/(0x[0-9a-f]+) (\S+)', line)
            if m:
                maps.append((int(m.group(1)), int(m.group(2), 16), int(m.group(3), 16),
                             int(m.group(4), 16), m.group(5)))
    return locs, maps


def load_segments(exe):
    """(p_offset, p_vaddr, p_filesz) of the PT_LOAD segments, from readelf."""
    out = subprocess.run(['readelf', '-lW', exe], capture_output=True, text=True, check=True).stdout
    segs = []
    for line in out.splitlines():
        f = line.split()
        if f and f[0] == 'LOAD':
            segs.append((int(f[1], 16), int(f[2], 16), int(f[4], 16)))
    return segs


def file_address(addr, start, offset, segs):
    off = addr - start + offset
    for p_off, p_vaddr, p_filesz in segs:
        if p_off <= off < p_off + p_filesz:
            return off - p_off + p_vaddr
    return None


def addr2line(exe, addrs):
    """addr2line -f -i: per address a list of (function, file, line), innermost first."""
    out = subprocess.run(['addr2line', '-f', '-i', '-a', '-e', exe] + ['0x%x' % a for a in addrs],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    res, cur, i = {}, None, 0
    while i < len(out):
        if re.match(r'^0x[0-9a-f]+$', out[i]):
            cur = res.setdefault(int(out[i], 16), [])
            i += 1
            continue
        fn, fl = out[i], out[i + 1] if i + 1 < len(out) else '??:0'
        fl = re.sub(r' \(discriminator \d+\)$', '', fl)
        file, _, line = fl.rpartition(':')
        cur.append((fn, file, int(line) if line.isdigit() else 0))
        i += 2
    return res


def clean(p):
    return os.path.normpath(p) if p and p != '??' else p


def main():
    memprof = sys.argv[1]
    t = Tap()
    tools = ['gcc', 'addr2line', 'readelf', 'go']
    missing = [x for x in tools if not shutil.which(x)]
    if missing:
        t.ok(False, 'tools installed: %s missing' % ' '.join(missing))
        return t.done()
    compilers = ['gcc'] + (['clang'] if shutil.which('clang') else [])
    with tempfile.TemporaryDirectory() as d:
        root = os.path.join(d, 'proj')
        for sub in ('src', 'include', 'sub', 'obj'):
            os.makedirs(os.path.join(root, sub))
        for name, text in (('src/leaf.c', LEAF), ('include/inl.h', INL), ('src/mid.c', MID),
                           ('src/main.c', MAIN)):
            with open(os.path.join(root, name), 'w') as f:
                f.write(text)
        # (label, [(cwd relative to root, source as named on the command line)], extra flags)
        layouts = [
            ('relative', [('.', 'src/leaf.c'), ('.', 'src/mid.c'), ('.', 'src/main.c')], []),
            ('dot-slash', [('.', './src/leaf.c'), ('.', './src/mid.c'), ('.', './src/main.c')], []),
            ('dot-dot', [('sub', '../src/leaf.c'), ('sub', '../src/mid.c'), ('sub', '../src/main.c')], []),
            ('absolute', [('.', root + '/src/leaf.c'), ('sub', root + '/src/mid.c'),
                          ('.', root + '/src/main.c')], []),
            ('mixed', [('sub', '../src/leaf.c'), ('.', './src/mid.c'), ('.', root + '/src/main.c')], []),
            ('prefix-map', [('.', 'src/leaf.c'), ('sub', '../src/mid.c'), ('.', './src/main.c')],
             ['-fdebug-prefix-map=%s=.' % root]),
        ]
        profiles = []
        for cc in compilers:
            for dwarf in ('-gdwarf-4', '-gdwarf-5'):
                for label, srcs, extra in layouts:
                    name = '%s%s-%s' % (cc, dwarf[-2:], label)
                    objs = []
                    ok = True
                    for k, (cwd, src) in enumerate(srcs):
                        obj = os.path.join(root, 'obj', '%s-%d.o' % (name, k))
                        inc = '-Iinclude' if cwd == '.' else '-I../include'
                        r = subprocess.run([cc, '-c', '-O1', dwarf, '-fno-omit-frame-pointer', inc] +
                                           extra + [src, '-o', obj],
                                           cwd=os.path.join(root, cwd), capture_output=True, text=True)
                        ok = ok and r.returncode == 0
                        objs.append(obj)
                    exe = os.path.join(root, name)
                    r = subprocess.run([cc, '-o', exe] + objs, capture_output=True, text=True)
                    if not ok or r.returncode != 0:
                        t.ok(False, '%s: builds' % name)
                        continue
                    prof = os.path.join(d, name + '.pb.gz')
                    r = subprocess.run([memprof, 'run', '-q', '--rate', '1', '-o', prof, '--', exe],
                                       capture_output=True, text=True)
                    if r.returncode != 0:
                        t.ok(False, '%s: memprof run: %s' % (name, r.stderr.strip()))
                        continue
                    profiles.append((name, exe, prof))
                    check(t, name, exe, prof, root)
        # The CLI under valgrind: one relative build, run and convert (not
        # when the CLI is built with ASan, which checks it already).
        sanitized = 'libasan' in subprocess.run(['readelf', '-d', memprof], capture_output=True,
                                                text=True).stdout
        if sanitized:
            pass
        elif shutil.which('valgrind') and profiles:
            name, exe, _ = profiles[0]
            prof = os.path.join(d, 'vg.pb.gz')
            r = subprocess.run(['valgrind', '-q', '--error-exitcode=99', '--trace-children=no',
                                memprof, 'run', '-q', '--rate', '1', '-o', prof, '--', exe],
                               capture_output=True, text=True)
            t.ok(r.returncode == 0, '%s: valgrind memprof run: no memory errors' % name,
                 r.stderr.strip()[-3000:])
            if r.returncode == 0:
                check(t, name + ' (under valgrind)', exe, prof, root)
        else:
            t.ok(False, 'valgrind is installed')
        python_tree(t, memprof, d)
    return t.done()


def python_tree(t, memprof, d):
    """python3 as PATH finds it: on a machine with pyenv a bash wrapper
    that forks and execs its way to an interpreter built from source with
    relative paths (where the first path cleaner corrupted the CLI's heap
    in about 2 runs of 15); Debian's elsewhere.  Every process writes a
    profile, the status is the program's, and every file name in every
    profile is printable and clean."""
    shim = os.path.join(os.environ.get('PYENV_ROOT', os.path.expanduser('~/.pyenv')), 'shims', 'python3')
    py = shim if os.access(shim, os.X_OK) else shutil.which('python3')
    prog = 'import json; d = {str(i): [i] * 3 for i in range(3000)}; print(len(json.dumps(d)))'
    want = subprocess.run([py, '-c', prog], capture_output=True, text=True).stdout
    outdir = os.path.join(d, 'py')
    os.mkdir(outdir)
    for k in range(3):
        r = subprocess.run([memprof, 'run', '-q', '-o', os.path.join(outdir, 'p%d.pb.gz' % k), '--',
                            py, '-c', prog], capture_output=True, text=True)
        t.ok(r.returncode == 0 and r.stdout == want and want,
             'python3 (%s) run %d: status 0, its output' % (py, k), r.stderr[-2000:])
    bad, n = [], 0
    for f in sorted(os.listdir(outdir)):
        if not f.endswith('.pb.gz') or '.fds.' in f or '.threads.' in f or '.timers.' in f:
            continue
        n += 1
        out = subprocess.run(['go', 'tool', 'pprof', '-raw', os.path.join(outdir, f)],
                             capture_output=True, text=True, env=pprof_raw.go_env())
        if out.returncode != 0:
            bad.append('%s: %s' % (f, out.stderr.strip()))
            continue
        locs, _ = frames_of(out.stdout)
        for _, frames in locs.values():
            for fn, fl, _ in frames:
                if fl and (not fl.isprintable() or fl != clean(fl)):
                    bad.append('%s: %s in %r' % (f, fn, fl))
    t.ok(n >= 3 and not bad, 'python3: %d profiles, every file name clean' % n, '\n'.join(bad[:10]))


def check(t, name, exe, prof, root):
    out = subprocess.run(['go', 'tool', 'pprof', '-raw', prof], capture_output=True, text=True,
                         env=pprof_raw.go_env())
    if out.returncode != 0:
        t.ok(False, '%s: go tool pprof -raw: %s' % (name, out.stderr.strip()))
        return
    locs, maps = frames_of(out.stdout)
    mine = [m for m in maps if m[4] == exe]
    if len(mine) != 1:
        t.ok(False, '%s: one mapping of the program (%d)' % (name, len(mine)))
        return
    mid, start, limit, offset, _ = mine[0]
    segs = load_segments(exe)
    wanted = {}
    for addr, (m, frames) in locs.items():
        if m == mid:
            wanted[addr] = file_address(addr, start, offset, segs)
    want = addr2line(exe, [a for a in wanted.values() if a is not None])
    bad = []
    functions = set()
    for addr, faddr in sorted(wanted.items()):
        got = locs[addr][1]
        exp = [(fn, clean(fl), ln) for fn, fl, ln in want.get(faddr, [])]
        # _start and the like: no line information in either.
        exp = [(fn, fl if fl != '??' else '', ln) for fn, fl, ln in exp]
        gotc = [(fn, clean(fl), ln) for fn, fl, ln in got]
        # With a relative comp_dir in DWARF 5, addr2line (and llvm-symbolizer)
        # join the directory entry 0 twice and name a file that does not
        # exist ("./sub/./sub/../src/x.c"): compare base names there, the
        # existence check below holds memprof's names to the truth.
        exp = [(fn, fl if not fl or os.path.isabs(fl) or os.path.exists(os.path.join(root, fl))
                else os.path.basename(fl), ln) for fn, fl, ln in exp]
        gotc = [(fn, os.path.basename(fl) if fl and os.path.basename(fl) == e[1] else fl, ln)
                for (fn, fl, ln), e in zip(gotc, exp + [('', '', 0)] * len(gotc))]
        for fn, fl, _ in got:
            functions.add(fn)
            if fl and (not fl.isprintable() or fl != clean(fl) or '\ufffd' in fl):
                bad.append('0x%x: file name %r not clean' % (faddr, fl))
        if gotc != exp:
            bad.append('0x%x: memprof %s, addr2line %s' % (faddr, gotc, exp))
    t.ok(not bad, '%s: %d locations agree with addr2line -f -i' % (name, len(wanted)),
         '\n'.join(bad[:10]))
    t.ok({'leaf', 'grab', 'mid', 'main'} <= functions,
         '%s: leaf, grab (inlined), mid and main found' % name)
    files = {fl for a in wanted for _, fl, _ in locs[a][1] if fl}
    under = [f for f in files if os.path.isabs(f)]
    t.ok(all(f.startswith(root + '/') for f in under) and
         all(os.path.exists(f) for f in under) and
         all(not os.path.isabs(f) and os.path.exists(os.path.join(root, f))
             for f in files - set(under)),
         '%s: every file exists (absolute, or relative to the project with a relative comp_dir): %s'
         % (name, sorted(files)))


if __name__ == '__main__':
    sys.exit(main())
