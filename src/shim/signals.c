/* SPDX-License-Identifier: MIT */
/*
 * The program's signal actions, kept virtual (see signals.h).
 *
 * For each signal the program gave a handler, the kernel's action is the
 * trampoline below, with the program's flags (SA_RESTART, SA_ONSTACK,
 * SA_NODEFER, SA_RESETHAND, SA_NOCLDSTOP, SA_NOCLDWAIT) and mask, so the
 * kernel delivers, restarts and masks exactly as it would for the
 * program's handler; SIG_DFL and SIG_IGN go to the kernel as they are.  The
 * trampoline reads the program's action and calls its handler between
 * mp_alloc_signal_enter and mp_alloc_signal_leave.  It adds one frame (a
 * few dozen bytes) on the handler's stack, the alternate one included.
 *
 * The virtual table is guarded by a seqcount per signal: writers block
 * every signal (so no handler on their own thread can spin on an odd
 * count) and take one spin flag among themselves; the trampoline retries
 * while the count is odd or moved.
 *
 * A vfork() child shares our memory but has a signal table of its own: its
 * sigaction calls (Python's subprocess restores SIGPIPE there) go straight
 * to the kernel, or they would rewrite the parent's view.
 *
 * Must never: allocate, take a lock the program may hold, change errno or
 * the signal mask of the thread a signal interrupted.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "alloc/alloc.h"
#include "shim/shim.h"
#include "shim/signals.h"

/* glibc's own entry points, which we do not interpose: __sigaction is
 * sigaction's strong name, ssignal and __sysv_signal are aliases of
 * signal and sysv_signal. */
extern int __sigaction(int sig, const struct sigaction *act, struct sigaction *old);
extern sighandler_t ssignal(int sig, sighandler_t handler);
extern sighandler_t __sysv_signal(int sig, sighandler_t handler);

#define NSIGS 65

static struct sigaction app[NSIGS];       /* the program's actions */
static unsigned app_seq[NSIGS];
static unsigned char known[NSIGS];        /* app[sig] is set (else: the kernel's) */
static int writer;                        /* spin flag of the writers */
#define NCLAIMS 2
static mp_signal_claim_fn claims[NSIGS];  /* trigger.c's signals */
static int nclaims;
static pid_t own_pid;                     /* this process (not a vfork child) */

static void trampoline(int sig, siginfo_t *si, void *uc);

/* The death hook (mp_signals_on_death) and the signals it covers. */
static void (*death_fn)(int);

static int fatal(int sig)
{
	switch (sig) {
	case SIGSEGV: case SIGBUS: case SIGILL: case SIGFPE: case SIGABRT:
	case SIGINT: case SIGTERM: case SIGQUIT: case SIGHUP:
		return 1;
	default:
		return 0;
	}
}

static int death_covers(int sig, void (*h)(int))
{
	return h == SIG_DFL && fatal(sig) && __atomic_load_n(&death_fn, __ATOMIC_ACQUIRE);
}

static mp_signal_claim_fn claim_of(int sig)
{
	return sig > 0 && sig < NSIGS ? __atomic_load_n(&claims[sig], __ATOMIC_ACQUIRE) : NULL;
}

/* glibc refuses SIGCANCEL and SIGSETXID (32, 33): they pass through. */
static int wrappable(int sig)
{
	return sig > 0 && sig < NSIGS && sig != SIGKILL && sig != SIGSTOP && sig != 32 && sig != 33;
}

static int is_handler(void (*h)(int))
{
	return h != SIG_DFL && h != SIG_IGN;
}

static void app_read(int sig, void (**ret_h)(int), int *ret_flags)
{
	for (;;) {
		unsigned s = __atomic_load_n(&app_seq[sig], __ATOMIC_ACQUIRE);
		if (s & 1)
			continue;
		void (*h)(int) = __atomic_load_n(&app[sig].sa_handler, __ATOMIC_RELAXED);
		int flags = __atomic_load_n(&app[sig].sa_flags, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&app_seq[sig], __ATOMIC_RELAXED) == s) {
			*ret_h = h;
			*ret_flags = flags;
			return;
		}
	}
}

static void app_write_locked(int sig, const struct sigaction *a)
{
	__atomic_store_n(&app_seq[sig], app_seq[sig] + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	memcpy(&app[sig], a, sizeof(*a));
	__atomic_store_n(&app_seq[sig], app_seq[sig] + 1, __ATOMIC_RELEASE);
}

/* The kernel's action for program action `a` on sig. */
static void kernel_action_for(int sig, const struct sigaction *a, struct sigaction *ret)
{
	if (!is_handler(a->sa_handler) && !claim_of(sig) && !death_covers(sig, a->sa_handler)) {
		*ret = *a;
		return;
	}
	memset(ret, 0, sizeof(*ret));
	ret->sa_sigaction = trampoline;
	if (is_handler(a->sa_handler)) {
		ret->sa_mask = a->sa_mask;
		ret->sa_flags = SA_SIGINFO | (a->sa_flags & (SA_RESTART | SA_ONSTACK | SA_NODEFER |
							     SA_NOCLDSTOP | SA_NOCLDWAIT));
		/* The kernel resets a one-shot handler itself, unless the
		 * trampoline must stay (trigger.c's signal: emulated). */
		if (!claim_of(sig))
			ret->sa_flags |= a->sa_flags & SA_RESETHAND;
	} else {
		sigemptyset(&ret->sa_mask);
		/* On the alternate stack when the program has one: a stack
		 * overflow's SIGSEGV still reaches the death hook. */
		ret->sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
	}
}

struct wlock {
	sigset_t saved;
};

static void wlock(struct wlock *w)
{
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &w->saved);
	while (__atomic_exchange_n(&writer, 1, __ATOMIC_ACQUIRE))
		;
}

static void wunlock(struct wlock *w)
{
	__atomic_store_n(&writer, 0, __ATOMIC_RELEASE);
	pthread_sigmask(SIG_SETMASK, &w->saved, NULL);
}

/* Under the writer lock: app[sig] holds the program's action. */
static void know_locked(int sig)
{
	if (!known[sig]) {
		struct sigaction cur;
		memset(&cur, 0, sizeof(cur));
		__sigaction(sig, NULL, &cur);
		app_write_locked(sig, &cur);
		known[sig] = 1;
	}
}

/*
 * Set the program's action for sig (act may be NULL) and hand back the old
 * one, as sigaction does.  -1 and errno when the kernel refuses.
 */
static int exchange(int sig, const struct sigaction *act, struct sigaction *old)
{
	struct sigaction a, k, prev;
	struct wlock w;
	int r = 0, err = 0;

	if (act)
		a = *act;
	wlock(&w);
	know_locked(sig);
	prev = app[sig];
	if (act) {
		kernel_action_for(sig, &a, &k);
		if (__sigaction(sig, &k, NULL) < 0) {
			err = errno;
			r = -1;
		} else {
			app_write_locked(sig, &a);
		}
	}
	wunlock(&w);
	if (r < 0) {
		errno = err;
		return -1;
	}
	if (old)
		*old = prev;
	return 0;
}

/* The instance's action is the default one (the program changed it after
 * the kernel chose the trampoline): have the kernel apply it. */
static void default_action(int sig, siginfo_t *si)
{
	if (sig == SIGCHLD || sig == SIGCONT || sig == SIGURG || sig == SIGWINCH)
		return;   /* ignored by default */
	int saved = errno;
	siginfo_t copy = *si;
	/* Pending until the trampoline returns; by then the kernel's action
	 * is the default one the program set. */
	syscall(SYS_rt_tgsigqueueinfo, getpid(), (pid_t)syscall(SYS_gettid), sig, &copy);
	errno = saved;
}

static void trampoline(int sig, siginfo_t *si, void *uc)
{
	void (*h)(int);
	int flags;

	app_read(sig, &h, &flags);
	mp_signal_claim_fn claim = claim_of(sig);
	if (claim && claim(sig, si, h, flags))
		return;
	if (flags & SA_RESETHAND) {
		/* One shot (sysv_signal, SA_RESETHAND): the program's view is
		 * SIG_DFL from now on, as the kernel's is. */
		struct sigaction dfl;
		memset(&dfl, 0, sizeof(dfl));
		dfl.sa_handler = SIG_DFL;
		if (claim)
			exchange(sig, &dfl, NULL);
		else {
			struct wlock w;
			wlock(&w);
			app_write_locked(sig, &dfl);
			wunlock(&w);
		}
	}
	if (h == SIG_IGN)
		return;
	if (h == SIG_DFL) {
		if (death_covers(sig, h)) {
			/* The program dies of it: the state at death into the
			 * shared tables, then the kernel's default action (the
			 * program's view was SIG_DFL all along). */
			struct sigaction dfl;
			memset(&dfl, 0, sizeof(dfl));
			dfl.sa_handler = SIG_DFL;
			death_fn(sig);
			__sigaction(sig, &dfl, NULL);
		}
		default_action(sig, si);
		return;
	}
	struct mp_alloc_sigframe f;
	mp_alloc_signal_enter(&f, (uintptr_t)__builtin_frame_address(0));
	if (flags & SA_SIGINFO)
		((void (*)(int, siginfo_t *, void *))(void (*)(void))h)(sig, si, uc);
	else
		h(sig);
	mp_alloc_signal_leave(&f);
}

/* ---- the interposed functions ------------------------------------------------- */

static int ours(int sig)
{
	if (!wrappable(sig))
		return 0;
	pid_t me = __atomic_load_n(&own_pid, __ATOMIC_RELAXED);
	return me && getpid() == me;   /* not in a vfork child (above) */
}

MP_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	if (!ours(sig))
		return __sigaction(sig, act, old);
	return exchange(sig, act, old);
}

static sighandler_t signal_like(int sig, sighandler_t h, int flags)
{
	struct sigaction act, old;
	if (h == SIG_ERR || !wrappable(sig)) {
		errno = EINVAL;
		return SIG_ERR;
	}
	memset(&act, 0, sizeof(act));
	act.sa_handler = h;
	act.sa_flags = flags;
	sigemptyset(&act.sa_mask);
	if (!(flags & SA_NODEFER))
		sigaddset(&act.sa_mask, sig);
	if (exchange(sig, &act, &old) < 0)
		return SIG_ERR;
	return old.sa_handler;
}

/* BSD semantics, glibc's default for signal(). */
MP_EXPORT sighandler_t signal(int sig, sighandler_t h)
{
	if (!ours(sig))
		return ssignal(sig, h);
	return signal_like(sig, h, SA_RESTART);
}

MP_EXPORT sighandler_t bsd_signal(int sig, sighandler_t h)
{
	if (!ours(sig))
		return ssignal(sig, h);
	return signal_like(sig, h, SA_RESTART);
}

/* System V semantics: one-shot, not deferred, not restarted. */
MP_EXPORT sighandler_t sysv_signal(int sig, sighandler_t h)
{
	if (!ours(sig))
		return __sysv_signal(sig, h);
	return signal_like(sig, h, SA_RESETHAND | SA_NODEFER);
}

/* ---- set-up ------------------------------------------------------------------------ */

void (*mp_signals_program_handler(int sig, int *ret_flags))(int)
{
	void (*h)(int) = SIG_DFL;
	int flags = 0;
	if (wrappable(sig) && __atomic_load_n(&known[sig], __ATOMIC_ACQUIRE))
		app_read(sig, &h, &flags);
	*ret_flags = flags;
	return h;
}

static void after_fork_child(void)
{
	__atomic_store_n(&own_pid, getpid(), __ATOMIC_RELAXED);
	__atomic_store_n(&writer, 0, __ATOMIC_RELAXED);
}

void mp_signals_init(void)
{
	if (__atomic_load_n(&own_pid, __ATOMIC_RELAXED))
		return;
	__atomic_store_n(&own_pid, getpid(), __ATOMIC_RELAXED);
	pthread_atfork(NULL, NULL, after_fork_child);
	/* Handlers installed before us (earlier constructors): bracketed from
	 * now on, the program's view unchanged.  One writer lock for all of
	 * them: it blocks and restores the signal mask, two system calls,
	 * which per signal were 128 of this loop's 190 in every process
	 * started (a shell loop of 200 /bin/true). */
	struct wlock w;
	wlock(&w);
	for (int sig = 1; sig < NSIGS; sig++) {
		struct sigaction cur, k;
		if (!wrappable(sig))
			continue;
		memset(&cur, 0, sizeof(cur));
		if (!known[sig] && __sigaction(sig, NULL, &cur) == 0 && is_handler(cur.sa_handler) &&
		    (void *)cur.sa_sigaction != (void *)trampoline) {
			kernel_action_for(sig, &cur, &k);
			if (__sigaction(sig, &k, NULL) == 0) {
				app_write_locked(sig, &cur);
				known[sig] = 1;
			}
		}
	}
	wunlock(&w);
}

int mp_signals_claim(int sig, mp_signal_claim_fn fn)
{
	struct sigaction k;
	struct wlock w;
	int r = 0;

	if (!wrappable(sig))
		return -EINVAL;
	wlock(&w);
	if (nclaims >= NCLAIMS && !claims[sig]) {
		wunlock(&w);
		return -ENOSPC;
	}
	know_locked(sig);
	if (!claims[sig])
		nclaims++;
	__atomic_store_n(&claims[sig], fn, __ATOMIC_RELEASE);
	kernel_action_for(sig, &app[sig], &k);
	if (__sigaction(sig, &k, NULL) < 0) {
		r = -errno;
		__atomic_store_n(&claims[sig], NULL, __ATOMIC_RELEASE);
		nclaims--;
	}
	wunlock(&w);
	return r;
}

void mp_signals_on_death(void (*fn)(int))
{
	struct wlock w;
	__atomic_store_n(&death_fn, fn, __ATOMIC_RELEASE);
	wlock(&w);   /* once for all (mp_signals_init) */
	for (int sig = 1; sig < NSIGS; sig++) {
		struct sigaction k;
		if (!fatal(sig))
			continue;
		know_locked(sig);
		if (app[sig].sa_handler == SIG_DFL && !claims[sig]) {
			kernel_action_for(sig, &app[sig], &k);
			__sigaction(sig, &k, NULL);
		}
	}
	wunlock(&w);
}
