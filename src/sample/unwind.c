/* SPDX-License-Identifier: MIT */
/*
 * libunwind local unwinding.  unw_backtrace() walks with libunwind's cached
 * fast-trace tables (x86_64), falling back to full DWARF unwinding; both use
 * libunwind's own mmap-backed pools.  libunwind may still reach malloc on
 * its first use in a thread; the shim's recursion guard forwards such calls
 * without sampling them.
 */
#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <string.h>

#include "sample/stacks.h"
#include "sample/unwind.h"

/* Room for the shim's own frames and libunwind's on top of a full stack. */
#define EXTRA_FRAMES 16

static uintptr_t skip_lo, skip_hi;

int mp_unwind_init(uintptr_t lo, uintptr_t hi)
{
	skip_lo = lo;
	skip_hi = hi;
	unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
	return 0;
}

uint32_t mp_unwind_capture(uint64_t *ret_pcs, uint32_t max)
{
	void *buf[MP_MAX_DEPTH + EXTRA_FRAMES];
	if (max > MP_MAX_DEPTH)
		max = MP_MAX_DEPTH;
	int n = unw_backtrace(buf, (int)(max + EXTRA_FRAMES));
	int i = 0;
	while (i < n && (uintptr_t)buf[i] >= skip_lo && (uintptr_t)buf[i] < skip_hi)
		i++;
	uint32_t out = 0;
	for (; i < n && out < max; i++)
		ret_pcs[out++] = (uint64_t)(uintptr_t)buf[i];
	return out;
}
