#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The bash completion (completions/memprof.bash), driven the way bash
drives it (COMP_WORDS, COMP_CWORD, the function `complete` names), and
checked against the CLI so that it cannot drift: the commands of
`memprof --help`, and for each command every option of its --help, each
taking an argument exactly when --help shows one.  Then values and file
names by kind, the program after `memprof run`, process ids; and, with
Debian's bash-completion loaded, the program's own completion after
`memprof run PROGRAM`.

usage: check-completion.py MEMPROF COMPLETION_FILE"""
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from tap import Tap  # noqa: E402

BASH_COMPLETION = '/usr/share/bash-completion/bash_completion'

# Source the file(s), set COMP_* as bash does for the words given, call the
# function `complete -p memprof` names, print COMPREPLY a line each.
DRIVER = r'''
for f in $MP_SOURCE; do source "$f" || exit 9; done
spec=$(complete -p memprof) || exit 8
fn=${spec#*-F }; fn=${fn%% *}
[[ -n ${MP_WORDBREAKS+x} ]] && COMP_WORDBREAKS=$MP_WORDBREAKS
COMP_CWORD=$(($# - 1))
COMP_WORDS=("$@")
COMP_LINE="$*"
COMP_POINT=${#COMP_LINE}
COMPREPLY=()
"$fn" memprof "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"
'''


class Completer:
    def __init__(self, sources):
        self.sources = sources

    def __call__(self, *words, cwd=None, wordbreaks=None):
        env = dict(os.environ, MP_SOURCE=' '.join(self.sources))
        if wordbreaks is not None:
            env['MP_WORDBREAKS'] = wordbreaks
        r = subprocess.run(['bash', '--norc', '--noprofile', '-c', DRIVER, 'memprof'] + list(words),
                           capture_output=True, text=True, cwd=cwd, env=env)
        if r.returncode != 0:
            return ['<exit %d: %s>' % (r.returncode, r.stderr.strip())]
        return [w for w in r.stdout.split('\n') if w]


def help_options(memprof, cmd):
    """[(short or None, long, 'arg' | 'optional' | None)] from CMD --help."""
    text = subprocess.run([memprof, cmd, '--help'], capture_output=True, text=True).stdout
    out = []
    # option lines are indented 2 to 6 spaces; deeper lines continue a text
    for m in re.finditer(r'^ {2,6}(?:-(\w), )?--([a-z][a-z-]*)(\[=[^\]]*\]| [A-Z][A-Z.]*\b)?',
                         text, re.M):
        arg = m.group(3)
        out.append((m.group(1), m.group(2),
                    None if not arg else 'optional' if arg.startswith('[') else 'arg'))
    return out


def main():
    memprof, comp_file = map(os.path.abspath, sys.argv[1:3])
    t = Tap()
    comp = Completer([comp_file])

    reg = subprocess.run(['bash', '--norc', '--noprofile', '-c',
                          'source "$1" && complete -p memprof', 'x', comp_file],
                         capture_output=True, text=True)
    t.ok(reg.returncode == 0 and reg.stdout.startswith('complete -F '),
         'sourcing it registers a completion function for memprof', reg.stdout + reg.stderr)

    # -- commands, against memprof --help ------------------------------------
    cmds = re.findall(r'^  ([a-z]+) {2,}', subprocess.run([memprof, '--help'], capture_output=True,
                                                          text=True).stdout, re.M)
    t.ok(len(cmds) >= 9, 'memprof --help lists the commands', cmds)
    t.eq(comp('memprof', ''), cmds + ['help'], 'memprof <TAB>: the commands of --help, and help')
    t.eq(comp('memprof', 'r'), ['run'], 'memprof r<TAB> completes run')
    t.eq(comp('memprof', 'ti'), ['timeline'], 'memprof ti<TAB> completes timeline')
    t.eq(comp('memprof', '-'), ['-h', '--help', '-V', '--version'], 'memprof -<TAB>: its options')
    t.eq(comp('memprof', 'help', ''), cmds, 'memprof help <TAB>: the commands')
    t.eq(comp('memprof', 'nosuch', ''), [], 'an unknown command: nothing')

    # -- each command's options, against its --help -----------------------------
    with tempfile.TemporaryDirectory() as d:
        for cmd in cmds:
            opts = help_options(memprof, cmd)
            want = set()
            for short, long_, arg in opts:
                want.add('--' + long_)
                if short:
                    want.add('-' + short)
                if arg == 'optional':
                    want.add('--%s=' % long_)
            got = comp('memprof', cmd, '-', cwd=d)
            t.eq(sorted(set(got)), sorted(want), '%s: the options of its --help, no more' % cmd)
            wrong = []
            for short, long_, arg in opts:
                for o in ['--' + long_] + (['-' + short] if short else []):
                    after = comp('memprof', cmd, o, '-', cwd=d)
                    offers_options = '--help' in after
                    if offers_options == (arg == 'arg'):
                        wrong.append((o, arg, after[:4]))
            t.eq(wrong, [], '%s: an option takes the next word exactly when --help shows an '
                 'argument' % cmd)

        # -- values and files by kind -----------------------------------------
        for f in ['a.heap.pb.gz', 'b.snap', 'c.txt', 'd.sarif', 'e.json', 'f.xml', 'g.svg',
                  'h.html', 'i.fds.pb.gz']:
            open(os.path.join(d, f), 'w').close()
        os.mkdir(os.path.join(d, 'sub'))
        cases = [
            (('top', ''), ['a.heap.pb.gz', 'i.fds.pb.gz', 'sub'], 'top: profiles'),
            (('top', 'a'), ['a.heap.pb.gz'], 'top a<TAB>: the profile'),
            (('stats', 'a.heap.pb.gz', ''), ['a.heap.pb.gz', 'i.fds.pb.gz', 'sub'],
             'stats: more profiles'),
            (('diff', '-n', '5', ''), ['a.heap.pb.gz', 'i.fds.pb.gz', 'sub'],
             'diff: profiles after an option and its argument'),
            (('convert', ''), ['b.snap', 'sub'], 'convert: raw snapshots'),
            (('timeline', ''), ['a.heap.pb.gz', 'b.snap', 'i.fds.pb.gz', 'sub'],
             'timeline: profiles, snapshots, run directories'),
            (('timeline', '-o', ''), ['g.svg', 'h.html', 'sub'], 'timeline -o: SVG or HTML'),
            (('flame', '-o', ''), ['g.svg', 'sub'], 'flame -o: SVG'),
            (('merge', '--output', ''), ['a.heap.pb.gz', 'i.fds.pb.gz', 'sub'],
             'merge --output: a profile'),
            (('run', '--leak-report', ''), ['d.sarif', 'e.json', 'f.xml', 'sub'],
             'run --leak-report: .sarif, .json, .xml'),
            (('run', '--leak-report', '=', ''), ['d.sarif', 'e.json', 'f.xml', 'sub'],
             'run --leak-report=<TAB> (bash splits at =)'),
            (('run', '--suppressions', 'c'), ['c.txt'], 'run --suppressions: any file'),
            (('run', '--allocator', ''), ['memprof', 'system'], 'run --allocator'),
            (('run', '--leak-check', '=', ''), ['full', 'summary'], 'run --leak-check=<TAB>'),
            (('run', '--leak-check', '=', 's'), ['summary'], 'run --leak-check=s<TAB>'),
            (('run', '--fail-on', 'definite,in'), ['definite,indirect'],
             'run --fail-on: the list\'s last item'),
            (('run', '--fail-on', 'fds,t'), ['fds,threads', 'fds,timers'],
             'run --fail-on: items not yet in the list'),
            (('run', '--snapshot-signal', 'U'), ['USR1', 'USR2'], 'run --snapshot-signal'),
            (('top', '-i', 'in'), ['inuse_objects', 'inuse_space'], 'top -i: sample types'),
            (('run', '--rate', ''), [], 'run --rate: a size, nothing to offer'),
            (('run', '--rate', '1', '-q', 'ech'), ['echo'],
             'run: the program is a command after the options'),
            (('run', '--', 'c.t'), ['c.txt'], 'run -- : then the program'),
            (('run', './prog', '-'), [], 'after the program: its arguments, not memprof\'s '
             'options'),
            (('run', './prog', '--rate', 'c'), ['c.txt'], 'after the program: files'),
            (('attach', '--depth', '3', '--d'), ['--depth', '--duration'],
             'attach: options, no operand'),
        ]
        for words, want, what in cases:
            got = comp('memprof', *words, cwd=d)
            if words[-1] == 'ech':
                got = sorted(set(got) & {'echo'})
            t.eq(sorted(set(got)), sorted(want), what)
        got = comp('memprof', 'run', '--leak-check=s', cwd=d, wordbreaks=' \t\n"\'><;|&(:')
        t.eq(got, ['--leak-check=summary'], 'run --leak-check=s<TAB> with = not a word break')
        got = comp('memprof', 'run', '--leak-report=d', cwd=d, wordbreaks=' \t\n"\'><;|&(:')
        t.eq(got, ['--leak-report=d.sarif'], 'run --leak-report=d<TAB>, the same way')
        got = comp('memprof', 'snapshot', '', cwd=d)
        t.ok('1' in got and str(os.getpid()) in got, 'snapshot: process ids', got[:10])
        got = comp('memprof', 'attach', '-p', str(os.getpid())[:-1], cwd=d)
        t.ok(str(os.getpid()) in got, 'attach -p: process ids', got[:10])
        t.eq(comp('memprof', 'snapshot', '1', '', cwd=d), [], 'snapshot: one process id')

        # -- with Debian's bash-completion: the program's own completion -------
        if os.path.exists(BASH_COMPLETION):
            full = Completer([BASH_COMPLETION, comp_file])
            got = full('memprof', 'run', '-q', 'ls', '--al', cwd=d)
            t.ok('--all' in got and '--almost-all' in got,
                 'with bash-completion: `memprof run ls --al<TAB>` completes ls\'s options', got)
            t.eq(full('memprof', 'r', cwd=d), ['run'], 'with bash-completion: memprof r<TAB>')
            t.eq(sorted(full('memprof', 'top', '', cwd=d)),
                 ['a.heap.pb.gz', 'i.fds.pb.gz', 'sub'], 'with bash-completion: top <TAB>')
        else:
            t.ok(False, 'bash-completion is installed (scripts/setup.sh)')
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
