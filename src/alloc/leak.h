/* SPDX-License-Identifier: MIT */
/*
 * The allocator's side of the leak scan: which blocks are live, and the
 * live block that contains an address.  In the target, with every other
 * thread stopped (leakscan/): nothing here takes a lock, so a thread
 * stopped inside the allocator cannot deadlock the scan (a list it was in
 * the middle of changing can make one block look live: a rare false report
 * at worst, never a crash, since every pointer followed is range-checked).
 */
#ifndef MP_ALLOC_LEAK_H
#define MP_ALLOC_LEAK_H

#include <stddef.h>
#include <stdint.h>

enum {
	MP_BLK_FREE = 0,       /* not a block of the program */
	MP_BLK_LIVE = 1,       /* allocated, not reached (yet) */
	MP_BLK_REACHABLE = 2,  /* reached from a root */
	MP_BLK_DEFINITE = 3,   /* unreached, and not reached from another unreached block */
	MP_BLK_INDIRECT = 4,   /* unreached, reached only from unreached blocks */
};

struct mp_blk {
	uintptr_t start;
	size_t size;           /* usable bytes: the class size, or the pages of a large block */
	uint8_t *state;        /* MP_BLK_* of this block, writable */
	uint32_t bucket;       /* profile bucket + 1 of its allocation, 0 if not sampled */
};

/* Give every block of every in-use span its state (LIVE or FREE).  0, or
 * -ENOMEM when the state arrays cannot be mapped. */
int mp_alloc_leak_begin(void);

/* Drop the state arrays (the scan is over). */
void mp_alloc_leak_end(void);

/* The live block containing address v (interior pointers count): 1 and
 * *ret, or 0. */
int mp_alloc_leak_lookup(uintptr_t v, struct mp_blk *ret);

/* Call fn on every live block, in address order; stop early when it
 * returns nonzero. */
void mp_alloc_leak_foreach(int (*fn)(const struct mp_blk *b, void *ctx), void *ctx);

/* Used by leak.c: every block parked in a thread cache. */
void mp_alloc_foreach_cached(void (*fn)(void *block, void *ctx), void *ctx);

#endif
