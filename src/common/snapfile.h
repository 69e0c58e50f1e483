/* SPDX-License-Identifier: MIT */
/*
 * The names of the files in a snapshot directory (snapdir=), which the shim
 * writes and memprof run and memprof snapshot look for:
 *
 *   memprof.<pid>.snap           the final snapshot, written at exit
 *   memprof.<pid>.<seq>.snap     numbered snapshot seq (interval=, the
 *                                snapshot signal, memprof snapshot)
 *   memprof.<pid>.seq            the last seq that pid used (a program that
 *                                execve()s keeps its pid: the new image's
 *                                shim goes on from there)
 *   memprof.<pid>.<seq>.profile  memprof run's record of the profile it
 *                                made of numbered snapshot seq (its path, or
 *                                nothing when it failed), for memprof
 *                                snapshot to name
 *   memprof.<pid>.<tok>.live     a snapshot taken for a live request
 *                                (common/trigger.h: memprof run --http):
 *                                numbered by the request's token, not by
 *                                seq, and never made a profile on disk
 *
 * Each is written under its name with ".tmp" appended, then renamed: a
 * reader never sees half a file.  pid is 1..INT_MAX and seq 1..UINT32_MAX,
 * in decimal.
 *
 * No allocation, no stdio: the shim builds names in the target.
 */
#ifndef MP_COMMON_SNAPFILE_H
#define MP_COMMON_SNAPFILE_H

#include <stddef.h>
#include <stdint.h>

enum mp_snapfile {
	MP_SNAPFILE_FINAL,        /* memprof.<pid>.snap */
	MP_SNAPFILE_NUMBERED,     /* memprof.<pid>.<seq>.snap */
	MP_SNAPFILE_SEQ,          /* memprof.<pid>.seq */
	MP_SNAPFILE_PROFILE,      /* memprof.<pid>.<seq>.profile */
	MP_SNAPFILE_LIVE,         /* memprof.<pid>.<tok>.live */
};

/* What a file is called while it is written. */
#define MP_SNAPFILE_TMP ".tmp"

/*
 * "<dir>/<name>" of file `kind` of process pid (seq: numbered, profile and
 * live only; for live, the token), followed by `suffix` (NULL, or MP_SNAPFILE_TMP); dir NULL: the
 * name alone.  Into buf, NUL-terminated.  Returns the length, or 0 when it
 * does not fit in `cap` (then buf holds nothing useful).
 */
size_t mp_snapfile_path(char *buf, size_t cap, const char *dir, enum mp_snapfile kind,
			uint64_t pid, uint32_t seq, const char *suffix);

/*
 * Which of the files above `name` (no directory, no ".tmp") is: its
 * enum mp_snapfile, with *ret_pid and *ret_seq (0 for the final snapshot
 * and the seq file); -1, outputs untouched, for any other name.
 */
int mp_snapfile_parse(const char *name, uint64_t *ret_pid, uint32_t *ret_seq);

#endif
