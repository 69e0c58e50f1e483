#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Real programs from Debian produce byte-identical output and the same exit
status under `memprof run` (default rate and --rate 1, on memprof's own
allocator, and at the default rate on glibc's with --allocator system), and
their profiles open in go tool pprof; memprof's own stack walker finds, on
every stack of every allocation, the frames libunwind finds (unwind=2, the
shim preloaded directly).  usage: check-real.py MEMPROF (MEMPROF_SHIM set)"""
import re
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import pprof_raw  # noqa: E402
from tap import Tap  # noqa: E402


def main():
    memprof = sys.argv[1]
    t = Tap()
    py3 = '/usr/bin/python3' if os.path.exists('/usr/bin/python3') else shutil.which('python3')
    with tempfile.TemporaryDirectory() as d:
        xml = os.path.join(d, 'a.xml')
        with open(xml, 'w') as f:
            f.write('<r>' + ''.join('<i n="%d">v%d</i>' % (i, i) for i in range(3000)) + '</r>')
        js = os.path.join(d, 'a.json')
        with open(js, 'w') as f:
            f.write('[' + ','.join('{"a":%d,"b":"x%d"}' % (i, i) for i in range(3000)) + ']')
        sql = ("create table t(a, b); insert into t select value, 'v' || value from "
               "generate_series(1, 3000); select count(*), sum(a), max(b) from t;")
        csrc = os.path.join(d, 'prog.c')
        with open(csrc, 'w') as f:
            f.write('#include <stdio.h>\nstruct p { int x, y; };\n'
                    'static int area(struct p a, struct p b) { return (b.x - a.x) * (b.y - a.y); }\n'
                    'int main(int c, char **v) { struct p a = {c, 2}, b = {7, 9};\n'
                    '  printf("%d %s\\n", area(a, b), v[0]); return 0; }\n')
        repo = os.path.join(d, 'repo')
        genv = dict(os.environ, GIT_AUTHOR_NAME='a', GIT_AUTHOR_EMAIL='a@example.org',
                    GIT_COMMITTER_NAME='a', GIT_COMMITTER_EMAIL='a@example.org',
                    GIT_AUTHOR_DATE='2026-01-01T00:00:00Z', GIT_COMMITTER_DATE='2026-01-01T00:00:00Z',
                    GIT_CONFIG_NOSYSTEM='1', HOME=d)
        have_git = shutil.which('git') is not None
        if have_git:
            os.mkdir(repo)
            for k, args in enumerate([['init', '-q', '-b', 'main'], None, ['add', '.'],
                                      ['commit', '-q', '-m', 'one'], None, ['commit', '-q', '-am', 'two']]):
                if args is None:
                    with open(os.path.join(repo, 'f%d.txt' % (k % 3)), 'w') as f:
                        f.write(''.join('line %d of %d\n' % (i, k) for i in range(500)))
                    continue
                subprocess.run(['git', '-C', repo] + args, env=genv, check=True)
        cases = [
            ('python3', [py3, '-c', 'import json; d={str(i): [i]*3 for i in range(20000)}; '
                         'print(len(json.dumps(d)))'], None, {'PYTHONMALLOC': 'malloc'}),
            ('sqlite3', ['sqlite3', ':memory:'], sql, {}),
            ('xmllint', ['xmllint', '--format', xml], None, {}),
            ('jq', ['jq', '-c', 'map(.a) | add', js], None, {}),
            ('gcc', ['gcc', '-O2', '-S', '-o', '-', csrc], None, {}),
            ('git', ['git', '-C', repo, 'log', '-p', '--stat'], None,
             {k: v for k, v in genv.items() if k.startswith('GIT_') or k == 'HOME'}),
        ]
        for name, cmd, stdin, extra in cases:
            if not shutil.which(cmd[0]):
                t.ok(False, '%s is installed' % name)
                continue
            env = dict(os.environ, **extra)
            want = subprocess.run(cmd, input=stdin, capture_output=True, text=True, env=env)
            for rate, alloc in [('524288', 'memprof'), ('1', 'memprof'), ('524288', 'system')]:
                out = os.path.join(d, '%s.%s.pb.gz' % (name, rate))
                got = subprocess.run([memprof, 'run', '-q', '--rate', rate, '--allocator', alloc,
                                      '-o', out, '--'] + cmd,
                                     input=stdin, capture_output=True, text=True, env=env)
                rate = rate if alloc == 'memprof' else rate + ' (system allocator)'
                t.eq(got.returncode, want.returncode, '%s rate %s: exit status' % (name, rate))
                t.ok(got.stdout == want.stdout, '%s rate %s: identical stdout (%d bytes)'
                     % (name, rate, len(want.stdout)))
                t.eq(got.stderr, want.stderr, '%s rate %s: identical stderr' % (name, rate))
                try:
                    types, samples, _ = pprof_raw.read_raw(out)
                    allocs = sum(v[0] for v, _, _ in samples)
                    t.ok(types == ['alloc_objects', 'alloc_space', 'inuse_objects', 'inuse_space']
                         and (allocs > 0 or rate != '1'),
                         '%s rate %s: go tool pprof reads the profile (%d allocations)'
                         % (name, rate, allocs))
                except Exception as e:  # noqa: BLE001
                    t.ok(False, '%s rate %s: go tool pprof reads the profile' % (name, rate), e)
            # Both walkers on every allocation's stack: they must agree.
            shim = os.environ.get('MEMPROF_SHIM')
            if shim:
                venv = dict(env, LD_PRELOAD=shim, MEMPROF_OPTIONS='rate=1,unwind=2,snapdir=' + d)
                got = subprocess.run(cmd, input=stdin, capture_output=True, text=True, env=venv)
                checks = re.findall(r'memprof: warning: unwind check: (\d+) of (\d+)\n', got.stderr)
                total = sum(int(n) for _, n in checks)
                t.ok(got.stdout == want.stdout and checks and total > 0 and
                     all(int(bad) == 0 for bad, _ in checks),
                     '%s: memprof\'s stack walker agrees with libunwind on %d stacks'
                     % (name, total), got.stderr[-500:])
                for f in os.listdir(d):
                    if f.endswith('.snap'):
                        os.unlink(os.path.join(d, f))
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
