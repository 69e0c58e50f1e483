#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Every CLI command that reads files, on bad input: an empty file, a
truncated gzip, a file that is not gzip, a gzip of garbage, a pprof profile
of another kind (a CPU profile as Go writes it), a directory, a missing
path, /dev/null, an unreadable file (as an unprivileged user when run as
root), outputs in a missing or read-only directory, an output that is
the input, and outputs that are a directory, /dev/null or a FIFO (written
into, never replaced).  Each must end with one line on stderr starting 'memprof: ' and
a non-zero status, never a crash or a hang, and leave an existing output
file as it was.  Then snapshot and attach on a pid that is missing, a
kernel thread and a zombie.  Needs no shim: the inputs are made here.

usage: check-badinput.py MEMPROF
"""
import gzip
import os
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from tap import Tap  # noqa: E402

memprof = os.path.abspath(sys.argv[1])
t = Tap()


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7f
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(num, payload):
    if isinstance(payload, int):
        return varint(num << 3) + varint(payload)
    return varint(num << 3 | 2) + varint(len(payload)) + payload


def packed(num, values):
    return field(num, b''.join(varint(v) for v in values))


def profile(types, values, period_type=None):
    """A pprof Profile: one sample of `values` at main:3, sample types
    `types` [(type, unit)], optionally a period type."""
    strings = ['']

    def s(x):
        if x not in strings:
            strings.append(x)
        return strings.index(x)

    msg = b''
    for ty, unit in types:
        msg += field(1, field(1, s(ty)) + field(2, s(unit)))
    msg += field(2, packed(1, [1]) + packed(2, values))
    msg += field(4, field(1, 1) + field(4, field(1, 1) + field(2, 3)))
    msg += field(5, field(1, 1) + field(2, s('main')))
    if period_type:
        msg += field(11, field(1, s(period_type[0])) + field(2, s(period_type[1])))
        msg += field(12, 10000000)
    msg += field(9, 1700000000 * 10**9)
    return gzip.compress(msg + b''.join(field(6, x.encode()) for x in strings))


HEAP = [('alloc_objects', 'count'), ('alloc_space', 'bytes'),
        ('inuse_objects', 'count'), ('inuse_space', 'bytes')]
CPU = [('samples', 'count'), ('cpu', 'nanoseconds')]

d = tempfile.mkdtemp(prefix='memprof-badinput-')
os.chmod(d, 0o755)


def path(name):
    return os.path.join(d, name)


def write(name, data):
    with open(path(name), 'wb') as f:
        f.write(data)
    return path(name)


heap = write('heap.pb.gz', profile(HEAP, [2, 2048, 1, 1024]))
heap2 = write('heap2.pb.gz', profile(HEAP, [4, 4096, 2, 2048]))
cpu = write('cpu.pb.gz', profile(CPU, [3, 30000000], ('cpu', 'nanoseconds')))
good = open(heap, 'rb').read()
bad = {
    'empty': write('empty', b''),
    'truncated gzip': write('trunc.gz', good[:len(good) // 2]),
    'not gzip': write('text', b'hello, not a profile\n'),
    'gzip of garbage': write('garbage.gz', gzip.compress(bytes(range(256)) * 8)),
    'a directory': path('adir'),
    'a missing path': path('missing'),
    '/dev/null': '/dev/null',
    'a FIFO no one writes to': path('fifo'),
}
os.mkdir(path('adir'))
os.mkfifo(path('fifo'))
out = path('out')


def run(args, user=None, timeout=60):
    pre = None
    if user is not None:
        def pre():
            os.setgroups([])
            os.setgid(user)
            os.setuid(user)
    try:
        p = subprocess.run([memprof] + args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout, preexec_fn=pre)
    except subprocess.TimeoutExpired:
        return None, '', 'timed out'
    return p.returncode, p.stdout.decode(errors='replace'), p.stderr.decode(errors='replace')


def nobody_runs_memprof():
    """Whether user 65534 can run memprof (a build under a private home
    directory cannot): the unprivileged checks need it."""
    if os.geteuid() != 0:
        return False
    try:
        rc, so, se = run(['help', 'top'], user=65534)
    except OSError:
        return False
    return rc == 0


def refused(args, what, want=None, user=None):
    """args must fail with status 1 and one 'memprof: ' line (containing
    `want` when given), and leave an existing output file as it was."""
    with open(out, 'wb') as f:
        f.write(b'precious')
    rc, so, se = run(args, user)
    lines = se.splitlines()
    ok = (rc == 1 and len(lines) == 1 and lines[0].startswith('memprof: ') and
          (want is None or want in lines[0]))
    t.ok(ok, what, 'status %r, stderr %r' % (rc, se))
    t.eq(open(out, 'rb').read(), b'precious', what + ': the existing output is kept')
    return lines[0] if lines else ''


def commands(p):
    """Every command that reads p, with its output (if any) to `out`."""
    return [('top', ['top', p]), ('stats', ['stats', p]),
            ('diff base', ['diff', '-o', out, p, heap]),
            ('diff after', ['diff', '-o', out, heap, p]),
            ('merge', ['merge', '-o', out, heap, p]), ('flame', ['flame', '-o', out, p]),
            ('timeline', ['timeline', '-o', out, p]), ('convert', ['convert', '-o', out, p])]


for kind, p in bad.items():
    for name, args in commands(p):
        refused(args, '%s on %s' % (name, kind))

# Each line names the file and says what is wrong with it.
t.eq(refused(['top', bad['empty']], 'top on empty'),
     "memprof: cannot read profile '%s': empty file" % bad['empty'], 'empty file: the line')
t.eq(refused(['convert', '-o', out, '/dev/null'], 'convert on /dev/null'),
     "memprof: cannot read snapshot '/dev/null': not a regular file", '/dev/null: the line')

# A profile of another kind: top and flame draw any profile; the others say
# which sample types do not match, in the order the files were named.
rc, so, se = run(['top', cpu])
t.ok(rc == 0 and 'main' in so, 'top on a CPU profile', se)
types_heap = ('alloc_objects/count, alloc_space/bytes, inuse_objects/count, '
              'inuse_space/bytes')
want = 'sample types %s against samples/count, cpu/nanoseconds' % types_heap
t.eq(refused(['diff', '-o', out, heap, cpu], 'diff heap cpu'),
     "memprof: cannot compare '%s' with '%s': incompatible profiles: %s" % (heap, cpu, want),
     'diff heap cpu: the line names base then after')
t.eq(refused(['diff', '-o', out, cpu, heap], 'diff cpu heap'),
     "memprof: cannot compare '%s' with '%s': incompatible profiles: sample types "
     "samples/count, cpu/nanoseconds against %s" % (cpu, heap, types_heap),
     'diff cpu heap: the line names base then after')
t.eq(refused(['merge', '-o', out, heap, cpu], 'merge heap cpu'),
     'memprof: cannot merge: incompatible profiles: ' + want, 'merge heap cpu: the line')
refused(['stats', cpu], 'stats on a CPU profile', 'no statistics')
refused(['timeline', '-o', out, cpu], 'timeline on a CPU profile', 'not a heap profile')
refused(['convert', '-o', out, cpu], 'convert on a CPU profile', 'not a memprof snapshot')

# Outputs that cannot be written, and an output that is an input.
as_nobody = nobody_runs_memprof()
for name, args in [('diff', ['diff', '-o', '@', heap, heap2]),
                   ('merge', ['merge', '-o', '@', heap, heap2]),
                   ('flame', ['flame', '-o', '@', heap]),
                   ('timeline', ['timeline', '-o', '@', heap])]:
    a = [x.replace('@', path('nodir/x')) for x in args]
    refused(a, name + ' -o into a missing directory', 'No such file or directory')
    os.mkdir(path('ro'))
    os.chmod(path('ro'), 0o555)
    if as_nobody:
        a = [x.replace('@', path('ro/x')) for x in args]
        refused(a, name + ' -o into a read-only directory', 'Permission denied', user=65534)
    os.rmdir(path('ro'))
for name, args, inp in [('flame', ['flame', '-o', heap2, heap2], heap2),
                        ('timeline', ['timeline', '-o', heap2, heap, heap2], heap2),
                        ('convert', ['convert', '-o', heap2, heap2], heap2)]:
    before = open(inp, 'rb').read()
    refused(args, name + ' with its input as output',
            "output '%s' is the input '%s'" % (heap2, heap2))
    t.eq(open(inp, 'rb').read(), before, name + ': the input is unchanged')
link = path('link.svg')
os.symlink(heap2, link)
refused(['flame', '-o', heap2, link], 'flame: the input through a symlink', 'is the input')

# Outputs that are devices or FIFOs are written into, never replaced by a
# file (a rename over /dev/null made it one); a directory is refused.
null_before = os.stat('/dev/null')
for name, args in [('merge', ['merge', '-o', '/dev/null', heap, heap2]),
                   ('diff', ['diff', '-o', '/dev/null', heap, heap2]),
                   ('flame', ['flame', '-o', '/dev/null', heap]),
                   ('timeline', ['timeline', '-o', '/dev/null', heap, heap2])]:
    rc, so, se = run(args)
    st = os.stat('/dev/null')
    t.ok(rc == 0 and stat.S_ISCHR(st.st_mode) and st.st_rdev == null_before.st_rdev,
         name + ' -o /dev/null: written into, /dev/null still the device', se)
    refused([x if x != '/dev/null' else d for x in args], name + ' -o DIRECTORY', 'Is a directory')
rc, so, se = run(['run', '-o', '/dev/null', '--', 'true'])
t.ok(rc == 1 and se.startswith("memprof: cannot write heap profile '/dev/null': not a regular "
                               "file") and se.count('\n') == 1 and
     stat.S_ISCHR(os.stat('/dev/null').st_mode),
     'run -o /dev/null: refused up front (its other profiles are named after it)', se)
rc, so, se = run(['convert', '-o', '/dev/null', heap])
t.ok(rc == 1 and se.startswith("memprof: cannot write heap profile '/dev/null': not a regular "
                               "file") and not os.path.exists('/dev/null.peak.pb.gz'),
     'convert -o /dev/null: refused (its peak profile is named after it)', se)
rc, so, se = run(['run', '-o', d, '--', 'true'])
t.ok(rc == 1 and 'Is a directory' in se and se.count('\n') == 1, 'run -o DIRECTORY: refused', se)
fifo = path('out.fifo')
os.mkfifo(fifo)
reader = subprocess.Popen(['cat', fifo], stdout=subprocess.PIPE)
rc, so, se = run(['merge', '-o', fifo, heap, heap2])
got = reader.communicate(timeout=60)[0]
t.ok(rc == 0 and got[:2] == b'\x1f\x8b' and stat.S_ISFIFO(os.stat(fifo).st_mode),
     'merge -o FIFO: the profile comes out of the FIFO, which stays one', se)
os.unlink(fifo)

# Unreadable input, as an unprivileged user (root reads anything).
if as_nobody:
    secret = write('secret.pb.gz', good)
    os.chmod(secret, 0)
    for name, args in commands(secret):
        refused(args, '%s on an unreadable file' % name, 'Permission denied', user=65534)
else:
    t.ok(True, '# SKIP unreadable input: not root, or user 65534 cannot run memprof')

# snapshot and attach on pids that cannot be profiled.
rc, so, se = run(['snapshot', '--timeout', '2', '2147483647'])
t.ok(rc == 1 and se == 'memprof: cannot take a snapshot of process 2147483647: '
     'no such process\n', 'snapshot: a missing pid', se)
kthread = None
for pid in os.listdir('/proc'):
    if pid.isdigit():
        try:
            st = open('/proc/%s/stat' % pid).read()
        except OSError:
            continue
        if int(st[st.rindex(')') + 2:].split()[6]) & 0x00200000:
            kthread = int(pid)
            break
if kthread is None:
    t.ok(True, '# SKIP no kernel thread visible')
else:
    for args, head in [(['snapshot', str(kthread)], 'cannot take a snapshot of process'),
                       (['attach', '-p', str(kthread), '--duration', '1'],
                        'cannot attach to process')]:
        rc, so, se = run(args)
        t.eq((rc, se), (1, 'memprof: %s %d: it is a kernel thread (no user-space program to '
                        'profile)\n' % (head, kthread)), args[0] + ' on a kernel thread')
child = os.fork()
if child == 0:
    os._exit(0)
while open('/proc/%d/stat' % child).read().rsplit(')', 1)[1].split()[0] != 'Z':
    os.sched_yield()
for args, head in [(['snapshot', str(child)], 'cannot take a snapshot of process'),
                   (['attach', '-p', str(child), '--duration', '1'], 'cannot attach to process')]:
    rc, so, se = run(args)
    t.eq((rc, se), (1, 'memprof: %s %d: it has exited (a zombie its parent has not '
                    'reaped)\n' % (head, child)), args[0] + ' on a zombie')
os.waitpid(child, 0)

# A pipe with its writer there is read as it comes: a shell's <(...) (a
# FIFO no one writes to is refused above, never waited on).
q = shlex.quote
sub = '<(cat %s)' % q(heap)
for args in ([q(memprof), 'top', sub], [q(memprof), 'diff', '-o', q(out), q(heap), sub],
             [q(memprof), 'timeline', '-o', q(out), sub]):
    p = subprocess.run(['bash', '-c', ' '.join(args)], stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=60)
    t.ok(p.returncode == 0, '%s reads a profile from <(...)' % args[1], p.stderr.decode())

shutil.rmtree(d)
sys.exit(t.done())
