#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Rust programs: their symbols demangled (src/symbolize/demangle.c), in
both manglings.  A program with Vec, String and Box allocations in nested
functions and one leaked Box is built with rustc four ways: the default
mangling (legacy as of rustc 1.95: _ZN...17h<hash>E) and v0 (_R...), each
with DWARF (linkage names) and without (symbol table names).  Each runs
under `memprof run --rate 1 --leak-check`; then
  - go tool pprof -raw: the exact bytes under prog::make_vec (8000),
    prog::make_string (3000), prog::outer::inner::nested (7000) and
    prog::leak_box (5000);
  - memprof top and go tool pprof -top: the same names, none mangled and
    none with a legacy hash (::h<16 hex digits>);
  - the JSON leak report: 5000 bytes definitely lost under prog::leak_box;
  - memprof flame: the names in the SVG.
Then the symbolization cache: a second run answered from it names the same,
and a cache file of version 1 (written before Rust names were demangled) is
ignored and rewritten.
Needs rustc (PATH, $CARGO_HOME/bin or ~/.cargo/bin); without it every check
is skipped, saying why.  A rustc program uses the system malloc (no
jemalloc), which the shim serves.

usage: check-rust.py MEMPROF   (MEMPROF_SHIM set)"""
import glob
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import pprof_raw  # noqa: E402
from tap import Tap  # noqa: E402

PROG = r'''// Vec, String and Box allocations in nested functions; one leak.
use std::hint::black_box;

#[inline(never)]
fn make_vec() -> Vec<u64> {
    Vec::with_capacity(1000)
}

#[inline(never)]
fn make_string() -> String {
    String::with_capacity(3000)
}

#[inline(never)]
fn leak_box() -> &'static mut [u8; 5000] {
    Box::leak(Box::new([7u8; 5000]))
}

mod outer {
    pub mod inner {
        #[inline(never)]
        pub fn nested() -> Box<[u8; 7000]> {
            Box::new([1u8; 7000])
        }
    }
}

fn main() {
    let v = black_box(make_vec());
    let s = black_box(make_string());
    let b = black_box(outer::inner::nested());
    let l = black_box(leak_box());
    println!("{} {} {} {}", v.capacity(), s.capacity(), b.len(), l.len());
}
'''

WANT = {'prog::make_vec': 8000, 'prog::make_string': 3000,
        'prog::outer::inner::nested': 7000, 'prog::leak_box': 5000}
MANGLED = re.compile(r'(^|[\s<(&])(_ZN|_R[A-Z])|::h[0-9a-f]{16}\b')


def find_rustc():
    """rustc's path, or None with the reason."""
    cands = [shutil.which('rustc')]
    if os.environ.get('CARGO_HOME'):
        cands.append(os.path.join(os.environ['CARGO_HOME'], 'bin', 'rustc'))
    cands.append(os.path.expanduser('~/.cargo/bin/rustc'))
    for c in cands:
        if c and os.access(c, os.X_OK):
            r = subprocess.run([c, '--version'], capture_output=True, text=True)
            if r.returncode == 0:
                return c, r.stdout.strip()
            return None, '%s --version failed: %s' % (c, r.stderr.strip().splitlines()[-1:])
    return None, 'no rustc on PATH, in $CARGO_HOME/bin or ~/.cargo/bin'


def mangled_name(exe, fn):
    """The linker name of prog's function fn in exe's symbol table."""
    out = subprocess.run(['nm', exe], capture_output=True, text=True).stdout
    for line in out.split('\n'):
        name = line.split()[-1] if line.split() else ''
        if fn in name and '4prog' in name:
            return name
    return ''


def names_in_report(text):
    """Function names of a -top report (memprof's or pprof's)."""
    names = []
    for line in text.splitlines():
        cols = line.split(None, 5)
        if len(cols) == 6 and cols[1].endswith('%') and cols[4].endswith('%'):
            names.append(cols[5])
    return names


def run_checks(t, memprof, exe, what, d, env):
    prof = os.path.join(d, 'p.heap.pb.gz')
    leaks = os.path.join(d, 'leaks.json')
    r = subprocess.run([memprof, 'run', '-q', '--rate', '1', '--leak-check', '--leak-report', leaks,
                        '-o', prof, exe], capture_output=True, text=True, env=env)
    if not t.ok(r.returncode == 0 and os.path.exists(prof), '%s: memprof run' % what, r.stderr):
        return
    types, cum = pprof_raw.cum_by_function(prof)
    ai = types.index('alloc_space')
    got = {f: cum.get(f, [0] * len(types))[ai] for f in WANT}
    t.eq(got, WANT, '%s: pprof -raw: exact bytes under each demangled function' % what,
         '\n'.join(sorted(cum)))
    top = subprocess.run([memprof, 'top', '-n', '500', '--sample-index', 'alloc_space', prof],
                         capture_output=True, text=True, env=env).stdout
    gtop = subprocess.run(['go', 'tool', 'pprof', '-sample_index=alloc_space', '-nodecount=500',
                           '-top', prof], capture_output=True, text=True,
                          env=pprof_raw.go_env()).stdout
    for name, text in (('memprof top', top), ('go tool pprof -top', gtop)):
        names = names_in_report(text)
        missing = [f for f in WANT if f not in names]
        mangled = [n for n in names if MANGLED.search(n)]
        t.ok(names and not missing and not mangled,
             '%s: %s names %d functions, the program\'s demangled, none mangled or hashed' %
             (what, name, len(names)), 'missing %r, mangled %r' % (missing, mangled[:5]))
    t.eq(sorted(names_in_report(top)), sorted(names_in_report(gtop)),
         '%s: memprof top and go tool pprof -top name the same functions' % what)
    with open(leaks) as f:
        rep = json.load(f)
    lost = [l for l in rep.get('leaks', []) if l.get('category') == 'definite']
    t.ok(len(lost) == 1 and lost[0]['bytes'] == 5000 and
         any(fr.get('function') == 'prog::leak_box' for fr in lost[0]['stack']) and
         not any(MANGLED.search(fr.get('function', '')) for fr in lost[0]['stack']),
         '%s: leak report: 5000 bytes definitely lost under prog::leak_box, no mangled frame' % what,
         json.dumps(lost)[:2000])
    svg = os.path.join(d, 'f.svg')
    subprocess.run([memprof, 'flame', '--sample-index', 'alloc_space', '-o', svg, prof],
                   check=True, env=env)
    with open(svg) as f:
        body = f.read()
    t.ok(all(fn in body for fn in WANT) and not re.search(r'_ZN\d|_RN[vCtsMXY]', body),
         '%s: flame graph names the demangled functions, none mangled' % what)


def cache_checks(t, memprof, exe, d, env):
    cdir = os.path.join(d, 'cache')
    env = dict(env, MEMPROF_CACHE_DIR=cdir)
    tops = []
    for i in range(3):
        prof = os.path.join(d, 'c%d.heap.pb.gz' % i)
        subprocess.run([memprof, 'run', '-q', '--rate', '1', '-o', prof, exe], check=True,
                       capture_output=True, env=env)
        tops.append(sorted(names_in_report(subprocess.run(
            [memprof, 'top', '-n', '500', prof], capture_output=True, text=True, env=env).stdout)))
        files = glob.glob(os.path.join(cdir, '*.symc'))
        if i == 1:
            # Make every cache file look written by version 1.
            for p in files:
                with open(p, 'r+b') as f:
                    f.seek(8)
                    f.write(struct.pack('<I', 1))
    t.ok(files and tops[0] == tops[1] == tops[2] and not any(MANGLED.search(n) for n in tops[2]),
         'cache: the same demangled names uncached, from the cache, and past a version-1 file',
         '%r\n%r\n%r' % tuple(tops))
    versions = []
    for p in files:
        with open(p, 'rb') as f:
            versions.append(struct.unpack('<I', f.read(12)[8:12])[0])
    t.ok(versions and all(v == 2 for v in versions),
         'cache: the version-1 files were rewritten as version 2', repr(versions))


def main():
    memprof = os.path.abspath(sys.argv[1])
    rustc, info = find_rustc()
    if not rustc:
        print('1..0 # SKIP Rust demangling checks: %s' % info)
        return 0
    t = Tap()
    print('# %s' % info)
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, 'prog.rs')
        with open(src, 'w') as f:
            f.write(PROG)
        env = dict(os.environ, MEMPROF_CACHE_DIR='off')
        builds = [('default mangling', []), ('v0', ['-C', 'symbol-mangling-version=v0'])]
        exes = {}
        for mangling, flags in builds:
            for debug in ('DWARF', 'symbols only'):
                bdir = os.path.join(d, '%s-%s' % (mangling[0], debug[0]))
                os.mkdir(bdir)
                exe = os.path.join(bdir, 'prog')
                dflags = ['-g'] if debug == 'DWARF' else ['-C', 'debuginfo=0', '-C', 'strip=debuginfo']
                r = subprocess.run([rustc, '-C', 'opt-level=1'] + flags + dflags + ['-o', exe, src],
                                   capture_output=True, text=True)
                if not t.ok(r.returncode == 0, 'rustc %s, %s' % (mangling, debug), r.stderr):
                    continue
                sym = mangled_name(exe, 'make_vec')
                scheme = 'v0' if sym.startswith('_R') else 'legacy' if sym.startswith('_ZN') else '?'
                if mangling == 'v0':
                    t.eq(scheme, 'v0', 'v0 build: prog::make_vec is mangled %s' % sym)
                what = '%s (%s), %s' % (mangling, scheme, debug)
                exes[what] = exe
                run_checks(t, memprof, exe, what, bdir, env)
        if exes:
            cache_checks(t, memprof, list(exes.values())[0], d, env)
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
