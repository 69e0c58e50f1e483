/* SPDX-License-Identifier: MIT */
/* File I/O in a descriptor table of the shim's own (see privfd.h). */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "base/privfd.h"

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

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/* Kernels before 5.9 have no close_range: close what /proc lists (0 and 1
 * are closed already, so the directory gets a slot even in a full table). */
static void close_listed(void)
{
	char buf[4096];
	int dfd = mp_sys_open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (dfd < 0)
		return;
	for (;;) {
		long n = syscall(SYS_getdents64, dfd, buf, sizeof(buf));
		if (n <= 0)
			break;
		for (long off = 0; off < n;) {
			struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
			int fd = 0;
			off += d->d_reclen;
			if (d->d_name[0] < '0' || d->d_name[0] > '9')
				continue;
			for (const char *c = d->d_name; *c >= '0' && *c <= '9'; c++)
				fd = fd * 10 + (*c - '0');
			if (fd > 2 && fd != dfd)
				mp_sys_close(fd);
		}
	}
	mp_sys_close(dfd);
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

	r = pthread_mutex_lock(&lock);
	if (r != 0)
		return -r;
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
	pthread_mutex_unlock(&lock);
	errno = saved_errno;
	return c.ret;
}

void mp_privfd_after_fork_child(void)
{
	/* Re-initialized, not unlocked: an error-checking mutex knows its owner
	 * by thread id, and the child's thread has a new one. */
	lock = (pthread_mutex_t)PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;
}
