/* SPDX-License-Identifier: MIT */
/*
 * Periodic and on-demand snapshots (see trigger.h): the helper thread, its
 * doorbell, and the snapshot signal.
 *
 * The helper thread.  Created from the shim's constructor (and again in a
 * fork child) with every signal blocked but its doorbell (below), so no
 * handler of the program ever runs on it.  It keeps its recursion guard
 * raised for good: nothing it allocates is sampled.  It sleeps in
 * FUTEX_WAIT_BITSET on the request counter with an absolute
 * CLOCK_MONOTONIC deadline (the next interval tick), so one wait serves
 * every trigger, and writes the snapshots itself.  Requests that arrive
 * while one is being written are coalesced into one more.
 *
 * Requests never reach the program.  `memprof snapshot PID` rings the
 * helper's doorbell: a real-time signal the helper alone leaves unblocked
 * (the highest one from SIGRTMAX down whose action the program has left
 * at its default, skipping the leak scan's SIGRTMAX - 1), sent to the
 * helper's thread id with rt_tgsigqueueinfo and MP_TRIGGER_MAGIC.  Its
 * handler (the signal layer's trampoline, then on_bell) counts the request;
 * the interrupted futex wait returns and the helper writes the snapshot.
 * No thread of the program is interrupted, so none of its sleeps, reads,
 * polls or waits returns EINTR.  The CLI finds the helper by its name and
 * the doorbell as the one real-time signal the helper does not block
 * (SigBlk in /proc).  The doorbell is a signal of its own, not the snapshot
 * signal: a thread that waited for the snapshot signal (sigtimedwait) would
 * compete with the program's own sigwait for the instances sent to the
 * whole process, and wake it with a spurious EINTR when it won.
 *
 * The snapshot signal (snapshot_signal=, SIGUSR2) is for `kill -USR2 PID`.
 * The program's view of it is kept by the signal layer (signals.c, which
 * this file claims it and the doorbell from): its kernel action is the
 * trampoline whatever the program sets, and on_claimed sees each instance
 * first:
 *   - a request (MP_TRIGGER_MAGIC: sigqueue(3) to the process, as older
 *     versions of memprof snapshot sent it): snapshot, never the program's
 *     handler;
 *   - any other instance while the program has a handler: the program's
 *     handler, as the kernel would have called it;
 *   - any other instance while the program has SIG_DFL or SIG_IGN:
 *     snapshot (so `kill -USR2 PID` works; the default action, termination,
 *     is lost for that one signal: documented in memprof-run(1)).
 * The helper blocks the snapshot signal and never waits for it: instances
 * sent to the process are always the program's threads'.
 *
 * Must never: malloc for itself, use stdio, take a lock the program may
 * hold, run the program's handler on our thread, or change errno or the
 * signal mask of a thread it interrupts.
 */
#include <dlfcn.h>
#include <errno.h>
#include <linux/futex.h>
#include <stdbool.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <fcntl.h>
#include <grp.h>
#include <unistd.h>

#include "base/ownmem.h"
#include "base/privfd.h"
#include "common/snapfile.h"
#include "shim/shim.h"
#include "shim/signals.h"
#include "shim/trigger.h"

static int trig_sig;                 /* the snapshot signal, 0: none */
static int bell_sig;                 /* the helper's doorbell, 0: none */
/* The helper sleeps on `bell`, which every event bumps after its own
 * counter: a wake-up between the helper's look at the counters and its
 * wait cannot be lost (the wait sees bell changed and returns at once). */
static uint32_t bell;                /* futex word: bumped per event */
static uint32_t requests;            /* bumped per numbered request */
static uint32_t live_asked;          /* bumped per live request */
static uint32_t live_token;          /* the last live request's token */
static uint32_t drain_asked;         /* bumped by mp_trigger_drain */
static uint32_t drained;             /* futex word: bumped by each drain done */
static uint32_t seq;                 /* last numbered snapshot of this process */
static int seq_state;                /* 0: seq not read from its file, 1: reading, 2: read */
static int final_done;               /* the exit snapshot is written */
static pthread_mutex_t write_lock = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;
/* Numbered snapshots, from the helper or a program thread (memprof_snapshot):
 * one number, one write, one update of the seq file at a time. */
static pthread_mutex_t seq_lock = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;
static MP_TLS int own_thread;        /* helper thread, or creating it */
/* The helper thread's tid (0: none yet), for the leak scan to leave alone. */
static pid_t helper_tid;
/* Step aside (below): bumped to ask the helper to end; what it had served
 * when it did, for the helper that follows. */
static uint32_t quit_asked;
static int helper_alive;             /* made (its tid may not be known yet) */
/* The helper's tid as its maker learnt it from pthread_create's thread
 * (0: not learnt), before the helper has run and set helper_tid itself. */
static pid_t made_tid;
static uint32_t helper_quit;         /* quit_asked when it was made */
static uint32_t quit_seen, quit_live_seen;

/* ---- requests ---------------------------------------------------------------- */

static long futex(uint32_t *word, int op, uint32_t val, const struct timespec *ts, uint32_t mask)
{
	return syscall(SYS_futex, word, op, val, ts, NULL, mask);
}

/* Ring: wake the helper after an event was counted.  Async-signal-safe. */
static void ring(void)
{
	__atomic_add_fetch(&bell, 1, __ATOMIC_RELEASE);
	futex(&bell, FUTEX_WAKE_PRIVATE, 1, NULL, 0);
}

/* Count a request and wake the helper.  Async-signal-safe. */
static void request(void)
{
	__atomic_add_fetch(&requests, 1, __ATOMIC_RELEASE);
	ring();
}

/* A live request with its token.  Async-signal-safe. */
static void live_request(uint32_t token)
{
	__atomic_store_n(&live_token, token, __ATOMIC_RELAXED);
	__atomic_add_fetch(&live_asked, 1, __ATOMIC_RELEASE);
	ring();
}

/* The snapshot signal, delivered to a program thread (signals.c calls it
 * before the program's handler). */
static int on_claimed(int sig, siginfo_t *si, void (*h)(int), int flags)
{
	int saved_errno = errno, took = 1;
	(void)sig;
	(void)flags;
	if (mp_trigger_is_request(si) || h == SIG_DFL || h == SIG_IGN)
		request();
	else
		took = 0;   /* the program's handler runs */
	errno = saved_errno;
	return took;
}

/* The doorbell, on the helper (rung by memprof snapshot) or, sent to the
 * whole process by someone else, on a program thread. */
static int on_bell(int sig, siginfo_t *si, void (*h)(int), int flags)
{
	int saved_errno = errno, took = 1;
	uint32_t token;
	(void)flags;
	if (mp_trigger_is_request(si)) {
		request();
	} else if (mp_shim.opt.live && mp_trigger_live_token(si, &token)) {
		live_request(token);
	} else if (own_thread && h != SIG_DFL && h != SIG_IGN) {
		/* The program's own use of that signal, on our thread: its
		 * handler runs on its main thread instead. */
		siginfo_t copy = *si;
		syscall(SYS_rt_tgsigqueueinfo, getpid(), getpid(), sig, &copy);
	} else {
		took = 0;   /* the program's action, as natively */
	}
	errno = saved_errno;
	return took;
}

/* ---- the helper thread ------------------------------------------------------- */

int mp_trigger_is_own_thread(void)
{
	return own_thread;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The helper's tid, waiting until `deadline` (CLOCK_MONOTONIC) for a helper
 * made but not running yet to set it, its own first act; 0 when there is
 * no helper or it has not run by then (a stopped process). */
static pid_t await_tid(uint64_t deadline)
{
	pid_t tid;
	while (!(tid = __atomic_load_n(&helper_tid, __ATOMIC_ACQUIRE)) &&
	       __atomic_load_n(&helper_alive, __ATOMIC_ACQUIRE) && mono_ns() < deadline) {
		struct timespec ts = { 0, 10000000 };
		futex((uint32_t *)&helper_tid, FUTEX_WAIT_PRIVATE, 0, &ts, 0);
	}
	return tid;
}

pid_t mp_trigger_tid(void)
{
	pid_t tid = __atomic_load_n(&helper_tid, __ATOMIC_ACQUIRE);
	if (tid || own_thread)
		return tid;
	/* Made but not run yet (its tid is its own first act): a process that
	 * ends at once, or a fork child that does, gets there before the
	 * scheduler runs it, and the leak scan would wait its 300 ms for an
	 * answer from a thread that blocks every signal.  Its maker knows the
	 * tid; else wait for the helper to run, which it does within a
	 * scheduling turn (bounded all the same: a stopped process). */
	if (__atomic_load_n(&helper_alive, __ATOMIC_ACQUIRE) &&
	    (tid = __atomic_load_n(&made_tid, __ATOMIC_RELAXED)))
		return tid;
	return await_tid(mono_ns() + 300000000ull);
}

/*
 * The last number used by this pid, kept in "<snapdir>/memprof.<pid>.seq"
 * (common/snapfile.h):
 * a program that execve()s another keeps its pid, and the new image's shim
 * must go on from there instead of replacing "memprof.<pid>.1.snap" and the
 * profiles made from it.  Only the helper thread of the current image
 * touches the file.
 */
static int seq_path(char *buf, size_t cap)
{
	return mp_snapfile_path(buf, cap, mp_shim.opt.snapdir, MP_SNAPFILE_SEQ,
				(uint64_t)getpid(), 0, NULL) ? 0 : -ENAMETOOLONG;
}

/* Runs through mp_privfd_run: its descriptor is never one of the program's. */
static int seq_read(void *arg)
{
	const char *path = arg;
	char buf[24];
	uint32_t v = 0;
	ssize_t n;
	int fd = mp_sys_open(path, O_RDONLY | O_CLOEXEC, 0);

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	mp_sys_close(fd);
	for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9' && v < UINT32_MAX / 10; i++)
		v = v * 10 + (uint32_t)(buf[i] - '0');
	return (int)(v > INT32_MAX ? INT32_MAX : v);
}

static void seq_load(void)
{
	char path[PATH_MAX];

	if (seq_path(path, sizeof(path)) < 0)
		return;
	int v = mp_privfd_run(seq_read, path);
	__atomic_store_n(&seq, v > 0 ? (uint32_t)v : 0, __ATOMIC_RELAXED);
}

/* seq as the seq file left it, read once by whichever thread numbers a
 * snapshot first (the helper, or a program thread in memprof_snapshot). */
static void seq_ensure(void)
{
	int expect = 0;

	if (__atomic_load_n(&seq_state, __ATOMIC_ACQUIRE) == 2)
		return;
	if (__atomic_compare_exchange_n(&seq_state, &expect, 1, 0, __ATOMIC_ACQ_REL,
					__ATOMIC_ACQUIRE)) {
		seq_load();
		__atomic_store_n(&seq_state, 2, __ATOMIC_RELEASE);
		return;
	}
	while (__atomic_load_n(&seq_state, __ATOMIC_ACQUIRE) != 2)
		sched_yield();
}

struct seq_file {
	char path[PATH_MAX];
	uint32_t value;
};

static int seq_write(void *arg)
{
	const struct seq_file *f = arg;
	char buf[24];
	int fd = mp_sys_open(f->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0)
		return -errno;
	mp_utoa(f->value, buf);
	if (write(fd, buf, strlen(buf)) < 0) {
		/* the next image may reuse numbers: nothing better to do */
	}
	mp_sys_close(fd);
	return 0;
}

static void seq_store(uint32_t v)
{
	static struct seq_file f;   /* under seq_lock */

	if (seq_path(f.path, sizeof(f.path)) < 0)
		return;
	f.value = v;
	mp_privfd_run(seq_write, &f);
}

/* The next numbered snapshot, named `name` (or NULL).  0 or -errno
 * (-EDEADLK: this thread is already writing one). */
static int numbered_snapshot(const char *name)
{
	int r;

	seq_ensure();
	r = pthread_mutex_lock(&seq_lock);
	if (r != 0)
		return -r;
	uint32_t n = __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED);
	r = mp_snapshot_write_as(MP_SNAPFILE_NUMBERED, n, name,
				 mp_shim.forked ? MP_SNAP_F_FORKED : 0);
	seq_store(n);
	pthread_mutex_unlock(&seq_lock);
	return r;
}

static void take_snapshot(void)
{
	numbered_snapshot(NULL);
}

int mp_trigger_snapshot_named(const char *name)
{
	if (own_thread)
		return -EDEADLK;
	return numbered_snapshot(name);
}

/* The request counts when the helper was created: requests made after that,
 * even before the new thread first runs, are its to serve. */
static uint32_t helper_seen, helper_live_seen;

static void *helper_main(void *arg)
{
	uint64_t interval = mp_shim.opt.interval_ns;
	uint64_t next = interval ? mono_ns() + interval : 0;
	uint32_t seen = __atomic_load_n(&helper_seen, __ATOMIC_ACQUIRE);
	uint32_t live_seen = __atomic_load_n(&helper_live_seen, __ATOMIC_ACQUIRE);
	uint32_t drain_seen = __atomic_load_n(&drain_asked, __ATOMIC_ACQUIRE);

	(void)arg;
	own_thread = 1;
	pid_t me = (pid_t)syscall(SYS_gettid), made = __atomic_load_n(&made_tid, __ATOMIC_RELAXED);
	if (MP_DEBUG_CHECKS && made && made != me) {
		char a[24], b[24];
		mp_warn("the helper thread's id learnt from its clock is ", mp_utoa((uint64_t)made, a),
			", not ", mp_utoa((uint64_t)me, b));
	}
	__atomic_store_n(&helper_tid, me, __ATOMIC_RELEASE);
	futex((uint32_t *)&helper_tid, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, 0);   /* step_aside */
	/* Its stack (below this frame, within the 256 KiB asked for) holds
	 * nothing of the program's: never a root of the leak scan. */
	uintptr_t here = (uintptr_t)__builtin_frame_address(0);
	mp_ownmem_add((const void *)(here - (240 << 10)), 240 << 10);
	mp_busy = 1;   /* for good: the shim's own allocations are not sampled */
	/* (The seq file is read at the first numbered snapshot, not here:
	 * reading it takes a child process (mp_privfd_run), and most
	 * processes never number one.) */
	/* memprof-snapshot(1) finds this thread by its name... */
	prctl(PR_SET_NAME, MP_TRIGGER_THREAD_NAME, 0, 0, 0);
	if (bell_sig) {
		/* ...and its doorbell as the one real-time signal it takes. */
		sigset_t bell;
		sigemptyset(&bell);
		sigaddset(&bell, bell_sig);
		pthread_sigmask(SIG_UNBLOCK, &bell, NULL);
	}
	uint32_t quit = __atomic_load_n(&helper_quit, __ATOMIC_ACQUIRE);
	for (;;) {
		uint32_t rang = __atomic_load_n(&bell, __ATOMIC_ACQUIRE);
		if (__atomic_load_n(&quit_asked, __ATOMIC_ACQUIRE) != quit) {
			/* step_aside (below): what is served goes to the next
			 * helper, and the tid says this one is on its way out. */
			__atomic_store_n(&quit_seen, seen, __ATOMIC_RELAXED);
			__atomic_store_n(&quit_live_seen, live_seen, __ATOMIC_RELAXED);
			__atomic_store_n(&helper_tid, 0, __ATOMIC_RELEASE);
			futex((uint32_t *)&helper_tid, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, 0);
			return NULL;
		}
		uint32_t now_req = __atomic_load_n(&requests, __ATOMIC_ACQUIRE);
		if (now_req != seen) {
			seen = now_req;
			take_snapshot();
			continue;
		}
		uint32_t now_live = __atomic_load_n(&live_asked, __ATOMIC_ACQUIRE);
		if (now_live != live_seen) {
			/* Coalesced: the last token asked for answers them all. */
			live_seen = now_live;
			mp_snapshot_write_as(MP_SNAPFILE_LIVE,
					     __atomic_load_n(&live_token, __ATOMIC_RELAXED), NULL,
					     mp_shim.forked ? MP_SNAP_F_FORKED : 0);
			continue;
		}
		uint32_t d = __atomic_load_n(&drain_asked, __ATOMIC_ACQUIRE);
		if (d != drain_seen) {
			/* Every request made so far is served (a doorbell rung
			 * before the wake-up was handled on the way out of the
			 * wait, before this loop looked at the count). */
			drain_seen = d;
			__atomic_add_fetch(&drained, 1, __ATOMIC_RELEASE);
			futex(&drained, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, 0);
			continue;
		}
		if (interval && mono_ns() >= next) {
			take_snapshot();
			/* A late tick (a slow snapshot, a stopped process) is not
			 * made up for: the next one is a full interval away. */
			next += interval;
			uint64_t now = mono_ns();
			if (next <= now)
				next = now + interval;
			continue;
		}
		struct timespec ts = { (time_t)(next / 1000000000u), (long)(next % 1000000000u) };
		futex(&bell, FUTEX_WAIT_BITSET_PRIVATE, rang, interval ? &ts : NULL,
		      FUTEX_BITSET_MATCH_ANY);
	}
	return NULL;
}

/* A thread's kernel id, without waiting for it to run: its CPU-time
 * clock's id encodes it (the kernel's posix-cpu-timers encoding, which
 * glibc's pthread_getcpuclockid builds from the tid that clone(2) set
 * before pthread_create returned: ~tid << 3 | per-thread 4 | sched 2).
 * 0 when the id is not of that shape.  Called at once on a thread just
 * made (a detached one's handle is good while it runs). */
static pid_t clock_tid(pthread_t t)
{
	clockid_t c;
	if (pthread_getcpuclockid(t, &c) != 0 || c >= 0 || (c & 7) != 6)
		return 0;
	pid_t tid = (pid_t)~(c >> 3);
	return tid > 0 ? tid : 0;
}

/* Start the helper with every signal blocked (it inherits our mask).
 * resume: it follows one that stepped aside, and serves what that one had
 * not. */
static int start_helper_as(bool resume)
{
	pthread_attr_t attr;
	pthread_t t;
	sigset_t all, saved;
	int r;

	if (pthread_attr_init(&attr) != 0)
		return -ENOMEM;
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 << 10);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &saved);
	own_thread = 1;
	mp_busy++;
	/* Read here, not in the new thread: a request made while it is still
	 * waiting to run (a loaded machine) would be taken for an old one and
	 * lost. */
	__atomic_store_n(&helper_quit, __atomic_load_n(&quit_asked, __ATOMIC_ACQUIRE),
			 __ATOMIC_RELEASE);
	__atomic_store_n(&helper_seen,
			 resume ? __atomic_load_n(&quit_seen, __ATOMIC_RELAXED)
				: __atomic_load_n(&requests, __ATOMIC_ACQUIRE),
			 __ATOMIC_RELEASE);
	__atomic_store_n(&helper_live_seen,
			 resume ? __atomic_load_n(&quit_live_seen, __ATOMIC_RELAXED)
				: __atomic_load_n(&live_asked, __ATOMIC_ACQUIRE),
			 __ATOMIC_RELEASE);
	r = pthread_create(&t, &attr, helper_main, NULL);
	if (r == 0) {
		__atomic_store_n(&made_tid, clock_tid(t), __ATOMIC_RELAXED);
		__atomic_store_n(&helper_alive, 1, __ATOMIC_RELEASE);
	}
	mp_busy--;
	own_thread = 0;
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	pthread_attr_destroy(&attr);
	return -r;
}

static int start_helper(void)
{
	return start_helper_as(false);
}

/*
 * Stepping aside.  The kernel lets only a process of one thread enter a new
 * user namespace (unshare(CLONE_NEWUSER), setns into one: EINVAL
 * otherwise), or unshare CLONE_VM, CLONE_SIGHAND or CLONE_THREAD, and the
 * helper is a second thread the program did not make: `unshare -U` failed
 * under memprof run.  Around those calls the helper ends, and the call
 * waits until the kernel has taken it out of the thread group (tgkill
 * finds no such thread); a new helper starts after the call, in whatever
 * namespace the process is then, and serves the requests made meanwhile.
 * A program of several threads of its own gets EINVAL as natively.
 */
static bool step_aside(void)
{
	if (!__atomic_load_n(&helper_alive, __ATOMIC_ACQUIRE) || own_thread)
		return false;
	int saved = errno;   /* the call's caller sees the call's errno alone */
	uint64_t deadline = mono_ns() + 2000000000ull;   /* a stopped helper: go on */
	/* Made, but perhaps not running yet. */
	pid_t tid = await_tid(deadline);
	/* Not ours to stop: a vfork child shares our memory, not our threads. */
	if (!tid || syscall(SYS_tgkill, getpid(), tid, 0) != 0) {
		errno = saved;
		return false;
	}
	__atomic_add_fetch(&quit_asked, 1, __ATOMIC_RELEASE);
	ring();
	while (__atomic_load_n(&helper_tid, __ATOMIC_ACQUIRE) == tid && mono_ns() < deadline) {
		struct timespec ts = { 0, 10000000 };
		futex((uint32_t *)&helper_tid, FUTEX_WAIT_PRIVATE, (uint32_t)tid, &ts, 0);
	}
	while (syscall(SYS_tgkill, getpid(), tid, 0) == 0 && mono_ns() < deadline) {
		struct timespec ts = { 0, 50000 };
		nanosleep(&ts, NULL);
	}
	__atomic_store_n(&helper_alive, 0, __ATOMIC_RELEASE);
	errno = saved;
	return true;
}

/* The helper again.  Not after entering a new PID namespace for the
 * children (CLONE_NEWPID with the rest): the kernel then refuses the
 * process a thread until it forks (EINVAL), and the fork child, in the new
 * namespace, gets its own helper (atfork_child); the process that forked
 * it only waits, as `unshare --fork --pid` does. */
static void step_back(void)
{
	int r = start_helper_as(true);
	if (r < 0 && r != -EINVAL)
		mp_warn("cannot start the snapshot thread again: ", strerrorname_np(-r),
			", no snapshots before exit", NULL);
}

/*
 * One thread at a time steps aside, until its helper is back: two threads'
 * calls at once (set*id in a threaded program) would each end the helper
 * and each start one after, leaving two.  (glibc serializes set*id across
 * threads anyway.)  A signal handler's call inside the holder's goes
 * straight through: the helper is away then.  Re-made in a fork child.
 */
static pthread_mutex_t aside_lock = PTHREAD_MUTEX_INITIALIZER;
static MP_TLS int aside_held;

static bool aside_begin(void)
{
	if (aside_held)
		return false;
	pthread_mutex_lock(&aside_lock);
	aside_held = 1;
	if (step_aside())
		return true;
	aside_held = 0;
	pthread_mutex_unlock(&aside_lock);
	return false;
}

/* After the call that needed the helper gone: its result and errno, as the
 * call left them. */
static int aside_end(int r)
{
	int saved = errno;
	step_back();
	aside_held = 0;
	pthread_mutex_unlock(&aside_lock);
	errno = saved;
	return r;
}

/* The next definition of `name` (libc's), found once into *slot; NULL
 * with errno ENOSYS when there is none. */
static void *next_fn(void **slot, const char *name)
{
	void *f = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
	if (!f) {
		f = dlsym(RTLD_NEXT, name);
		__atomic_store_n(slot, f, __ATOMIC_RELEASE);
	}
	if (!f)
		errno = ENOSYS;
	return f;
}

typedef int (*unshare_fn)(int);
typedef int (*setns_fn)(int, int);

MP_EXPORT int unshare(int flags)
{
	static void *slot;
	unshare_fn real = (unshare_fn)next_fn(&slot, "unshare");
	if (!real)
		return -1;
	bool aside = (flags & (CLONE_NEWUSER | CLONE_VM | CLONE_SIGHAND | CLONE_THREAD)) &&
		     aside_begin();
	return aside ? aside_end(real(flags)) : real(flags);
}

/* setns: a user namespace, or a descriptor of a kind not said (0), which
 * may be one. */
MP_EXPORT int setns(int fd, int nstype)
{
	static void *slot;
	setns_fn real = (setns_fn)next_fn(&slot, "setns");
	if (!real)
		return -1;
	bool aside = (nstype == 0 || (nstype & CLONE_NEWUSER)) && aside_begin();
	return aside ? aside_end(real(fd, nstype)) : real(fd, nstype);
}

/*
 * Credentials.  The kernel changes the IDs of the calling thread alone;
 * glibc makes set*id(2) and setgroups(2) the process's by running the same
 * call on every other thread (nptl's SIGSETXID) and aborts when the
 * threads' results differ.  Capabilities are per thread too: a program
 * that keeps them across setresuid (PR_SET_KEEPCAPS) and raises them again
 * with capset(2) has them on its own thread only (setpriv --reuid --regid,
 * daemons dropping root with libcap-ng), so the helper's setresgid failed
 * with EPERM where the program's succeeded, and `setpriv --reuid=65534
 * --regid=65534 --clear-groups CMD` died of SIGABRT under memprof run.
 * The helper steps aside around these calls as well, and the one after is
 * made by the caller's thread, with the credentials it has then.  Calls
 * glibc makes inside itself (initgroups, posix_spawn's POSIX_SPAWN_RESETIDS
 * in the child) are not seen; they run before a divergence or in a child
 * without the helper.
 */
typedef int (*setid1_fn)(unsigned);
typedef int (*setid2_fn)(unsigned, unsigned);
typedef int (*setid3_fn)(unsigned, unsigned, unsigned);
typedef int (*setgroups_fn)(size_t, const gid_t *);

static int setid1(const char *name, void **slot, unsigned a)
{
	setid1_fn real = (setid1_fn)next_fn(slot, name);
	if (!real)
		return -1;
	return aside_begin() ? aside_end(real(a)) : real(a);
}

static int setid2(const char *name, void **slot, unsigned a, unsigned b)
{
	setid2_fn real = (setid2_fn)next_fn(slot, name);
	if (!real)
		return -1;
	return aside_begin() ? aside_end(real(a, b)) : real(a, b);
}

static int setid3(const char *name, void **slot, unsigned a, unsigned b, unsigned c)
{
	setid3_fn real = (setid3_fn)next_fn(slot, name);
	if (!real)
		return -1;
	return aside_begin() ? aside_end(real(a, b, c)) : real(a, b, c);
}

static void *real_setuid, *real_setgid, *real_seteuid, *real_setegid;
static void *real_setreuid, *real_setregid, *real_setresuid, *real_setresgid;
static void *real_setgroups;

MP_EXPORT int setuid(uid_t u)
{
	return setid1("setuid", &real_setuid, u);
}

MP_EXPORT int setgid(gid_t g)
{
	return setid1("setgid", &real_setgid, g);
}

MP_EXPORT int seteuid(uid_t u)
{
	return setid1("seteuid", &real_seteuid, u);
}

MP_EXPORT int setegid(gid_t g)
{
	return setid1("setegid", &real_setegid, g);
}

MP_EXPORT int setreuid(uid_t r, uid_t e)
{
	return setid2("setreuid", &real_setreuid, r, e);
}

MP_EXPORT int setregid(gid_t r, gid_t e)
{
	return setid2("setregid", &real_setregid, r, e);
}

MP_EXPORT int setresuid(uid_t r, uid_t e, uid_t s)
{
	return setid3("setresuid", &real_setresuid, r, e, s);
}

MP_EXPORT int setresgid(gid_t r, gid_t e, gid_t s)
{
	return setid3("setresgid", &real_setresgid, r, e, s);
}

MP_EXPORT int setgroups(size_t n, const gid_t *list)
{
	setgroups_fn real = (setgroups_fn)next_fn(&real_setgroups, "setgroups");
	if (!real)
		return -1;
	return aside_begin() ? aside_end(real(n, list)) : real(n, list);
}

/*
 * Fork: the child has no helper thread and its own snapshot numbering.
 * No prepare handler: fork never waits for a snapshot in progress (and so
 * cannot join a lock cycle with handlers registered later).  A snapshot the
 * helper was writing belongs to the parent (its temporary file is named
 * with the parent's pid), so the child only needs a fresh write_lock.
 */
static void atfork_child(void)
{
	/* Re-initialized, not unlocked: an error-checking mutex knows its owner
	 * by thread id, and the child's thread has a new one. */
	write_lock = (pthread_mutex_t)PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;
	seq_lock = (pthread_mutex_t)PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;
	aside_lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
	aside_held = 0;
	__atomic_store_n(&seq, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&seq_state, 2, __ATOMIC_RELEASE);   /* a new pid: no seq file */
	__atomic_store_n(&helper_tid, 0, __ATOMIC_RELEASE);   /* the parent's: until ours runs */
	__atomic_store_n(&helper_alive, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&made_tid, 0, __ATOMIC_RELAXED);
	final_done = 0;
	if (mp_shim.opt.interval_ns || trig_sig || bell_sig) {
		int r = start_helper();
		if (r < 0)
			mp_warn("cannot start the snapshot thread in a fork child: ",
				strerrorname_np(-r), ", no snapshots before exit", NULL);
	}
}

/* The doorbell (see above): the highest real-time signal whose action the
 * program has left at its default, but the leak scan's and the snapshot
 * signal. */
static int pick_bell(void)
{
	for (int sig = SIGRTMAX; sig >= SIGRTMIN + 2; sig--) {
		int flags;
		if (sig == SIGRTMAX - 1 || sig == trig_sig)
			continue;
		if (mp_signals_program_handler(sig, &flags) == SIG_DFL &&
		    mp_signals_claim(sig, on_bell) == 0)
			return sig;
	}
	return 0;
}

int mp_trigger_start(void)
{
	int sig = (int)mp_shim.opt.snapshot_signal;
	int r;

	if (!mp_shim.enabled || (!sig && !mp_shim.opt.interval_ns && !mp_shim.opt.live))
		return 0;
	if (sig) {
		/* Whatever the signal has now (an inherited SIG_IGN, a handler an
		 * earlier constructor installed) stays the program's action. */
		trig_sig = sig;
		r = mp_signals_claim(sig, on_claimed);
		if (r == 0)
			bell_sig = pick_bell();
		if (r < 0 || !bell_sig) {
			trig_sig = 0;
			mp_warn("cannot use the snapshot signal: ", strerrorname_np(r < 0 ? -r : ENOSPC),
				", no on-demand snapshots", NULL);
			sig = 0;
		}
	}
	if (mp_shim.opt.live && !bell_sig) {
		/* live=1 (memprof run --http) without the snapshot signal: the
		 * doorbell alone. */
		bell_sig = pick_bell();
		if (!bell_sig)
			mp_warn("cannot pick a doorbell signal: ", strerrorname_np(ENOSPC),
				", no live snapshots", NULL);
	}
	if (!sig && !mp_shim.opt.interval_ns && !bell_sig)
		return 0;
	pthread_atfork(NULL, NULL, atfork_child);
	r = start_helper();
	if (r < 0)
		mp_warn("cannot start the snapshot thread: ", strerrorname_np(-r),
			", no snapshots before exit", NULL);
	return r;
}

void mp_trigger_drain(void)
{
	pid_t tid = __atomic_load_n(&helper_tid, __ATOMIC_ACQUIRE);
	if (!tid || own_thread)
		return;
	uint32_t before = __atomic_load_n(&drained, __ATOMIC_ACQUIRE);
	__atomic_add_fetch(&drain_asked, 1, __ATOMIC_RELEASE);
	ring();
	/* Bounded: a helper stopped by a debugger must not hold up exit. */
	uint64_t deadline = mono_ns() + 2000000000ull;
	while (__atomic_load_n(&drained, __ATOMIC_ACQUIRE) == before) {
		uint64_t now = mono_ns();
		if (now >= deadline)
			break;
		struct timespec ts = { (time_t)((deadline - now) / 1000000000u),
				       (long)((deadline - now) % 1000000000u) };
		futex(&drained, FUTEX_WAIT_PRIVATE, before, &ts, 0);
	}
}

/* ---- writers ------------------------------------------------------------------ */

int mp_trigger_write_lock(uint32_t n)
{
	int r = pthread_mutex_lock(&write_lock);
	if (r != 0)
		return -r;
	if (n != 0 && final_done) {
		pthread_mutex_unlock(&write_lock);
		return -ECANCELED;
	}
	return 0;
}

void mp_trigger_write_unlock(uint32_t n, int written)
{
	if (n == 0 && written)
		final_done = 1;
	pthread_mutex_unlock(&write_lock);
}

/* ---- statistics --------------------------------------------------------------- */

size_t mp_trigger_stats(struct mp_snap_kv *kv, size_t cap)
{
	char buf[128];
	ssize_t n;
	int fd;

	if (cap < 1)
		return 0;
	fd = mp_sys_open("/proc/self/statm", O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	do
		n = read(fd, buf, sizeof(buf) - 1);
	while (n < 0 && errno == EINTR);
	mp_sys_close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	/* "size resident shared text lib data dt", in pages */
	const char *p = buf;
	while (*p >= '0' && *p <= '9')
		p++;
	if (*p != ' ')
		return 0;
	p++;
	uint64_t pages = 0;
	if (*p < '0' || *p > '9')
		return 0;
	for (; *p >= '0' && *p <= '9'; p++)
		pages = pages * 10 + (uint64_t)(*p - '0');
	memset(&kv[0], 0, sizeof(kv[0]));
	memcpy(kv[0].name, "RSS", 3);
	kv[0].value = pages * (uint64_t)sysconf(_SC_PAGESIZE);
	return 1;
}
