/* SPDX-License-Identifier: MIT */
/*
 * How the memprof CLI reads the stacks a running target has recorded so
 * far, to symbolize them while the program still runs (so that at exit only
 * the addresses first seen late remain).  Part of the contract between the
 * shim and the CLI.
 *
 * The shim exports one `struct mp_stackfeed` under the dynamic symbol
 * MP_STACKFEED_SYMBOL.  The CLI finds the shim's mapping in
 * /proc/PID/maps, the symbol in the shim's .dynsym, and reads the locator,
 * then the records, with process_vm_readv(2) (allowed: the CLI is the
 * target's parent, of the same user).
 *
 * The stack records are the snapshot's (common/snapshot.h): from address
 * `stacks`, a sequence of {u32 id, u32 depth, u64 pc[depth]}, ids 1, 2, 3,
 * ... in order, appended only; the size_t at `used` counts the bytes of
 * whole records (stored with release order after the record).  A reader
 * reads concurrently with writers and must validate what it reads (ids in
 * sequence, depth 1..MP_SNAP_MAX_DEPTH); `used` going down means the tables
 * were emptied (tests only): start again from the top.  The addresses are
 * hints only: profiles always come from snapshots.
 *
 * Issue 17 (the tables in a memfd shared with the CLI) will replace this
 * with a direct read of the shared tables; the CLI keeps the feed behind
 * src/cli/addrfeed.h.
 */
#ifndef MP_COMMON_STACKFEED_H
#define MP_COMMON_STACKFEED_H

#include <stdint.h>

#define MP_STACKFEED_SYMBOL "memprof_stack_feed"
#define MP_STACKFEED_MAGIC 0x646565666b74736dull   /* "mstkfeed" */

struct mp_stackfeed {
	uint64_t magic;             /* MP_STACKFEED_MAGIC once the tables exist */
	uint64_t stacks;            /* address of the first record */
	uint64_t used;              /* address of the size_t of bytes in whole records */
	uint64_t size;              /* bytes reserved for records */
};

#endif
