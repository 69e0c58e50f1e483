/* SPDX-License-Identifier: MIT */
/*
 * The shim's file I/O without the program's descriptor table.
 *
 * Every file the shim opens inside the target (snapshots, /proc/self/maps,
 * /proc/self/statm, the snapshot counter, the thread list of the leak scan)
 * is opened in a descriptor table of its own, never in the program's: the
 * program sees the descriptor numbers it would see natively at every moment
 * (a shim descriptor open while another thread calls open() would shift its
 * number), a program that used up RLIMIT_NOFILE still gets its profile, and
 * one that closes every descriptor (close_range, closefrom) cannot close
 * ours or, worse, have its own file written by us under a reused number.
 *
 * How: mp_privfd_run() runs a function in a child made with
 * clone(CLONE_VM | CLONE_VFORK) without CLONE_FILES.  The child shares the
 * memory (it sees the tables as they are, and its results land in place)
 * and the calling thread's TLS; the calling thread sleeps until the child
 * exits, so to the code that runs it is the same thread with a different
 * descriptor table: a copy of the program's, of which the child at once
 * closes everything but standard error (kept for warnings), freeing every
 * slot.  No SIGCHLD is sent (exit signal 0); the child blocks every signal
 * (SIGXFSZ under a program's RLIMIT_FSIZE becomes EFBIG, never a core
 * dump) and lifts RLIMIT_FSIZE for itself, to the hard limit or, with
 * CAP_SYS_RESOURCE, none (limits are per process: the program's stay as
 * they are); the caller reaps it with __WALL.  POSIX record locks belong to the
 * descriptor table that took them, so the child's closes release none of
 * the program's.  Run in the child, getpid() and /proc/self name the child:
 * callers pass the process id in, and /proc/self/{maps,statm,exe} are the
 * same as the program's (same memory).
 *
 * When the clone is refused (RLIMIT_NPROC, a seccomp filter), fn runs in
 * the calling thread instead, with the program's table (the behaviour of
 * old), and mp_privfd_run returns what fn returned all the same.
 *
 * In the target: no allocation; takes one mutex (the child's stack).  Not
 * in a signal handler that may have interrupted mp_privfd_run on the same
 * thread (it gets -EDEADLK).  Safe after fork.
 */
#ifndef MP_BASE_PRIVFD_H
#define MP_BASE_PRIVFD_H

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

/*
 * fn(arg) with a private descriptor table (see above).  Returns fn's
 * result, or -EDEADLK when the calling thread is already inside
 * mp_privfd_run (then fn did not run).
 */
int mp_privfd_run(int (*fn)(void *arg), void *arg);

/* In a fork child (the lock may have been held by a thread that is gone). */
void mp_privfd_after_fork_child(void);

/*
 * open/close for the shim's own files.  Raw system calls: the shim's
 * interposed open and close (resources/fds.c) must not take our private
 * descriptors for the program's numbers.  -1 and errno on failure.
 */
static inline int mp_sys_open(const char *path, int flags, int mode)
{
	return (int)syscall(SYS_openat, AT_FDCWD, path, flags, mode);
}

static inline int mp_sys_close(int fd)
{
	return (int)syscall(SYS_close, fd);
}

#endif
