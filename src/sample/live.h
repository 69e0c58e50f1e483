/* SPDX-License-Identifier: MIT */
/*
 * Sampled live blocks: address -> tag (sample/tag.h: heap bucket and
 * allocation time), so that freeing a sampled block credits the bucket it
 * was counted in (in-use accounting) and knows its lifetime.
 *
 * The free path asks mp_live_maybe() first: a lock-free read of a counting
 * filter that answers "certainly not sampled" for almost every block at the
 * default rate.  Only then does it take one of 64 stripe locks.
 * Nothing here calls malloc or prints.
 */
#ifndef MP_SAMPLE_LIVE_H
#define MP_SAMPLE_LIVE_H

#include <stdint.h>

#define MP_LIVE_FILTER_BITS 20

/* Counting filter: filter[h(p)] = number of live sampled blocks hashing to
 * that slot (saturating).  Static and zero: readable before any init. */
extern uint16_t mp_live_filter[1u << MP_LIVE_FILTER_BITS];

static inline uint32_t mp_live_filter_slot(const void *p)
{
	uint64_t x = (uint64_t)(uintptr_t)p >> 4;
	return (uint32_t)((x * 0x9e3779b97f4a7c15ull) >> (64 - MP_LIVE_FILTER_BITS));
}

/* False: p is certainly not a live sampled block.  Lock-free, signal-safe. */
static inline int mp_live_maybe(const void *p)
{
	return __atomic_load_n(&mp_live_filter[mp_live_filter_slot(p)], __ATOMIC_RELAXED) != 0;
}

/* Remember p as a sampled block with tag `tag` (nonzero: sample/tag.h, its
 * bucket and allocation time).  0, or -ENOMEM (not remembered), or -EBUSY
 * in a signal handler's no-wait mode (base/lock.h) when its stripe is
 * locked. */
int mp_live_insert(const void *p, uint64_t tag);

/* Forget p; 1 and *ret_tag when it was remembered, else 0 (also in no-wait
 * mode when its stripe is locked: the entry stays behind, one block
 * counted in use that is not). */
int mp_live_remove(const void *p, uint64_t *ret_tag);

/* Number of live sampled blocks (for tests and statistics). */
uint64_t mp_live_count(void);

/* fork(): prepare locks every stripe, parent unlocks, child re-initializes
 * (and counts them no longer held: base/lock.h). */
void mp_live_lock_all(void);
void mp_live_unlock_all(void);
void mp_live_after_fork_child(void);

#endif
