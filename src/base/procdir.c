/* SPDX-License-Identifier: MIT */
/* The numbered entries of a /proc directory (see procdir.h). */
#include <limits.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/privfd.h"
#include "base/procdir.h"

/* The kernel's record (getdents64(2)); glibc declares none under this name. */
struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

int mp_procdir_open(struct mp_procdir *d, const char *path)
{
	d->len = d->off = 0;
	d->fd = mp_sys_open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	return d->fd < 0 ? -1 : 0;
}

int mp_procdir_next(struct mp_procdir *d)
{
	if (d->fd < 0)
		return -1;
	for (;;) {
		if (d->off >= d->len) {
			d->len = syscall(SYS_getdents64, d->fd, d->buf, sizeof(d->buf));
			d->off = 0;
			if (d->len <= 0) {
				d->len = 0;
				return -1;
			}
		}
		const struct linux_dirent64 *e = (const void *)(d->buf + d->off);
		const char *c = e->d_name;
		long n = 0;

		d->off += e->d_reclen;
		if (*c < '0' || *c > '9')
			continue;
		for (; *c >= '0' && *c <= '9' && n <= INT_MAX; c++)
			n = n * 10 + (*c - '0');
		if (n <= INT_MAX)
			return (int)n;
	}
}

void mp_procdir_close(struct mp_procdir *d)
{
	if (d->fd >= 0)
		mp_sys_close(d->fd);
	d->fd = -1;
}
