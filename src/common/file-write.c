/* SPDX-License-Identifier: MIT */
/* A file written whole through a temporary name (see file-write.h). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file-write.h"
#include "common/write-all.h"

int mp_file_write_whole(const char *path, const void *buf, size_t len)
{
	char *tmp = NULL, *dircopy;
	mode_t mask;
	int fd, r;

	/* Same directory as the target, so rename(2) is atomic. */
	if (asprintf(&tmp, "%s.tmp.XXXXXX", path) < 0)
		return -ENOMEM;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		free(tmp);
		return r;
	}
	/* mkostemp creates 0600; give the file the mode open(2) would have. */
	mask = umask(0);
	umask(mask);
	r = mp_write_all(fd, buf, len);
	if (r == 0 && fchmod(fd, 0666 & ~mask) < 0)
		r = -errno;
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		free(tmp);
		return r;
	}
	free(tmp);
	/* Make the rename itself durable; failure here loses nothing already visible. */
	dircopy = strdup(path);
	if (dircopy) {
		int dfd = open(dirname(dircopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (dfd >= 0) {
			(void)fsync(dfd);
			close(dfd);
		}
		free(dircopy);
	}
	return 0;
}
