#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Real programs from Debian produce byte-identical output and the same exit
status under `memprof run` (default rate and --rate 1), and their profiles
open in go tool pprof.  usage: check-real.py MEMPROF"""
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
        cases = [
            ('python3', [py3, '-c', 'import json; d={str(i): [i]*3 for i in range(20000)}; '
                         'print(len(json.dumps(d)))'], None, {'PYTHONMALLOC': 'malloc'}),
            ('sqlite3', ['sqlite3', ':memory:'], sql, {}),
            ('xmllint', ['xmllint', '--format', xml], None, {}),
            ('jq', ['jq', '-c', 'map(.a) | add', js], None, {}),
        ]
        for name, cmd, stdin, extra in cases:
            if not shutil.which(cmd[0]):
                t.ok(False, '%s is installed' % name)
                continue
            env = dict(os.environ, **extra)
            want = subprocess.run(cmd, input=stdin, capture_output=True, text=True, env=env)
            for rate in ['524288', '1']:
                out = os.path.join(d, '%s.%s.pb.gz' % (name, rate))
                got = subprocess.run([memprof, 'run', '-q', '--rate', rate, '-o', out, '--'] + cmd,
                                     input=stdin, capture_output=True, text=True, env=env)
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
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
