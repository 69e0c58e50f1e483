/* SPDX-License-Identifier: MIT */
/* Reading a pprof profile named on the command line (profiles.c). */
#ifndef MP_CLI_PROFILES_H
#define MP_CLI_PROFILES_H

#include "pprof/pprof.h"

/*
 * Read and validate the profile at `path` into *ret.  On failure, print
 * "memprof: cannot read profile 'PATH': REASON" on stderr and return a
 * negative errno (*ret untouched).
 */
int mp_cli_read_profile(const char *path, mp_profile **ret);

#endif
