/* SPDX-License-Identifier: MIT */
/*
 * The rare paths of capture.h: a memo's stack fetched after all; unwind=2
 * (MP_UNWIND_CHECK, for tests): the stack table's cache of a memo's walk
 * against the stack libunwind walked.
 */
#include "sample/capture.h"

MP_NOINLINE uint32_t mp_capture_memo_pcs(const struct mp_stack_cache *c, uint64_t *ret_pcs,
					 uint32_t max)
{
	uint64_t buf[MP_MAX_DEPTH + MP_UNWIND_EXTRA_FRAMES];
	if (max > MP_MAX_DEPTH)
		max = MP_MAX_DEPTH;
	uint32_t n = mp_fastunwind_memo_pcs(c, buf, max + MP_UNWIND_EXTRA_FRAMES);
	return mp_capture_keep(buf, n, ret_pcs, max);
}

MP_NOINLINE int64_t mp_capture_memo_id(struct mp_stack_cache *c, uint64_t *pcs, uint32_t max)
{
	struct mp_fp f = c->fp;
	uint32_t depth = c->depth;
	uint64_t *last = NULL;
	int64_t s;
	if (max > MP_MAX_DEPTH)
		max = MP_MAX_DEPTH;
	if (depth == 0 || depth > max) {
		uint32_t n = mp_capture_memo_pcs(c, pcs, max);
		return mp_stack_cache_id(c, pcs, n);
	}
	s = mp_prof_find_fp(f, depth, &last);
	if (!s) {
		uint32_t n = mp_capture_memo_pcs(c, pcs, max);
		s = mp_prof_intern_stack_fp(pcs, n, f);
	}
	c->gen = mp_prof_generation();
	c->stack = s > 0 ? (uint32_t)s : 0;
	c->bucket = 0;
	c->hash = f.a;
	c->last = last;
	return s;
}

int64_t mp_capture_check_id(struct mp_stack_cache *c, const uint64_t *pcs, uint32_t n)
{
	if (mp_stack_cache_known(c)) {
		mp_unwind_check_id(c->stack, mp_prof_intern_stack(pcs, n));
		return c->stack;
	}
	return mp_stack_cache_id(c, pcs, n);
}

int64_t mp_capture_check_bucket(struct mp_stack_cache *c, const uint64_t *pcs, uint32_t n,
				uint64_t size)
{
	int64_t s = mp_capture_check_id(c, pcs, n);
	if (s < 0)
		return s;
	int64_t b = mp_prof_record_stack((uint32_t)s, size);
	if (c && c->bucket && c->size == size)
		mp_unwind_check_id(c->bucket - 1, b);
	if (c && b >= 0) {
		c->size = size;
		c->bucket = (uint32_t)b + 1;
	}
	return b;
}
