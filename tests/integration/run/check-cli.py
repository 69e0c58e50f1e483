#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""memprof's command line, where no program runs under the shim: help,
version, usage errors (exit 2, one line), programs that are missing (127),
not executable (126), static or setuid for this user (run without a profile,
said in one line), a
missing shim, and options documented in the man pages.  Safe in the
sanitizer build.  TAP output.

usage: check-cli.py MEMPROF T_CLI T_STATIC|- T_STATIC_PIE|- MANDIR
"""
import os
import re
import shutil
import stat
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

COMMANDS = ['run', 'top', 'convert', 'attach']


def run(argv, env=None, cwd=None):
    r = subprocess.run(argv, capture_output=True, env=env, cwd=cwd, stdin=subprocess.DEVNULL)
    return r.returncode, r.stdout.decode(errors='replace'), r.stderr.decode(errors='replace')


def one_line(err):
    return err.endswith('\n') and err.count('\n') == 1 and err.startswith('memprof: ')


def main():
    memprof, t_cli, t_static, t_static_pie, mandir = [
        a if a == '-' else os.path.abspath(a) for a in sys.argv[1:6]]
    t = T()
    d = tempfile.mkdtemp(prefix='check-cli.')
    marker = os.path.join(d, 'ran')

    def never_ran(what):
        t.ok(not os.path.exists(marker), '%s: the program did not run' % what)
        if os.path.exists(marker):
            os.unlink(marker)

    def refused(argv, rc, what, pattern=None, env=None):
        got_rc, out, err = run([memprof] + argv, env=env)
        t.eq(got_rc, rc, '%s: exit %d' % (what, rc))
        t.ok(one_line(err), '%s: one line on stderr' % what, err)
        if pattern:
            t.ok(re.search(pattern, err), '%s: says %r' % (what, pattern), err)
        t.eq(out, '', '%s: nothing on stdout' % what)
        never_ran(what)

    # --- memprof itself -------------------------------------------------------
    rc, out, err = run([memprof])
    t.eq((rc, out, err), (2, '', "memprof: missing command, see 'memprof --help'\n"), 'no command')
    for flag in ['--help', '-h']:
        rc, out, err = run([memprof, flag])
        t.eq((rc, err), (0, ''), 'memprof %s exits 0 quietly' % flag)
        t.ok(out.startswith('Usage: memprof COMMAND'), 'memprof %s: usage' % flag, out)
        for c in COMMANDS:
            t.ok(re.search(r'^  %s ' % c, out, re.M), 'memprof %s lists %s' % (flag, c), out)
    rc, out, err = run([memprof, 'help'])
    t.eq((rc, err), (0, ''), 'memprof help exits 0 quietly')
    t.ok(out.startswith('Usage: memprof COMMAND'), 'memprof help: usage')
    for flag in ['--version', '-V']:
        rc, out, err = run([memprof, flag])
        t.eq((rc, err), (0, ''), 'memprof %s exits 0 quietly' % flag)
        t.ok(re.fullmatch(r'memprof \d+\.\d+\.\d+\n', out), 'memprof %s prints the version' % flag, out)
    rc, out, err = run([memprof, 'frobnicate'])
    t.eq((rc, out, err), (2, '', "memprof: unknown command 'frobnicate', see 'memprof --help'\n"),
         'unknown command')
    rc, out, err = run([memprof, '--frobnicate'])
    t.eq((rc, out, err), (2, '', "memprof: unknown option '--frobnicate', see 'memprof --help'\n"),
         'unknown option')
    rc, out, err = run([memprof, 'help', 'frobnicate'])
    t.eq((rc, out, err), (2, '', "memprof: unknown command 'frobnicate', see 'memprof --help'\n"),
         'help for an unknown command')

    # --- every command's --help, and its options in the man page -------------
    for c in COMMANDS:
        rc, out, err = run([memprof, c, '--help'])
        t.eq((rc, err), (0, ''), 'memprof %s --help exits 0 quietly' % c)
        t.ok(out.startswith('Usage: memprof %s' % c), 'memprof %s --help: usage' % c, out)
        rc2, out2, err2 = run([memprof, 'help', c])
        t.eq((rc2, out2, err2), (rc, out, err), 'memprof help %s == memprof %s --help' % (c, c))
        page = os.path.join(mandir, 'memprof-%s.1' % c)
        try:
            man = open(page).read().replace('\\-', '-')
        except OSError as e:
            t.ok(False, 'man page %s' % page, str(e))
            continue
        for opt in sorted(set(re.findall(r'(?<![\w-])(--?[a-zA-Z][\w-]*)', out))):
            t.ok(re.search(r'(?<![\w-])%s(?![\w-])' % re.escape(opt), man),
                 'memprof-%s(1) documents %s' % (c, opt))

    # --- the man pages are clean roff -----------------------------------------
    groff = shutil.which('groff')
    for page in ['memprof.1'] + ['memprof-%s.1' % c for c in COMMANDS]:
        if not groff:
            print('# skipping the roff check of %s: no groff' % page)
            continue
        r = subprocess.run([groff, '-man', '-ww', '-z', os.path.join(mandir, page)],
                           capture_output=True, text=True, env=dict(os.environ, LC_ALL='C.UTF-8'))
        t.eq((r.returncode, r.stderr), (0, ''), '%s: groff -man -ww has no warnings' % page)

    # --- memprof run: usage errors --------------------------------------------
    prog = [t_cli, 'touch', marker]
    for argv, pattern in [
            (['run'], r"missing program"),
            (['run', '--frobnicate'] + prog, r"'--frobnicate'"),
            (['run', '-x'] + prog, r"'x'"),
            (['run', '--quiet=yes'] + prog, r"'--quiet'"),
            (['run', '--rate'], r"'--rate'"),
            (['run', '-o'], r"'o'"),
            (['run', '--rate', '1Q'] + prog, r"--rate '1Q'"),
            (['run', '--rate', '-1'] + prog, r"--rate '-1'"),
            (['run', '--rate', '99999999999G'] + prog, r"too large"),
            (['run', '--depth', '0'] + prog, r"--depth '0'"),
            (['run', '--depth', '257'] + prog, r"--depth '257'"),
            (['run', '--depth', '8x'] + prog, r"--depth '8x'"),
            (['run', '-o', ''] + prog, r"empty"),
    ]:
        refused(argv, 2, ' '.join(argv[:3]), pattern)

    # --- programs that cannot run ---------------------------------------------
    rc, out, err = run([memprof, 'run', 'memprof-no-such-command-xyz'])
    t.eq((rc, out, err), (127, '', "memprof: 'memprof-no-such-command-xyz': command not found\n"),
         'command not found: 127')
    missing = os.path.join(d, 'missing')
    rc, out, err = run([memprof, 'run', missing])
    t.eq((rc, out, err), (127, '', "memprof: cannot run '%s': No such file or directory\n" % missing),
         'missing path: 127')
    noexec = os.path.join(d, 'noexec')
    shutil.copy(t_cli, noexec)
    os.chmod(noexec, 0o644)
    rc, out, err = run([memprof, 'run', noexec, 'touch', marker])
    t.eq((rc, out, err), (126, '', "memprof: cannot run '%s': Permission denied\n" % noexec),
         'not executable: 126')
    never_ran('not executable')
    rc, out, err = run([memprof, 'run', d])
    t.eq((rc, out, err), (126, '', "memprof: cannot run '%s': Is a directory\n" % d),
         'directory: 126')
    env = dict(os.environ, PATH=d)
    rc, out, err = run([memprof, 'run', 'noexec'], env=env)
    t.eq((rc, out, err), (126, '', "memprof: cannot run 'noexec': Permission denied\n"),
         'not executable in PATH: 126')

    # --- programs LD_PRELOAD cannot work for: run all the same ------------------
    def unprofiled(argv, what, pattern, env=None):
        """The program runs as it would without memprof (its output, its exit
        status, the marker it leaves), with one line saying why no profile."""
        got_rc, out, err = run([memprof] + argv, env=env)
        t.eq(got_rc, 0, '%s: runs, its exit status' % what, err)
        t.ok(one_line(err), '%s: one line on stderr' % what, err)
        t.ok(re.search(pattern, err), '%s: says %r' % (what, pattern), err)
        t.ok(os.path.exists(marker), '%s: the program ran' % what)
        if os.path.exists(marker):
            os.unlink(marker)
        got_rc, out, err = run([memprof] + argv[:-2] + ['exit', '3'], env=env)
        t.eq(got_rc, 3, '%s: exit status 3 passed on' % what, err)
        t.eq(out, '', '%s: nothing on stdout' % what)

    for name, exe in [('static', t_static), ('static-pie', t_static_pie)]:
        if exe == '-':
            print('# skipping %s: cannot link statically here' % name)
            continue
        unprofiled(['run', exe, 'touch', marker], '%s program' % name,
                   r"^memprof: not profiling '.*': '.*' is statically linked, LD_PRELOAD has no "
                   r"effect on it; it runs without a profile$")
        script = os.path.join(d, 'on-' + name)
        with open(script, 'w') as f:
            f.write('#!%s args\n' % exe)
        os.chmod(script, 0o755)
        rc, out, err = run([memprof, 'run', script, 'x'])
        what = 'script on a %s interpreter' % name
        t.eq((rc, out), (0, script + '\nx\n'), '%s: runs, its output untouched' % what, err)
        t.ok(one_line(err) and re.search(r"'%s' is statically linked" % re.escape(exe), err),
             '%s: one line says why no profile' % what, err)
        rc, out, err = run([memprof, 'run', exe, 'args', 'a b', 'c'])
        t.eq((rc, out), (0, 'a b\nc\n'), '%s program: its output untouched' % name, err)

    # Secure execution: a setuid or setgid program that gives this user
    # another user or group (as root: a copy owned by nobody).  Those that
    # give nothing (root's own setuid-root programs) are profiled: check-run.
    if os.geteuid() == 0:
        for mode, name in [(0o4755, 'setuid'), (0o2755, 'setgid')]:
            f = os.path.join(d, name)
            shutil.copy(t_cli, f)
            os.chown(f, 65534, 65534)
            os.chmod(f, mode)
            os.chmod(d, 0o777)   # nobody's touch of the marker
            t.eq(stat.S_IMODE(os.stat(f).st_mode), mode, '%s bit set' % name)
            unprofiled(['run', f, 'touch', marker], '%s program of another user' % name,
                       r"^memprof: not profiling '.*': '.*' is setuid, setgid or has file "
                       r"capabilities that give this user privileges")
            os.chmod(d, 0o700)
    else:
        print('# skipping the setuid programs of another user: not root')

    bad_interp = os.path.join(d, 'bad-interp')
    with open(bad_interp, 'w') as f:
        f.write('#!%s\n' % missing)
    os.chmod(bad_interp, 0o755)
    rc, out, err = run([memprof, 'run', bad_interp])
    t.eq((rc, out, err), (126, '', "memprof: cannot run '%s': bad interpreter '%s': "
                          "No such file or directory\n" % (bad_interp, missing)),
         'missing interpreter: 126')

    # --- a shim or an output directory that does not exist --------------------
    env = dict(os.environ, MEMPROF_SHIM=os.path.join(d, 'nowhere', 'libmemprof.so'))
    refused(['run', t_cli, 'touch', marker], 1, 'missing MEMPROF_SHIM', r"MEMPROF_SHIM", env=env)
    refused(['run', '-o', os.path.join(d, 'nodir', 'p.pb.gz'), t_cli, 'touch', marker], 1,
            'output directory missing', r"cannot write heap profile '.*nodir/p.pb.gz'")
    # Refused before the program runs too: a name that is a directory's,
    # and a directory where nothing can be made, even by root (procfs).
    refused(['run', '-o', os.path.join(d, 'nodir') + '/', t_cli, 'touch', marker], 1,
            'output named as a directory', r"cannot write heap profile '.*nodir/': Is a "
            r"directory \(name a file\)")
    refused(['run', '-o', '/proc/memprof-x.heap.pb.gz', t_cli, 'touch', marker], 1,
            'output in /proc', r"cannot write heap profile '/proc/memprof-x.heap.pb.gz'")

    shutil.rmtree(d)
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
