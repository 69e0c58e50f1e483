/* SPDX-License-Identifier: MIT */
/*
 * The numbered entries of a /proc directory (/proc/self/fd, /proc/PID/task):
 * descriptors, thread ids.  getdents64(2) on a directory opened with a raw
 * system call into a buffer the caller holds: no opendir (it allocates, and
 * the shim interposes it), no allocation, no lock.  Async-signal-safe, safe
 * after fork and in mp_privfd_run's child; in the target.
 *
 *	struct mp_procdir d;
 *	int n;
 *	if (mp_procdir_open(&d, "/proc/self/fd") < 0)
 *		return -errno;
 *	while ((n = mp_procdir_next(&d)) >= 0)
 *		if (n != d.fd)        (the listing's own descriptor is listed too)
 *			...;
 *	mp_procdir_close(&d);
 *
 * The descriptor is opened in the calling thread's descriptor table
 * (mp_sys_open: O_DIRECTORY | O_CLOEXEC).  Entries closed or added while
 * listing may or may not be seen, as with readdir.
 */
#ifndef MP_BASE_PROCDIR_H
#define MP_BASE_PROCDIR_H

struct mp_procdir {
	int fd;                 /* the directory's; -1 once closed */
	long len, off;          /* bytes in buf from the last getdents64, next entry */
	char buf[4096] __attribute__((aligned(8)));   /* records are 8-aligned */
};

/* Open path for listing.  0, or -1 and errno (d->fd is then -1). */
int mp_procdir_open(struct mp_procdir *d, const char *path);

/*
 * The next entry whose name starts with a decimal digit, as the number its
 * leading digits make; -1 at the end of the directory or on a read error.
 * "." and ".." and other names are passed over; so is a number above
 * INT_MAX, which no descriptor or thread id is.
 */
int mp_procdir_next(struct mp_procdir *d);

/* Close the directory (d->fd becomes -1); again is harmless. */
void mp_procdir_close(struct mp_procdir *d);

#endif
