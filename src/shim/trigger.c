/* SPDX-License-Identifier: MIT */
/*
 * Periodic and on-demand snapshots (see trigger.h): the helper thread, the
 * snapshot signal and the program's view of that signal.
 *
 * The helper thread.  Created from the shim's constructor (and again in a
 * fork child) with every signal blocked, so no process-directed signal is
 * ever delivered to it and the program's handlers never run on it.  It keeps
 * its recursion guard raised for good: nothing it allocates is sampled.  It
 * sleeps in FUTEX_WAIT_BITSET on the request counter with an absolute
 * CLOCK_MONOTONIC deadline (the next interval tick), so one wait serves both
 * triggers, and it needs no fd the program could close.  Requests that
 * arrive while a snapshot is being written are coalesced into one more.
 *
 * The snapshot signal.  The program must keep every handler it installs, so
 * the shim interposes sigaction(), signal(), bsd_signal() and sysv_signal()
 * for that one signal and keeps the program's action virtual: the kernel
 * always runs our handler, and the program reads back exactly what it set
 * (or, when the signal already had a handler before the shim, e.g. from an
 * earlier constructor, that one).  Our handler then decides:
 *   - a request from `memprof snapshot` (sigqueue with MP_TRIGGER_MAGIC):
 *     snapshot, never the program's handler;
 *   - any other instance while the program has a handler: the program's
 *     handler, called as the kernel would (SA_SIGINFO or not; sa_mask,
 *     SA_NODEFER, SA_RESTART and SA_ONSTACK are mirrored into the kernel's
 *     action; SA_RESETHAND is emulated);
 *   - any other instance while the program has SIG_DFL or SIG_IGN: snapshot
 *     (so `kill -USR2 PID` works; the default action, termination, is lost
 *     for that one signal: documented in memprof-run(1)).
 * Not covered: rt_sigaction called as a raw syscall, sigset(3)/sigignore(3),
 * a program that blocks the signal in all its threads (requests then wait
 * pending, or are taken by its sigwait(3)).
 *
 * Must never: malloc for itself, use stdio, take a lock the program may
 * hold, run the program's handler on our thread, or change errno or the
 * signal mask of a thread it interrupts.
 */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

#include "shim/shim.h"
#include "alloc/ownmem.h"
#include "sample/privfd.h"
#include "shim/trigger.h"

/* glibc's own entry points, which we do not interpose: __sigaction is
 * sigaction's strong name, ssignal and __sysv_signal are aliases of
 * signal and sysv_signal. */
extern int __sigaction(int sig, const struct sigaction *act, struct sigaction *old);
extern sighandler_t ssignal(int sig, sighandler_t handler);
extern sighandler_t __sysv_signal(int sig, sighandler_t handler);

static int trig_sig;                 /* the snapshot signal, 0: none */
static int trig_active;              /* our handler is installed */
static uint32_t requests;            /* futex word: bumped per request */
static uint32_t seq;                 /* last numbered snapshot of this process */
static int final_done;               /* the exit snapshot is written */
static pthread_mutex_t write_lock = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;
static MP_TLS int own_thread;        /* helper thread, or creating it */
/* The helper thread's tid (0: none yet), for the leak scan to leave alone. */
static pid_t helper_tid;

/* ---- the program's virtual action ------------------------------------------ */

/*
 * A seqcount guards app_act: writers block all signals (so no handler on
 * their own thread can spin on an odd count) and take a spin flag among
 * themselves; the handler retries while the count is odd or moved.
 */
static struct sigaction app_act;
static unsigned app_seq;
static int app_writer;

static void app_read(struct sigaction *ret)
{
	for (;;) {
		unsigned s = __atomic_load_n(&app_seq, __ATOMIC_ACQUIRE);
		if (s & 1)
			continue;
		memcpy(ret, &app_act, sizeof(*ret));
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&app_seq, __ATOMIC_RELAXED) == s)
			return;
	}
}

static void on_signal(int sig, siginfo_t *si, void *uc);

/* The kernel action that fronts the program's action `a`. */
static void kernel_action_for(const struct sigaction *a, struct sigaction *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->sa_sigaction = on_signal;
	if (a->sa_handler != SIG_DFL && a->sa_handler != SIG_IGN) {
		ret->sa_mask = a->sa_mask;
		ret->sa_flags = SA_SIGINFO | (a->sa_flags & (SA_RESTART | SA_ONSTACK | SA_NODEFER));
	} else {
		sigemptyset(&ret->sa_mask);
		ret->sa_flags = SA_SIGINFO | SA_RESTART;
	}
}

/*
 * Replace the program's action by `act` (may be NULL) and hand back the old
 * one.  Async-signal-safe, like sigaction itself.
 */
static void app_exchange(const struct sigaction *act, struct sigaction *old)
{
	sigset_t all, saved;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &saved);
	while (__atomic_exchange_n(&app_writer, 1, __ATOMIC_ACQUIRE))
		;
	if (old)
		memcpy(old, &app_act, sizeof(*old));
	if (act) {
		struct sigaction k;
		__atomic_store_n(&app_seq, app_seq + 1, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_RELEASE);
		memcpy(&app_act, act, sizeof(app_act));
		__atomic_store_n(&app_seq, app_seq + 1, __ATOMIC_RELEASE);
		kernel_action_for(act, &k);
		__sigaction(trig_sig, &k, NULL);
	}
	__atomic_store_n(&app_writer, 0, __ATOMIC_RELEASE);
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
}

static int is_ours(int sig)
{
	return sig > 0 && sig == trig_sig && __atomic_load_n(&trig_active, __ATOMIC_ACQUIRE);
}

/* ---- requests ---------------------------------------------------------------- */

static long futex(uint32_t *word, int op, uint32_t val, const struct timespec *ts, uint32_t mask)
{
	return syscall(SYS_futex, word, op, val, ts, NULL, mask);
}

static void request(void)
{
	__atomic_add_fetch(&requests, 1, __ATOMIC_RELEASE);
	futex(&requests, FUTEX_WAKE_PRIVATE, 1, NULL, 0);
}

static void on_signal(int sig, siginfo_t *si, void *uc)
{
	int saved_errno = errno;
	struct sigaction a;

	if (si && si->si_code == SI_QUEUE && si->si_value.sival_int == MP_TRIGGER_MAGIC) {
		request();
		goto out;
	}
	app_read(&a);
	if (a.sa_handler == SIG_DFL || a.sa_handler == SIG_IGN) {
		request();
		goto out;
	}
	if (a.sa_flags & SA_RESETHAND) {
		struct sigaction dfl;
		memset(&dfl, 0, sizeof(dfl));
		dfl.sa_handler = SIG_DFL;
		app_exchange(&dfl, NULL);
	}
	errno = saved_errno;   /* the program's handler sees the interrupted errno */
	if (a.sa_flags & SA_SIGINFO)
		a.sa_sigaction(sig, si, uc);
	else
		a.sa_handler(sig);
	return;   /* its handler owns errno, as without us */
out:
	errno = saved_errno;
}

/* ---- the interposed functions ----------------------------------------------- */

MP_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	if (!is_ours(sig))
		return __sigaction(sig, act, old);
	app_exchange(act, old);
	return 0;
}

static sighandler_t signal_like(int sig, sighandler_t h, int flags)
{
	struct sigaction act, old;
	if (h == SIG_ERR) {
		errno = EINVAL;
		return SIG_ERR;
	}
	memset(&act, 0, sizeof(act));
	act.sa_handler = h;
	act.sa_flags = flags;
	sigemptyset(&act.sa_mask);
	if (!(flags & SA_NODEFER))
		sigaddset(&act.sa_mask, sig);
	app_exchange(&act, &old);
	return old.sa_handler;
}

/* BSD semantics, glibc's default for signal(). */
MP_EXPORT sighandler_t signal(int sig, sighandler_t h)
{
	if (!is_ours(sig))
		return ssignal(sig, h);
	return signal_like(sig, h, SA_RESTART);
}

MP_EXPORT sighandler_t bsd_signal(int sig, sighandler_t h)
{
	if (!is_ours(sig))
		return ssignal(sig, h);
	return signal_like(sig, h, SA_RESTART);
}

/* System V semantics: one-shot, not deferred, not restarted. */
MP_EXPORT sighandler_t sysv_signal(int sig, sighandler_t h)
{
	if (!is_ours(sig))
		return __sysv_signal(sig, h);
	return signal_like(sig, h, SA_RESETHAND | SA_NODEFER);
}

/* ---- the helper thread ------------------------------------------------------- */

int mp_trigger_is_own_thread(void)
{
	return own_thread;
}

pid_t mp_trigger_tid(void)
{
	return __atomic_load_n(&helper_tid, __ATOMIC_ACQUIRE);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * The last number used by this pid, kept in "<snapdir>/memprof.<pid>.seq":
 * a program that execve()s another keeps its pid, and the new image's shim
 * must go on from there instead of replacing "memprof.<pid>.1.snap" and the
 * profiles made from it.  Only the helper thread of the current image
 * touches the file.
 */
static int seq_path(char *buf, size_t cap)
{
	char num[24];
	const char *parts[] = { mp_shim.opt.snapdir, "/memprof.", mp_utoa((uint64_t)getpid(), num),
				".seq" };
	size_t n = 0;

	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		size_t l = strlen(parts[i]);
		if (n + l >= cap)
			return -ENAMETOOLONG;
		memcpy(buf + n, parts[i], l);
		n += l;
	}
	buf[n] = 0;
	return 0;
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
	static struct seq_file f;   /* only the helper thread stores */

	if (seq_path(f.path, sizeof(f.path)) < 0)
		return;
	f.value = v;
	mp_privfd_run(seq_write, &f);
}

static void take_snapshot(void)
{
	uint32_t n = __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED);
	mp_snapshot_write(n, mp_shim.forked ? MP_SNAP_F_FORKED : 0);
	seq_store(n);
}

/* The request count when the helper was created: requests made after that,
 * even before the new thread first runs, are its to serve. */
static uint32_t helper_seen;

static void *helper_main(void *arg)
{
	uint64_t interval = mp_shim.opt.interval_ns;
	uint64_t next = interval ? mono_ns() + interval : 0;
	uint32_t seen = __atomic_load_n(&helper_seen, __ATOMIC_ACQUIRE);

	(void)arg;
	own_thread = 1;
	__atomic_store_n(&helper_tid, (pid_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
	/* Its stack (below this frame, within the 256 KiB asked for) holds
	 * nothing of the program's: never a root of the leak scan. */
	uintptr_t here = (uintptr_t)__builtin_frame_address(0);
	mp_ownmem_add((const void *)(here - (240 << 10)), 240 << 10);
	mp_tls.busy = 1;   /* for good: the shim's own allocations are not sampled */
	seq_load();
	prctl(PR_SET_NAME, "memprof", 0, 0, 0);
	for (;;) {
		uint32_t now_req = __atomic_load_n(&requests, __ATOMIC_ACQUIRE);
		if (now_req != seen) {
			seen = now_req;
			take_snapshot();
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
		futex(&requests, FUTEX_WAIT_BITSET_PRIVATE, seen, interval ? &ts : NULL,
		      FUTEX_BITSET_MATCH_ANY);
	}
	return NULL;
}

/* Start the helper with every signal blocked (it inherits our mask). */
static int start_helper(void)
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
	mp_tls.busy++;
	/* Read here, not in the new thread: a request made while it is still
	 * waiting to run (a loaded machine) would be taken for an old one and
	 * lost. */
	__atomic_store_n(&helper_seen, __atomic_load_n(&requests, __ATOMIC_ACQUIRE),
			 __ATOMIC_RELEASE);
	r = pthread_create(&t, &attr, helper_main, NULL);
	mp_tls.busy--;
	own_thread = 0;
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	pthread_attr_destroy(&attr);
	return -r;
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
	__atomic_store_n(&seq, 0, __ATOMIC_RELAXED);
	final_done = 0;
	if (mp_shim.opt.interval_ns || trig_sig) {
		int r = start_helper();
		if (r < 0)
			mp_warn("cannot start the snapshot thread in a fork child: ",
				strerrorname_np(-r), ", no snapshots before exit", NULL);
	}
}

int mp_trigger_start(void)
{
	int sig = (int)mp_shim.opt.snapshot_signal;
	int r;

	if (!mp_shim.enabled || (!sig && !mp_shim.opt.interval_ns))
		return 0;
	if (sig) {
		struct sigaction k, old;
		/* Whatever the signal has now (an inherited SIG_IGN, a handler an
		 * earlier constructor installed) becomes the program's action. */
		memset(&old, 0, sizeof(old));
		if (__sigaction(sig, NULL, &old) < 0 ||
		    (kernel_action_for(&old, &k), __sigaction(sig, &k, NULL) < 0)) {
			r = -errno;
			mp_warn("cannot use the snapshot signal: ", strerrorname_np(-r),
				", no on-demand snapshots", NULL);
			sig = 0;
		} else {
			memcpy(&app_act, &old, sizeof(app_act));
			trig_sig = sig;
			__atomic_store_n(&trig_active, 1, __ATOMIC_RELEASE);
		}
	}
	if (!sig && !mp_shim.opt.interval_ns)
		return 0;
	pthread_atfork(NULL, NULL, atfork_child);
	r = start_helper();
	if (r < 0)
		mp_warn("cannot start the snapshot thread: ", strerrorname_np(-r),
			", no snapshots before exit", NULL);
	return r;
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
