/* SPDX-License-Identifier: MIT */
/* Registry of memprof's own mappings in the target (see ownmem.h). */
#include "base/ownmem.h"

static struct {
	uintptr_t lo, hi;
} ranges[MP_OWNMEM_MAX];
static unsigned nranges;

/*
 * A slot is claimed by setting its `hi` from 0, then published by setting
 * `lo`; readers skip slots whose `lo` is 0.  Removal clears `lo`, then `hi`,
 * and the slot is free again.  `nranges` is one more than the highest slot
 * ever claimed.
 */
void mp_ownmem_add(const void *p, size_t n)
{
	if (!p || !n)
		return;
	for (unsigned i = 0; i < MP_OWNMEM_MAX; i++) {
		uintptr_t expect = 0;
		if (!__atomic_compare_exchange_n(&ranges[i].hi, &expect, (uintptr_t)p + n, 0,
						 __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
			continue;
		__atomic_store_n(&ranges[i].lo, (uintptr_t)p, __ATOMIC_RELEASE);
		unsigned k = __atomic_load_n(&nranges, __ATOMIC_RELAXED);
		while (k < i + 1 && !__atomic_compare_exchange_n(&nranges, &k, i + 1, 0,
								 __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
			;
		return;
	}
}

void mp_ownmem_remove(const void *p, size_t n)
{
	unsigned k = __atomic_load_n(&nranges, __ATOMIC_ACQUIRE);
	for (unsigned i = 0; p && i < k && i < MP_OWNMEM_MAX; i++)
		if (__atomic_load_n(&ranges[i].lo, __ATOMIC_ACQUIRE) == (uintptr_t)p &&
		    __atomic_load_n(&ranges[i].hi, __ATOMIC_RELAXED) == (uintptr_t)p + n) {
			__atomic_store_n(&ranges[i].lo, 0, __ATOMIC_RELEASE);
			__atomic_store_n(&ranges[i].hi, 0, __ATOMIC_RELEASE);
			return;
		}
}

int mp_ownmem_next(uintptr_t p, uintptr_t *ret_lo, uintptr_t *ret_hi)
{
	unsigned n = __atomic_load_n(&nranges, __ATOMIC_ACQUIRE);
	uintptr_t best_lo = UINTPTR_MAX, best_hi = 0;
	if (n > MP_OWNMEM_MAX)
		n = MP_OWNMEM_MAX;
	for (unsigned i = 0; i < n; i++) {
		uintptr_t a = __atomic_load_n(&ranges[i].lo, __ATOMIC_ACQUIRE);
		uintptr_t b = __atomic_load_n(&ranges[i].hi, __ATOMIC_RELAXED);
		if (a && b > p && a < best_lo) {
			best_lo = a;
			best_hi = b;
		}
	}
	if (!best_hi)
		return 0;
	*ret_lo = best_lo;
	*ret_hi = best_hi;
	return 1;
}

int mp_ownmem_overlaps(uintptr_t lo, uintptr_t hi)
{
	unsigned n = __atomic_load_n(&nranges, __ATOMIC_ACQUIRE);
	if (n > MP_OWNMEM_MAX)
		n = MP_OWNMEM_MAX;
	for (unsigned i = 0; i < n; i++) {
		uintptr_t a = __atomic_load_n(&ranges[i].lo, __ATOMIC_ACQUIRE);
		uintptr_t b = __atomic_load_n(&ranges[i].hi, __ATOMIC_RELAXED);
		if (a && lo < b && a < hi)
			return 1;
	}
	return 0;
}
