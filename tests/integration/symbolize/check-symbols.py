#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Every sampled address of real programs, symbolized three ways: by the
symbolizer, by the one memprof had before its own symbol index (libdwfl's
dwfl_module_addrinfo and libdw: tests/bench/symref.c), and by binutils'
addr2line -f -i.  Programs: gcc's cc1 (a 30 MB stripped C++ binary) with
libstdc++, python3 (Debian's, and pyenv's build with relative paths when
present), each with libc (with its detached debug file when libc6-dbg is
installed).  Function, file, line and inlined frames must be identical to
the reference's on every address, and agree with addr2line wherever
addr2line has a function name (file names compared after lexical
cleaning; addr2line names the first of several aliases the symbol table
lists at an address, and its DWARF 5 file names with a relative comp_dir
are known wrong, see check-relpaths.py).

usage: check-symbols.py SHIM SYM-BENCH   (MEMPROF_SHIM, when set, wins)"""
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from tap import Tap  # noqa: E402


def load_segments(path, cache={}):
    if path not in cache:
        out = subprocess.run(['readelf', '-lW', path], capture_output=True, text=True).stdout
        cache[path] = [(int(f[1], 16), int(f[2], 16), int(f[4], 16))
                       for f in (l.split() for l in out.splitlines()) if f and f[0] == 'LOAD']
    return cache[path]


def addr2line(path, addrs):
    out = subprocess.run(['addr2line', '-f', '-i', '-C', '-a', '-e', path] + ['0x%x' % a for a in addrs],
                         capture_output=True, text=True).stdout.splitlines()
    res, cur, i = {}, None, 0
    while i < len(out):
        if re.match(r'^0x[0-9a-f]+$', out[i]):
            cur = res.setdefault(int(out[i], 16), [])
            i += 1
            continue
        fn = out[i]
        fl = re.sub(r' \(discriminator \d+\)$', '', out[i + 1] if i + 1 < len(out) else '??:0')
        file, _, line = fl.rpartition(':')
        cur.append((fn, file, int(line) if line.isdigit() else 0))
        i += 2
    return res


def llvm_symbolizer(path, addrs):
    """llvm-symbolizer's frames per address (innermost first), or None."""
    tool = shutil.which('llvm-symbolizer')
    if not tool or not addrs:
        return None
    out = subprocess.run([tool, '--obj=' + path, '--inlining', '--demangle'] + ['0x%x' % a for a in addrs],
                         capture_output=True, text=True).stdout
    blocks = [b for b in out.split('\n\n')]
    res = {}
    for a, b in zip(addrs, blocks):
        lines = [l for l in b.strip().splitlines()]
        frames = []
        for i in range(0, len(lines) - 1, 2):
            m = re.match(r'^(.*):(\d+):\d+$', lines[i + 1])
            frames.append((lines[i], m.group(1) if m else '??', int(m.group(2)) if m else 0))
        res[a] = frames
    return res


def same_frames(exp, frames):
    """exp: (function, file, line) from a tool; frames: memprof's."""
    if [e for e in exp if e[0] != '??'] == [] and not frames:
        return True
    if len(exp) != len(frames):
        return False
    for (efn, efl, eln), (gfn, gfl, gln) in zip(exp, frames):
        if efl != '??' and gfl:
            same_file = (os.path.normpath(efl) == os.path.normpath(gfl) or
                         os.path.basename(efl) == os.path.basename(gfl))
        else:
            same_file = (efl == '??') == (not gfl)
        if efn != gfn or not same_file or eln != int(gln):
            return False
    return True


def same_frames_either(a, b, frames):
    """Each frame's function, file and line as one tool or the other has it
    (binutils names glibc's internal alias with a misnumbered DWARF 5 file,
    llvm-symbolizer the public name with the right file)."""
    if len(a) != len(frames) or len(b) != len(frames):
        return False
    return all(same_frames([x], [g]) or same_frames([y], [g]) or
               (x[0] == g[0] and x[2] == int(g[2]) and same_frames([(y[0], y[1], y[2])], [(y[0],) + g[1:]]))
               for x, y, g in zip(a, b, frames))


def main():
    # A sanitizer build's own shim cannot be preloaded: there the caller
    # names a plain one (scripts/test.sh).
    shim, symbench = os.environ.get('MEMPROF_SHIM') or sys.argv[1], sys.argv[2]
    t = Tap()
    if not shutil.which('addr2line'):
        t.ok(False, 'addr2line is installed')
        return t.done()
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, 'x.c')
        with open(src, 'w') as f:
            for i in range(300):
                f.write('struct s%d { int a, b; char c[%d]; };\n'
                        'int f%d(struct s%d *p, int n) { int s = 0; for (int i = 0; i < n; i++) '
                        's += p[i].a * %d + p[i].c[i %% %d]; return s; }\n' % (i, i % 13 + 1, i, i, i, i % 13 + 1))
        py = '/usr/bin/python3'
        pyenv = os.path.join(os.environ.get('PYENV_ROOT', os.path.expanduser('~/.pyenv')), 'shims', 'python3')
        cases = [('cc1', ['gcc', '-O2', '-g', '-c', src, '-o', os.path.join(d, 'x.o')], '1')]
        if os.path.exists(py):
            cases.append(('python3', [py, '-c', 'import json; print(len(json.dumps({str(i): [i] for i in range(20000)})))'], '1'))
        if os.access(pyenv, os.X_OK):
            cases.append(('pyenv-python3', [pyenv, '-c', 'import json; print(len(json.dumps({str(i): [i] for i in range(20000)})))'], '64'))
        for name, cmd, rate in cases:
            snapdir = os.path.join(d, name)
            os.mkdir(snapdir)
            env = dict(os.environ, LD_PRELOAD=shim, MEMPROF_OPTIONS='rate=%s,snapdir=%s' % (rate, snapdir),
                       PYTHONMALLOC='malloc')
            r = subprocess.run(cmd, env=env, capture_output=True, text=True)
            snaps = [os.path.join(snapdir, f) for f in os.listdir(snapdir) if f.endswith('.snap')]
            if r.returncode != 0 or not snaps:
                t.ok(False, '%s: runs and writes snapshots' % name, r.stderr[-2000:])
                continue
            chk = subprocess.run([symbench, 'check'] + snaps, capture_output=True, text=True)
            last = chk.stderr.strip().splitlines()[-1] if chk.stderr.strip() else ''
            diffs = [l for l in chk.stderr.splitlines() if l.startswith('differ')]
            t.ok(chk.returncode == 0, '%s: %s' % (name, last), '\n'.join(diffs[:15]))
            # Against addr2line, file by file.
            per_file = collections.defaultdict(list)
            for line in chk.stdout.splitlines():
                f = line.split('\t')
                path, addr, start, offset = f[0], int(f[1], 16), int(f[3], 16), int(f[4], 16)
                frames = [tuple(x.split('|')) for x in f[5:]]
                per_file[path].append((addr, start, offset, frames))
            for path, entries in sorted(per_file.items()):
                segs = load_segments(path)
                fa = {}
                for addr, start, offset, frames in entries:
                    off = addr - start + offset
                    for p_off, p_vaddr, p_filesz in segs:
                        if p_off <= off < p_off + p_filesz:
                            fa[addr] = off - p_off + p_vaddr
                want = addr2line(path, sorted(set(fa.values())))
                n = agree = skipped = 0
                wrong = []
                for addr, start, offset, frames in entries:
                    exp = want.get(fa.get(addr), [])
                    if not exp:
                        skipped += 1
                        continue
                    n += 1
                    if same_frames(exp, frames):
                        agree += 1
                    else:
                        wrong.append((addr, frames, exp))
                # Where addr2line disagrees, llvm-symbolizer decides: binutils
                # 2.40 misnumbers some DWARF 5 file entries, and names the
                # nearest preceding symbol for an address no symbol holds.
                arb = llvm_symbolizer(path, sorted({fa[a] for a, _, _ in wrong if a in fa})) or {}
                bad, settled = [], 0
                for addr, frames, exp in wrong:
                    if fa.get(addr) in arb and (same_frames(arb[fa[addr]], frames) or
                                                same_frames_either(exp, arb[fa[addr]], frames)):
                        settled += 1
                    else:
                        bad.append('0x%x: memprof %s addr2line %s llvm-symbolizer %s'
                                   % (fa.get(addr, 0), frames, exp, arb.get(fa.get(addr))))
                t.ok(not bad, '%s: %s: %d addresses agree with addr2line -f -i, %d more with '
                     'llvm-symbolizer where addr2line errs, %d differ'
                     % (name, os.path.basename(path), agree, settled, len(bad)), '\n'.join(bad[:10]))
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
