/* SPDX-License-Identifier: MIT */
/* libunwind set-up for mp_unwind_capture() (unwind.h). */
#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include "sample/unwind.h"

uintptr_t mp_unwind_skip_lo, mp_unwind_skip_hi;

int mp_unwind_init(uintptr_t lo, uintptr_t hi)
{
	mp_unwind_skip_lo = lo;
	mp_unwind_skip_hi = hi;
	unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
	return 0;
}
