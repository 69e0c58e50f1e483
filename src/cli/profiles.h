/* SPDX-License-Identifier: MIT */
/* Reading a pprof profile named on the command line (profiles.c). */
#ifndef MP_CLI_PROFILES_H
#define MP_CLI_PROFILES_H

#include <stddef.h>
#include <stdint.h>

#include "pprof/pprof.h"

/*
 * Read and validate the profile at `path` into *ret.  On failure, print
 * "memprof: cannot read profile 'PATH': REASON" on stderr and return a
 * negative errno (*ret untouched).
 */
int mp_cli_read_profile(const char *path, struct mp_profile **ret);

/*
 * Read n profiles side by side (a thread per core) into ret[0..n-1].  If
 * any fails, print the first failure in `paths` order as above, free the
 * others, set every ret[i] to NULL and return its negative errno.
 */
int mp_cli_read_profiles(const char *const *paths, size_t n, struct mp_profile **ret);

/*
 * The profiles at paths[0..n) (n >= 1) as one profile, for a report (top,
 * flame): the profile itself when n is 1, else their merge as pprof makes
 * it of the files it is given (report/diff.h mp_merge_build), read back in
 * memory.  On failure, one line on stderr ("cannot read profile" as above,
 * or "cannot merge: ...") and a negative errno.  Free with
 * mp_cli_merged_done() in both cases.
 */
struct mp_cli_merged {
	struct mp_profile *p;           /* the one to report on */
	struct mp_profile **in;         /* the n read, when merged */
	size_t nin;
	struct mp_pprof_builder *b;     /* their merge, which p views */
};
int mp_cli_read_merged(const char *const *paths, size_t n, struct mp_cli_merged *ret);
void mp_cli_merged_done(struct mp_cli_merged *m);

/* The whole file at `path` (a /proc file too) in a malloc'd buffer: 0, or
 * -errno; -EFBIG when reading it would need a buffer of more than `max`
 * bytes. */
int mp_cli_read_whole(const char *path, size_t max, uint8_t **ret_buf, size_t *ret_len);

/*
 * For a command whose output is of another kind than its inputs (flame,
 * convert, timeline): when `output` names the same file as one of
 * inputs[0..n-1] (the same device and inode, however spelt), print
 * "memprof: output 'OUT' is the input 'IN': ..." on stderr and return
 * -EEXIST, so that the input is never replaced by what was made of it.
 * 0 otherwise (an output that does not exist yet, or another file).
 */
int mp_cli_output_not_input(const char *output, const char *const *inputs, size_t n);

#endif
