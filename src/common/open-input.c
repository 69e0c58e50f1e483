/* SPDX-License-Identifier: MIT */
/* Opening the CLI's inputs (see open-input.h). */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "common/open-input.h"

int mp_open_input(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}
