/* SPDX-License-Identifier: MIT */
/*
 * The set of ignored blocks (ignore.h): open addressing over block starts
 * in memory of our own, mapped at the first memprof_ignore; empty slots 0,
 * removed ones TOMB.  Inserts and removals are compare-and-swaps, so no
 * lock is held anywhere a signal handler or a fork could leave it held.
 */
#include <errno.h>

#include "alloc/alloc.h"
#include "alloc/pageheap.h"
#include "alloc/sizeclass.h"
#include "base/vm.h"
#include "leakscan/ignore.h"

#define NSLOTS ((size_t)MP_LEAKSCAN_IGNORE_MAX * 2)
#define TOMB ((uintptr_t)1)

static uint32_t nignored;
static uintptr_t *slots;

static size_t hash(uintptr_t v)
{
	return (size_t)((v >> 4) * 0x9e3779b97f4a7c15ull >> 32) & (NSLOTS - 1);
}

/* The start of the block of the own allocator holding p, or 0. */
static uintptr_t block_start(const void *p)
{
	if (!mp_heap.base || !mp_heap_owns(p))
		return 0;
	struct mp_span *s = mp_heap_span_of(p);
	uintptr_t v = (uintptr_t)p;
	if (!s || v < s->start || v - s->start >= (size_t)s->npages * MP_PAGE_SIZE)
		return 0;
	if (s->state == MP_SPAN_LARGE)
		return s->start;
	if (s->state != MP_SPAN_SMALL)
		return 0;
	uint32_t i = mp_class_index(s->cls, v - s->start);
	if (i >= mp_classes[s->cls].nobjs)
		return 0;
	return s->start + (uintptr_t)i * mp_classes[s->cls].size;
}

static uintptr_t *table(void)
{
	uintptr_t *t = __atomic_load_n(&slots, __ATOMIC_ACQUIRE);
	if (t)
		return t;
	t = mp_vm_reserve(NSLOTS * sizeof(*t));
	if (!t)
		return NULL;
	uintptr_t *expect = NULL;
	if (!__atomic_compare_exchange_n(&slots, &expect, t, 0, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		mp_vm_release(t, NSLOTS * sizeof(*t));
		t = expect;
	}
	return t;
}

int mp_leakscan_ignore(const void *p)
{
	uintptr_t v = block_start(p);
	if (!v)
		return -EINVAL;
	uintptr_t *t = table();
	if (!t)
		return -ENOMEM;
	size_t h = hash(v);
	/* Already there? */
	for (size_t k = 0; k < NSLOTS; k++) {
		uintptr_t cur = __atomic_load_n(&t[(h + k) & (NSLOTS - 1)], __ATOMIC_ACQUIRE);
		if (cur == v)
			return 0;
		if (cur == 0)
			break;
	}
	if (__atomic_load_n(&nignored, __ATOMIC_RELAXED) >= MP_LEAKSCAN_IGNORE_MAX)
		return -ENOSPC;
	for (size_t k = 0; k < NSLOTS; k++) {
		uintptr_t *slot = &t[(h + k) & (NSLOTS - 1)];
		uintptr_t cur = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
		while (cur == 0 || cur == TOMB) {
			if (__atomic_compare_exchange_n(slot, &cur, v, 0, __ATOMIC_ACQ_REL,
							__ATOMIC_ACQUIRE)) {
				__atomic_add_fetch(&nignored, 1, __ATOMIC_RELEASE);
				/* Its frees now reach mp_leakscan_forget. */
				mp_alloc_on_watched_free(mp_leakscan_forget);
				mp_alloc_watch((const void *)v);
				return 0;
			}
		}
	}
	return -ENOSPC;
}

void mp_leakscan_forget(void *p)
{
	uintptr_t *t = __atomic_load_n(&slots, __ATOMIC_ACQUIRE);
	uintptr_t v = (uintptr_t)p;
	if (!t || v <= TOMB || !__atomic_load_n(&nignored, __ATOMIC_RELAXED))
		return;
	size_t h = hash(v);
	for (size_t k = 0; k < NSLOTS; k++) {
		uintptr_t *slot = &t[(h + k) & (NSLOTS - 1)];
		uintptr_t cur = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
		if (cur == 0)
			return;
		if (cur == v && __atomic_compare_exchange_n(slot, &cur, TOMB, 0, __ATOMIC_ACQ_REL,
							    __ATOMIC_ACQUIRE)) {
			__atomic_sub_fetch(&nignored, 1, __ATOMIC_RELEASE);
			return;
		}
	}
}

void mp_leakscan_foreach_ignored(void (*fn)(uintptr_t start, void *ctx), void *ctx)
{
	uintptr_t *t = __atomic_load_n(&slots, __ATOMIC_ACQUIRE);
	if (!t || !__atomic_load_n(&nignored, __ATOMIC_ACQUIRE))
		return;
	for (size_t k = 0; k < NSLOTS; k++) {
		uintptr_t cur = __atomic_load_n(&t[k], __ATOMIC_ACQUIRE);
		if (cur > TOMB)
			fn(cur, ctx);
	}
}
