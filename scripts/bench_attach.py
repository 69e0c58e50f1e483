# SPDX-License-Identifier: MIT
"""bench.sh --set attach: the CPU time memprof attach adds to a running
program, against the same program unprofiled, against an empty uprobe at
the same sites (memprof attach --bench-empty-probes: the same probes whose
programs return at once) and against memleak: bcc's memleak-bpfcc when it
can run here (it needs kernel headers), or libbpf-tools' memleak built from
bcc's source and given with --memleak PATH or MEMPROF_BENCH_MEMLEAK=PATH
(bench.py --help says how to build it; Debian 12's libbpf-tools has none).
bpftrace 0.17 puts its uprobes in every process whatever -p says, so it
cannot stand in for memleak on a shared machine.

First (mode "floor"), tests/bench/uprobe-floor: what one hit of an empty
uprobe costs on this kernel, per way of attaching it and per probed
instruction, the floor under any uprobe-based profiler.

Each workload is started stopped (a wrapper that stops itself with SIGSTOP
and then execs it), the profiler attached, then continued; the workload's
own CPU time (user + sys, GNU time: the uprobe handlers run in its
context) is measured, in alternating runs, median of --reps.  Per-call
cost: (CPU under a profiler - native CPU) / allocator calls, the calls
counted by memprof attach itself.  A last run of attach and of the empty
probes has the kernel time the BPF programs themselves (BPF_ENABLE_STATS:
mean ns per run of the malloc and free programs).  --modes picks among
floor, native, empty, attach, rate1 and memleak (all by default)."""
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time

TIME = '/usr/bin/time'
STOPPER = 'import os, signal, sys; os.kill(os.getpid(), signal.SIGSTOP); os.execvp(sys.argv[1], sys.argv[1:])'


def wait_stopped(pid):
    for _ in range(2000):
        try:
            with open('/proc/%d/stat' % pid) as f:
                if f.read().rsplit(')', 1)[1].split()[0] == 'T':
                    return True
        except OSError:
            return False
        time.sleep(0.005)
    return False


def child_of(pid):
    for _ in range(2000):
        try:
            with open('/proc/%d/task/%d/children' % (pid, pid)) as f:
                kids = f.read().split()
            if kids:
                return int(kids[0])
        except OSError:
            pass
        time.sleep(0.005)
    return None


def one_run(cmd, stdin_path, env, profiler, work):
    """CPU seconds of cmd, with `profiler` (None, or a function pid -> Popen
    that returns once attached) attached while it runs; and the profiler's
    stderr."""
    tfile = os.path.join(work, 'time.txt')
    fin = open(stdin_path) if stdin_path else subprocess.DEVNULL
    tp = subprocess.Popen([TIME, '-f', '%U %S', '-o', tfile, sys.executable, '-c', STOPPER] + cmd,
                          stdin=fin, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          env=dict(os.environ, **env))
    pid = child_of(tp.pid)
    wait_stopped(pid)
    prof = profiler(pid) if profiler else None
    os.kill(pid, signal.SIGCONT)
    tp.wait()
    err = ''
    if prof:
        if prof.poll() is None:
            prof.send_signal(signal.SIGINT)
        try:
            err = prof.communicate(timeout=300)[1]
        except subprocess.TimeoutExpired:
            prof.kill()
            err = prof.communicate()[1]
    if fin is not subprocess.DEVNULL:
        fin.close()
    with open(tfile) as f:
        u, s = f.read().split()[-2:]
    return float(u) + float(s), err


def attach_profiler(memprof, out, extra):
    def start(pid):
        p = subprocess.Popen([memprof, 'attach', '-v', '-p', str(pid), '-o', out] + extra,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        lines = []
        for line in p.stderr:
            lines.append(line)
            if 'attached to process' in line or 'memprof: ' in line and 'probe' not in line:
                break
        p.stderr_head = ''.join(lines)
        return p
    return start


def memleak_profiler(pid):
    """bcc's memleak-bpfcc (Python + BCC)."""
    p = subprocess.Popen(['memleak-bpfcc', '-p', str(pid), '5'], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    for line in p.stdout:
        if 'Attaching to pid' in line:
            return p
    raise RuntimeError('memleak-bpfcc did not attach: ' + p.stderr.read().strip()[-200:])


def libbpf_memleak_profiler(path):
    """libbpf-tools' memleak built from source (bench.py --help says how):
    the same BPF side as bcc's, CO-RE, no kernel headers needed.  Its
    stdout is a pipe: line-buffered through stdbuf so that its "Attaching
    to pid" arrives when it is attached."""
    def start(pid):
        p = subprocess.Popen(['stdbuf', '-oL', path, '-p', str(pid), '5'],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for line in p.stdout:
            if 'Attaching to pid' in line:
                return p
        raise RuntimeError('%s did not attach: %s' % (path, p.stderr.read().strip()[-300:]))
    return start


def memleak_works(work):
    """None when memleak-bpfcc can attach here, else why not."""
    if not any(os.path.exists(os.path.join(d, 'memleak-bpfcc'))
               for d in os.environ.get('PATH', '').split(':') + ['/usr/sbin']):
        return 'memleak-bpfcc not installed (Debian package bpfcc-tools)'
    sl = subprocess.Popen(['sleep', '30'])
    r = subprocess.run(['timeout', '60', 'memleak-bpfcc', '-p', str(sl.pid), '1', '1'],
                       capture_output=True, text=True)
    r.stderr += r.stdout
    sl.kill()
    if r.returncode != 0 or 'Exception' in r.stderr or 'Unable' in r.stderr:
        why = [l.strip() for l in r.stderr.splitlines() if 'kernel headers' in l] + \
            [l.strip() for l in r.stderr.splitlines() if l.startswith('Exception')]
        tail = r.stderr.strip().splitlines()
        return why[0] if why else tail[-1].strip() if tail else 'failed (status %d)' % r.returncode
    return None


def prog_ns(err):
    """{program: mean ns per run} from memprof attach --bench-prog-stats."""
    out = {}
    for m in re.finditer(r'program (\w+): (\d+) runs, ([\d.]+) ns per run', err or ''):
        out[m.group(1)] = float(m.group(3))
    return out


def uprobe_floor(args):
    """The per-hit cost of an empty uprobe per mechanism and instruction."""
    path = getattr(args, 'uprobe_floor', None)
    if not path or not os.path.exists(path):
        print('uprobe-floor: not built (x86-64 only)')
        return
    r = subprocess.run([path, '200000' if args.quick else '1000000', str(args.reps)],
                       capture_output=True, text=True)
    print(r.stdout.rstrip())
    if r.returncode != 0:
        print('uprobe-floor: failed: ' + r.stderr.strip()[-300:])
    sys.stdout.flush()


def attach_bench(args, workloads, work, py3):
    memprof = args.memprof
    reps = args.reps
    want = (args.modes or 'floor,native,empty,attach,rate1,memleak').split(',')
    if 'floor' in want:
        uprobe_floor(args)
    ml_why = None
    ml_name = 'memleak'
    if 'memleak' in want:
        if args.memleak:
            ml_prof = libbpf_memleak_profiler(os.path.abspath(args.memleak))
            ml_name = 'memleak(libbpf)'
            if not os.access(args.memleak, os.X_OK):
                ml_why = '%s is not an executable' % args.memleak
        else:
            ml_prof = memleak_profiler
            ml_why = memleak_works(work)
    # python3 json workload: dumps/loads of a nested document.
    js = os.path.join(work, 'json_work.py')
    with open(js, 'w') as f:
        f.write('import json\n'
                'doc = [{"id": i, "name": "n%%d" %% i, "tags": ["a", "b", str(i)], '
                '"o": {"x": i * 0.5}} for i in range(%d)]\n'
                'for _ in range(%d):\n'
                '    s = json.dumps(doc)\n'
                '    doc = json.loads(s)\n'
                'print(len(s))\n' % (20000 if args.quick else 100000, 3 if args.quick else 6))
    wl = [w for w in workloads if w[0] in ('sqlite3', 'alloc-bench-2t', 'python3')]
    if not args.workloads or 'python3-json' in args.workloads.split(','):
        wl.insert(0, ('python3-json', [py3, js], None, {}))   # Python's own small-object allocator
    prof = os.path.join(work, 'attach.heap.pb.gz')
    all_modes = [('native', 'native', None),
                 ('empty', 'empty uprobe', attach_profiler(memprof, prof, ['--bench-empty-probes',
                                                                           '--no-resources'])),
                 ('attach', 'attach', attach_profiler(memprof, prof, [])),
                 ('rate1', 'attach --rate 1', attach_profiler(memprof, prof, ['--rate', '1']))]
    if 'memleak' in want and not ml_why:
        all_modes.append(('memleak', ml_name, ml_prof))
    modes = [(label, p) for key, label, p in all_modes if key in want or key == 'native']
    if len(modes) < 2:
        return 0
    print('memprof attach: CPU time (user+sys) of the workload, median of %d alternating runs, '
          'as a ratio to native, and the extra CPU per allocator call' % reps)
    if 'memleak' in want and ml_why:
        print('bcc memleak: cannot run here (%s); Debian 12\'s libbpf-tools (0.26) has no '
              'CO-RE memleak (give one built from source with --memleak PATH, bench.py --help). '
              'The issue\'s figures on this machine: sqlite3 102x native, a malloc '
              'microbenchmark 1,900x' % ml_why)
    labels = [m for m, _ in modes]
    hdr = '%-16s %9s %9s' % ('workload', 'calls', 'native s') + \
        ''.join(' %19s' % m for m in labels[1:])
    if 'attach' in labels and 'empty uprobe' in labels:
        hdr += '  attach/empty  BPF ns malloc,free'
    if 'attach' in labels and ml_name in labels:
        hdr += '  %s/attach' % ml_name
    print(hdr)
    for name, cmd, stdin, env in wl:
        cpu = {m: [] for m, _ in modes}
        calls = None
        for _ in range(reps):
            for m, p in modes:
                t, err = one_run(cmd, stdin, env, p, work)
                cpu[m].append(t)
                c = re.search(r'(\d+) allocator calls', err or '')
                if c and m in ('attach', 'empty uprobe') and not calls:
                    calls = int(c.group(1))
        nat = statistics.median(cpu['native'])
        row = '%-16s %9s %9.3f' % (name, calls or '-', nat)
        per = {}
        for m, _ in modes[1:]:
            med = statistics.median(cpu[m])
            per[m] = (med - nat) / calls * 1e9 if calls else None
            row += ' %9.2fx %7s' % (med / nat if nat else 0,
                                    '%.0fns' % per[m] if per[m] is not None else '-')
        if 'attach' in labels and 'empty uprobe' in labels:
            # One more run each with the programs timed (that timing costs a
            # little itself: not part of the medians above).
            ns = {}
            for m, extra in (('attach', []), ('empty', ['--bench-empty-probes', '--no-resources'])):
                _, err = one_run(cmd, stdin, env,
                                 attach_profiler(memprof, prof, extra + ['--bench-prog-stats']),
                                 work)
                ns[m] = prog_ns(err)
            rel = (per['attach'] / per['empty uprobe']) if calls and per['empty uprobe'] else None
            row += '  %12s' % ('%.2fx' % rel if rel else '-')
            row += '  %s' % ' '.join('%.0f/%.0f' % (ns[m].get('mp_malloc', 0),
                                                    ns[m].get('mp_free', 0))
                                     for m in ('attach', 'empty'))
        if 'attach' in labels and ml_name in labels:
            a, b = per.get('attach'), per.get(ml_name)
            row += '  %14s' % ('%.1fx' % (b / a) if a and b and a > 0 else '-')
        print(row)
        sys.stdout.flush()
    print('(calls counted by memprof attach; "empty uprobe" is the same probes at the same sites '
          'with programs that return at once; attach/empty: extra CPU per call under attach '
          'over that under the empty probes; BPF ns: the kernel\'s mean run time of the malloc '
          'and free programs, attach then empty, timing on; memleak/attach: extra CPU per call '
          'under memleak over that under attach)')
    return 0
