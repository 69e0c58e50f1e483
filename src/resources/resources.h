/* SPDX-License-Identifier: MIT */
/*
 * What the descriptor, thread and timer trackers (fds.c, threads.c,
 * timers.c) share.  In the target.
 */
#ifndef MP_RESOURCES_RESOURCES_H
#define MP_RESOURCES_RESOURCES_H

#include "sample/capture.h"
#include "shim/shim.h"

/*
 * The id of the calling thread's stack, which created the resource; 0 when
 * profiling is off or the stack table is full.  Inlined into the wrapper,
 * so that the walk starts there.  The caller holds the recursion guard.
 */
static inline __attribute__((always_inline)) uint32_t mp_res_creation_stack(void)
{
	if (!mp_shim.enabled)
		return 0;
	uint64_t pcs[MP_MAX_DEPTH];
	struct mp_stack_cache *c;
	uint32_t n = mp_capture(pcs, mp_shim.opt.depth, &c);
	int64_t id = mp_capture_stack_id(c, pcs, n);
	return id > 0 ? (uint32_t)id : 0;
}

/* Raise *top to v if it is lower: the highest slot (or descriptor) ever
 * used, which bounds the scans of the table. */
static inline void mp_res_raise_top(int *top, int v)
{
	int t = __atomic_load_n(top, __ATOMIC_RELAXED);
	while (v > t && !__atomic_compare_exchange_n(top, &t, v, 0, __ATOMIC_RELAXED,
						     __ATOMIC_RELAXED))
		;
}

#endif
