/* SPDX-License-Identifier: MIT */
/* memprof's own descriptor and file size limits, and the program's (see
 * nofile.h). */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
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

static struct rlimit fsize_given;
static bool fsize_raised;
static struct sigaction xfsz_given;
static bool xfsz_changed;

void mp_cli_fsize_raise(void)
{
	struct sigaction ign = { .sa_handler = SIG_IGN };

	sigemptyset(&ign.sa_mask);
	if (getrlimit(RLIMIT_FSIZE, &fsize_given) == 0 &&
	    fsize_given.rlim_cur < fsize_given.rlim_max) {
		struct rlimit up = { fsize_given.rlim_max, fsize_given.rlim_max };
		fsize_raised = setrlimit(RLIMIT_FSIZE, &up) == 0;
	}
	xfsz_changed = sigaction(SIGXFSZ, &ign, &xfsz_given) == 0;
}

unsigned long long mp_cli_fsize_hard(void)
{
	struct rlimit now;

	if (getrlimit(RLIMIT_FSIZE, &now) < 0 || now.rlim_max == RLIM_INFINITY)
		return 0;
	return now.rlim_max ? (unsigned long long)now.rlim_max : 1;
}

void mp_cli_fsize_restore(void)
{
	int saved = errno;

	if (fsize_raised)
		setrlimit(RLIMIT_FSIZE, &fsize_given);
	if (xfsz_changed)
		sigaction(SIGXFSZ, &xfsz_given, NULL);
	errno = saved;
}
