/* SPDX-License-Identifier: MIT */
/*
 * A sampled stack's place in the profile tables: where the stack walker
 * (unwind.h) and the stack table (stacks.h) meet, so that neither knows the
 * other.  The walker remembers each thread's last walk (its memo: the
 * shadow of fastunwind.c) and keeps with it the table's cache of that stack
 * (struct mp_stack_cache), which only the functions here read, and the
 * stack's fingerprint (stacks.h): a walk the memo holds is not copied out
 * of it, nor hashed whole; the same stack again is not even probed for,
 * and one block size met again from it costs one atomic add.
 *
 * In the target; the caller holds the recursion guard (base/guard.h).  Not
 * in a signal handler that interrupted the guarded code.
 */
#ifndef MP_SAMPLE_CAPTURE_H
#define MP_SAMPLE_CAPTURE_H

#include <stdint.h>

#include "base/compiler.h"
#include "sample/stacks.h"
#include "sample/unwind.h"

/* The return addresses buf[0..n) after the shim's own frames at the top,
 * at most `max`, into ret_pcs; the number stored. */
static inline __attribute__((always_inline)) uint32_t
mp_capture_keep(const uint64_t *buf, uint32_t n, uint64_t *ret_pcs, uint32_t max)
{
	uint32_t i = 0;
	while (i < n && buf[i] >= mp_unwind_skip_lo && buf[i] < mp_unwind_skip_hi)
		i++;
	uint32_t out = 0;
	for (; i < n && out < max; i++)
		ret_pcs[out++] = buf[i];
	return out;
}

/* What mp_capture returns when the walk is one the thread's memo holds:
 * nothing is stored, *ret_cache is the memo's cache. */
#define MP_CAPTURE_MEMO MP_WALK_MEMO

/*
 * Capture the calling thread's stack, innermost first, at most `max`
 * return addresses after the skipped frames (the shim's own: unwind.h).
 * Returns the number stored and in *ret_cache the table's cache of this
 * stack, or NULL; or MP_CAPTURE_MEMO (never under unwind=2): the walk is
 * one the memo holds, and mp_capture_stack_id and mp_capture_bucket ask
 * its cache first, then the table by the memo's fingerprint, fetching the
 * pcs (mp_capture_memo_pcs) only for a stack new to the table.  Inlined
 * into its callers: every frame of the shim's own is one more frame to walk
 * and then drop.
 */
static inline __attribute__((always_inline)) uint32_t
mp_capture(uint64_t *ret_pcs, uint32_t max, struct mp_stack_cache **ret_cache)
{
	uint64_t buf[MP_MAX_DEPTH + MP_UNWIND_EXTRA_FRAMES];
	uint32_t n = UINT32_MAX;
	*ret_cache = NULL;
	if (max > MP_MAX_DEPTH)
		max = MP_MAX_DEPTH;
	if (mp_unwind_mode != MP_UNWIND_LIBUNWIND)
		n = mp_fastunwind_capture(buf, max + MP_UNWIND_EXTRA_FRAMES, ret_cache);
	if (n == MP_WALK_MEMO) {
		if (MP_LIKELY(mp_unwind_mode != MP_UNWIND_CHECK))
			return MP_CAPTURE_MEMO;
		/* (Under MP_UNWIND_CHECK the stack is walked again below and
		 * the cache's answers are checked against it.) */
		n = mp_fastunwind_memo_pcs(*ret_cache, buf, max + MP_UNWIND_EXTRA_FRAMES);
	}
	if (n == UINT32_MAX || mp_unwind_mode == MP_UNWIND_CHECK) {
		void *vbuf[MP_MAX_DEPTH + MP_UNWIND_EXTRA_FRAMES];
		int k = mp_unwind_fallback(vbuf, (int)(max + MP_UNWIND_EXTRA_FRAMES));
		if (n != UINT32_MAX)
			mp_unwind_check(buf, n, vbuf, k, max);
		n = k > 0 ? (uint32_t)k : 0;
		for (uint32_t i = 0; i < n; i++)
			buf[i] = (uint64_t)(uintptr_t)vbuf[i];
	}
	return mp_capture_keep(buf, n, ret_pcs, max);
}

/* After MP_CAPTURE_MEMO: the memo's stack as mp_capture would have stored
 * it (capture.c).  Out of line: the caches know most stacks. */
uint32_t mp_capture_memo_pcs(const struct mp_stack_cache *c, uint64_t *ret_pcs, uint32_t max);

/* After MP_CAPTURE_MEMO, when c does not know its stack: the stack's id,
 * found by the fingerprint the walker keeps (unwind.h), its frames fetched
 * into pcs only when the table does not hold it yet; remembered in c.
 * >= 1 or -ENOSPC.  (capture.c) */
int64_t mp_capture_memo_id(struct mp_stack_cache *c, uint64_t *pcs, uint32_t max);

/* Between mp_capture and mp_capture_bucket (same arguments): the first
 * table slots the bucket's lookup will read start on their way, when the
 * memo's cache does not know the stack, so that the caller's own cache
 * misses in between overlap theirs instead of following them; *ret_probe
 * is where the lookup starts then (else its ix is NULL), for
 * mp_capture_bucket. */
static inline void mp_capture_prefetch(const struct mp_stack_cache *c, uint32_t n, uint32_t max,
				       uint64_t size, struct mp_fp_probe *ret_probe)
{
	ret_probe->ix = NULL;
	if (max > MP_MAX_DEPTH)
		max = MP_MAX_DEPTH;
	if (n == MP_CAPTURE_MEMO && !mp_stack_cache_known(c) && c->depth && c->depth <= max)
		mp_prof_probe_fp(c->fp, c->depth, size, ret_probe);
}

/* MP_UNWIND_CHECK (capture.c): mp_stack_cache_id and mp_stack_cache_record
 * that also count where the cache's answer differs from that of the stack
 * libunwind walked (pcs). */
int64_t mp_capture_check_id(struct mp_stack_cache *c, const uint64_t *pcs, uint32_t n);
int64_t mp_capture_check_bucket(struct mp_stack_cache *c, const uint64_t *pcs, uint32_t n,
				uint64_t size);

/* The stack table's id for the stack just captured (n and c as mp_capture
 * returned them with `max`; pcs its buffer): >= 1, or -ENOSPC when the
 * table is full. */
static inline int64_t mp_capture_stack_id(struct mp_stack_cache *c, uint64_t *pcs, uint32_t n,
					  uint32_t max)
{
	if (n == MP_CAPTURE_MEMO)
		return mp_stack_cache_known(c) ? c->stack : mp_capture_memo_id(c, pcs, max);
	if (MP_UNLIKELY(mp_unwind_mode == MP_UNWIND_CHECK))
		return mp_capture_check_id(c, pcs, n);
	return mp_stack_cache_id(c, pcs, n);
}

/* One sampled allocation of `size` bytes from the stack just captured (n
 * and c as mp_capture returned them with `max`; pcs its buffer; pr as
 * mp_capture_prefetch left it): its bucket (>= 0), or -ENOSPC when a
 * table is full. */
static inline int64_t mp_capture_bucket(struct mp_stack_cache *c, uint64_t *pcs, uint32_t n,
					uint32_t max, uint64_t size, const struct mp_fp_probe *pr)
{
	if (n == MP_CAPTURE_MEMO) {
		uint32_t gen = mp_prof_generation();
		uint64_t *last = NULL;
		uint32_t id;
		if (pr->ix && (id = mp_prof_fp_find(pr, c->fp.b, &last)) != 0) {
			/* The common case at --rate 1 (1.29 M of 1.47 M samples
			 * compiling a small file with gcc's cc1): a stack the
			 * table holds and the memo's cache did not know
			 * (mp_capture_prefetch started the lookup then):
			 * mp_capture_memo_id's first step, without its calls. */
			c->gen = gen;
			c->stack = id;
			c->bucket = 0;
			c->hash = c->fp.a;
			c->last = last;
		} else if (c->bucket && c->size == size && c->gen == gen) {
			/* A stack and size met before. */
			mp_prof_record_again(c->bucket - 1);
			return c->bucket - 1;
		} else if (!c->stack || c->gen != gen) {
			int64_t s = mp_capture_memo_id(c, pcs, max);
			if (s < 0)
				return s;
		}
		int64_t b = -1;
		if (c->last) {
			/* The stack's last bucket, when it was of this size. */
			b = mp_prof_last_bucket(c->last, size);
			if (b >= 0) {
				mp_prof_record_again((uint32_t)b);
				c->size = size;
				c->bucket = (uint32_t)b + 1;
				return b;
			}
		}
		b = mp_stack_cache_record(c, pcs, 0, size);
		if (b >= 0 && c->last)
			mp_prof_last_set(c->last, size, (uint32_t)b);
		return b;
	}
	if (MP_UNLIKELY(mp_unwind_mode == MP_UNWIND_CHECK))
		return mp_capture_check_bucket(c, pcs, n, size);
	return mp_stack_cache_record(c, pcs, n, size);
}

#endif
