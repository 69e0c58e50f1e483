/* SPDX-License-Identifier: MIT */
/*
 * A harder t-sig stress (check-sigstorm.py runs its default mode; its
 * 'wild' mode is run by hand, see below): several threads
 * allocate, reallocate and free through stacks of varying depth while
 * handlers run on them and nest:
 *   - SIGUSR1 from a per-thread timer (SIGEV_THREAD_ID), SA_NODEFER, so it
 *     nests into itself;
 *   - SIGALRM and SIGPROF from the process's interval timers;
 *   - half the threads take their handlers on an alternate stack.
 * Every handler mallocs, callocs, reallocs and frees blocks (from a deep
 * recursion of its own, other times not), checking their contents; a
 * handler that interrupted its thread's spin (outside the allocator) may
 * leave by siglongjmp, which also leaves any handler nested below it.
 *   t-sigstorm THREADS ROUNDS USEC [wild]
 * Only a handler that interrupted the spin itself leaves by siglongjmp;
 * with "wild", one nested into other handlers too, which abandons them
 * wherever they are (in malloc: glibc's may then deadlock).
 * Prints "ok HANDLERS ESCAPES"; exits 3 on a corrupted block.
 *
 * Under memprof run --rate 1, "4 1000 300" hung in 10 runs of 26: one
 * thread sampled in a handler (holding stacks.c's prof_lock) when a nested
 * handler's allocation waited for the page heap's lock, which another
 * thread held while its own handler waited for prof_lock (fixed: see
 * base/lock.h).  "0 3000 200 wild" shows what leaving a handler in malloc
 * does to the allocator's lists (corrupt blocks, SIGSEGV in
 * mp_central_get), as with any allocator.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define LEVELS 6         /* handler nesting levels with blocks of their own */
#define HKEEP 32
#include "churn.h"

static const size_t sizes[] = { 8, 24, 40, 100, 250, 500, 1500, 4000, 40000, 60000 };
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

static int wild;   /* a handler may leave handlers nested below it */
static unsigned long handlers_total, escapes_total;
static pthread_mutex_t total_lock = PTHREAD_MUTEX_INITIALIZER;

static __thread struct keep hk[LEVELS];
static __thread volatile int depth;        /* handlers running on this thread */
static __thread volatile int armed;        /* in the spin, outside the allocator */
static __thread sigjmp_buf env;
static __thread volatile unsigned long calls, escapes;
static __thread unsigned seed;

/* churn from `d` frames deeper (different stacks each time). */
static __attribute__((noinline)) void deep_churn(struct keep *kp, unsigned s, unsigned d)
{
	volatile char pad[40];
	pad[0] = (char)d;
	if (d > 0)
		deep_churn(kp, s, d - 1);
	else
		churn(kp, s, sizes, NSIZES);
	__asm__ volatile("" : : "r"(pad) : "memory");
}

static void handler(int sig, siginfo_t *si, void *uc)
{
	(void)si;
	(void)uc;
	int lv = ++depth;
	if (lv >= 3) {
		/* No deeper: a storm of nested handlers would overflow the
		 * alternate stack or never let the thread run (the mask is
		 * the interrupted code's again when this one returns). */
		sigset_t more;
		sigemptyset(&more);
		sigaddset(&more, SIGUSR1);
		sigaddset(&more, SIGALRM);
		sigaddset(&more, SIGPROF);
		pthread_sigmask(SIG_BLOCK, &more, NULL);
	}
	unsigned s = (unsigned)calls * 5 + (unsigned)sig;
	calls++;
	if (lv <= LEVELS)
		deep_churn(&hk[lv - 1], s, (s >> 3) % 24);
	if (armed && calls % 8 == 0 && (wild || lv == 1)) {
		escapes++;
		armed = 0;
		depth = 0;
		siglongjmp(env, 1);
	}
	depth--;
}

/* The thread's own allocations: a batch kept in blocks of the frames of a
 * recursion `d` deep, reallocated and freed on the way back. */
static __attribute__((noinline)) void deep_alloc(unsigned d, unsigned r)
{
	size_t n = sizes[(d + r) % NSIZES];
	unsigned char *p = malloc(n);
	if (p)
		fill(p, n);
	if (d > 0)
		deep_alloc(d - 1, r);
	if (p && !intact(p, n))
		corrupt = 1;
	if (d % 3 == 0 && p) {
		size_t m = sizes[(d * 7 + r) % NSIZES];
		unsigned char *q = realloc(p, m);
		if (q) {
			p = q;
			n = m;
			fill(p, n);
		}
	}
	free(p);
}

struct targ {
	long rounds, usec;
	int alt;
};

static void *worker(void *arg)
{
	struct targ *a = arg;
	stack_t ss;
	void *volatile alt = NULL;   /* (sigsetjmp below) */
	seed = (unsigned)(uintptr_t)&ss;
	if (a->alt) {
		alt = malloc(256 << 10);
		ss.ss_sp = alt;
		ss.ss_size = 256 << 10;
		ss.ss_flags = 0;
		sigaltstack(&ss, NULL);
	}
	timer_t t;
	struct sigevent ev;
	memset(&ev, 0, sizeof(ev));
	ev.sigev_notify = SIGEV_THREAD_ID;
	ev.sigev_signo = SIGUSR1;
	ev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
	int have_timer = timer_create(CLOCK_MONOTONIC, &ev, &t) == 0;
	if (have_timer) {
		struct itimerspec its = { { 0, a->usec * 1000 }, { 0, a->usec * 1000 } };
		timer_settime(t, 0, &its, NULL);
	}
	for (volatile long r = 0; r < a->rounds; r++) {
		seed = seed * 1103515245u + 12345u;
		deep_alloc((seed >> 8) % 70, (unsigned)r);
		if (sigsetjmp(env, 1) == 0) {
			armed = 1;
			for (volatile int spin = 0; spin < 3000; spin++)
				;
		}
		armed = 0;
	}
	if (have_timer)
		timer_delete(t);
	/* Pending handlers are done with their blocks once these are blocked. */
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	for (int l = 0; l < LEVELS; l++)
		keep_release(&hk[l]);
	if (alt) {
		ss.ss_flags = SS_DISABLE;
		sigaltstack(&ss, NULL);
		free(alt);
	}
	pthread_mutex_lock(&total_lock);
	handlers_total += calls;
	escapes_total += escapes;
	pthread_mutex_unlock(&total_lock);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: t-sigstorm THREADS ROUNDS USEC [wild]\n");
		return 2;
	}
	wild = argc > 4 && strcmp(argv[4], "wild") == 0;
	int nt = atoi(argv[1]);
	struct targ a = { atol(argv[2]), atol(argv[3]), 0 };
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = handler;
	sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK | SA_NODEFER;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
	sigaction(SIGALRM, &sa, NULL);
	sigaction(SIGPROF, &sa, NULL);
	struct itimerval it = { { 0, 700 }, { 0, 700 } }, pt = { { 0, 300 }, { 0, 300 } };
	setitimer(ITIMER_REAL, &it, NULL);
	setitimer(ITIMER_PROF, &pt, NULL);
	pthread_t th[64];
	struct targ ta[64];
	if (nt > 64)
		nt = 64;
	for (int i = 0; i < nt; i++) {
		ta[i] = a;
		ta[i].alt = i % 2;
		pthread_create(&th[i], NULL, worker, &ta[i]);
	}
	struct targ mine = a;
	mine.alt = 1;
	worker(&mine);
	for (int i = 0; i < nt; i++)
		pthread_join(th[i], NULL);
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, &off, NULL);
	setitimer(ITIMER_PROF, &off, NULL);
	if (corrupt) {
		printf("corrupt\n");
		return 3;
	}
	printf("ok %lu %lu\n", handlers_total, escapes_total);
	return 0;
}
