/* SPDX-License-Identifier: MIT */
/*
 * `memprof run` and the descriptor limit (RLIMIT_NOFILE), and every
 * command and the file size limit (RLIMIT_FSIZE, below).  The program runs
 * under the limits it was given; memprof itself, which opens every file of
 * the program's mappings to symbolize them, takes the soft limit up to the
 * hard one for its own use (as a shell user could), and the child puts the
 * given soft limit back before exec.  CLI only.
 */
#ifndef MP_CLI_NOFILE_H
#define MP_CLI_NOFILE_H

#include <sys/resource.h>

/* Raise our soft RLIMIT_NOFILE to the hard limit; *ret_given gets the limit
 * as it was (for mp_cli_nofile_restore).  Silent on failure. */
void mp_cli_nofile_raise(struct rlimit *ret_given);

/* In the child, before exec: the limit as given.  Async-signal-safe. */
void mp_cli_nofile_restore(const struct rlimit *given);

/*
 * The file size limit (RLIMIT_FSIZE, ulimit -f), every command: the soft
 * limit goes up to the hard one for memprof's own files (profiles, the
 * snapshots of processes that died, the symbolization cache), and SIGXFSZ
 * is ignored, so that a write past a hard limit fails with EFBIG, which is
 * said and leaves no temporary file, instead of killing memprof half-way.
 * The program `memprof run` starts gets both back as they were given
 * (mp_cli_fsize_restore, in the child before exec: async-signal-safe).
 */
void mp_cli_fsize_raise(void);
void mp_cli_fsize_restore(void);

/* The hard RLIMIT_FSIZE in bytes, which binds memprof's own files too (no
 * one can lift it without CAP_SYS_RESOURCE), or 0 when there is none. */
unsigned long long mp_cli_fsize_hard(void);

#endif
