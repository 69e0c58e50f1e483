#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""memprof diff against go tool pprof -top -diff_base: heap profiles of a
program that keeps N x 256 B in one function (N = 1000 and 3000, --rate 1:
exactly +512000 B there), pseudo-random profiles from mkprofile (every
sample type, both orders; incompatible pairs refused by both), Go's own heap
profile; the difference profile written with -o; the growth gates; bad
input.  usage: check-diff.py MEMPROF MKPROFILE T_GROW HEAPPROG_GO"""
import gzip
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import pprof_raw  # noqa: E402
from tap import Tap  # noqa: E402


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, **kw)


def main():
    memprof, mkprofile, t_grow, heapprog = sys.argv[1:5]
    t = Tap()
    if not shutil.which('go'):
        print('1..0 # SKIP go is not installed')
        return 0
    with tempfile.TemporaryDirectory() as d:
        env = dict(os.environ, GOCACHE=os.path.join(d, 'gocache'), GOPATH=os.path.join(d, 'gopath'),
                   GOFLAGS='-mod=mod', GOTOOLCHAIN='local', GOPROXY='off', TZ='UTC')

        def compare(base, after, flags, what):
            # flags: [(memprof flag..., go tool pprof flag)]
            g = run(['go', 'tool', 'pprof', '-top'] + [f[-1] for f in flags]
                    + ['-diff_base', base, after], env=env)
            m = run([memprof, 'diff'] + [x for f in flags for x in f[:-1]] + [base, after], env=env)
            if g.returncode != 0:
                t.ok(m.returncode != 0 and m.stderr.count('\n') == 1 and m.stdout == '',
                     '%s: refused like go tool pprof' % what, m.stderr + g.stderr)
            else:
                t.eq(m.stdout, g.stdout, '%s: same as go tool pprof -top -diff_base' % what)

        # The growing program.
        p1, p3 = os.path.join(d, 'g1000.heap.pb.gz'), os.path.join(d, 'g3000.heap.pb.gz')
        for n, p in [('1000', p1), ('3000', p3)]:
            r = run([memprof, 'run', '-q', '--rate', '1', '-o', p, t_grow, n])
            t.eq(r.returncode, 0, 't-grow %s profiled' % n)
        for idx in [[], [('-i', 'alloc_space', '-sample_index=alloc_space')],
                    [('--sample-index', 'inuse_objects', '-sample_index=inuse_objects')],
                    [('-i', '0', '-sample_index=0')], [('-n', '2', '-nodecount=2')]]:
            compare(p1, p3, idx, 'grow %s' % ' '.join(f[-1] for f in idx))
        compare(p3, p1, [], 'shrink')
        out = os.path.join(d, 'diff.pb.gz')
        r = run([memprof, 'diff', '-o', out, p1, p3])
        types, samples, locations = pprof_raw.read_raw(out)
        ii = types.index('inuse_space')
        by_leaf = {}
        for values, locs, _ in samples:
            leaf = locations[locs[0]][0].split('(')[0]
            by_leaf[leaf] = by_leaf.get(leaf, 0) + values[ii]
        t.eq(by_leaf.get('leak_blocks'), 512000, 'the difference profile: exactly +512000 B in leak_blocks')
        t.eq(by_leaf.get('fixed'), 0, 'the difference profile: the fixed block cancels out')
        g = run(['go', 'tool', 'pprof', '-top', out], env=env)
        t.eq(g.returncode, 0, 'go tool pprof opens the difference profile')

        r = run([memprof, 'diff', '--fail-on-growth', '500000', p1, p3])
        t.ok(r.returncode == 3 and 'grew by 512000, more than 500000' in r.stderr
             and 'leak_blocks;main;' in r.stderr, '--fail-on-growth 500000: exit 3, names the stack', r.stderr)
        r = run([memprof, 'diff', '--fail-on-growth', '500KiB', p1, p3])
        t.eq(r.returncode, 0, '--fail-on-growth 500KiB (512000 B): passes')
        r = run([memprof, 'diff', '--fail-on-stack-growth', '499999', p1, p3])
        t.eq(r.returncode, 3, '--fail-on-stack-growth below the growth: exit 3')
        r = run([memprof, 'diff', '--fail-on-growth', '1MiB', p3, p1])
        t.eq(r.returncode, 0, 'shrinking never fails the gate')
        r = run([memprof, 'diff', '--fail-on-growth', '500000', p1, p3])
        t.ok('sampled' not in r.stderr, '--rate 1 profiles: no sampling note', r.stderr)
        # Sampled profiles: the gate's verdict stands (+512000 B estimated
        # within a few KiB at one sample every 64 B), with a note that two
        # runs' estimates differ by chance.
        s1, s3 = os.path.join(d, 's1000.heap.pb.gz'), os.path.join(d, 's3000.heap.pb.gz')
        for n, p in [('1000', s1), ('3000', s3)]:
            run([memprof, 'run', '-q', '--rate', '64', '-o', p, t_grow, n])
        r = run([memprof, 'diff', '--fail-on-stack-growth', '100000', s1, s3])
        t.ok(r.returncode == 3 and 'memprof: note: the profiles are sampled (one sample every '
             '64 bytes allocated, on average)' in r.stderr and "--rate 1' for an exact gate"
             in r.stderr, 'sampled profiles: exit 3, and the note on sampling error', r.stderr)

        # Pseudo-random profiles: compatible pairs compared, others refused.
        seeds = [str(s) for s in range(1, 9)]
        paths = {}
        for s in seeds:
            paths[s] = os.path.join(d, 'r%s.pb.gz' % s)
            run([mkprofile, s, paths[s]])
        for a, b in zip(seeds, seeds[1:] + seeds[:1]):
            compare(paths[a], paths[b], [], 'mkprofile %s vs %s' % (a, b))
            compare(paths[a], paths[a], [], 'mkprofile %s vs itself' % a)

        # memprof merge: its top equals go tool pprof -top given all the files.
        def merge_compare(files, what):
            out = os.path.join(d, 'merged.pb.gz')
            m = run([memprof, 'merge', '-o', out] + files, env=env)
            g = run(['go', 'tool', 'pprof', '-top'] + files, env=env)
            if g.returncode != 0:
                t.ok(m.returncode == 1 and m.stderr.count('\n') == 1, 'merge %s: refused like pprof' % what,
                     m.stderr + g.stderr)
                return
            top = run([memprof, 'top', out], env=env)
            t.eq((m.returncode, top.stdout), (0, g.stdout), 'merge %s: same as go tool pprof -top FILES' % what)
            gm = run(['go', 'tool', 'pprof', '-top', out], env=env)
            t.eq(gm.stdout, g.stdout, 'merge %s: go tool pprof reads the merged file the same' % what)
        merge_compare([p1, p3], 'two runs')
        merge_compare([p1, p3, p1], 'three files')
        for a, b in zip(seeds, seeds[1:]):
            merge_compare([paths[a], paths[b]], 'mkprofile %s + %s' % (a, b))
        r = run([memprof, 'merge', p1])
        t.ok(r.returncode == 2 and r.stderr.count('\n') == 1, 'merge without -o: usage error', r.stderr)

        # Go's own heap profile.
        gdir = os.path.join(d, 'go')
        os.mkdir(gdir)
        shutil.copy(heapprog, gdir)
        b = run(['go', 'build', '-o', 'heapprog', 'heapprog.go'], cwd=gdir, env=env)
        if b.returncode == 0 and run([os.path.join(gdir, 'heapprog'), os.path.join(d, 'go.pb.gz')],
                                     env=env).returncode == 0:
            compare(p1, os.path.join(d, 'go.pb.gz'), [], "memprof's heap profile vs Go's")
            compare(os.path.join(d, 'go.pb.gz'), os.path.join(d, 'go.pb.gz'), [], "Go's vs Go's")
        else:
            t.ok(False, 'build and run heapprog.go', b.stderr)

        # Bad input: one line, exit 1, an existing -o file untouched.
        bad = {
            'empty': b'',
            'random': os.urandom(300),
            'truncated gzip': gzip.compress(open(p1, 'rb').read()[:50])[:-10],
            'gzip of garbage': gzip.compress(b'\x08\x96\x01' * 50),
        }
        keep = os.path.join(d, 'keep.pb.gz')
        shutil.copy(p1, keep)
        before = open(keep, 'rb').read()
        for what, data in bad.items():
            f = os.path.join(d, 'bad.pb.gz')
            with open(f, 'wb') as fh:
                fh.write(data)
            for args in [[f, p1], [p1, f]]:
                r = run([memprof, 'diff', '-o', keep] + args)
                t.ok(r.returncode == 1 and r.stderr.startswith('memprof: ') and r.stderr.count('\n') == 1,
                     'diff with %s input: one-line error, exit 1' % what, r.stderr)
            r = run([memprof, 'merge', '-o', keep, p1, f])
            t.ok(r.returncode == 1 and r.stderr.count('\n') == 1, 'merge with %s input: exit 1' % what, r.stderr)
        r = run([memprof, 'diff', '-o', keep, os.path.join(d, 'missing'), p1])
        t.ok(r.returncode == 1 and "cannot read profile" in r.stderr, 'missing file: exit 1', r.stderr)
        t.ok(open(keep, 'rb').read() == before, 'an existing -o file is untouched by failed runs')
        for argv, what in [([p1], 'one profile'), ([p1, p1, p1], 'three profiles'),
                           (['--fail-on-growth', 'lots', p1, p3], 'bad size'),
                           (['-i', 'nosuch', p1, p3], 'unknown sample index')]:
            r = run([memprof, 'diff'] + argv)
            t.ok(r.returncode == 2 and r.stderr.count('\n') == 1, '%s: usage error, exit 2' % what, r.stderr)
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
