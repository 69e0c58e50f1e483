#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""README.md and the man pages stay true to the CLI: every command has a
man page, every man page is installed and named in the README, the README's
synopsis and each man page carry every option the command's --help lists,
the README's LD_PRELOAD example points where its Install section puts the
shim, and it says MEMPROF_OPTIONS is comma-separated.
usage: check-docs.py MEMPROF SRCDIR BUILDDIR"""
import json
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from tap import Tap  # noqa: E402


def run(argv):
    return subprocess.run(argv, capture_output=True, text=True)


def options(help_text):
    """{long option: short option or None} from a --help text."""
    out = {}
    for m in re.finditer(r'^ +(?:-(\w), )?--([a-z][a-z-]*)', help_text, re.M):
        out[m.group(2)] = m.group(1)
    out.pop('help', None)
    return out


def main():
    memprof, src, build = sys.argv[1:4]
    t = Tap()
    readme = open(os.path.join(src, 'README.md')).read()
    mandir = os.path.join(src, 'man')
    pages = sorted(f for f in os.listdir(mandir) if f.endswith('.1'))
    installed = re.findall(r"'(memprof[a-z-]*\.1)'", open(os.path.join(mandir, 'meson.build')).read())
    t.eq(sorted(installed), pages, 'every man page is installed (man/meson.build)')
    m = re.search(r'The man pages (.*?) have\s+the details', readme, re.S)
    named = sorted(p + '.1' for p in re.findall(r'`(memprof[a-z-]*)\(1\)`', m.group(1))) if m else []
    t.eq(named, pages, 'the README names every man page, and only those')

    cmds = re.findall(r'^  ([a-z]+) {2,}', run([memprof, 'help']).stdout, re.M)
    t.ok(len(cmds) >= 9, 'memprof help lists the commands', cmds)
    usage = readme[readme.index('## Usage'):readme.index('**run** starts')]
    for cmd in cmds:
        t.ok('memprof-%s.1' % cmd in pages, '%s: has a man page' % cmd)
        syn = ' '.join(re.findall(r'^memprof %s (.*(?:\n {8,}.*)*)' % cmd, usage, re.M))
        t.ok(syn, '%s: in the README synopsis' % cmd)
        opts = options(run([memprof, cmd, '--help']).stdout)
        missing = [o for o, short in opts.items()
                   if '--' + o not in syn and not (short and '-' + short in syn)]
        t.eq(missing, [], '%s: the README synopsis has every option of --help' % cmd)
        path = os.path.join(mandir, 'memprof-%s.1' % cmd)
        page = open(path).read().replace('\\-', '-') if os.path.exists(path) else ''
        missing = [o for o in opts if '--' + o not in page]
        t.eq(missing, [], '%s: its man page has every option of --help' % cmd)

    prefix = re.search(r'meson setup \S+ (?:--\S+ )*--prefix=(\S+)', readme)
    meson = shutil.which('meson')
    libdir = None
    if meson:
        r = run([meson, 'introspect', '--buildoptions', build])
        if r.returncode == 0:
            libdir = {o['name']: o['value'] for o in json.loads(r.stdout)}['libdir']
    pre = re.findall(r'LD_PRELOAD=(\S+)', readme)
    if prefix and libdir and not os.path.isabs(libdir):
        want = os.path.join(prefix.group(1), libdir, 'memprof', 'libmemprof.so')
        t.ok(pre and all(p == want for p in pre),
             "the README's LD_PRELOAD example is where its Install puts the shim (%s)" % want, pre)
    else:
        print('# libdir not known here: LD_PRELOAD path not checked')
    t.ok(re.search(r'MEMPROF_OPTIONS`?,? separated by commas', readme),
         'the README says MEMPROF_OPTIONS is comma-separated')
    t.ok('rate=1:verbose=1' in readme, "the README warns about the sanitizers' ':' style")
    t.ok('build/src/cli' in usage and 'PATH' in usage,
         'the README says where demo.sh leaves the CLI and how to put it on PATH')
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
