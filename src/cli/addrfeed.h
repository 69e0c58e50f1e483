/* SPDX-License-Identifier: MIT */
/*
 * The code addresses a running target has recorded so far, for early
 * symbolization (cli/early-sym.c).  Today read from the shim's stack table
 * with process_vm_readv (common/stackfeed.h); when the tables move into
 * memory the CLI shares (issue 17) only this file changes.  CLI only.
 */
#ifndef MP_CLI_ADDRFEED_H
#define MP_CLI_ADDRFEED_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct mp_addrfeed;

/*
 * Attach to process `pid`, whose maps name the shim at `shim_path` (a real
 * path; NULL: any file named libmemprof.so).  Returns 0 and *ret, -ENOENT
 * when the shim is not (yet) in the process or its tables do not exist
 * yet, or another negative errno.
 */
int mp_addrfeed_open(pid_t pid, const char *shim_path, struct mp_addrfeed **ret);

/*
 * The addresses inside calls (return address - 1) of the stacks recorded
 * since the last call, at most `max` (the rest come next time), into the
 * caller's array `out`.  Returns how many (>= 0), or a negative errno when
 * the feed is gone (the process exited or exec'd): open it again.
 */
ssize_t mp_addrfeed_poll(struct mp_addrfeed *f, uint64_t *out, size_t max);

void mp_addrfeed_free(struct mp_addrfeed *f);    /* accepts NULL */

#endif
