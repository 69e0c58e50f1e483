/* SPDX-License-Identifier: MIT */
/*
 * Target for check-signals.py: signal handlers that allocate, and snapshot
 * requests that must not reach the program.
 *   t-sig stress N escape|stay USEC
 *       N rounds of allocating and freeing batches in several size classes
 *       while a USEC interval timer (SIGALRM) and a profiling timer
 *       (SIGPROF, nesting into it) run handlers that malloc, calloc,
 *       realloc and free blocks of those classes and a large one, checking
 *       every block's contents; with "escape", one SIGALRM handler in 16
 *       leaves by siglongjmp.  Prints "ok SIGNALS ESCAPES", exits 3 on a
 *       corrupted block.
 *   t-sig wait KIND HANDLER
 *       prints "ready PID", then blocks in KIND (nanosleep: 2.5 s; poll,
 *       select, read: until stdin has a line; waitpid: a child that
 *       sleeps 2.5 s; sigsuspend: until SIGUSR1, which the checker sends
 *       last) with HANDLER for SIGUSR2: none, restart (SA_RESTART) or
 *       norestart.  Prints what the call returned and how often the
 *       SIGUSR2 handler ran.
 *   t-sig sigwait N
 *       blocks SIGUSR2 and takes N instances with sigwaitinfo, printing
 *       each one's si_code.
 *   t-sig fork
 *       a child prints "child PID" and runs "wait nanosleep restart".
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- stress ---- */

#define HKEEP 64
#include "churn.h"

static const size_t hsizes[] = { 24, 100, 500, 4000, 40000, 200 };
#define NHSIZES (sizeof(hsizes) / sizeof(hsizes[0]))
/* One set of blocks per handler: each handler is blocked while it runs,
 * but either may interrupt the other. */
static struct keep alarm_keep, prof_keep;
static volatile sig_atomic_t signals, escapes, armed, in_prof;
static sigjmp_buf env;

static void on_alarm(int sig)
{
	(void)sig;
	churn(&alarm_keep, (unsigned)signals, hsizes, NHSIZES);
	signals++;
	/* Only from a handler that interrupted the spin itself: one nested
	 * into on_prof would leave on_prof wherever it is, in malloc maybe
	 * (the program's bug, and it corrupts any allocator's lists). */
	if (armed && !in_prof && signals % 16 == 0) {
		escapes++;
		armed = 0;   /* siglongjmp unblocks SIGALRM before it jumps */
		siglongjmp(env, 1);
	}
}

static void on_prof(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)si;
	(void)uc;
	in_prof++;
	churn(&prof_keep, (unsigned)signals * 3 + 1, hsizes, NHSIZES);
	signals++;
	in_prof--;
}

static int stress(long rounds, int escape, long usec)
{
	static const size_t sizes[] = { 16, 24, 100, 112, 500, 4000, 40000 };
	enum { BATCH = 300 };
	static unsigned char *b[BATCH];
	static size_t bn[BATCH];
	struct sigaction a;

	memset(&a, 0, sizeof(a));
	a.sa_handler = on_alarm;
	a.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &a, NULL);
	memset(&a, 0, sizeof(a));
	a.sa_sigaction = on_prof;
	a.sa_flags = SA_RESTART | SA_SIGINFO;
	sigaction(SIGPROF, &a, NULL);
	struct itimerval it = { { 0, usec }, { 0, usec } }, pt = { { 0, 500 }, { 0, 500 } };
	setitimer(ITIMER_REAL, &it, NULL);
	setitimer(ITIMER_PROF, &pt, NULL);
	for (volatile long r = 0; r < rounds; r++) {
		/* Whole batches of one class: the thread cache refills from and
		 * spills to the central lists, under their locks. */
		size_t n = sizes[r % (sizeof(sizes) / sizeof(sizes[0]))];
		for (int i = 0; i < BATCH; i++) {
			b[i] = malloc(n);
			bn[i] = n;
			if (b[i])
				fill(b[i], n);
		}
		for (int i = 0; i < BATCH; i++) {
			if (b[i] && !intact(b[i], bn[i]))
				corrupt = 1;
			free(b[i]);
			b[i] = NULL;
		}
		/* A handler may leave by siglongjmp only while this thread is
		 * outside the allocator (leaving one that interrupted malloc
		 * would be the program's bug, with any allocator). */
		if (escape && sigsetjmp(env, 1) == 0) {
			armed = 1;
			for (volatile int spin = 0; spin < 20000; spin++)
				;
		}
		armed = 0;
	}
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, &off, NULL);
	setitimer(ITIMER_PROF, &off, NULL);
	keep_release(&alarm_keep);
	keep_release(&prof_keep);
	if (corrupt) {
		printf("corrupt\n");
		return 3;
	}
	printf("ok %d %d\n", (int)signals, (int)escapes);
	return 0;
}

/* ---- waits ---- */

static volatile sig_atomic_t usr2_calls;

static void on_usr2(int sig)
{
	(void)sig;
	usr2_calls++;
}

static void on_usr1(int sig)
{
	(void)sig;
}

static const char *err_name(int r)
{
	return r < 0 ? (errno == EINTR ? "EINTR" : strerror(errno)) : "ok";
}

static int wait_kind(const char *kind, const char *handler)
{
	struct sigaction a;
	char line[64];
	int r;

	memset(&a, 0, sizeof(a));
	a.sa_handler = on_usr2;
	if (strcmp(handler, "restart") == 0)
		a.sa_flags = SA_RESTART;
	if (strcmp(handler, "none") != 0)
		sigaction(SIGUSR2, &a, NULL);
	memset(&a, 0, sizeof(a));
	a.sa_handler = on_usr1;
	sigaction(SIGUSR1, &a, NULL);
	void *keep = malloc(1000);
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	if (strcmp(kind, "nanosleep") == 0) {
		struct timespec ts = { 2, 500000000 }, rem = { 0, 0 };
		r = nanosleep(&ts, &rem);
		printf("nanosleep %s\n", err_name(r));
	} else if (strcmp(kind, "poll") == 0) {
		struct pollfd p = { .fd = 0, .events = POLLIN };
		r = poll(&p, 1, 30000);
		printf("poll %s %d\n", err_name(r), r);
	} else if (strcmp(kind, "select") == 0) {
		fd_set s;
		struct timeval tv = { 30, 0 };
		FD_ZERO(&s);
		FD_SET(0, &s);
		r = select(1, &s, NULL, NULL, &tv);
		printf("select %s %d\n", err_name(r), r);
	} else if (strcmp(kind, "read") == 0) {
		ssize_t n = read(0, line, sizeof(line));
		printf("read %s\n", err_name(n < 0 ? -1 : 0));
	} else if (strcmp(kind, "waitpid") == 0) {
		pid_t c = fork();
		if (c == 0) {
			struct timespec ts = { 2, 500000000 };
			while (nanosleep(&ts, &ts) < 0)
				;
			_exit(0);
		}
		int st;
		r = waitpid(c, &st, 0);
		printf("waitpid %s\n", err_name(r));
	} else if (strcmp(kind, "sigsuspend") == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigsuspend(&none);   /* returns after a handler ran: SIGUSR1's */
		printf("sigsuspend woken\n");
	} else {
		return 2;
	}
	printf("handler %d\n", (int)usr2_calls);
	free(keep);
	return 0;
}

static int sigwait_n(int n)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, NULL);
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	for (int i = 0; i < n; i++) {
		siginfo_t si;
		if (sigwaitinfo(&set, &si) < 0) {
			printf("sigwaitinfo %s\n", strerror(errno));
			return 1;
		}
		printf("got %d %s\n", si.si_signo, si.si_code == SI_USER ? "user" : "other");
		fflush(stdout);
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(mode, "stress") == 0 && argc > 4)
		return stress(atol(argv[2]), strcmp(argv[3], "escape") == 0, atol(argv[4]));
	if (strcmp(mode, "wait") == 0 && argc > 3)
		return wait_kind(argv[2], argv[3]);
	if (strcmp(mode, "sigwait") == 0 && argc > 2)
		return sigwait_n(atoi(argv[2]));
	if (strcmp(mode, "fork") == 0) {
		pid_t c = fork();
		if (c == 0) {
			printf("child %d\n", (int)getpid());
			fflush(stdout);
			return wait_kind("nanosleep", "restart");
		}
		int st;
		waitpid(c, &st, 0);
		return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
	}
	fprintf(stderr, "usage: t-sig stress N escape|stay USEC | wait KIND HANDLER | sigwait N | fork\n");
	return 2;
}
