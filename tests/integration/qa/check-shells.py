#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Real programs we did not write, as a user runs them: shell scripts with
pipelines, subshells and command substitution under `memprof run
--leak-check`, with the same output and exit status as without memprof,
and the leak check's verdict on what the program itself left open.
usage: check-shells.py MEMPROF (MEMPROF_SHIM set)"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from tap import Tap  # noqa: E402
from qarun import run  # noqa: E402


def fd_leaks(report):
    with open(report) as f:
        j = json.load(f)
    return sorted((r['fd'], r['detail']) for l in j['leaks'] if l['kind'] == 'fd'
                  for r in l['resources']), j['summary']['fds']


def main():
    memprof = os.path.abspath(sys.argv[1])
    t = Tap()
    bash = shutil.which('bash')
    with tempfile.TemporaryDirectory() as d:
        # A command substitution's and a pipeline's subshells have their
        # stdout on the pipe their parent made (dup2'd onto 1): the standard
        # streams are never leaks (Valgrind's --track-fds counts them apart),
        # so a clean script passes --error-exitcode.
        script = 'x=$(echo hi); echo "$x" | cat; (echo sub) | cat; exit 3'
        native = run([bash, '-c', script], d)
        rep = os.path.join(d, 'clean.json')
        r = run([memprof, 'run', '-q', '--leak-check', '--error-exitcode', '42',
                 '--leak-report', rep, '-o', os.path.join(d, 'c.heap.pb.gz'),
                 bash, '-c', script], d)
        t.eq(r.stdout, native.stdout, 'subshells: same output as without memprof')
        t.eq(native.returncode, 3, 'subshells: the script exits 3 natively')
        t.eq(r.returncode, 3, 'subshells: no descriptor leak fails the run (exit 3, not 42)',
             r.stderr.decode(errors='replace')[-3000:])
        leaks, nfds = fd_leaks(rep)
        t.eq((leaks, nfds), ([], 0), 'subshells: no descriptor reported')
        t.ok(b'still open' not in r.stderr, 'subshells: no "still open" line',
             r.stderr.decode(errors='replace')[-3000:])
        # The same check still finds what the script itself left open: fd 7
        # in the shell and in the subshell forked after it opened it.
        script = 'exec 7</dev/null; x=$(echo hi); echo "$x"'
        rep = os.path.join(d, 'leak.json')
        r = run([memprof, 'run', '-q', '--leak-check', '--error-exitcode', '42',
                 '--leak-report', rep, '-o', os.path.join(d, 'l.heap.pb.gz'),
                 bash, '-c', script], d)
        t.eq(r.stdout, b'hi\n', 'fd 7: same output')
        t.eq(r.returncode, 42, 'fd 7 left open fails the run')
        leaks, nfds = fd_leaks(rep)
        t.eq((leaks, nfds), ([(7, '/dev/null'), (7, '/dev/null')], 2),
             'fd 7 reported in the shell and its subshell, nothing else')

        # An exec that drops memprof's environment (env -i: no LD_PRELOAD)
        # gets it back (shim/exec.c): the tree is followed, and the new
        # image has its own profile, never one of the image before the exec
        # "ended without writing its profile".  A child really killed
        # still gets its profile from the shared tables, and so does a
        # process whose exec failed before it was killed.
        sh = shutil.which('sh')
        envp = shutil.which('env')
        true = shutil.which('true')
        ex = os.path.join(d, 'ex')
        os.mkdir(ex)
        script = '%s -i %s; sh -c "kill -9 \\$\\$"; echo done' % (envp, true)
        r = run([memprof, 'run', '-o', os.path.join(ex, 'x.heap.pb.gz'), sh, '-c', script], d)
        err = r.stderr.decode(errors='replace')
        heaps = sorted(f for f in os.listdir(ex) if f.endswith('.heap.pb.gz'))
        t.eq((r.returncode, r.stdout, len(heaps)), (0, b'done\n', 3),
             'env -i child: profiles of the shell, of true (followed) and of the killed child',
             err)
        comments = ''
        for f in heaps:
            c = subprocess.run(['go', 'tool', 'pprof', '-comments', os.path.join(ex, f)],
                               capture_output=True, text=True)
            comments += c.stdout
        t.eq(comments.count('ended without writing its profile'), 1,
             'one profile after a death (the killed child), none for the exec', comments)
        t.ok('env (pid' not in comments and 'true (pid' in comments,
             'no profile of env, replaced by exec; one of true, which it exec\'d', comments)
        root = os.path.join(ex, 'root.heap.pb.gz')
        r = run([memprof, 'run', '-o', root, sh, '-c', 'exec %s -i %s' % (envp, true)], d)
        c = subprocess.run(['go', 'tool', 'pprof', '-comments', root], capture_output=True,
                           text=True) if os.path.exists(root) else None
        t.ok(r.returncode == 0 and c is not None and 'true (pid' in c.stdout,
             'the program itself execs env -i: status 0, the profile is of true', r.stderr)
        # posix_spawn with an empty environment (Python's subprocess takes
        # it for close_fds=False): followed too.
        sp = os.path.join(d, 'spawn')
        os.mkdir(sp)
        r = run([memprof, 'run', '-o', os.path.join(sp, 's.heap.pb.gz'), sys.executable, '-c',
                 'import subprocess; subprocess.run([%r], env={}, close_fds=False)' % true], d)
        heaps = sorted(f for f in os.listdir(sp) if f.endswith('.heap.pb.gz'))
        t.eq((r.returncode, len(heaps)), (0, 2),
             'posix_spawn with env={}: profiles of python and of true', r.stderr)
        r = run([memprof, 'run', '-o', os.path.join(ex, 'fail.heap.pb.gz'), bash, '-c',
                 'shopt -s execfail; exec /nonexistent/x 2>/dev/null; kill -9 $$'], d)
        c = subprocess.run(['go', 'tool', 'pprof', '-comments', os.path.join(ex, 'fail.heap.pb.gz')],
                           capture_output=True, text=True)
        t.ok(r.returncode == -signal.SIGKILL and 'killed by SIGKILL' in c.stdout,
             'a failed exec, then SIGKILL: the profile after death', r.stderr + c.stdout.encode())

        # A shell sets "_" to the path of the program it runs: started
        # from a shell through memprof, the program sees its own path there,
        # not memprof's.
        def underscore(out):
            return [l for l in out.split(b'\n') if l.startswith(b'_=')]
        native = run([bash, '-c', 'env'], d)
        r = run([bash, '-c', '"$0" run -q -o "$1" env', memprof, os.path.join(d, 'u.heap.pb.gz')],
                d)
        t.eq(underscore(r.stdout), underscore(native.stdout),
             '"_" is the program\'s path, as the shell sets it', r.stderr)
        t.eq(underscore(native.stdout), [b'_=' + shutil.which('env').encode()],
             'natively, bash sets "_" to env\'s path')

        # SIGALRM sent to memprof (by a supervisor, `kill -ALRM`) ends the
        # program as it would have ended it, not memprof alone, which left
        # the program running orphaned and unprofiled.
        out = os.path.join(d, 'alrm.heap.pb.gz')
        py = '/usr/bin/python3' if os.path.exists('/usr/bin/python3') else shutil.which('python3')
        p = subprocess.Popen([memprof, 'run', '-o', out, py, '-c',
                              'import time; print("ready", flush=True); time.sleep(60)'],
                             cwd=d, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        ready = p.stdout.readline()
        os.kill(p.pid, signal.SIGALRM)
        rest, err = p.communicate(timeout=120)
        c = subprocess.run(['go', 'tool', 'pprof', '-comments', out], capture_output=True,
                           text=True) if os.path.exists(out) else None
        t.ok(ready == b'ready\n' and p.returncode == -signal.SIGALRM and c is not None and
             'killed by SIGALRM (signal 14)' in c.stdout,
             'SIGALRM to memprof: the program dies of it, memprof too, its profile written',
             'status %r: %r %r' % (p.returncode, err, c and c.stdout))
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
