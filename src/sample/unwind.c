/* SPDX-License-Identifier: MIT */
/* Stack capture set-up, and the check of memprof's walker against libunwind
 * (unwind.h). */
#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <stdbool.h>

#include "sample/unwind.h"

uintptr_t mp_unwind_skip_lo, mp_unwind_skip_hi;
unsigned mp_unwind_mode = MP_UNWIND_LIBUNWIND;
uint64_t mp_unwind_checked, mp_unwind_differed;

int mp_unwind_init(uintptr_t lo, uintptr_t hi, unsigned mode)
{
	mp_unwind_skip_lo = lo;
	mp_unwind_skip_hi = hi;
	unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
	if (mode != MP_UNWIND_LIBUNWIND && mp_fastunwind_init() < 0)
		mode = MP_UNWIND_LIBUNWIND;
	mp_unwind_mode = mode;
	return 0;
}

void mp_unwind_forget(const uint64_t *ranges, size_t n)
{
	if (mp_unwind_mode != MP_UNWIND_LIBUNWIND)
		mp_fastunwind_forget(ranges, n);
	for (size_t r = 0; r < n; r++)
		unw_flush_cache(unw_local_addr_space, (unw_word_t)ranges[2 * r],
				(unw_word_t)ranges[2 * r + 1]);
}

/*
 * Both walks of one stack, each from its own entry in the same caller:
 * the first pc of each is a return address into that caller, so they differ
 * there and the comparison starts from the second frame.  libunwind stops
 * at the same outermost frame (its return address undefined) or earlier
 * when it cannot go on.
 */
void mp_unwind_check(const uint64_t *fast, uint32_t nfast, void **slow, int nslow)
{
	bool same = nslow >= 1 && (uint32_t)nslow == nfast;
	for (uint32_t i = 1; same && i < nfast; i++)
		same = fast[i] == (uint64_t)(uintptr_t)slow[i];
	__atomic_fetch_add(&mp_unwind_checked, 1, __ATOMIC_RELAXED);
	if (!same)
		__atomic_fetch_add(&mp_unwind_differed, 1, __ATOMIC_RELAXED);
}

void mp_unwind_check_id(uint32_t memo_id, int64_t slow_id)
{
	if (slow_id != (int64_t)memo_id)
		__atomic_fetch_add(&mp_unwind_differed, 1, __ATOMIC_RELAXED);
}
