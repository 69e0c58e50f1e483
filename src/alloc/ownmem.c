/* SPDX-License-Identifier: MIT */
/* Registry of memprof's own mappings in the target (see ownmem.h). */
#include "alloc/ownmem.h"

static struct {
	uintptr_t lo, hi;
} ranges[MP_OWNMEM_MAX];
static unsigned nranges;

void mp_ownmem_add(const void *p, size_t n)
{
	if (!p || !n)
		return;
	unsigned i = __atomic_fetch_add(&nranges, 1, __ATOMIC_ACQ_REL);
	if (i >= MP_OWNMEM_MAX)
		return;
	__atomic_store_n(&ranges[i].hi, (uintptr_t)p + n, __ATOMIC_RELAXED);
	__atomic_store_n(&ranges[i].lo, (uintptr_t)p, __ATOMIC_RELEASE);
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
