/* SPDX-License-Identifier: MIT */
/*
 * Stopping the other threads of the process for the leak scan, and reading
 * their registers: each gets a real-time signal carrying a magic value
 * (rt_tgsigqueueinfo); its handler saves the interrupted registers and the
 * thread pointer, acknowledges, and waits on a futex until released.  A
 * thread that blocks the signal never answers: after a timeout it is left
 * running, and the scan falls back to scanning its whole stack mapping (all
 * writable mappings are roots anyway), without its registers.
 *
 * In the target: no allocation; the signal's previous disposition is put
 * back before the threads are released.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "leakscan/stopworld.h"
#include "base/privfd.h"
#include "base/procdir.h"
#include "common/utoa.h"

#define MAGIC 0x6d70726fu   /* "mpro" */

static struct mp_stopped threads[MP_STOP_MAX];
static unsigned nthreads;
static int release;          /* futex word: 1 = go on */

static long futex(int *addr, int op, int val, const struct timespec *ts)
{
	return syscall(SYS_futex, addr, op, val, ts, NULL, 0);
}

static void handler(int sig, siginfo_t *si, void *uc_)
{
	(void)sig;
	int saved = errno;
	if (si->si_code != SI_QUEUE || (unsigned)si->si_value.sival_int - MAGIC >= MP_STOP_MAX) {
		errno = saved;
		return;   /* not ours: dropped (the disposition is ours only during a scan) */
	}
	struct mp_stopped *t = &threads[(unsigned)si->si_value.sival_int - MAGIC];
	ucontext_t *uc = uc_;
	memcpy(t->regs, uc->uc_mcontext.gregs, sizeof(t->regs));
	t->sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
	uintptr_t tp;
	__asm__ volatile("mov %%fs:0, %0" : "=r"(tp));
	t->tp = tp;
	__atomic_store_n(&t->stopped, 1, __ATOMIC_RELEASE);
	futex(&t->stopped, FUTEX_WAKE, 1, NULL);
	while (!__atomic_load_n(&release, __ATOMIC_ACQUIRE))
		futex(&release, FUTEX_WAIT, 0, NULL);
	__atomic_store_n(&t->stopped, 2, __ATOMIC_RELEASE);   /* left the handler */
	errno = saved;
}

static int stop_sig(void)
{
	return SIGRTMAX - 1;
}

static struct sigaction old_action;

/* glibc's sigaction under its own name: the shim's sigaction keeps the
 * program's actions virtual (shim/signals.c), and this one is not the
 * program's.  The action put back is the kernel's, whatever it was. */
extern int __sigaction(int sig, const struct sigaction *act, struct sigaction *old);

/* The process's thread ids, listed under mp_privfd_run (a private descriptor
 * table, where /proc/self is the lister: the process id comes in). */
static pid_t listed[MP_STOP_MAX];
static unsigned nlisted;

static int list_threads(void *arg)
{
	char path[48] = "/proc/", num[MP_UTOA_SIZE];
	struct mp_procdir d;
	int tid;

	strcat(strcat(path, mp_utoa((uint64_t)*(const pid_t *)arg, num)), "/task");
	nlisted = 0;
	if (mp_procdir_open(&d, path) < 0)
		return -errno;
	while ((tid = mp_procdir_next(&d)) >= 0)
		if (tid > 0 && nlisted < MP_STOP_MAX)
			listed[nlisted++] = tid;
	mp_procdir_close(&d);
	return 0;
}

unsigned mp_stopworld_stop(pid_t skip, struct mp_stopped **ret)
{
	pid_t self = (pid_t)syscall(SYS_gettid), pid = getpid();
	struct sigaction sa;

	nthreads = 0;
	__atomic_store_n(&release, 0, __ATOMIC_RELEASE);
	*ret = threads;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = handler;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigfillset(&sa.sa_mask);
	if (__sigaction(stop_sig(), &sa, &old_action) < 0)
		return 0;
	if (mp_privfd_run(list_threads, &pid) < 0)
		return 0;
	for (unsigned i = 0; i < nlisted; i++) {
		pid_t tid = listed[i];
		if (tid == self || tid == skip || nthreads >= MP_STOP_MAX)
			continue;
		struct mp_stopped *t = &threads[nthreads];
		memset(t, 0, sizeof(*t));
		t->tid = tid;
		siginfo_t si;
		memset(&si, 0, sizeof(si));
		si.si_signo = stop_sig();
		si.si_code = SI_QUEUE;
		si.si_pid = pid;
		si.si_uid = getuid();
		si.si_value.sival_int = (int)(MAGIC + nthreads);
		if (syscall(SYS_rt_tgsigqueueinfo, pid, tid, stop_sig(), &si) == 0)
			nthreads++;
	}
	/* Wait for each, at most 300 ms in all. */
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (unsigned i = 0; i < nthreads; i++) {
		while (!__atomic_load_n(&threads[i].stopped, __ATOMIC_ACQUIRE)) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			long ms = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
			if (ms > 300)
				break;
			struct timespec ts = { 0, 10 * 1000 * 1000 };
			futex(&threads[i].stopped, FUTEX_WAIT, 0, &ts);
		}
	}
	return nthreads;
}

void mp_stopworld_resume(void)
{
	__atomic_store_n(&release, 1, __ATOMIC_RELEASE);
	futex(&release, FUTEX_WAKE, 0x7fffffff, NULL);
	/* Put the disposition back only once every stopped thread has left the
	 * handler, so a late signal cannot find the old one mid-handler. */
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (unsigned i = 0; i < nthreads; i++)
		while (__atomic_load_n(&threads[i].stopped, __ATOMIC_ACQUIRE) == 1) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			if (now.tv_sec - start.tv_sec > 1)
				break;
			sched_yield();
		}
	__sigaction(stop_sig(), &old_action, NULL);
}
