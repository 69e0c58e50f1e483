/* SPDX-License-Identifier: MIT */
/*
 * The peak of the sampled heap and the lifetimes of sampled blocks: two
 * tables parallel to the heap buckets (stacks.h), in the snapshot's record
 * formats (common/snapshot.h: MP_SNAP_PEAK, MP_SNAP_LIFETIMES) so that a
 * snapshot is a copy, in windows of address space mapped as they fill
 * (base/vmarea.h), as the buckets are.
 *
 * The peak is followed on the in-use estimate (snapshot.h), which changes
 * only on sampled events: what is in use at the peak is kept
 * copy-on-write per bucket (the epochs of snapshot.h), so that a new peak
 * costs an increment, never a copy of a table, and the peak is exact, not
 * within a growth fraction (with one thread; with several, threads publish
 * the estimate in batches and the moment is within 2 H(n) / 2048 of the
 * peak: peak.c).  tcmalloc's PeakHeapTracker copies its list of
 * sampled blocks whenever the estimate passes the last copy's by a fraction
 * (10% by default): the peak it keeps can be that far below the real one,
 * and the copies cost time in proportion to the blocks.
 *
 * Everything here is lock-free (atomic adds and compares; nothing waits),
 * never allocates, never prints.  The stack table's lock serializes the
 * growth of the tables (the _locked functions).  Not in a signal handler
 * that interrupted the guarded code (as stacks.h).  stacks.c calls the
 * bucket hooks (add_bucket, touch, shrinking); the shim calls
 * mp_peak_grew after a sampled allocation and mp_peak_freed (or
 * mp_peak_freed_now, mp_peak_on_free) for a sampled free, which reads and
 * writes the bucket's heap record itself (stacks.h mp_prof_heap).
 */
#ifndef MP_SAMPLE_PEAK_H
#define MP_SAMPLE_PEAK_H

#include <stddef.h>
#include <stdint.h>

#include "common/snapshot.h"

/*
 * Reserve the windows for `max_buckets` buckets and start with nothing in
 * use.  Called by mp_prof_init.  0 or -ENOMEM.
 */
int mp_peak_init(size_t max_buckets);

/* The sampling rate in force (the in-use estimate's weights, sampler.h). */
void mp_peak_set_rate(uint64_t rate);

/*
 * Under the stack table's lock, before bucket b (the next one) is handed
 * out: map its records and mark it as not in use at the peak.  0, or
 * -ENOSPC (the bucket must not be created: the tables stay parallel).
 */
int mp_peak_add_bucket_locked(uint32_t b);

/* Before the counts of bucket b, whose record is `h`, change. */
void mp_peak_touch(uint32_t b, struct mp_snap_heap_rec *h);

/* After a sampled allocation of `size` bytes was counted, at tick `now`
 * (sample/tag.h): the in-use estimate grows, and may pass the peak. */
void mp_peak_grew(uint64_t size, uint64_t now);

/* Before a sampled free of `size` bytes is counted (before mp_peak_touch):
 * when the heap is at its peak, the peak is captured. */
void mp_peak_shrinking(uint64_t size);

/*
 * A sampled block of tag `tag` (sample/tag.h) is freed at tick `now`:
 * credits the free to its bucket (as stacks.h mp_prof_record_free does)
 * and counts its lifetime.  Returns the lifetime class, for mp_peak_unfreed.
 */
unsigned mp_peak_freed(uint64_t tag, uint64_t now);

/*
 * The same at the clock's tick now, read after the bucket's two records
 * (counts, lifetimes: two cache lines in tables often bigger than the
 * cache; its peak record is read only when its peak_mark is stale) are on
 * their way, so that their misses overlap one another and the clock's
 * read instead of following one after the other.
 */
unsigned mp_peak_freed_now(uint64_t tag);

/* The allocator's callback (alloc/alloc.h mp_alloc_on_sampled_free):
 * mp_peak_freed at tick `now`, read before the tag was found, or
 * mp_peak_freed_now when `now` is 0 (not read). */
void mp_peak_on_free(uint64_t tag, uint64_t now);

/* Take back mp_peak_freed of `tag`, which returned class k (a realloc that
 * failed: the block is in use again). */
void mp_peak_unfreed(uint64_t tag, unsigned k);

/*
 * For the snapshot writer, under the stack table's lock with `nbuckets`
 * buckets: the MP_SNAP_PEAK section is *ret_hdr (a copy of the moment, in
 * a static buffer: writers are serialized) then *ret_recs (nbuckets
 * records); the MP_SNAP_LIFETIMES section is *ret_life.  Sizes 0 before
 * init.
 */
void mp_peak_region(uint32_t nbuckets, const void **ret_hdr, size_t *ret_hdr_size,
		    const void **ret_recs, size_t *ret_recs_size);
void mp_peak_life_region(uint32_t nbuckets, const void **ret_data, size_t *ret_size);

/* The header as it is now (tests, verbose). */
struct mp_snap_peak mp_peak_state(void);

/* For tests (mp_prof_reset): nothing in use, no peak. */
void mp_peak_reset(uint32_t nbuckets);

#endif
