#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""After `meson install --destdir`, the installed memprof finds the
installed shim relative to itself, and still does after the whole prefix is
moved elsewhere; the man pages are installed; the bash completion is
installed where Debian's bash-completion loads it from (XDG_DATA_DIRS
naming the prefix's share directory), and completes `memprof r`; the
in-program API's header, memprof.pc and memprof(3) are installed, and a
program compiled with `pkg-config --cflags memprof` (C and C++, warnings as
errors, nothing linked) runs the same without memprof and reports its 1000
lost bytes under the installed one.  TAP output.

usage: check-install.py MEMPROF BUILDDIR T_CLI T_API_SOURCE
"""
import gzip
import json
import os
import shutil
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

MAN_PAGES = ['memprof.1', 'memprof-run.1', 'memprof-top.1', 'memprof-convert.1',
             'memprof-diff.1', 'memprof-merge.1', 'memprof-flame.1', 'memprof-snapshot.1',
             'memprof-timeline.1', 'memprof-stats.1']


def check_api(t, d, dest, root, opts, exe, api_src):
    """<memprof.h> and memprof.pc: compile t-api.c against the installed
    header found by pkg-config, run it with and without memprof."""
    header = os.path.join(root, opts['includedir'], 'memprof.h')
    pcdir = os.path.join(root, opts['libdir'], 'pkgconfig')
    t.ok(os.path.isfile(header), 'installed %s' % os.path.join(opts['includedir'], 'memprof.h'))
    t.ok(os.path.isfile(os.path.join(pcdir, 'memprof.pc')),
         'installed %s' % os.path.join(opts['libdir'], 'pkgconfig', 'memprof.pc'))
    env = dict(os.environ, PKG_CONFIG_PATH=pcdir, PKG_CONFIG_SYSROOT_DIR=dest)
    r = subprocess.run(['pkg-config', '--cflags', 'memprof'], capture_output=True, text=True,
                       env=env)
    cflags = r.stdout.split()
    r2 = subprocess.run(['pkg-config', '--libs', 'memprof'], capture_output=True, text=True,
                        env=env)
    t.ok(r.returncode == 0 and any(f.startswith('-I') and f[2:].startswith(dest) for f in cflags)
         and r2.stdout.strip() == '',
         'pkg-config --cflags memprof names the installed include directory; --libs nothing',
         r.stdout + r.stderr + r2.stdout)
    prog = os.path.join(d, 't-api')
    r = subprocess.run(['cc', '-std=c11', '-Wall', '-Wextra', '-Werror', '-pedantic', '-O2',
                        '-D_GNU_SOURCE'] + cflags + [api_src, '-o', prog],
                       capture_output=True, text=True)
    t.eq(r.returncode, 0, 'a C program builds against the installed <memprof.h>', r.stderr)
    cxx = os.path.join(d, 'api.cc')
    with open(cxx, 'w') as f:
        f.write('#include <memprof.h>\n#include <cstdio>\nint main() { std::printf("%d %d\\n", '
                'memprof_running(), memprof_snapshot(nullptr)); }\n')
    r = subprocess.run(['c++', '-std=c++17', '-Wall', '-Wextra', '-Werror', '-pedantic'] +
                       cflags + [cxx, '-o', cxx + '.bin'], capture_output=True, text=True)
    t.eq(r.returncode, 0, 'and a C++ one', r.stderr)
    if not os.path.exists(prog):
        return
    plain = dict(os.environ)
    plain.pop('LD_PRELOAD', None)
    plain.pop('MEMPROF_SHIM', None)
    native = subprocess.run([prog], capture_output=True, text=True, env=plain, cwd=d)
    t.ok(native.returncode == 3 and 'leak_check -1 ENOSYS' in native.stderr,
         'without memprof the API answers ENOSYS', native.stderr)
    if os.path.exists(exe):
        r = subprocess.run([exe, 'run', '--leak-check', '-q', '-o',
                            os.path.join(d, 'api.heap.pb.gz'), prog],
                           capture_output=True, text=True, env=plain, cwd=d)
        t.ok((r.returncode, r.stdout) == (3, native.stdout) and
             'leak_check 1000 -' in r.stderr.splitlines(),
             'under the installed memprof: the same output, 1000 bytes lost', r.stderr)


def main():
    memprof, builddir, t_cli, api_src = [os.path.abspath(a) for a in sys.argv[1:5]]
    t = T()
    meson = shutil.which('meson')
    if not meson:
        print('1..0 # SKIP meson not found')
        return 0
    r = subprocess.run([meson, 'introspect', '--buildoptions', builddir],
                       capture_output=True, text=True)
    if not t.eq(r.returncode, 0, 'meson introspect', r.stderr):
        return t.done()
    opts = {o['name']: o['value'] for o in json.loads(r.stdout)}
    prefix, bindir, libdir, mandir, datadir = (opts[k] for k in ['prefix', 'bindir', 'libdir',
                                                                  'mandir', 'datadir'])

    d = tempfile.mkdtemp(prefix='check-install.')
    dest = os.path.join(d, 'dest')
    r = subprocess.run([meson, 'install', '-C', builddir, '--no-rebuild', '--destdir', dest],
                       capture_output=True, text=True)
    t.eq(r.returncode, 0, 'meson install --destdir', r.stdout[-2000:] + r.stderr)
    root = dest + prefix
    exe = os.path.join(root, bindir, 'memprof')
    shim = os.path.join(root, libdir, 'memprof', 'libmemprof.so')
    t.ok(os.access(exe, os.X_OK), 'installed %s' % os.path.join(bindir, 'memprof'))
    t.ok(os.path.isfile(shim), 'installed %s' % os.path.join(libdir, 'memprof', 'libmemprof.so'))
    if opts.get('man') != 'disabled':
        for page in MAN_PAGES:
            t.ok(os.path.isfile(os.path.join(root, mandir, 'man1', page)),
                 'installed %s' % os.path.join(mandir, 'man1', page))

        t.ok(os.path.isfile(os.path.join(root, mandir, 'man3', 'memprof.3')),
             'installed %s' % os.path.join(mandir, 'man3', 'memprof.3'))
    check_api(t, d, dest, root, opts, exe, api_src)

    comp = os.path.join(root, datadir, 'bash-completion', 'completions', 'memprof')
    t.ok(os.path.isfile(comp), 'installed %s' % os.path.join(datadir, 'bash-completion',
                                                            'completions', 'memprof'))
    loader = '/usr/share/bash-completion/bash_completion'
    if os.path.exists(loader):
        # bash-completion's own loader, as on the first `memprof <TAB>`
        script = ('source %s; __load_completion memprof || exit 7; COMP_WORDS=(memprof r); '
                  'COMP_CWORD=1; spec=$(complete -p memprof); fn=${spec#*-F }; fn=${fn%%%% *}; '
                  '"$fn" memprof r memprof; echo "${COMPREPLY[*]}"' % loader)
        r = subprocess.run(['bash', '--norc', '--noprofile', '-c', script], capture_output=True,
                           text=True, env=dict(os.environ, XDG_DATA_DIRS=os.path.join(root, datadir),
                                               BASH_COMPLETION_USER_DIR=os.path.join(d, 'none')))
        t.eq(r.stdout, 'run\n', "bash-completion loads the installed completion: "
             "'memprof r<TAB>' completes run", r.stderr)
    else:
        t.ok(False, 'bash-completion is installed (scripts/setup.sh)')

    env = dict(os.environ)
    env.pop('MEMPROF_SHIM', None)
    env.pop('LD_PRELOAD', None)

    def check(exe, shim, what):
        out = os.path.join(d, 'p.heap.pb.gz')
        r = subprocess.run([exe, 'run', '-o', out, t_cli, 'env', 'LD_PRELOAD'],
                           capture_output=True, text=True, env=env)
        t.eq((r.returncode, r.stdout), (0, 'LD_PRELOAD=%s\n' % shim),
             '%s: the installed shim is preloaded' % what, r.stderr)
        t.ok(r.stderr.startswith("memprof: wrote heap profile '%s', with '" % out),
             '%s: profile written' % what, r.stderr)
        try:
            with gzip.open(out) as f:
                t.ok(len(f.read()) > 0, '%s: profile is gzip' % what)
            os.unlink(out)
        except OSError as e:
            t.ok(False, '%s: profile is gzip' % what, str(e))

    if os.path.exists(exe):
        check(exe, os.path.realpath(shim), 'installed')
        moved = os.path.join(d, 'moved', 'elsewhere')
        os.makedirs(os.path.dirname(moved))
        os.rename(root, moved)
        check(os.path.join(moved, bindir, 'memprof'),
              os.path.realpath(os.path.join(moved, libdir, 'memprof', 'libmemprof.so')),
              'prefix moved')

    shutil.rmtree(d)
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
