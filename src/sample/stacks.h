/* SPDX-License-Identifier: MIT */
/*
 * The profile tables inside the target: a deduplicated stack table and heap
 * buckets keyed by (stack, block size), both stored exactly in the raw
 * snapshot record formats (common/snapshot.h) so a snapshot is a copy.
 *
 * Memory comes from windows of address space mapped as the tables fill
 * (alloc/vmarea.h) and from mp_vm_reserve; nothing here calls malloc or prints.
 * Recording takes one mutex (never held across a call that could allocate or
 * re-enter).  Crediting a free is a lock-free atomic add.
 */
#ifndef MP_SAMPLE_STACKS_H
#define MP_SAMPLE_STACKS_H

#include <stddef.h>
#include <stdint.h>

#define MP_MAX_DEPTH 256

/* Reserve the tables.  0 or -ENOMEM.  Not thread-safe: call once at init. */
int mp_prof_init(void);

/*
 * Count one sampled allocation of `size` bytes from the stack pcs[0..depth)
 * (innermost first).  Returns the bucket index (>= 0), or -ENOSPC when a
 * table is full (the sample is dropped and mp_prof_truncated() turns true).
 */
int64_t mp_prof_record_alloc(const uint64_t *pcs, uint32_t depth, uint64_t size);

/* The id of the stack pcs[0..depth) in the stack table (added if new).
 * >= 1, or -ENOSPC when full. */
int64_t mp_prof_intern_stack(const uint64_t *pcs, uint32_t depth);

/* mp_prof_record_alloc for a stack already interned: its bucket for `size`
 * (>= 0) or -ENOSPC. */
int64_t mp_prof_record_stack(uint32_t stack_id, uint64_t size);

/* One more sampled allocation into a bucket a record call returned. */
void mp_prof_record_again(uint32_t b);

/* Changes whenever the tables are emptied (mp_prof_reset) or code is
 * unmapped (mp_prof_unmapped): stack ids and buckets of an older generation
 * are void. */
uint32_t mp_prof_generation(void);

/* Credit a free to bucket `b` / take it back (realloc failure).  Lock-free. */
void mp_prof_record_free(uint32_t b);
void mp_prof_unrecord_free(uint32_t b);

/* Whether samples were dropped because a table was full. */
int mp_prof_truncated(void);

/*
 * A consistent view for the snapshot writer: call mp_prof_lock(), read the
 * regions, mp_prof_unlock().  The stack region is a sequence of
 * {u32 id, u32 depth, u64 pc[depth]} records; the bucket region is an array
 * of struct mp_snap_heap_rec.
 */
void mp_prof_lock(void);
void mp_prof_unlock(void);
void mp_prof_stacks(const void **ret_data, size_t *ret_size);
void mp_prof_buckets(const void **ret_data, size_t *ret_size);

/*
 * Code in the ranges [ranges[2i], ranges[2i+1]), i < n, was unmapped
 * (dlclose): stacks with a return address whose call lies there are never
 * matched again, so that a stack of code loaded there later gets an id of
 * its own, even with the very same addresses (and the snapshot's reader
 * tells the two apart by id: common/snapshot.h, MP_SNAP_UNLOADED); walk
 * memos' ids and buckets are void (the generation changes).  Returns the
 * number of stacks in the table: ids up to it may hold addresses of the
 * unmapped code, later ones never.  Takes the lock; not for signal
 * handlers.
 */
uint32_t mp_prof_unmapped(const uint64_t *ranges, size_t n);

/* The number of stacks in the table now (ids 1..it).  Lock-free. */
uint32_t mp_prof_nstacks(void);

/* In the child after fork(): the lock may have been held by a thread that
 * does not exist there.  The parent's tables are kept (the child's heap is a
 * copy of the parent's). */
void mp_prof_after_fork_child(void);

/* For tests: forget everything.  Not while other threads record: a walk
 * memo checked against the old generation may be used after it. */
void mp_prof_reset(void);

#endif
