#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`memprof run` with the shim preloaded: exit status and death by signal
pass through (memprof dies of the program's signal, after writing its
profiles, with no core of its own), standard streams are untouched byte for byte, the program's
own options pass through, signals are forwarded (SIGINT/SIGQUIT are left to
the terminal), the environment the program sees, profile names (default,
-o, forked children), waiting for orphaned descendants, conversion failure,
and finding the shim (build tree, MEMPROF_SHIM, paths with spaces).
TAP output.

usage: check-run.py MEMPROF T_CLI T_OWNMALLOC T_OWNMALLOC_CXX T_MALLOCADDR
"""
import gzip
import os
import re
import shutil
import shlex
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from tap import Tap  # noqa: E402


class T(Tap):
    """Tap whose eq() can also show some context on failure."""

    def eq(self, got, want, what, detail=''):
        return self.ok(got == want, what,
                       'got %r, want %r%s' % (got, want, '\n' + str(detail) if detail else ''))


def no_core():
    import resource
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run(argv, env=None, cwd=None, stdin=b''):
    r = subprocess.run(argv, input=stdin, capture_output=True, env=env, cwd=cwd,
                       preexec_fn=no_core)
    return r.returncode, r.stdout, r.stderr.decode(errors='replace')


def is_gzip(path):
    try:
        with gzip.open(path) as f:
            return len(f.read()) > 0
    except OSError:
        return False


def beside(heap_name, what):
    """The descriptor or thread profile beside a heap profile (memprof-run(1))."""
    for end in ('.heap.pb.gz', '.pb.gz'):
        if heap_name.endswith(end) and len(heap_name) > len(end):
            return heap_name[:-len(end)] + '.%s.pb.gz' % what
    return heap_name + '.%s.pb.gz' % what


def fds(heap_name):
    """The profiles beside a heap profile: peak, descriptors, threads, timers."""
    return [beside(heap_name, 'peak'), beside(heap_name, 'fds'), beside(heap_name, 'threads'),
            beside(heap_name, 'timers')]


def wrote(heap_name):
    """The line memprof run writes for one process: every file it wrote."""
    return "memprof: wrote heap profile '%s', with %s\n" % (
        heap_name, ', '.join("'%s'" % n for n in fds(heap_name)))


NOTE = re.compile(r"^memprof: note: '[^']*' (holds no sample|rests on \d+ sampled allocations?)"
                  r"[^\n]*--rate 1 records every allocation\n", re.M)


def no_notes(err):
    """stderr without the notes on profiles with few samples (how many a
    small program gets at the default rate is chance)."""
    return NOTE.sub('', err)


def core_files(directory):
    return sorted(f for f in os.listdir(directory) if f.startswith('core'))


def sigsegv_no_core(t, memprof, out, work, env):
    """`memprof run sh -c 'kill -SEGV $$'` with cores allowed: memprof dies
    of SIGSEGV (returncode -11) after writing every profile, and leaves no
    core of its own in its directory (the shell dumps its core in a
    directory of its own)."""
    import resource

    def cores_on():
        soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
        resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))

    shdir = os.path.join(os.path.dirname(work), 'sh-cwd')
    os.makedirs(shdir, exist_ok=True)
    r = subprocess.run([memprof, 'run', '-o', out, 'sh', '-c', 'cd "$0" && kill -SEGV $$', shdir],
                       capture_output=True, env=env, cwd=work, preexec_fn=cores_on)
    err = r.stderr.decode(errors='replace')
    t.eq(r.returncode, -signal.SIGSEGV, "sh -c 'kill -SEGV $$': memprof dies of SIGSEGV", err)
    t.ok(err.startswith("memprof: 'sh' terminated by signal 11 (SIGSEGV)") and wrote(out) in err,
         'SIGSEGV: said, every profile written', err)
    t.ok(all(is_gzip(f) for f in [out] + fds(out)),
         'SIGSEGV: every profile whole before memprof died')
    pattern = open('/proc/sys/kernel/core_pattern').read().strip()
    hard = resource.getrlimit(resource.RLIMIT_CORE)[1]
    if pattern.startswith('|') or '/' in pattern or hard == 0:
        print('# skipping the core file check: core_pattern %r, RLIMIT_CORE hard limit %r'
              % (pattern, hard))
    else:
        print('# the shell dumped %r in its own directory' % core_files(shdir))
        t.eq(core_files(work), [], 'SIGSEGV: no core of memprof\'s in its directory')
    shutil.rmtree(shdir, ignore_errors=True)


def loop_stops_on_sigint(t, memprof, t_cli, out, env):
    """Ctrl-C (SIGINT to the foreground process group) during `memprof run`
    in a bash loop ends the loop, as it does for the program alone: bash
    goes on after a child that exited, even with 130, and stops only when
    the child died of SIGINT."""
    bash = shutil.which('bash')
    if not bash:
        print('# skipping the bash loop check: no bash')
        return
    script = 'for i in 1 2; do "$0" run -q -o "$1" "$2" wait-signal; echo "next $?"; done; echo end'
    p = subprocess.Popen([bash, '-c', script, memprof, out, t_cli], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env, start_new_session=True,
                         preexec_fn=no_core)
    ready = p.stdout.readline()
    os.killpg(p.pid, signal.SIGINT)
    try:
        o, err = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        o, err = p.communicate()
    t.eq((ready, o, p.returncode), (b'ready\n', b'', -signal.SIGINT),
         'Ctrl-C in a bash loop around memprof run: the loop stops, bash dies of SIGINT',
         err.decode(errors='replace'))


def main():
    memprof, t_cli, t_ownmalloc, t_ownmalloc_cxx, t_mallocaddr = [os.path.abspath(a) for a in sys.argv[1:6]]
    shim = os.path.realpath(os.environ['MEMPROF_SHIM'])
    t = T()
    d = tempfile.mkdtemp(prefix='check-run.')
    tmp = os.path.join(d, 'tmp')
    os.mkdir(tmp)
    base_env = dict(os.environ, TMPDIR=tmp)
    base_env.pop('LD_PRELOAD', None)
    base_env.pop('MEMPROF_OPTIONS', None)
    work = os.path.join(d, 'work')
    os.mkdir(work)
    out = os.path.join(work, 'p.heap.pb.gz')

    def clean_work():
        for f in os.listdir(work):
            os.unlink(os.path.join(work, f))
        t.eq(os.listdir(tmp), [], 'temporary directory removed')

    # --- exit status ------------------------------------------------------------
    for code in [0, 3, 42]:
        rc, o, err = run([memprof, 'run', '-o', out, t_cli, 'exit', str(code)], env=base_env)
        t.eq(rc, code, 'exit status %d passes through' % code)
        t.eq(no_notes(err), wrote(out), 'exit %d: one line on stderr (and a note)' % code)
        t.ok(NOTE.fullmatch(err[len(wrote(out)):]) or err == wrote(out),
             'exit %d: at most a note on the few samples' % code, err)
        t.ok(is_gzip(out), 'exit %d: gzip profile written' % code)
        clean_work()
    rc, o, err = run([memprof, 'run', '-q', '-o', out, t_cli, 'exit', '7'], env=base_env)
    t.eq((rc, err), (7, ''), '-q: nothing on stderr')
    t.ok(is_gzip(out), '-q: profile written')
    clean_work()

    # --- setuid and setgid programs that give us nothing: profiled --------------
    # Secure execution, where ld.so ignores LD_PRELOAD, is for a program that
    # changes the caller's user or group: the caller's own setuid program (as
    # root: passwd, su, ping's capabilities) runs with the shim.
    for mode, name in [(0o4755, 'setuid'), (0o2755, 'setgid')]:
        f = os.path.join(d, name)
        shutil.copy(t_cli, f)
        os.chmod(f, mode)
        rc, o, err = run([memprof, 'run', '-o', out, f, 'exit', '5'], env=base_env)
        t.eq((rc, no_notes(err)), (5, wrote(out)), '%s program of our own user: profiled' % name)
        t.ok(is_gzip(out), '%s program of our own user: profile written' % name)
        clean_work()

    # --- a process tree: a line each up to 3 more processes, then one line ---
    for n in (3, 5):
        script = '; '.join(['%s exit 0' % t_cli] * n)
        rc, o, err = run([memprof, 'run', '-o', out, '/bin/sh', '-c', script], env=base_env)
        lines = [l for l in no_notes(err).splitlines() if l]
        per = [l for l in lines if re.match(r"memprof: wrote heap profile '.*\.\d+\.heap\.pb\.gz'", l)]
        summary = [l for l in lines if 'more process' in l]
        if n <= 3:
            t.ok(rc == 0 and len(per) == n and not summary,
                 'a tree of %d more processes: a line each' % n, err)
        else:
            t.ok(rc == 0 and not per and len(summary) == 1 and
                 re.match(r"memprof: wrote heap profiles of %d more processes of the tree, named "
                          r"like '.*\.\d+\.heap\.pb\.gz' \(pids \d+ to \d+\), each with its peak, "
                          r"descriptor, thread and timer profiles$" % n, summary[0]),
                 'a tree of %d more processes: one line for them' % n, err)
            t.eq(len([f for f in os.listdir(work) if re.match(r'p\.\d+\.heap\.pb\.gz$', f)]), n,
                 'a tree of %d more processes: every heap profile written' % n)
        clean_work()

    # --- a program with a malloc of its own -------------------------------------
    # Its executable comes before the shim in symbol lookup: the profile is
    # empty, and a note says why instead of blaming the rate.  Its free
    # aborts on a block it did not make: the functions it lacks (glibc's
    # reallocarray, C++'s new and delete, which memprof interposes) must
    # still end in its malloc and free, as they do without memprof (before,
    # the C++ program died of SIGABRT at its first delete).
    for target in [t_ownmalloc, t_ownmalloc_cxx]:
        name = os.path.basename(target)
        rc, o, err = run([target], env=base_env)
        t.eq((rc, o), (0, b'ok\n'), '%s runs natively' % name, err)
        for rate in ['1', '512K']:
            rc, o, err = run([memprof, 'run', '--rate', rate, '-o', out, target], env=base_env)
            t.eq((rc, o), (0, b'ok\n'), '%s, rate %s: runs as it would' % (name, rate), err)
            t.eq(err, wrote(out) + "memprof: note: '%s' misses the program's malloc calls: its "
                 "executable defines malloc itself (an allocator linked in, such as jemalloc), "
                 "which comes before memprof's\n" % out,
                 '%s, rate %s: the note says why' % (name, rate))
            clean_work()
    rc, o, err = run([memprof, 'run', '--rate', '1', '-o', out, t_cli, 'exit', '0'], env=base_env)
    t.ok('misses' not in err, 'the malloc of libc: no such note', err)
    clean_work()
    # A position-dependent executable that takes malloc's address has a
    # malloc symbol of its own that is not a definition (Debian's python3):
    # profiled as any, not taken for one with its own malloc.
    rc, o, err = run([memprof, 'run', '--rate', '1', '-o', out, t_mallocaddr], env=base_env)
    t.eq((rc, o, no_notes(err)), (0, b'ok\n', wrote(out)), "malloc's address taken: runs, one line", err)
    t.ok('misses' not in err, "malloc's address taken: no note of a malloc of its own", err)
    clean_work()

    # --- a process that becomes another user ----------------------------------
    # It cannot write into memprof's private directory: one line says so,
    # not the path of a file it never chose.
    runuser = shutil.which('runuser')
    if os.geteuid() == 0 and runuser and \
            run([runuser, '-u', 'nobody', '--', t_cli, 'exit', '0'], env=base_env)[0] == 0:
        rc, o, err = run([memprof, 'run', '-o', out, runuser, '-u', 'nobody', '--', t_cli,
                          'exit', '4'], env=base_env)
        t.eq(rc, 4, 'another user: its exit status', err)
        t.ok(re.search(r"^memprof: warning: no profile for process \d+: it runs as another user "
                       r"than memprof, uid 65534$", err, re.M), 'another user: one line says why', err)
        t.ok('cannot write snapshot' not in err, 'another user: no path of memprof\'s', err)
        clean_work()
    else:
        print('# skipping a process of another user: not root, no runuser, or nobody cannot '
              'run t-cli')

    # --- death by signal --------------------------------------------------------
    for sig, name in [(signal.SIGTERM, 'SIGTERM'), (signal.SIGKILL, 'SIGKILL'),
                      (signal.SIGABRT, 'SIGABRT')]:
        rc, o, err = run([memprof, 'run', '-o', out, t_cli, 'signal', str(int(sig))], env=base_env)
        t.eq(rc, -sig, '%s: memprof dies of it too, as the program did' % name)
        # (the peak profile too: the peak's tables are shared as well)
        t.eq(no_notes(err), "memprof: '%s' terminated by signal %d (%s)\n" % (t_cli, sig, name)
             + wrote(out), '%s: reported, profile and peak profile written' % name)
        # read from the tables it shared with memprof run (common/shm.h)
        t.ok(is_gzip(out), '%s: profile written after death' % name)
        clean_work()

    # SIGPIPE, the end of `memprof run PROGRAM | head`: silent, as in a shell
    rc, o, err = run([memprof, 'run', '-q', '-o', out, t_cli, 'signal', str(int(signal.SIGPIPE))],
                     env=base_env)
    t.eq((rc, err), (-signal.SIGPIPE, ''), 'SIGPIPE: memprof dies of it, nothing said (as a shell)')
    t.ok(is_gzip(out), 'SIGPIPE: profile written')
    clean_work()
    # A program that exits 139 is not one SIGSEGV killed: the status stays.
    rc, o, err = run([memprof, 'run', '-q', '-o', out, t_cli, 'exit', '139'], env=base_env)
    t.eq((rc, err), (139, ''), 'exit 139 (no signal): status 139, nothing said')
    clean_work()
    # --error-exitcode is for a leak found: a dead process cannot be scanned,
    # so the program's signal stays memprof's death.
    rc, o, err = run([memprof, 'run', '-q', '--leak-check', '--error-exitcode', '42', '-o', out,
                      t_cli, 'signal', str(int(signal.SIGTERM))], env=base_env)
    t.eq(rc, -signal.SIGTERM, '--leak-check --error-exitcode 42, SIGTERM: memprof dies of it', err)
    clean_work()
    sigsegv_no_core(t, memprof, out, work, base_env)
    clean_work()
    loop_stops_on_sigint(t, memprof, t_cli, out, base_env)
    clean_work()
    pr = subprocess.run('%s run -q -o %s -- yes | head -c 4' % (shlex.quote(memprof),
                                                                 shlex.quote(out)), shell=True,
                        capture_output=True, env=base_env, executable='/bin/bash')
    t.eq((pr.stdout, pr.stderr), (b'y\ny\n', b''), 'memprof run yes | head: nothing on stderr')
    clean_work()
    # The program replaced by one the shim cannot enter (static: Debian's
    # ldconfig): the line says so, not that it "left no snapshot".
    ldconfig = subprocess.run(['readelf', '-l', '/sbin/ldconfig'], capture_output=True, text=True)
    if ldconfig.returncode == 0 and 'INTERP' not in ldconfig.stdout:
        rc, o, err = run([memprof, 'run', '-q', '-o', out, 'sh', '-c', 'exec /sbin/ldconfig -p'],
                         env=base_env)
        t.ok(rc == 0 and b'=> /' in o, 'sh exec ldconfig: it runs (its cache listed)', err)
        t.eq(err, "memprof: no heap profile for 'sh': it ran another program by exec, which "
             "memprof cannot follow (statically linked, or setuid: LD_PRELOAD does not reach "
             "it)\n", 'sh exec ldconfig (static): the line names the exec')
        clean_work()
    # memprof's own lines into a pipe whose reader has gone (`2>&1 | head -1`):
    # not memprof's end (it died of SIGPIPE at its first line, status 141,
    # the tree's other profiles lost and its directory left behind).
    pr = subprocess.run('%s run -o %s sh -c "echo a; echo b; (true; true); sleep 0.2; exit 4" 2>&1 '
                        '| head -1; exit ${PIPESTATUS[0]}' % (shlex.quote(memprof),
                                                              shlex.quote(out)), shell=True,
                        capture_output=True, env=base_env, executable='/bin/bash', cwd=work)
    heaps = [f for f in os.listdir(work) if f.endswith('.heap.pb.gz')]
    t.eq((pr.returncode, pr.stdout, len(heaps)), (4, b'a\n', 3),
         'stderr a pipe closed early: the program\'s status, a profile for sh, its subshell '
         'and sleep', (pr.stderr, heaps))
    clean_work()

    # --- standard streams -------------------------------------------------------
    data = os.urandom(1 << 20) + b'\0\n\r\xff' * 1000
    rc, o, err = run([memprof, 'run', '-q', '-o', out, t_cli, 'cat'], env=base_env, stdin=data)
    t.eq(rc, 0, 'cat: exit 0')
    t.ok(o == data, 'stdin to stdout byte for byte (%d bytes)' % len(data),
         'got %d bytes' % len(o))
    t.eq(err, 'to stderr\n', 'stderr untouched with -q')
    clean_work()
    rc, o, err = run([memprof, 'run', '-o', out, t_cli, 'cat'], env=base_env, stdin=b'x')
    t.eq((rc, o, no_notes(err)), (0, b'x', "to stderr\n" + wrote(out)),
         "stderr: the program's, then memprof's")
    clean_work()

    # --- the program's own options ----------------------------------------------
    rc, o, err = run([memprof, 'run', '-q', '-o', out, t_cli, 'args', '-o', '--rate', 'x', '--',
                      '-q', '--help'], env=base_env)
    t.eq((rc, o), (0, b'-o\n--rate\nx\n--\n-q\n--help\n'), 'options after PROGRAM are its own')
    clean_work()
    rc, o, err = run([memprof, 'run', '-q', '-o', out, '--', t_cli, 'args', '-q'], env=base_env)
    t.eq((rc, o), (0, b'-q\n'), "'--' ends memprof's options")
    clean_work()

    # --- the environment the program sees -------------------------------------
    def env_of(extra_env=None, opts=(), cwd=None):
        env = dict(base_env)
        env.update(extra_env or {})
        rc, o, err = run([memprof, 'run', '-q'] + list(opts) + ['-o', out, t_cli, 'env',
                         'LD_PRELOAD', 'MEMPROF_OPTIONS'], env=env, cwd=cwd)
        lines = o.decode().split('\n')
        if rc != 0 or len(lines) != 3:
            return None, None, err
        return lines[0].split('=', 1)[1], lines[1].split('=', 1)[1], err

    # the keys memprof run always adds after snapdir= (defaults of --interval,
    # --snapshot-signal, --allocator, --leak-check and --http, and the shared tables)
    tail = r',interval=0ns,snapshot_signal=12,allocator=memprof,leak=0,live=0,shm=1'
    tmp_re = re.escape(os.path.realpath(tmp)) + r'/memprof\.[A-Za-z0-9]{6}'
    pre, opts, err = env_of()
    t.eq(pre, shim, 'LD_PRELOAD is the shim (found from the build tree or MEMPROF_SHIM)')
    t.ok(opts and re.fullmatch(r'rate=524288,depth=64,snapdir=' + tmp_re + tail, opts),
         'MEMPROF_OPTIONS defaults, snapdir under $TMPDIR', opts)
    clean_work()
    pre, opts, err = env_of(opts=['--rate', '1K', '--depth', '7'])
    t.ok(opts and re.fullmatch(r'rate=1024,depth=7,snapdir=' + tmp_re + tail, opts),
         'MEMPROF_OPTIONS from --rate 1K --depth 7', opts)
    clean_work()
    pre, opts, err = env_of(opts=['--rate=0', '--depth=256'])
    t.ok(opts and re.fullmatch(r'rate=0,depth=256,snapdir=' + tmp_re + tail, opts),
         'MEMPROF_OPTIONS from --rate=0 --depth=256', opts)
    clean_work()
    pre, opts, err = env_of(opts=['--allocator', 'system'])
    t.ok(opts and re.fullmatch(r'rate=524288,depth=64,snapdir=' + tmp_re + tail.replace(
        'allocator=memprof', 'allocator=system'), opts), 'MEMPROF_OPTIONS from --allocator system',
         opts)
    clean_work()
    # the sanitizers' style, which the shim would ignore: refused up front
    env = dict(base_env, MEMPROF_OPTIONS='rate=1:verbose=1')
    rc, o, err = run([memprof, 'run', '-o', out, t_cli, 'exit', '0'], env=env)
    t.eq((rc, err, os.path.exists(out)),
         (2, "memprof: bad MEMPROF_OPTIONS 'rate=1:verbose=1': options are separated by ',', "
          "not ':' (MEMPROF_OPTIONS=rate=1,verbose=1)\n", False),
         "MEMPROF_OPTIONS=rate=1:verbose=1: refused with a clear message, exit 2")
    clean_work()
    # the shim itself, preloaded by hand, says so too and keeps its defaults
    env = dict(base_env, LD_PRELOAD=shim, MEMPROF_OPTIONS='rate=1:verbose=1,snapdir=' + work)
    rc, o, err = run([t_cli, 'exit', '0'], env=env)
    t.eq((rc, err), (0, "memprof: warning: MEMPROF_OPTIONS separates options with ',', not ':': "
                        "'rate=1:verbose=1', ignoring\n"),
         "the shim warns about MEMPROF_OPTIONS=rate=1:verbose=1 once and ignores it")
    clean_work()
    pre, opts, err = env_of({'LD_PRELOAD': 'libm.so.6', 'MEMPROF_OPTIONS': 'verbose=0'})
    t.eq(pre, shim + ':libm.so.6', 'an existing LD_PRELOAD follows the shim')
    t.ok(opts and re.fullmatch(r'verbose=0,rate=524288,depth=64,snapdir=' + tmp_re + tail, opts),
         'an existing MEMPROF_OPTIONS comes first, ours win', opts)
    clean_work()
    pre, opts, err = env_of({'TMPDIR': '/nonexistent,dir'})
    t.ok(opts and re.fullmatch(r'rate=524288,depth=64,snapdir=/tmp/memprof\.[A-Za-z0-9]{6}' + tail,
                                 opts),
         'an unusable TMPDIR falls back to /tmp', opts)
    clean_work()

    # --- finding the shim -------------------------------------------------------
    no_shim_env = dict(base_env)
    no_shim_env.pop('MEMPROF_SHIM', None)
    build_shim = os.path.realpath(os.path.join(os.path.dirname(os.path.realpath(memprof)),
                                               '..', 'shim', 'libmemprof.so'))
    env = dict(no_shim_env)
    rc, o, err = run([memprof, 'run', '-q', '-o', out, t_cli, 'env', 'LD_PRELOAD'], env=env)
    t.eq((rc, o.decode()), (0, 'LD_PRELOAD=%s\n' % build_shim),
         'without MEMPROF_SHIM: the build tree shim next to the CLI')
    clean_work()
    alt = os.path.join(d, 'alt dir:x')
    os.mkdir(alt)
    shutil.copy(shim, os.path.join(alt, 'libmemprof.so'))
    os.symlink(os.path.join(alt, 'libmemprof.so'), os.path.join(d, 'alt.so'))
    # (in /tmp when the temporary directory has a space or a colon as well)
    linked = (r'/tmp/memprof-shim\.\d+\.\d+\.so' if re.search('[ :]', tmp) else
              tmp_re + r'/libmemprof\.so')
    for value, want, what in [
            (os.path.join(d, 'alt.so'), os.path.join(alt, 'libmemprof.so'), 'absolute'),
            ('../alt.so', os.path.join(alt, 'libmemprof.so'), 'relative')]:
        env = dict(base_env, MEMPROF_SHIM=value)
        rc, o, err = run([memprof, 'run', '-q', '-o', out, t_cli, 'env', 'LD_PRELOAD'],
                         env=env, cwd=work)
        # A path with spaces or colons is split by ld.so: memprof links to it
        # from its temporary directory.
        m = re.fullmatch(r'LD_PRELOAD=(%s)\n' % linked, o.decode())
        t.ok(rc == 0 and m, 'MEMPROF_SHIM (%s) with a space and a colon: through a link' % what,
             o.decode() + err)
        t.ok(is_gzip(out), 'MEMPROF_SHIM (%s): the linked shim ran and wrote a profile' % what, err)
        clean_work()
    # ... and a TMPDIR with a space as well: the link is made in /tmp.
    spaced = os.path.join(d, 'tmp dir')
    os.mkdir(spaced)
    rc, o, err = run([memprof, 'run', '-q', '-o', out, t_cli, 'env', 'LD_PRELOAD'],
                     env=dict(base_env, MEMPROF_SHIM=os.path.join(d, 'alt.so'), TMPDIR=spaced))
    m = re.fullmatch(r'LD_PRELOAD=(/tmp/memprof-shim\.\d+\.\d+\.so)\n', o.decode())
    t.ok(rc == 0 and m and is_gzip(out),
         'MEMPROF_SHIM and TMPDIR both with a space: the shim through a link in /tmp, a profile',
         o.decode() + err)
    t.ok(m and not os.path.lexists(m.group(1)) and os.listdir(spaced) == [],
         'that link and the temporary directory removed', os.listdir(spaced))
    clean_work()

    # --- profile names --------------------------------------------------------
    rc, o, err = run([memprof, 'run', t_cli, 'pid'], env=base_env, cwd=work)
    pid = o.decode().strip()
    name = 'memprof.%s.heap.pb.gz' % pid
    t.eq((rc, no_notes(err)), (0, wrote(name)),
         'default name: memprof.<pid>.heap.pb.gz')
    t.eq(sorted(os.listdir(work)), sorted([name] + fds(name)),
         'default name: in the working directory, the descriptor profile beside it')
    t.ok(is_gzip(os.path.join(work, name)), 'default name: gzip profile')
    clean_work()

    for opt, parent_name, child_name in [
            (None, 'memprof.{p}.heap.pb.gz', 'memprof.{c}.heap.pb.gz'),
            ('x.heap.pb.gz', 'x.heap.pb.gz', 'x.{c}.heap.pb.gz'),
            ('x.pb.gz', 'x.pb.gz', 'x.{c}.pb.gz'),
            ('x.prof', 'x.prof', 'x.prof.{c}')]:
        argv = [memprof, 'run'] + (['-o', opt] if opt else []) + [t_cli, 'fork']
        rc, o, err = run(argv, env=base_env, cwd=work)
        p, c = o.decode().split()
        want = [parent_name.format(p=p, c=c), child_name.format(p=p, c=c)]
        t.eq(rc, 0, 'fork, -o %s: exit 0' % opt)
        t.eq(no_notes(err), ''.join(wrote(n) for n in want),
             'fork, -o %s: the program first, then its child' % opt)
        t.eq(sorted(os.listdir(work)), sorted(want + [x for n in want for x in fds(n)]),
             'fork, -o %s: files' % opt)
        clean_work()

    # --- descendants that outlive the program ---------------------------------
    marker = os.path.join(d, 'orphan-done')
    rc, o, err = run([memprof, 'run', '-o', out, t_cli, 'orphan', marker], env=base_env, cwd=work)
    p, c = o.decode().split()
    t.eq(rc, 0, 'orphan: exit 0')
    t.ok(os.path.exists(marker), 'orphan: memprof waited for the orphaned child')
    t.eq(sorted(os.listdir(work)), sorted(['p.heap.pb.gz', 'p.%s.heap.pb.gz' % c] + fds('p.heap.pb.gz')
                                         + fds('p.%s.heap.pb.gz' % c)),
         "orphan: its profile too")
    clean_work()

    # --- signals ----------------------------------------------------------------
    def with_signal(sigs, group=False):
        pr = subprocess.Popen([memprof, 'run', '-q', '-o', out, t_cli, 'wait-signal'],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=base_env,
                              start_new_session=group, preexec_fn=None if group else no_core)
        ready = pr.stdout.readline()
        for s in sigs:
            if group:
                os.killpg(pr.pid, s)
            else:
                os.kill(pr.pid, s)
        o, err = pr.communicate()
        return ready, pr.returncode, err.decode(errors='replace')

    for sig, name in [(signal.SIGUSR1, 'SIGUSR1'), (signal.SIGUSR2, 'SIGUSR2'),
                      (signal.SIGHUP, 'SIGHUP')]:
        ready, rc, err = with_signal([sig])
        t.eq((ready, rc, err), (b'ready\n', 10 + sig, ''), '%s forwarded to the program' % name)
        clean_work()
    ready, rc, err = with_signal([signal.SIGTERM])
    t.eq((ready, rc), (b'ready\n', -signal.SIGTERM),
         'SIGTERM forwarded: the program dies of it, memprof too')
    t.ok(err.startswith("memprof: '%s' terminated by signal 15 (SIGTERM)\n" % t_cli),
         'SIGTERM: reported', err)
    clean_work()
    ready, rc, err = with_signal([signal.SIGINT, signal.SIGQUIT, signal.SIGUSR1])
    t.eq((ready, rc, err), (b'ready\n', 10 + signal.SIGUSR1, ''),
         'SIGINT and SIGQUIT to memprof alone are ignored')
    clean_work()
    ready, rc, err = with_signal([signal.SIGINT], group=True)
    t.eq((ready, rc), (b'ready\n', -signal.SIGINT),
         'SIGINT to the process group (the terminal): the program dies, memprof reports it and '
         'dies of it too')
    t.ok(err.startswith("memprof: '%s' terminated by signal 2 (SIGINT)\n" % t_cli), 'SIGINT reported',
         err)
    clean_work()

    # --- conversion failure -----------------------------------------------------
    for code, want in [(0, 1), (3, 3)]:
        sub = os.path.join(work, 'sub')
        os.mkdir(sub)
        rc, o, err = run([memprof, 'run', '-o', os.path.join(sub, 'p.pb.gz'), t_cli, 'rmdir', sub,
                          str(code)], env=base_env)
        t.eq(rc, want, 'conversion failure after exit %d: exit %d' % (code, want))
        m = re.fullmatch(r"memprof: .*\(raw snapshot kept as '(.*)'\)\n", err)
        t.ok(m, 'conversion failure: one line, snapshot kept', err)
        if m:
            t.ok(os.path.exists(m.group(1)), 'the kept snapshot exists')
            shutil.rmtree(os.path.dirname(m.group(1)))
        clean_work()
    # A profile besides the heap profile that cannot be written (its name is
    # a directory): the others are written, the failure said in one line,
    # the snapshot kept, and the status 1 (it was 0).
    for code, want in [(0, 1), (3, 3)]:
        sub = os.path.join(work, 'sub')
        os.makedirs(os.path.join(sub, 'p.peak.pb.gz'))
        rc, o, err = run([memprof, 'run', '-o', os.path.join(sub, 'p.pb.gz'), t_cli, 'exit',
                          str(code)], env=base_env)
        t.eq(rc, want, 'peak profile not written after exit %d: exit %d' % (code, want))
        m = re.match(r"memprof: cannot write peak heap profile '.*': Is a directory "
                     r"\(raw snapshot kept as '(.*)'\)\n", err)
        t.ok(m, 'peak profile not written: one line, snapshot kept', err)
        t.ok(all(os.path.getsize(os.path.join(sub, 'p.%spb.gz' % k)) > 0
                 for k in ('', 'fds.', 'threads.', 'timers.')), 'the other profiles are written')
        if m:
            t.ok(os.path.exists(m.group(1)), 'the kept snapshot exists')
            shutil.rmtree(os.path.dirname(m.group(1)))
        shutil.rmtree(sub)
        clean_work()

    # A name near NAME_MAX: the temporaries are named short, the profiles
    # as asked (cli-usage refuses the names that cannot be written).
    long_dir = os.path.join(d, 'long')
    os.mkdir(long_dir)
    long_out = os.path.join(long_dir, 'L' * 240 + '.heap.pb.gz')
    rc, _, err = run([memprof, 'run', '-o', long_out, t_cli, 'exit', '0'], env=base_env)
    t.ok(rc == 0 and os.path.exists(long_out) and
         os.path.exists(long_out[:-len('.heap.pb.gz')] + '.timers.pb.gz') and
         not [f for f in os.listdir(long_dir) if 'tmp' in f],
         'a 251-byte output name: written, no temporary left', err)

    shutil.rmtree(d)
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
