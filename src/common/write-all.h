/* SPDX-License-Identifier: MIT */
/*
 * Write a whole buffer to a descriptor: write(2) again after a short write
 * and after EINTR.  Header only and allocation-free: the shim's snapshot
 * writer (in the target, also in a signal handler's path) and the CLI's
 * file writers (profiles, the symbol cache, timelines) share it.
 */
#ifndef MP_COMMON_WRITE_ALL_H
#define MP_COMMON_WRITE_ALL_H

#include <errno.h>
#include <stddef.h>
#include <unistd.h>

/* 0 once all n bytes of buf are written, or -errno of the write that failed
 * (some bytes may be written then). */
static inline int mp_write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

#endif
