/* SPDX-License-Identifier: MIT */
/* memprof's own descriptor limit, and the program's (see nofile.h). */
#include <errno.h>
#include <string.h>

#include "cli/nofile.h"

void mp_cli_nofile_raise(struct rlimit *ret_given)
{
	struct rlimit r;

	memset(ret_given, 0, sizeof(*ret_given));
	if (getrlimit(RLIMIT_NOFILE, &r) < 0)
		return;
	*ret_given = r;
	if (r.rlim_cur < r.rlim_max) {
		struct rlimit up = { r.rlim_max, r.rlim_max };
		setrlimit(RLIMIT_NOFILE, &up);
	}
}

void mp_cli_nofile_restore(const struct rlimit *given)
{
	struct rlimit now;
	int saved = errno;

	if (given->rlim_max && getrlimit(RLIMIT_NOFILE, &now) == 0 &&
	    now.rlim_cur != given->rlim_cur)
		setrlimit(RLIMIT_NOFILE, given);
	errno = saved;
}
