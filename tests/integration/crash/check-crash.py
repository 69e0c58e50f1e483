#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Profiles after any death: t-crash keeps 1000 blocks of 1000 bytes
(allocate_blocks) and dies by SIGSEGV, abort, raise(SIGKILL), an outside
SIGKILL, SIGINT to its process group and SIGTERM: each time memprof run
dies of the same signal N (returncode -N, as timeout(1) and valgrind do)
and the profile, read from the tables the program shared with
memprof run, shows exactly 1,000,000 bytes in use from allocate_blocks at
--rate 1, with the signal in its comment.  Also: the program's own SIGTERM
handler still works; a fork child that dies gets its own profile; the leak
check says in one line that it cannot run; the OOM killer (a cgroup v2
child with memory.max, where the machine allows it); and a torn-record test
that kills threads allocating from ever new stacks many times: every
profile reads in go tool pprof, counts never exceed what was allocated.
usage: check-crash.py MEMPROF T_CRASH PLUGIN"""
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from pprof_raw import go_env, read_raw  # noqa: E402
from tap import Tap  # noqa: E402

WAIT = 120


def inuse_of(path, fn):
    """(in-use objects, in-use bytes) of the samples whose stack holds fn."""
    types, samples, locations = read_raw(path)
    io, ib = types.index('inuse_objects'), types.index('inuse_space')
    o = b = 0
    for vals, locs, _ in samples:
        names = {f.split('(')[0] for l in locs for f in locations.get(l, [])}
        if fn in names:
            o += vals[io]
            b += vals[ib]
    return o, b


def comment(path):
    out = subprocess.run(['go', 'tool', 'pprof', '-comments', path], capture_output=True,
                         text=True, env=go_env())
    return out.stdout.strip()


def nsamples(path):
    return len(read_raw(path)[1])


def child_pid(pid):
    """The program memprof run started (its only child)."""
    for _ in range(WAIT * 10):
        try:
            kids = open('/proc/%d/task/%d/children' % (pid, pid)).read().split()
        except OSError:
            kids = []
        if kids:
            return int(kids[0])
        time.sleep(0.1)
    return None


def start(memprof, args, out, extra=(), session=False):
    return subprocess.Popen([memprof, 'run', '--rate', '1', '-o', out] + list(extra) + args,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=session)


def main():
    memprof, target, plugin = sys.argv[1:4]
    t = Tap()
    d = tempfile.mkdtemp(prefix='check-crash.')
    try:
        deaths(t, memprof, target, d)
        handler(t, memprof, target, d)
        fork_child(t, memprof, target, d)
        loaded(t, memprof, target, plugin, d)
        leak_check(t, memprof, target, d)
        long_tmpdir(t, memprof, target, d)
        oom(t, memprof, target, d)
        torn(t, memprof, target, d)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return t.done()


def deaths(t, memprof, target, d):
    cases = [('segv', signal.SIGSEGV, None), ('abort', signal.SIGABRT, None),
             ('raise-kill', signal.SIGKILL, None), ('wait', signal.SIGKILL, 'program'),
             ('wait', signal.SIGINT, 'group'), ('wait', signal.SIGTERM, 'memprof')]
    for mode, sig, sender in cases:
        name = signal.Signals(sig).name
        what = '%s%s' % (name, ' from outside (%s)' % sender if sender else ' (%s)' % mode)
        out = os.path.join(d, '%s-%s.heap.pb.gz' % (mode, name))
        p = start(memprof, [target, mode], out, session=sender == 'group')
        if sender:
            p.stdout.readline()
            if sender == 'program':
                os.kill(child_pid(p.pid), sig)
            elif sender == 'group':
                os.killpg(p.pid, sig)    # as Ctrl-C does: memprof ignores it
            else:
                p.send_signal(sig)       # memprof passes it on
        o, err = p.communicate(timeout=WAIT)
        t.eq(p.returncode, -sig, '%s: memprof dies of %s too' % (what, name))
        t.ok("wrote heap profile '%s'" % out in err, '%s: profile written' % what, err)
        if not os.path.exists(out):
            continue
        t.eq(inuse_of(out, 'allocate_blocks'), (1000, 1000000),
             '%s: 1000 blocks, 1,000,000 bytes in use from allocate_blocks' % what)
        c = comment(out)
        t.ok('killed by %s (signal %d)' % (name, sig) in c and 'records torn by the death' in c,
             '%s: the comment names the signal' % what, c)
        # The peak's state and records are shared too: the peak profile.
        peak = out.replace('.heap.', '.peak.')
        t.ok(os.path.exists(peak) and inuse_of(peak, 'allocate_blocks') == (1000, 1000000),
             '%s: the peak profile, 1,000,000 bytes from allocate_blocks at the peak' % what)
        pc = comment(peak) if os.path.exists(peak) else ''
        m = re.search(r'peak heap in use [\d.]+ KiB at \d{4}-\d\d-\d\dT[\d:.]+Z \(([\d.]+) s '
                      r'after start\)', pc)
        t.ok(m and float(m.group(1)) < WAIT, '%s: the peak\'s size and time in its comment'
             % what, pc)
        fds = out.replace('.heap.', '.fds.')
        if sig != signal.SIGKILL:
            # the state at death: stdin, stdout, stderr at least
            t.ok(os.path.exists(fds) and nsamples(fds) >= 3,
                 '%s: descriptors at death in the fds profile' % what)


def handler(t, memprof, target, d):
    out = os.path.join(d, 'handler.heap.pb.gz')
    p = subprocess.run([memprof, 'run', '--rate', '1', '-o', out, target, 'handler'],
                       capture_output=True, text=True, timeout=WAIT)
    t.eq((p.returncode, p.stdout), (3, 'terms 1\n'),
         "the program's own SIGTERM handler runs as natively")
    t.ok(os.path.exists(out) and 'killed' not in comment(out),
         'handler: an ordinary exit profile')


def fork_child(t, memprof, target, d):
    out = os.path.join(d, 'fork.heap.pb.gz')
    p = subprocess.run([memprof, 'run', '--rate', '1', '-o', out, target, 'fork-segv'],
                       capture_output=True, text=True, timeout=WAIT)
    t.eq((p.returncode, p.stdout), (0, 'child signal 11\n'), 'fork-segv: the parent exits 0')
    kids = [f for f in os.listdir(d) if re.fullmatch(r'fork\.\d+\.heap\.pb\.gz', f)]
    t.ok(len(kids) == 1, "fork-segv: the child's own profile", p.stderr)
    if kids:
        kid = os.path.join(d, kids[0])
        t.eq(inuse_of(kid, 'child_blocks'), (1000, 1000000),
             "fork-segv: the child's 1,000,000 bytes from child_blocks at its death")
        t.eq(inuse_of(kid, 'allocate_blocks'), (1000, 1000000),
             "fork-segv: and the parent's blocks it inherited")
        t.ok('killed by SIGSEGV' in comment(kid), 'fork-segv: its comment names SIGSEGV')
    t.eq(inuse_of(out, 'child_blocks'), (0, 0), "fork-segv: the parent's profile is its own")

    # a process tree: a shell whose child (a program of its own, exec'd)
    # is killed; the shell goes on and exits 0
    out = os.path.join(d, 'tree.heap.pb.gz')
    p = subprocess.run([memprof, 'run', '--rate', '1', '-o', out, '/bin/sh', '-c',
                        '"$0" raise-kill; echo "child $?"', target],
                       capture_output=True, text=True, timeout=WAIT)
    t.eq((p.returncode, p.stdout), (0, 'child 137\n'), 'tree: the shell exits 0')
    kids = [os.path.join(d, f) for f in os.listdir(d)
            if re.fullmatch(r'tree\.\d+\.heap\.pb\.gz', f)]
    got = [inuse_of(k, 'allocate_blocks') for k in kids]
    t.ok((1000, 1000000) in got, "tree: the killed grandchild's profile, 1,000,000 bytes from "
         "allocate_blocks", p.stderr)
    c = [comment(k) for k in kids if inuse_of(k, 'allocate_blocks') == (1000, 1000000)]
    t.ok(c and 'ended without writing its profile' in c[0],
         'tree: its comment says it ended without writing its profile (its signal was its '
         "parent's to see)", c)


def loaded(t, memprof, target, plugin, d):
    out = os.path.join(d, 'plugin.heap.pb.gz')
    p = subprocess.run([memprof, 'run', '--rate', '1', '-o', out, target, 'plugin',
                        os.path.abspath(plugin)], capture_output=True, text=True, timeout=WAIT)
    t.eq(p.returncode, -signal.SIGKILL, 'plugin: killed after using a library it loaded')
    t.ok(os.path.exists(out) and inuse_of(out, 'plugin_alloc') == (100, 50000),
         "plugin: the dlopened library's function named (the maps read again when a stack "
         "holds code loaded since)", p.stderr)


def long_tmpdir(t, memprof, target, d):
    """A TMPDIR too long for a socket's path (108 bytes): the socket is
    reached through a descriptor of its directory."""
    tmp = os.path.join(d, 'x' * 120)
    os.makedirs(tmp, exist_ok=True)
    out = os.path.join(d, 'longtmp.heap.pb.gz')
    p = subprocess.run([memprof, 'run', '--rate', '1', '-o', out, target, 'segv'],
                       capture_output=True, text=True, timeout=WAIT,
                       env=dict(os.environ, TMPDIR=tmp))
    t.ok(p.returncode == -signal.SIGSEGV and 'warning' not in p.stderr and os.path.exists(out) and
         inuse_of(out, 'allocate_blocks') == (1000, 1000000),
         'a %d-byte TMPDIR: the profile after SIGSEGV all the same' % len(tmp), p.stderr)


def leak_check(t, memprof, target, d):
    out = os.path.join(d, 'leak.heap.pb.gz')
    p = subprocess.run([memprof, 'run', '--leak-check', '-o', out, target, 'segv'],
                       capture_output=True, text=True, timeout=WAIT)
    t.eq(p.returncode, -signal.SIGSEGV, '--leak-check, SIGSEGV: memprof dies of SIGSEGV too')
    lines = [l for l in p.stderr.splitlines() if 'leak check' in l]
    t.ok(len(lines) == 1 and 'killed by SIGSEGV' in lines[0] and 'cannot be scanned' in lines[0],
         '--leak-check: one line says it cannot run on the dead process', p.stderr)
    t.ok(os.path.exists(out) and inuse_of(out, 'allocate_blocks') == (1000, 1000000),
         '--leak-check: the heap profile is still written')


def cgroup_v1_for_oom():
    """A cgroup v1 memory child with memory.limit_in_bytes (machines whose
    memory controller is still on v1), or (None, reason)."""
    root = '/sys/fs/cgroup/memory'
    if not os.path.exists(os.path.join(root, 'memory.limit_in_bytes')):
        return None, 'no cgroup v2 hierarchy with a memory controller, no v1 memory controller'
    mine = ''
    for line in open('/proc/self/cgroup'):
        parts = line.strip().split(':', 2)
        if len(parts) == 3 and 'memory' in parts[1].split(','):
            mine = parts[2]
    try:
        cg = tempfile.mkdtemp(prefix='memprof-oom.', dir=os.path.normpath(root + mine))
        with open(os.path.join(cg, 'memory.limit_in_bytes'), 'w') as f:
            f.write(str(64 << 20))
        if os.path.exists(os.path.join(cg, 'memory.memsw.limit_in_bytes')):
            with open(os.path.join(cg, 'memory.memsw.limit_in_bytes'), 'w') as f:
                f.write(str(64 << 20))
        return cg, None
    except OSError as e:
        return None, 'cannot make a v1 memory cgroup with a limit: %s' % e


def oom_kills(cg):
    """memory.events' oom_kill (v2) or memory.oom_control's (v1)."""
    for name in ('memory.events', 'memory.oom_control'):
        try:
            for line in open(os.path.join(cg, name)):
                if line.startswith('oom_kill '):
                    return int(line.split()[1])
        except OSError:
            pass
    return 0


def cgroup_for_oom(d):
    """A cgroup v2 child with memory.max (v1's memory.limit_in_bytes where
    the memory controller is on v1), or (None, reason)."""
    root = '/sys/fs/cgroup'
    if not os.path.exists(os.path.join(root, 'cgroup.controllers')) or \
       'memory' not in open(os.path.join(root, 'cgroup.controllers')).read().split():
        return cgroup_v1_for_oom()
    mine = open('/proc/self/cgroup').read().strip().split('::')[-1]
    parent = os.path.normpath(root + mine)
    for base in (parent, root):
        try:
            ctl = open(os.path.join(base, 'cgroup.subtree_control')).read().split()
            if 'memory' not in ctl:
                with open(os.path.join(base, 'cgroup.subtree_control'), 'w') as f:
                    f.write('+memory')
            cg = tempfile.mkdtemp(prefix='memprof-oom.', dir=base)
            with open(os.path.join(cg, 'memory.max'), 'w') as f:
                f.write(str(64 << 20))
            if os.path.exists(os.path.join(cg, 'memory.swap.max')):
                with open(os.path.join(cg, 'memory.swap.max'), 'w') as f:
                    f.write('0')
            return cg, None
        except OSError as e:
            reason = 'cannot make a cgroup with a memory limit under %s: %s' % (base, e)
    return None, reason


def oom(t, memprof, target, d):
    cg, reason = cgroup_for_oom(d)
    if not cg:
        print('# SKIP OOM killer test: %s' % reason)
        t.ok(True, 'OOM killer: skipped (%s)' % reason)
        return
    try:
        out = os.path.join(d, 'oom.heap.pb.gz')
        # the program moves itself into the cgroup; memprof run stays out
        script = 'echo $$ > %s/cgroup.procs && exec %s oom' % (cg, target)
        print('# OOM killer test in %s' % cg)
        p = subprocess.run([memprof, 'run', '--rate', '1', '-o', out, '/bin/sh', '-c', script],
                           capture_output=True, text=True, timeout=WAIT)
        kills = oom_kills(cg)
        t.eq((p.returncode, kills >= 1), (-signal.SIGKILL, True),
             'OOM killer: SIGKILL from the kernel (oom_kill counted), memprof dies of it too')
        t.ok(os.path.exists(out) and inuse_of(out, 'allocate_blocks') == (1000, 1000000),
             'OOM killer: 1,000,000 bytes in use from allocate_blocks', p.stderr)
        grown = inuse_of(out, 'oom_grow') if os.path.exists(out) else (0, 0)
        t.ok(grown[1] >= 16 << 20, 'OOM killer: the growth that hit the limit is in the '
             'profile (%d MiB from oom_grow)' % (grown[1] >> 20))
    finally:
        for _ in range(50):
            try:
                os.rmdir(cg)
                break
            except OSError:
                time.sleep(0.1)


def torn(t, memprof, target, d):
    """SIGKILL at random moments while four threads allocate and free from
    ever new stacks (depths 0..39, 2000 sizes): the stack table, the
    buckets and their counts are changing at every instant."""
    runs, ok_all, bounds_all, torn_total = 25, True, True, 0
    life_runs, life_ok, peak_runs = 0, True, 0
    rng = random.Random(17)
    bad = ''
    for i in range(runs):
        out = os.path.join(d, 'torn%d.heap.pb.gz' % i)
        p = start(memprof, [target, 'churn'], out)
        p.stdout.readline()
        time.sleep(rng.uniform(0.02, 0.4))
        pid = child_pid(p.pid)
        if pid:
            os.kill(pid, signal.SIGKILL)
        _, err = p.communicate(timeout=WAIT)
        try:
            types, samples, locations = read_raw(out)
        except (RuntimeError, OSError) as e:
            ok_all = False
            bad = '%s: %s' % (out, e)
            continue
        m = re.search(r'(\d+) records? torn', comment(out))
        torn_total += int(m.group(1)) if m else 0
        ao, ab = types.index('alloc_objects'), types.index('alloc_space')
        io, ib = types.index('inuse_objects'), types.index('inuse_space')
        churn_inuse = churn_timed = 0
        for vals, locs, labels in samples:
            names = {f.split('(')[0] for l in locs for f in locations.get(l, [])}
            # Freed blocks carry the class of how long they lived (the
            # lifetimes table is shared as the buckets are): in use none.
            m = re.search(r'lifetime:\[([^\]]*)\]', labels)
            if m and m.group(1) not in ('in-use', 'unknown'):
                if vals[io] != 0:
                    life_ok = False
                    bad = '%s: a freed block\'s sample has %d in use' % (out, vals[io])
                if 'churn_at' in names:
                    churn_timed += vals[ao]
            if not (0 <= vals[io] <= vals[ao] and 0 <= vals[ib] <= vals[ab]):
                bounds_all = False
                bad = '%s: in use above allocated: %r' % (out, vals)
            if 'churn_at' in names:
                churn_inuse += vals[io]
        life_runs += churn_timed > 0
        # The peak: every block of allocate_blocks, at most the churn's.
        peak = out.replace('.heap.', '.peak.')
        try:
            pk = inuse_of(peak, 'allocate_blocks') if os.path.exists(peak) else None
            pc = inuse_of(peak, 'churn_at') if pk else None
        except (RuntimeError, OSError):
            pk = pc = None
        peak_runs += pk == (1000, 1000000) and pc[0] <= 4 * 65
        # each thread holds at most 64 blocks, and one in flight
        if churn_inuse > 4 * 65 or inuse_of(out, 'allocate_blocks') != (1000, 1000000):
            bounds_all = False
            bad = '%s: %d churn blocks in use' % (out, churn_inuse)
    t.ok(ok_all, 'torn records: %d profiles killed mid-allocation all read in go tool pprof'
         % runs, bad)
    t.ok(bounds_all, 'torn records: no count exceeds what was allocated (in use <= allocated, '
         '<= 260 blocks held by the threads, allocate_blocks exact)', bad)
    t.ok(life_ok and life_runs >= runs - 2, 'torn records: lifetimes of the freed blocks in %d '
         'of %d profiles after SIGKILL, none of them in use' % (life_runs, runs), bad)
    t.ok(peak_runs >= runs - 2, 'torn records: a peak profile in %d of %d profiles after '
         'SIGKILL, allocate_blocks exact in it and at most 260 churn blocks' % (peak_runs, runs))
    print('# %d records torn by the deaths were skipped over %d runs' % (torn_total, runs))


if __name__ == '__main__':
    sys.exit(main())
