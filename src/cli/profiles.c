/* SPDX-License-Identifier: MIT */
/* One reader and one error message for every command that takes profiles. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/profiles.h"

int mp_cli_read_profile(const char *path, mp_profile **ret)
{
	char *err = NULL;
	int r = mp_pprof_read_file(path, ret, &err);
	if (r < 0)
		fprintf(stderr, "memprof: cannot read profile '%s': %s\n", path, err ? err : strerror(-r));
	free(err);
	return r;
}
