# SPDX-License-Identifier: MIT
"""Read a profile through `go tool pprof -raw` (the reference client) into
Python structures, for integration tests that check exact values."""
import os
import re
import shutil
import subprocess
import tempfile

LOC_RE = re.compile(r'^\s*(\d+): (0x[0-9a-f]+) M=(\d+)(?: (.*))?$')
SAMPLE_RE = re.compile(r'^\s*(-?\d+(?:\s+-?\d+)*):((?:\s+\d+)*)\s*$')


def go_env():
    env = dict(os.environ)
    tmp = os.path.join(tempfile.gettempdir(), 'memprof-go-cache')
    env.setdefault('GOCACHE', tmp)
    env.setdefault('GOPATH', tmp + '-path')
    env['GOTOOLCHAIN'] = 'local'
    env['GOFLAGS'] = '-mod=mod'
    env['PPROF_TMPDIR'] = tempfile.gettempdir()
    return env


def in_own_tempdir(prefix, checks):
    """checks(d) in a new temporary directory d, which is also the process's
    temporary directory from then on, so that what go tool pprof keeps of
    the profiles it fetches (PPROF_TMPDIR, go_env) goes with d, removed at
    the end.  Returns what checks returned."""
    d = tempfile.mkdtemp(prefix=prefix)
    tempfile.tempdir = d
    try:
        return checks(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def frame_name(text):
    """'name file:line s=N' -> name (names may contain spaces); pprof adds
    '(system name)' after s=N when it differs from the name (a demangled
    one)."""
    text = re.sub(r'\s+s=\d+(\(\S*\))?$', '', text.strip())
    m = re.match(r'^(.*) (\S*:\d+)$', text)   # file may be empty: 'fn :0'
    return m.group(1) if m else text


def read_raw(path):
    out = subprocess.run(['go', 'tool', 'pprof', '-raw', path], capture_output=True,
                         text=True, env=go_env())
    if out.returncode != 0:
        raise RuntimeError('go tool pprof -raw %s failed: %s' % (path, out.stderr.strip()))
    section = None
    types = []
    samples = []        # (values, [loc ids], labels text)
    locations = {}      # id -> [function names, innermost first]
    last_loc = None
    for line in out.stdout.splitlines():
        if line in ('Samples:', 'Locations', 'Mappings'):
            section = line
            continue
        if section == 'Samples:':
            if not types:
                types = [t.split('/')[0] for t in line.split()]
                continue
            m = SAMPLE_RE.match(line)
            if m:
                vals = [int(v) for v in m.group(1).split()]
                locs = [int(x) for x in m.group(2).split()]
                samples.append([vals, locs, ''])
            elif samples and line.strip():
                samples[-1][2] += line.strip()
        elif section == 'Locations':
            m = LOC_RE.match(line)
            if m:
                last_loc = int(m.group(1))
                locations[last_loc] = [frame_name(m.group(4))] if m.group(4) else []
            elif last_loc is not None and line.strip():
                locations[last_loc].append(frame_name(line))
    return types, samples, locations


def frames_and_mappings(path):
    """The locations' frames of `go tool pprof -raw path` as text without
    their addresses (sorted; an inlined frame's line as it is), and the
    mappings as (start, file) pairs."""
    out = subprocess.run(['go', 'tool', 'pprof', '-raw', path], capture_output=True, text=True,
                         env=go_env()).stdout
    section, frames, mappings = None, [], []
    for line in out.splitlines():
        if line in ('Locations', 'Mappings'):
            section = line
            continue
        if section == 'Locations':
            m = LOC_RE.match(line)
            frames.append(m.group(4) or '' if m else line.strip())
        elif section == 'Mappings':
            m = re.match(r'^\s*\d+: (0x[0-9a-f]+)/\S+/\S+ (\S+)', line)
            if m:
                mappings.append((m.group(1), m.group(2)))
    return sorted(frames), mappings


def cum_by_function(path):
    """Sum of each sample type over the samples whose stack contains the
    function (counted once per sample), keyed by name without parameters."""
    types, samples, locations = read_raw(path)
    cum = {}
    for vals, locs, _ in samples:
        names = set()
        for l in locs:
            for f in locations.get(l, []):
                names.add(f.split('(')[0])
        for n in names:
            acc = cum.setdefault(n, [0] * len(vals))
            for i, v in enumerate(vals):
                acc[i] += v
    return types, cum
