/* SPDX-License-Identifier: MIT */
/*
 * Central lists, one per size class: batches of blocks parked whole (a
 * transfer cache, so a batch moves between threads in O(1)), then the spans
 * with free blocks.  Internal to alloc/.  In the target; takes the class
 * mutex and, to get or return a span, mp_heap.lock (always in that order).
 */
#ifndef MP_ALLOC_CENTRAL_H
#define MP_ALLOC_CENTRAL_H

#include <stdint.h>

/* Set up the per-class state (after mp_sizeclass_init).  Not thread-safe. */
void mp_central_init(void);

/*
 * Up to `want` blocks of class c, linked through their first words and
 * NULL-terminated, in *ret_head; returns how many (0: out of memory).
 */
uint32_t mp_central_get(unsigned c, uint32_t want, void **ret_head);

/* Give back n blocks of class c linked from head (NULL-terminated). */
void mp_central_put(unsigned c, void *head, uint32_t n);

/* Fork and the invariant walker: every class lock, in class order. */
void mp_central_lock_all(void);
/* Every central lock or none: 0, or -EBUSY (then none is held).  Never
 * waits (the leak scan while the program runs, leak.h). */
int mp_central_trylock_all(void);
void mp_central_unlock_all(void);

/* Under mp_central_lock_all + mp_heap.lock: the partial lists agree with the
 * spans' counts.  0 or a negative line number. */
int mp_central_check_locked(void);

/* Call fn on every block parked in the central lists (leak scan, world
 * stopped: no locks taken). */
void mp_central_foreach_parked(void (*fn)(void *block, void *ctx), void *ctx);

/* Blocks parked in the central lists of class c (stats, tests). */
uint64_t mp_central_parked(unsigned c);

#endif
