#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The leak report in the formats CI systems read, checked by their readers:
`--leak-report FILE.sarif` against the published SARIF 2.1.0 JSON schema
(python3-jsonschema) and by the SARIF SDK's validator with GitHub code
scanning's ingestion rules (npm @microsoft/sarif-multitool-linux, which
scripts/setup.sh installs), `--leak-report FILE.xml` by python's XML parser
and junitparser (python3-junitparser).  On t-leaks, t-resleak, a program
built the Makefile way under a directory with a space, non-ASCII and
invalid UTF-8 in its names, a process tree, and real Debian programs
through a shell wrapper: the SARIF result points at the leak's file and
line, relative to the working directory when under it; the JUnit failure
names the function, file and line; clean classes give passing tests;
suppressed leaks are left out (SARIF) or skipped (JUnit); --fail-on sets
levels; an unknown extension is refused before the program runs.

usage: check-ci-formats.py MEMPROF T_LEAKS T_CLEAN T_RESLEAK SRCDIR"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from tap import Tap  # noqa: E402

# The Debian interpreter: python3-jsonschema and python3-junitparser are
# Debian packages, importable there whatever python3 runs this script.
DEBIAN_PY = '/usr/bin/python3'

VALIDATE_SCHEMA = r'''
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
cls = jsonschema.validators.validator_for(schema)
cls.check_schema(schema)
errors = []
for path in sys.argv[2:]:
    doc = json.load(open(path, encoding='utf-8'))
    errors += ['%s at /%s' % (e.message, '/'.join(map(str, e.absolute_path)))
               for e in cls(schema).iter_errors(doc)]
print(json.dumps({'validator': cls.__name__, 'errors': errors}))
'''

READ_JUNIT = r'''
import json, sys
from junitparser import JUnitXml, Failure, Skipped, Error
xml = JUnitXml.fromfile(sys.argv[1])
out = {'tests': xml.tests, 'failures': xml.failures, 'errors': xml.errors,
       'skipped': xml.skipped, 'suites': []}
for suite in xml:
    s = {'name': suite.name, 'declared': [suite.tests, suite.failures, suite.errors, suite.skipped],
         'props': {p.name: p.value for p in suite.properties()}, 'cases': []}
    for case in suite:
        res = case.result
        res = res if isinstance(res, list) else [res] if res else []
        s['cases'].append({'classname': case.classname, 'name': case.name,
                           'file': case._elem.get('file'), 'line': case._elem.get('line'),
                           'results': [[type(r).__name__, r.message, r.type, r.text] for r in res]})
    suite.update_statistics()
    s['counted'] = [suite.tests, suite.failures, suite.errors, suite.skipped]
    out['suites'].append(s)
print(json.dumps(out))
'''

HOSTILE = r'''#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
void *volatile sink;
__attribute__((noinline)) void lose_here(void)
{
	sink = malloc(77);   /* LEAK */
	sink = 0;
}
__attribute__((noinline)) int open_here(const char *p)
{
	return open(p, O_WRONLY | O_CREAT, 0600);   /* FD */
}
int main(int argc, char **argv)
{
	lose_here();
	open_here(argv[1]);
	return 0;
}
'''


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, **kw)


def line_of(path, needle):
    with open(path, 'rb') as f:
        for i, text in enumerate(f, 1):
            if needle in text:
                return i
    return None


class Validators:
    def __init__(self, t, tmp):
        self.t = t
        root = run(['npm', 'root', '-g'], text=True).stdout.strip() if shutil.which('npm') else ''
        base = os.path.join(root, '@microsoft', 'sarif-multitool-linux')
        self.multitool = os.path.join(base, 'Sarif.Multitool')
        self.schema = os.path.join(base, 'sarif-2.1.0.json')
        self.tmp = tmp
        t.ok(os.access(self.multitool, os.X_OK) and os.path.exists(self.schema),
             'the SARIF SDK validator and its SARIF 2.1.0 schema are installed (scripts/setup.sh)',
             base)
        r = run([DEBIAN_PY, '-c', 'import jsonschema, junitparser'], text=True) \
            if os.path.exists(DEBIAN_PY) else None
        t.ok(r is not None and r.returncode == 0,
             'python3-jsonschema and python3-junitparser are installed (scripts/setup.sh)',
             r.stderr if r else DEBIAN_PY)

    def sarif(self, path, what, allow=()):
        """Schema errors and the SDK validator's errors and warnings (rule
        ids not in `allow`), as a list of strings."""
        problems = []
        r = run([DEBIAN_PY, '-c', VALIDATE_SCHEMA, self.schema, path], text=True)
        if r.returncode != 0:
            problems.append('schema check failed: ' + r.stderr[-2000:])
        else:
            problems += json.loads(r.stdout)['errors']
        out = os.path.join(self.tmp, 'validation.sarif')
        env = dict(os.environ, DOTNET_SYSTEM_GLOBALIZATION_INVARIANT='1',
                   DOTNET_CLI_TELEMETRY_OPTOUT='1')
        r = run([self.multitool, 'validate', path, '--rule-kind', 'Sarif;Gh', '-o', out,
                 '--log', 'ForceOverwrite'], text=True, env=env)
        try:
            log = json.load(open(out))
            for res in log['runs'][0].get('results', []):
                level = res.get('level', 'warning')
                # SARIF2005: no informationUri (memprof has no web page to name)
                if level in ('error', 'warning') and res['ruleId'] not in ('SARIF2005',) + allow:
                    msg = res['message'].get('text') or ' '.join(res['message'].get('arguments', []))
                    problems.append('%s %s: %s' % (level, res['ruleId'], msg[:300]))
        except (OSError, ValueError, KeyError, IndexError) as e:
            problems.append('no validation log (%s): %s' % (e, r.stdout[-1000:] + r.stderr[-1000:]))
        self.t.eq(problems, [], '%s: valid SARIF 2.1.0 (schema, SDK validator with GitHub rules)'
                  % what)
        return json.load(open(path, encoding='utf-8'))

    def junit(self, path, what):
        """The document as junitparser reads it, after a strict XML parse."""
        try:
            ET.parse(path)
            parsed = True
        except ET.ParseError as e:
            parsed = str(e)
        self.t.eq(parsed, True, '%s: well-formed XML' % what)
        r = run([DEBIAN_PY, '-c', READ_JUNIT, path], text=True)
        self.t.ok(r.returncode == 0, '%s: junitparser reads it' % what, r.stderr[-2000:])
        if r.returncode != 0:
            return {'suites': []}
        doc = json.loads(r.stdout)
        self.t.eq([s['declared'] for s in doc['suites']], [s['counted'] for s in doc['suites']],
                  '%s: each suite\'s tests, failures, errors and skipped match its cases' % what)
        total = [sum(s['counted'][i] for s in doc['suites']) for i in range(4)]
        self.t.eq([doc['tests'], doc['failures'], doc['errors'], doc['skipped']], total,
                  '%s: the totals match the suites' % what)
        return doc


def results(sarif, rule=None):
    out = []
    for run_ in sarif['runs']:
        for res in run_['results']:
            if rule is None or res['ruleId'] == rule:
                out.append(res)
    return out


def site(res):
    """(uri, uriBaseId, startLine, function) of a result's location."""
    loc = res['locations'][0]
    phys = loc.get('physicalLocation', {})
    art = phys.get('artifactLocation', {})
    fn = loc.get('logicalLocations', [{}])[0].get('fullyQualifiedName')
    return art.get('uri'), art.get('uriBaseId'), phys.get('region', {}).get('startLine'), fn


def flow_functions(res):
    return [loc['location']['logicalLocations'][0]['fullyQualifiedName']
            for loc in res['codeFlows'][0]['threadFlows'][0]['locations']]


def failures(doc, suite=None):
    out = []
    for s in doc['suites']:
        if suite and s['name'] != suite:
            continue
        for c in s['cases']:
            for kind, msg, typ, text in c['results']:
                if kind == 'Failure':
                    out.append((c, msg, typ, text))
    return out


def main():
    memprof, t_leaks, t_clean, t_resleak = map(os.path.abspath, sys.argv[1:5])
    src = sys.argv[5]
    src = os.path.realpath(src)
    t = Tap()
    leaks_cc = os.path.join(src, 'tests', 'integration', 'leaks', 't-leaks.cc')
    lose_one_line = line_of(leaks_cc, b'malloc(100)')
    lose_list_line = line_of(leaks_cc, b'malloc(sizeof(node))')
    with tempfile.TemporaryDirectory() as d:
        v = Validators(t, d)

        # -- t-leaks from the source root: paths relative to it ---------------
        sarif_p, xml_p, json_p = (os.path.join(d, 'r' + e) for e in ('.sarif', '.xml', '.json'))
        r = run([memprof, 'run', '-q', '--leak-check=summary', '--leak-report', sarif_p,
                 '--leak-report', xml_p, '--leak-report', json_p, '--error-exitcode', '42',
                 '-o', os.path.join(d, 'l.heap.pb.gz'), t_leaks], cwd=src, text=True)
        t.eq(r.returncode, 42, 'three reports in one run, the leak still fails it')
        t.ok(json.load(open(json_p))['summary']['heap_definite_bytes'] == 148,
             'the .json report is the JSON report as before')
        sarif = v.sarif(sarif_p, 't-leaks')
        t.eq(len(sarif['runs']), 1, 'one run (GitHub takes one per tool and category)')
        rules = [x['id'] for x in sarif['runs'][0]['tool']['driver']['rules']]
        t.eq(rules, ['definite-leak', 'indirect-leak', 'possible-leak', 'reachable-leak', 'fd-leak',
                     'thread-leak', 'timer-leak'], 'a rule per kind, all declared')
        one = [x for x in results(sarif, 'definite-leak') if '100 bytes' in x['message']['text']]
        rel = 'tests/integration/leaks/t-leaks.cc'
        t.eq([site(x) for x in one], [(rel, '%SRCROOT%', lose_one_line, 'lose_one')],
             'definite leak of lose_one: its file relative to the working directory, the '
             'malloc line')
        t.ok(one and one[0]['level'] == 'error' and '100 bytes in 1 block definitely lost'
             in one[0]['message']['text'], 'level error, bytes and blocks in the message',
             one and one[0]['message'])
        t.ok(one and flow_functions(one[0])[-2:] == ['main', 'lose_one'] and
             flow_functions(one[0])[0] == '_start',
             'the whole stack as a thread flow, outermost call first',
             one and flow_functions(one[0]))
        base = sarif['runs'][0]['originalUriBaseIds']['%SRCROOT%']['uri']
        t.eq(base, 'file://' + src + '/', '%SRCROOT% is the working directory, as a file URI')
        ind = results(sarif, 'indirect-leak')
        t.eq([(site(x), x['properties']['bytes'], x['properties']['blocks']) for x in ind],
             [((rel, '%SRCROOT%', lose_list_line, 'lose_list'), 432, 9)],
             'indirect leak: lose_list, 432 bytes in 9 blocks')
        t.eq(sorted(site(x)[3] for x in results(sarif, 'thread-leak')), ['main', 'main'],
             'the two threads left running: created in main')
        t.eq(results(sarif, 'reachable-leak'), [], 'still reachable blocks are no results '
             'unless --fail-on has them')
        fps = [x['partialFingerprints']['memprofStack/v1'] for x in results(sarif)]
        t.ok(len(fps) == len(set(fps)) == len(results(sarif)), 'a distinct fingerprint per '
             'result', fps)

        doc = v.junit(xml_p, 't-leaks')
        t.eq([s['name'] for s in doc['suites']], ['t-leaks'], 'a test suite for the process')
        fl = failures(doc)
        lose = [(c['classname'], c['name'], c['file'], c['line'], typ) for c, msg, typ, text in fl
                if 'lose_one' in msg]
        t.eq(lose, [('memprof.t-leaks.definite', 'lose_one (%s:%d)' % (rel, lose_one_line), rel,
                     str(lose_one_line), 'definite')],
             'a failure naming lose_one, its file and line')
        msg = [msg for c, msg, typ, text in fl if 'lose_one' in msg]
        t.ok(msg and msg[0].startswith('100 bytes in 1 block definitely lost in lose_one (' + rel),
             'the failure message: bytes, blocks, function, file, line', msg)
        text = [text for c, msg, typ, text in fl if 'lose_one' in msg]
        t.ok(text and re.search(r'at lose_one \(.*t-leaks\.cc:%d\)\n +by main ' % lose_one_line,
                                text[0]), 'the failure text holds the stack', text)
        t.eq(len(fl), 5, 'five failures: two definite, one indirect, two threads')
        passing = sorted(c['name'] for s in doc['suites'] for c in s['cases'] if not c['results'])
        t.eq(passing, ['no file descriptor left open', 'no possibly lost blocks',
                       'no timer left undeleted'],
             'passing tests for the classes with nothing left')
        props = doc['suites'][0]['props'] if doc['suites'] else {}
        t.eq((props.get('definitely_lost_bytes'), props.get('indirectly_lost_bytes'),
              props.get('program')), ('148', '432', 't-leaks'), 'the summary as properties')

        # -- from another directory: absolute file URIs --------------------------
        r = run([memprof, 'run', '-q', '--leak-check=summary', '--leak-report', 'a.sarif',
                 '--leak-report', 'a.xml', '-o', 'l.heap.pb.gz', t_leaks], cwd=d, text=True)
        sarif = v.sarif(os.path.join(d, 'a.sarif'), 't-leaks run elsewhere')
        one = [x for x in results(sarif, 'definite-leak') if '100 bytes' in x['message']['text']]
        t.eq([site(x)[:3] for x in one], [('file://' + leaks_cc, None, lose_one_line)],
             'source outside the working directory: an absolute file URI')
        doc = v.junit(os.path.join(d, 'a.xml'), 't-leaks run elsewhere')
        t.ok(any(c['file'] == leaks_cc for c, *_ in failures(doc)),
             'JUnit: the absolute path as file')

        # -- suppressions and --fail-on --------------------------------------------
        supp = os.path.join(d, 's.supp')
        with open(supp, 'w') as f:
            f.write('leak:^lose_one$\n')
        r = run([memprof, 'run', '-q', '--leak-check=summary', '--suppressions', supp,
                 '--fail-on', 'definite', '--leak-report', sarif_p, '--leak-report', xml_p,
                 '-o', os.path.join(d, 'l.heap.pb.gz'), t_leaks], cwd=src, text=True)
        sarif = v.sarif(sarif_p, 't-leaks suppressed, --fail-on definite')
        t.eq(sorted((site(x)[3], x['level']) for x in results(sarif)),
             [('lose_list', 'error'), ('lose_list', 'warning'), ('main', 'warning'),
              ('main', 'warning')],
             'suppressed lose_one left out; classes not in --fail-on are warnings')
        doc = v.junit(xml_p, 't-leaks suppressed, --fail-on definite')
        skipped = sorted((c['classname'], r_[1].split(':')[0]) for s in doc['suites']
                         for c in s['cases'] for r_ in c['results'] if r_[0] == 'Skipped')
        t.eq(skipped, [('memprof.t-leaks.definite', "suppressed by 'leak"),
                       ('memprof.t-leaks.indirect', 'not failing the run (--fail-on)'),
                       ('memprof.t-leaks.thread', 'not failing the run (--fail-on)'),
                       ('memprof.t-leaks.thread', 'not failing the run (--fail-on)')],
             'JUnit: the suppressed leak and the classes not in --fail-on are skipped')
        t.eq([c['name'] for c, *_ in failures(doc)], ['lose_list (%s:%d)' % (rel, lose_list_line)],
             'JUnit: the one failure left')

        # -- a clean program: passing tests, no result -------------------------------
        r = run([memprof, 'run', '-q', '--leak-check=summary', '--leak-report', sarif_p,
                 '--leak-report', xml_p, '--error-exitcode', '42',
                 '-o', os.path.join(d, 'c.heap.pb.gz'), t_clean], cwd=src, text=True)
        t.eq((r.returncode, r.stdout), (3, 'hello\n'), 'clean program: its own status and output')
        sarif = v.sarif(sarif_p, 't-clean')
        t.eq(results(sarif), [], 'clean program: no SARIF result')
        doc = v.junit(xml_p, 't-clean')
        t.eq(sorted(c['name'] for s in doc['suites'] for c in s['cases']),
             ['no definitely lost blocks', 'no file descriptor left open',
              'no indirectly lost blocks', 'no possibly lost blocks',
              'no thread left running or unjoined', 'no timer left undeleted'],
             'clean program: a passing test per class')
        t.eq((doc.get('failures'), doc.get('errors'), doc.get('skipped')), (0, 0, 0),
             'clean program: no failure')

        # -- descriptors, threads, timers --------------------------------------------
        work = os.path.join(d, 'res')
        os.mkdir(work)
        r = run([memprof, 'run', '-q', '--leak-check=summary', '--leak-report', sarif_p,
                 '--leak-report', xml_p, '-o', os.path.join(d, 'res.heap.pb.gz'), t_resleak, work],
                cwd=src, text=True)
        sarif = v.sarif(sarif_p, 't-resleak')
        kinds = sorted({x['ruleId'] for x in results(sarif)})
        t.ok({'fd-leak', 'thread-leak', 'timer-leak'} <= set(kinds),
             'descriptors, a thread and a timer', kinds)
        cfg = [x for x in results(sarif, 'fd-leak') if site(x)[3] == 'open_config']
        t.ok(cfg and cfg[0]['properties']['resources'][0]['type'] == 'file' and
             cfg[0]['properties']['resources'][0]['detail'].endswith('/data.txt') and
             site(cfg[0])[0] == 'tests/integration/reports/t-resleak.c',
             'the file descriptor: its path in the properties, open_config in the source',
             cfg and cfg[0])
        doc = v.junit(xml_p, 't-resleak')
        t.ok(any(c['classname'] == 'memprof.t-resleak.timer' and 'timer never deleted' in msg
                 for c, msg, *_ in failures(doc)), 'JUnit: the timer\'s failure')

        # -- the Makefile way, hostile names -------------------------------------------
        proj = os.path.join(d, 'proj')
        srcdir = os.path.join(proj, 'my src')
        os.makedirs(srcdir)
        names = {'utf8': 'lék ü.c', 'bad': 'b\udcffd "q" <&>.c'}
        for key, name in names.items():
            with open(os.path.join(srcdir, name), 'w') as f:
                f.write(HOSTILE)
            r = run(['cc', '-g', '-O0', '-o', key, os.path.join('my src', name)], cwd=proj,
                    text=True)
            t.ok(r.returncode == 0, 'built %r with a relative path' % name, r.stderr)
        leak_line = line_of(os.path.join(srcdir, names['utf8']), b'/* LEAK */')
        fd_name = os.fsencode('out\udcff\x01<&>".txt')
        for key, name in names.items():
            r = run([memprof, 'run', '-q', '--leak-check=summary', '--leak-report', 'h.sarif',
                     '--leak-report', 'h.xml', '--leak-report', 'h.json', '-o', 'h.heap.pb.gz',
                     './' + key, fd_name], cwd=proj)
            sarif = v.sarif(os.path.join(proj, 'h.sarif'), 'source %r' % name)
            want_uri = 'my%20src/' + ''.join(
                c if re.match(r'[A-Za-z0-9._~-]', c) else ''.join('%%%02X' % b for b in os.fsencode(c))
                for c in name)
            t.eq([site(x) for x in results(sarif, 'definite-leak')],
                 [(want_uri, '%SRCROOT%', leak_line, 'lose_here')],
                 'source %r: a percent-encoded URI relative to the working directory' % name)
            fdres = results(sarif, 'fd-leak')
            t.ok(len(fdres) == 1 and fdres[0]['properties']['resources'][0]['detail'].endswith(
                'out\ufffd\x01<&>".txt'),
                 'a descriptor path with invalid UTF-8 (U+FFFD) and a control (escaped) in '
                 'the SARIF',
                 fdres and fdres[0]['properties'])
            doc = v.junit(os.path.join(proj, 'h.xml'), 'source %r' % name)
            files = sorted(c['file'] for c, *_ in failures(doc))
            want_file = os.path.join('my src', name).replace('\udcff', '\ufffd')
            t.eq(files, [want_file, want_file], 'JUnit: the file as a relative path, invalid '
                 'UTF-8 as U+FFFD')
            try:
                json.load(open(os.path.join(proj, 'h.json'), encoding='utf-8'))
                ok = True
            except ValueError as e:
                ok = str(e)
            t.eq(ok, True, 'source %r: the JSON report is valid UTF-8 JSON too' % name)

        # -- a process tree: one file for all ---------------------------------------
        r = run([memprof, 'run', '-q', '--leak-check=summary', '--leak-report', sarif_p,
                 '--leak-report', xml_p, '-o', os.path.join(d, 'tree.heap.pb.gz'), '--', 'sh',
                 '-c', '"$1"; "$2"', 'sh', t_leaks, t_clean], cwd=src, text=True)
        sarif = v.sarif(sarif_p, 'process tree')
        progs = sorted({x['properties']['program'] for x in results(sarif)})
        procs = sorted(p['program'] for p in sarif['runs'][0]['properties']['processes'])
        t.eq(progs, ['t-leaks'], 'process tree: the leaks of t-leaks')
        t.ok({'t-leaks', 't-clean'} <= set(procs) and len(procs) == 3,
             'process tree: every process in the summary', procs)
        doc = v.junit(xml_p, 'process tree')
        t.eq(sorted(s['name'] for s in doc['suites']), sorted(procs), 'a test suite per process')
        t.ok(any('lose_one' in msg for c, msg, *_ in failures(doc, 't-leaks')) and
             not failures(doc, 't-clean'), 'the failures are in t-leaks\'s suite only')

        # -- real programs through a shell wrapper -----------------------------------
        with open(os.path.join(d, 'x.xml'), 'w') as f:
            f.write('<a><b/></a>\n')
        r = run([memprof, 'run', '-q', '--leak-check=summary', '--fail-on', 'definite,reachable',
                 '--leak-report', sarif_p, '--leak-report', xml_p, '-o',
                 os.path.join(d, 'real.heap.pb.gz'), 'sh', '-c',
                 DEBIAN_PY + " -c 'import ctypes, json; ctypes.CDLL(None).malloc(1000)'; "
                 "xmllint --noout x.xml; sqlite3 :memory: 'select 1' >/dev/null"],
                cwd=d, text=True, env=dict(os.environ, PYTHONHASHSEED='0'))   # one layout
        sarif = v.sarif(sarif_p, 'python3, xmllint and sqlite3 under sh')
        lost = [x for x in results(sarif, 'definite-leak')
                if x['properties']['program'].startswith('python3')]
        t.ok(len(lost) == 1 and lost[0]['properties']['bytes'] == 1000 and
             'codeFlows' in lost[0], 'python3: the 1000 bytes ctypes lost, with its stack', lost)
        t.ok(len(results(sarif, 'reachable-leak')) > 10,
             '--fail-on reachable: still reachable blocks of the real programs are results')
        doc = v.junit(xml_p, 'python3, xmllint and sqlite3 under sh')
        t.ok({'dash', 'xmllint', 'sqlite3'} <= {s['name'] for s in doc['suites']},
             'a suite for the shell and each program', [s['name'] for s in doc['suites']])

        # -- bad names: refused before the program runs ------------------------------
        marker = os.path.join(d, 'ran')
        for name in ['r.txt', 'report', 'r.sarif.txt', 'dir.xml/r', '.json.gz']:
            r = run([memprof, 'run', '--leak-check', '--leak-report', os.path.join(d, name),
                     'sh', '-c', 'touch "$1"', 'sh', marker], text=True)
            t.ok(r.returncode == 2 and r.stderr.count('\n') == 1 and
                 r.stderr.startswith("memprof: bad --leak-report '") and
                 not os.path.exists(marker), '%s: one-line error, exit 2, nothing run' % name,
                 r.stderr)
        for name, fmt in [('R.SARIF', 'sarif'), ('r.sarif.json', 'sarif'), ('R.Xml', 'xml')]:
            p = os.path.join(d, name)
            r = run([memprof, 'run', '-q', '--leak-check=summary', '--leak-report', p, '-o',
                     os.path.join(d, 'n.heap.pb.gz'), t_clean], text=True)
            head = open(p, 'rb').read(64) if os.path.exists(p) else b''
            t.ok(r.returncode == 3 and (head.startswith(b'{"$schema"') if fmt == 'sarif'
                                        else head.startswith(b'<?xml')),
                 '%s: written as %s' % (name, fmt), (r.stderr, head))
        r = run([memprof, 'run', '--leak-check', '--leak-report',
                 os.path.join(d, 'missing', 'r.sarif'), 'sh', '-c', 'touch "$1"', 'sh', marker],
                text=True)
        t.ok(r.returncode == 1 and 'cannot write leak report' in r.stderr and
             not os.path.exists(marker), 'a report in a missing directory: exit 1 before the run',
             r.stderr)
        r = run([memprof, 'run', '--leak-report', os.path.join(d, 'r.sarif'), t_clean], text=True)
        t.ok(r.returncode == 2 and 'need --leak-check' in r.stderr,
             '--leak-report without --leak-check: usage error', r.stderr)
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
