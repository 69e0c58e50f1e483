/* SPDX-License-Identifier: MIT */
/*
 * The allocator's side of the leak scan: which blocks are live, and the
 * live block that contains an address.  In the target, with every other
 * thread stopped (leakscan/): nothing here takes a lock, so a thread
 * stopped inside the allocator cannot deadlock the scan (a list it was in
 * the middle of changing can make one block look live: a rare false report
 * at worst, never a crash, since every pointer followed is range-checked).
 */
#ifndef MP_ALLOC_LEAK_H
#define MP_ALLOC_LEAK_H

#include <stddef.h>
#include <stdint.h>

#include "alloc/pageheap.h"
#include "alloc/sizeclass.h"

enum {
	MP_BLK_FREE = 0,       /* not a block of the program */
	MP_BLK_LIVE = 1,       /* allocated, not reached (yet) */
	MP_BLK_REACHABLE = 2,  /* reached from a root */
	MP_BLK_DEFINITE = 3,   /* unreached, and not reached from another unreached block */
	MP_BLK_INDIRECT = 4,   /* unreached, reached only from unreached blocks */
	MP_BLK_POSSIBLE = 5,   /* reached from a root only through interior pointers
				* (leakscan/interior.h) */
};

struct mp_blk {
	uintptr_t start;
	size_t size;           /* usable bytes: the class size, or the pages of a large block */
	size_t req;            /* bytes the program asked for when the allocator knows
				* it (a large block), else `size` */
	uint8_t *state;        /* MP_BLK_* of this block, writable */
	uint64_t tag;          /* its sample's tag (alloc.h), 0 if not sampled */
};

/* Give every block of every in-use span its state (LIVE or FREE).  0, or
 * -ENOMEM when the state arrays cannot be mapped. */
int mp_alloc_leak_begin(void);

/* Drop the state arrays (the scan is over). */
void mp_alloc_leak_end(void);

/* The live block containing address v (interior pointers count): 1 and
 * *ret, or 0.  Inline: the scan calls it for every word that falls in the
 * arena. */
static inline int mp_alloc_leak_fill(struct mp_span *s, uint32_t i, struct mp_blk *ret)
{
	if (s->state == MP_SPAN_LARGE) {
		if (s->leak_state == MP_BLK_FREE)
			return 0;
		ret->start = s->start;
		ret->size = (size_t)s->npages * MP_PAGE_SIZE;
		ret->req = s->large_size && s->large_size < ret->size ? s->large_size : ret->size;
		ret->state = &s->leak_state;
		ret->tag = s->tag;
		return 1;
	}
	if (!s->leak || s->leak[i] == MP_BLK_FREE)
		return 0;
	ret->start = s->start + (size_t)i * mp_classes[s->cls].size;
	ret->size = mp_classes[s->cls].size;
	ret->req = ret->size;
	ret->state = &s->leak[i];
	ret->tag = s->tags ? s->tags[i] : 0;
	return 1;
}

static inline int mp_alloc_leak_lookup(uintptr_t v, struct mp_blk *ret)
{
	if (!mp_heap_owns((const void *)v))
		return 0;
	size_t page = (v - mp_heap.base) >> MP_PAGE_SHIFT;
	if (page >= mp_heap.top)
		return 0;
	struct mp_span *s = __atomic_load_n(&mp_heap.pagemap[page], __ATOMIC_RELAXED);
	/* Entries inside free spans can be stale: check the range. */
	if (!s || v < s->start || v - s->start >= (size_t)s->npages * MP_PAGE_SIZE)
		return 0;
	if (s->state == MP_SPAN_LARGE)
		return mp_alloc_leak_fill(s, 0, ret);
	if (s->state != MP_SPAN_SMALL)
		return 0;
	uint32_t i = mp_class_index(s->cls, v - s->start);
	if (i >= mp_classes[s->cls].nobjs)
		return 0;
	return mp_alloc_leak_fill(s, i, ret);
}


/* Call fn on every live block, in address order; stop early when it
 * returns nonzero. */
void mp_alloc_leak_foreach(int (*fn)(const struct mp_blk *b, void *ctx), void *ctx);

/* Used by leak.c: every block parked in a thread cache. */
void mp_alloc_foreach_cached(void (*fn)(void *block, void *ctx), void *ctx);

#endif
