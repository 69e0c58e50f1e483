#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The program's descriptors and limits are its own under `memprof run`:
every run below is compared with the same command run natively.
  - descriptor numbers: the first open() and the open set, in t-env, through
    shell wrappers and a process tree, in ls and python3;
  - RLIMIT_NOFILE: a program that used up its descriptors opens as many as
    natively and still gets its profile (also with memprof itself started
    under a low soft limit, which the program must still see);
  - close_range(3, ~0): the profile is still written;
  - RLIMIT_FSIZE of one byte: the program is not killed by SIGXFSZ;
  - a seccomp filter that refuses the shim's clone: the profile is written;
  - close_range refused with ENOSYS (kernels before 5.9) in a full table: the
    shim's private table closes what /proc lists, same run, profile written;
  - RLIMIT_AS of 1, 2 and 4 GiB (ulimit -v, inside the target and around
    memprof) and RLIMIT_DATA of 1 GiB (ulimit -d): the program gets at least
    95% of the memory it gets natively;
  - setrlimit(RLIMIT_AS, 256 MiB) by the program: malloc fails with ENOMEM
    near the native amount, never past the limit, and works again after
    frees; a freed 600 MiB can be mmap()ed under a 1 GiB limit;
  - real programs (ls, sh pipelines, python3) under ulimit -v: same output.
usage: check-env.py MEMPROF T-ENV"""
import os
import resource
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import pprof_raw  # noqa: E402
from tap import Tap  # noqa: E402

GIB = 1 << 30
LEAK = [10, 10000]   # env_leak: inuse objects and bytes


def native(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          timeout=300, **kw)


def under(memprof, d, argv, rate='1', **kw):
    out = os.path.join(d, 'p.heap.pb.gz')
    for f in os.listdir(d):
        os.unlink(os.path.join(d, f))
    r = subprocess.run([memprof, 'run', '-q', '--rate', rate, '-o', out, '--'] + argv,
                       capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300,
                       **kw)
    return r, out


def leak_of(path):
    try:
        types, cum = pprof_raw.cum_by_function(path)
        v = cum.get('env_leak', [0, 0, 0, 0])
        return [v[types.index('inuse_objects')], v[types.index('inuse_space')]]
    except Exception as e:  # noqa: BLE001
        return str(e)


def functions_of(path):
    try:
        _, cum = pprof_raw.cum_by_function(path)
        return set(cum)
    except Exception:  # noqa: BLE001
        return set()


def readable(path):
    """Whether go tool pprof reads the profile (for runs at the default rate,
    where env_leak's samples are random)."""
    try:
        types, _ = pprof_raw.cum_by_function(path)
        return 'inuse_space' in types
    except Exception:  # noqa: BLE001
        return False


def limit(res, soft, hard=None):
    def set_it():
        resource.setrlimit(res, (soft, soft if hard is None else hard))
    return set_it


def total(stdout, key='total'):
    for line in stdout.splitlines():
        w = line.split()
        if w and w[0] == key:
            return int(w[1]), w[2]
    return None, None


def main():
    memprof, tenv = sys.argv[1], sys.argv[2]
    t = Tap()
    py3 = '/usr/bin/python3' if os.path.exists('/usr/bin/python3') else shutil.which('python3')
    with tempfile.TemporaryDirectory() as d:
        # --- descriptor numbers ---
        cmds = [
            ('t-env', [tenv, 'fds']),
            ('t-env through sh, twice', ['sh', '-c', '%s fds; sh -c "%s fds"' % (tenv, tenv)]),
            # The orphan (not waited for) says when it is done through a.done.
            ('process tree', ['sh', '-c', 'x=%s; rm -f $x/a.done; '
                              '( (%s fds > $x/a.out; : > $x/a.done) & ); %s fds; '
                              'i=0; while [ ! -e $x/a.done ] && [ $i -lt 600 ]; do '
                              'sleep 0.05; i=$((i+1)); done; cat $x/a.out'
                              % (d + '-x', tenv, tenv)]),
            ('ls', ['sh', '-c', 'ls /proc/self/fd']),
            ('pipeline', ['sh', '-c', 'ls -1 /proc/self/fd | cat; echo x | sh -c "ls /proc/self/fd"']),
            ('python3', [py3, '-c', 'import os; print(sorted(os.listdir("/proc/self/fd")))']),
        ]
        os.makedirs(d + '-x', exist_ok=True)
        for name, argv in cmds:
            want = native(argv)
            for rate in ('1', '512K'):
                got, _ = under(memprof, d, argv, rate)
                t.ok(got.returncode == 0 and got.stdout == want.stdout,
                     '%s sees the descriptors it sees natively (rate %s)' % (name, rate),
                     'native:\n%s\nunder memprof:\n%s%s' % (want.stdout, got.stdout, got.stderr))
        shutil.rmtree(d + '-x', ignore_errors=True)

        # --- RLIMIT_NOFILE ---
        want = native([tenv, 'emfile', '8'])
        got, out = under(memprof, d, [tenv, 'emfile', '8'])
        t.eq(got.stdout, want.stdout, 'RLIMIT_NOFILE 8: as many descriptors as natively')
        t.eq(leak_of(out), LEAK, 'RLIMIT_NOFILE 8, all used: the profile is written')
        want = native([tenv, 'fds'], preexec_fn=limit(resource.RLIMIT_NOFILE, 6, 4096))
        got, out = under(memprof, d, [tenv, 'fds'],
                         preexec_fn=limit(resource.RLIMIT_NOFILE, 6, 4096))
        t.ok(got.returncode == 0 and got.stdout == want.stdout and 'nofile 6 4096' in got.stdout,
             'memprof under a soft RLIMIT_NOFILE of 6: the program sees that limit',
             want.stdout + got.stdout + got.stderr)
        t.eq(leak_of(out), LEAK, 'memprof under a soft RLIMIT_NOFILE of 6: profile written')
        # ulimit -n sets the hard limit too: memprof cannot raise its own,
        # and a python3 importing ssl and sqlite3 maps 25 files, each of
        # which the symbolizer opens (it could not write the profile under
        # 20 before it kept its own descriptors in the lower half)
        argv = [py3, '-c', 'import json, decimal, ssl, sqlite3; print(1)']
        env = dict(os.environ, PYTHONHASHSEED='0')
        got, out = under(memprof, d, argv, env=env)
        names = functions_of(out)
        for n in (6, 7, 12, 20):
            got, out = under(memprof, d, argv, env=env, preexec_fn=limit(resource.RLIMIT_NOFILE, n))
            lim = functions_of(out)
            t.ok(got.returncode == 0 and got.stdout == '1\n' and len(names) > 300 and lim == names,
                 'RLIMIT_NOFILE %d soft and hard, python3 with 25 files mapped: the profile is '
                 'written, every function named as without the limit' % n,
                 '%d functions against %d; only with the limit: %s; only without: %s; %s'
                 % (len(lim), len(names), sorted(lim - names)[:12], sorted(names - lim)[:12],
                    got.stderr[-800:]))

        # --- a new user namespace: a process of one thread only ---
        # memprof's snapshot thread steps aside around the call (EINVAL
        # before); with the snapshot thread started again after it, a
        # snapshot on demand still works
        want = native([tenv, 'userns'])
        if 'ok' not in want.stdout:
            t.skip('unshare(CLONE_NEWUSER) fails natively here: %s' % want.stdout.strip())
        else:
            for i in range(3):
                got, out = under(memprof, d, [tenv, 'userns'])
                t.ok(got.returncode == 0 and got.stdout == want.stdout,
                     'unshare(CLONE_NEWUSER) works as natively (run %d)' % (i + 1),
                     got.stdout + got.stderr)
            t.eq(leak_of(out), LEAK, 'unshare(CLONE_NEWUSER): the profile is written')

        # --- close_range, RLIMIT_FSIZE ---
        want = native([tenv, 'closeall'])
        got, out = under(memprof, d, [tenv, 'closeall'])
        t.ok(got.returncode == 0 and got.stdout == want.stdout, 'close_range(3, ~0): same run',
             got.stderr)
        t.eq(leak_of(out), LEAK, 'close_range(3, ~0): the profile is written')
        # the private-descriptor child refused: the shim's files go to the
        # program's table for the moment, and the profile is still written
        want = native([tenv, 'seccomp'])
        got, out = under(memprof, d, [tenv, 'seccomp'])
        t.ok(got.returncode == 0 and got.stdout == want.stdout, 'seccomp refuses clone(CLONE_VFORK): '
             'same run', got.stderr)
        t.eq(leak_of(out), LEAK, 'seccomp refuses clone(CLONE_VFORK): the profile is written')
        # close_range missing (before Linux 5.9): the private-descriptor
        # child closes the copy of a full table entry by entry
        want = native([tenv, 'oldkernel', '16'])
        got, out = under(memprof, d, [tenv, 'oldkernel', '16'])
        t.ok(got.returncode == 0 and got.stdout == want.stdout and 'opened' in want.stdout,
             'close_range ENOSYS, RLIMIT_NOFILE 16 all used: same run',
             want.stdout + got.stdout + got.stderr)
        t.eq(leak_of(out), LEAK, 'close_range ENOSYS, RLIMIT_NOFILE 16 all used: the profile is written')
        want = native([tenv, 'fsize'])
        got, _ = under(memprof, d, [tenv, 'fsize'])
        t.ok(want.returncode == 0 and got.returncode == 0 and got.stdout == want.stdout,
             'RLIMIT_FSIZE 1: not killed by SIGXFSZ (exit %d)' % got.returncode, got.stderr)

        # --- RLIMIT_AS from outside ---
        for gib in (1, 2, 4):
            for size in ('1048576', '4096', '100'):
                if size == '100' and gib > 1:
                    continue
                kib = gib * GIB // 1024
                argv = ['sh', '-c', 'ulimit -v %d; exec %s alloc %s' % (kib, tenv, size)]
                n, _ = total(native(argv).stdout)
                got, out = under(memprof, d, argv, rate='512K')
                m, err = total(got.stdout)
                t.ok(n and m is not None and m >= 0.95 * n and err == 'ENOMEM',
                     'ulimit -v %d GiB, blocks of %s: %s of the native %s bytes (%.1f%%)'
                     % (gib, size, m, n, 100.0 * (m or 0) / (n or 1)), got.stderr)
                t.ok(readable(out), 'ulimit -v %d GiB, blocks of %s: profile written'
                     % (gib, size), got.stderr)
        # RLIMIT_DATA (ulimit -d) counts private writable mappings too
        argv = ['sh', '-c', 'ulimit -d %d; exec %s alloc 1048576' % (GIB // 1024, tenv)]
        n, _ = total(native(argv).stdout)
        got, out = under(memprof, d, argv, rate='512K')
        m, err = total(got.stdout)
        t.ok(n and m is not None and m >= 0.95 * n and err == 'ENOMEM',
             'ulimit -d 1 GiB: %s of the native %s bytes' % (m, n), got.stderr)
        # memprof itself under the limit
        argv = [tenv, 'alloc', '1048576']
        n, _ = total(native(argv, preexec_fn=limit(resource.RLIMIT_AS, 2 * GIB)).stdout)
        got, out = under(memprof, d, argv, rate='512K',
                         preexec_fn=limit(resource.RLIMIT_AS, 2 * GIB))
        m, _ = total(got.stdout)
        t.ok(n and m is not None and m >= 0.95 * n,
             'memprof run under ulimit -v 2 GiB: %s of the native %s bytes' % (m, n), got.stderr)
        t.ok(readable(out), 'memprof run under ulimit -v 2 GiB: profile written', got.stderr)

        # --- setrlimit(RLIMIT_AS) by the program ---
        cap = 256 << 20
        for size in ('4096', '1048576'):
            argv = [tenv, 'cap', str(cap), size]
            want = native(argv)
            n, nerr = total(want.stdout, 'first')
            got, out = under(memprof, d, argv, rate='512K')
            m, err = total(got.stdout, 'first')
            m2, err2 = total(got.stdout, 'second')
            t.ok(nerr == 'ENOMEM' and err == 'ENOMEM' and err2 == 'ENOMEM',
                 'setrlimit(RLIMIT_AS) by the program, blocks of %s: malloc fails with ENOMEM'
                 % size, want.stdout + got.stdout + got.stderr)
            t.ok(m is not None and 0.95 * n <= m <= cap,
                 'setrlimit(RLIMIT_AS, 256 MiB), blocks of %s: %s bytes, native %s' % (size, m, n))
            t.ok(m2 is not None and m2 >= 0.95 * m,
                 'setrlimit(RLIMIT_AS, 256 MiB), blocks of %s: after the frees, %s bytes again'
                 % (size, m2))
            t.ok(readable(out), 'setrlimit(RLIMIT_AS, 256 MiB), blocks of %s: profile '
                 'written at the limit' % size, got.stderr)
        argv = ['sh', '-c', 'ulimit -v %d; exec %s churn 600' % (GIB // 1024, tenv)]
        want = native(argv)
        got, _ = under(memprof, d, argv)
        t.ok(want.stdout.endswith('mmap ok\n') and got.stdout == want.stdout,
             'ulimit -v 1 GiB: 600 MiB malloc()ed and freed can then be mmap()ed',
             want.stdout + got.stdout + got.stderr)

        # --- real programs under ulimit -v ---
        reals = [
            ('ls', 'ls -l /usr/bin | wc -l'),
            ('sh pipeline', 'ls /usr/lib | sort -r | head -5; seq 1 20000 | sort -n | tail -1'),
            ('python3 bytearray', '%s -c "b = bytearray(600 << 20); print(len(b))"' % py3),
        ]
        for name, cmd in reals:
            for gib in (1, 2):
                argv = ['sh', '-c', 'ulimit -v %d; %s' % (gib * GIB // 1024, cmd)]
                want = native(argv)
                got, _ = under(memprof, d, argv, rate='512K')
                t.ok(want.returncode == got.returncode and want.stdout == got.stdout,
                     '%s under ulimit -v %d GiB: same output and status' % (name, gib),
                     'native %d:\n%s%s\nunder memprof %d:\n%s%s' % (
                         want.returncode, want.stdout, want.stderr[-300:], got.returncode,
                         got.stdout, got.stderr[-300:]))
        # python3 until MemoryError: MiB obtained, within 95% of native
        cmd = ('%s -c "\nl = []\ntry:\n  while True: l.append(bytearray(1 << 20))\n'
               'except MemoryError: print(len(l))"' % py3)
        for gib in (1, 2):
            argv = ['sh', '-c', 'ulimit -v %d; %s' % (gib * GIB // 1024, cmd)]
            want = native(argv)
            got, _ = under(memprof, d, argv, rate='512K')
            try:
                n, m = int(want.stdout), int(got.stdout)
            except ValueError:
                n, m = 0, 0
            t.ok(n > 0 and m >= 0.95 * n and got.returncode == 0,
                 'python3 until MemoryError under ulimit -v %d GiB: %d MiB, native %d'
                 % (gib, m, n), got.stderr[-300:])
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
