/* SPDX-License-Identifier: MIT */
/*
 * What `memprof run` starts the program with: the shim library, the
 * program (found like execvp(3) does and vetted for LD_PRELOAD), the
 * environment that preloads the shim and tells it our options, and the
 * private directory the shim writes its snapshots to.  CLI only; every
 * function prints its own one-line error.
 */
#ifndef MP_CLI_LAUNCH_H
#define MP_CLI_LAUNCH_H

#include <stdbool.h>
#include <stdint.h>

#include "common/shim-options.h"

#define MP_SHIM_NAME "libmemprof.so"

/*
 * The shim: $MEMPROF_SHIM, else found relative to our own executable (the
 * build tree's layout, then the installed one).  Returns 0 with a malloc'd
 * absolute path, or prints why not and returns -1.
 */
int mp_launch_find_shim(char **ret_path);

/*
 * ld.so splits LD_PRELOAD at spaces and colons: a shim whose path has them
 * is reached through a symbolic link in the snapshot directory (in /tmp
 * when that directory's path has them too).  Returns 0
 * with *ret_link the malloc'd link to preload instead of `shim`, or NULL
 * when `shim` does without; -1 with the reason printed.
 */
int mp_launch_preload_link(const char *shim, const char *snapdir, char **ret_link);

/*
 * Find PROGRAM `name` as execvp(3) would and refuse foreign ELF, which the
 * shim cannot be loaded into (cli/target.h).  A program LD_PRELOAD cannot
 * work for (static, or setuid for this user) is said so in one line and
 * run all the same: *ret_unprofiled tells.  Returns 0 with a malloc'd path
 * and whether the file is ELF (else exec falls back to /bin/sh), or the
 * exit status to fail with (127, 126 like a shell, or 1), the reason
 * printed.
 */
int mp_launch_prepare_program(const char *name, char **ret_path, bool *ret_is_elf,
			      bool *ret_unprofiled);

/* The keys of MEMPROF_OPTIONS memprof run sets, in order (its settings:
 * common/shim-options.h). */
#define MP_LAUNCH_OPTIONS "rate,depth,snapdir,interval,snapshot_signal,allocator,leak,live,shm"

/*
 * The program's environment: ours, with LD_PRELOAD led by `shim` (a
 * preload the user already had stays after it) and MEMPROF_OPTIONS ending in
 * the MP_LAUNCH_OPTIONS keys of *o (the shim reads keys in order, so ours win
 * and any others the user set, like verbose=1, still apply), and "_" (when
 * set) the path of `program`, as a shell sets it.  NULL on OOM; free with
 * mp_launch_env_free() (accepts NULL).
 */
char **mp_launch_env(const char *shim, const struct mp_options *o, const char *program);
void mp_launch_env_free(char **env);

/* MEMPROF_OPTIONS the user set, which mp_launch_env() passes on: refused in
 * the sanitizers' ':'-separated style, which the shim would ignore.  0, or
 * -1 with the reason printed. */
int mp_launch_check_user_options(void);

/*
 * A private directory for the snapshots, with an absolute path (the shim
 * reads snapdir once, the program may chdir later) free of ',' (the
 * MEMPROF_OPTIONS separator): under $TMPDIR when that works, else /tmp.
 * malloc'd; NULL with errno set on failure.
 */
char *mp_launch_tmpdir(void);

#endif
