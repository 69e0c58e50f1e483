/* SPDX-License-Identifier: MIT */
/* File I/O in a descriptor table of the shim's own (see privfd.h). */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "base/lock.h"
#include "base/privfd.h"
#include "base/procdir.h"

#ifndef __WALL
#define __WALL 0x40000000
#endif

/* The child's stack: one call at a time (the lock), no mapping at the
 * moment of need (a program at its RLIMIT_AS still gets its snapshot). */
static char child_stack[128 << 10] __attribute__((aligned(64)));
static pthread_mutex_t lock = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;

struct call {
	int (*fn)(void *);
	void *arg;
	int ret;
};

/* Kernels before 5.9 have no close_range: close what /proc lists (0 and 1
 * are closed already, so the directory gets a slot even in a full table). */
static void close_listed(void)
{
	struct mp_procdir d;
	int fd;

	if (mp_procdir_open(&d, "/proc/self/fd") < 0)
		return;
	while ((fd = mp_procdir_next(&d)) >= 0)
		if (fd > 2 && fd != d.fd)
			mp_sys_close(fd);
	mp_procdir_close(&d);
}

/*
 * The program's RLIMIT_FSIZE (ulimit -f) limits the program's files, not
 * ours: a memfd of the shared tables is sized to its whole window at once,
 * and a snapshot is as big as the tables, so under a limit of a few KiB
 * there would be neither tables to read after death nor a snapshot at
 * exit, hence no profile.  Limits are per process and this child is a
 * process of its own (no CLONE_THREAD: its limits are a copy), so lifting
 * them here leaves the program's untouched: no limit where allowed
 * (CAP_SYS_RESOURCE), else the hard one.
 */
static void lift_fsize(void)
{
	struct rlimit r, up = { RLIM_INFINITY, RLIM_INFINITY };
	if (syscall(SYS_prlimit64, 0, RLIMIT_FSIZE, NULL, &r) < 0 || r.rlim_cur == RLIM_INFINITY)
		return;
	if (syscall(SYS_prlimit64, 0, RLIMIT_FSIZE, &up, NULL) < 0 && r.rlim_cur < r.rlim_max) {
		up.rlim_cur = up.rlim_max = r.rlim_max;
		syscall(SYS_prlimit64, 0, RLIMIT_FSIZE, &up, NULL);
	}
}

static int child_main(void *p)
{
	struct call *c = p;
	mp_sys_close(0);
	mp_sys_close(1);
	if (syscall(SYS_close_range, 3u, ~0u, 0) < 0)
		close_listed();
	lift_fsize();
	c->ret = c->fn(c->arg);
	return 0;
}

int mp_privfd_run(int (*fn)(void *arg), void *arg)
{
	struct call c = { fn, arg, 0 };
	sigset_t all, old;
	int saved_errno = errno, r;
	pid_t pid;

	/* Counted (base/lock.h): a sample may get here (crash.c's maps). */
	mp_lock_held++;
	r = pthread_mutex_lock(&lock);
	if (r != 0) {
		mp_lock_held--;
		return -r;
	}
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = clone(child_main, child_stack + sizeof(child_stack), CLONE_VM | CLONE_VFORK, &c);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid > 0) {
		int st;
		while (waitpid(pid, &st, __WALL) < 0 && errno == EINTR)
			;
	} else {
		/* Refused: the program's own table it is. */
		c.ret = fn(arg);
	}
	mp_unlock(&lock);
	errno = saved_errno;
	return c.ret;
}

void mp_privfd_after_fork_child(void)
{
	/* Re-initialized, not unlocked: an error-checking mutex knows its owner
	 * by thread id, and the child's thread has a new one. */
	lock = (pthread_mutex_t)PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;
}
