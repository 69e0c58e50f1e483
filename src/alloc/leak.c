/* SPDX-License-Identifier: MIT */
/*
 * Live-block enumeration for the leak scan (see leak.h).  A block of a
 * small span is live when it has been carved and is on no free list: not the
 * span's own, not a thread cache's, not a parked central batch.  A large
 * span is one live block.  State arrays come from metadata memory.
 */
#include <errno.h>
#include <string.h>

#include "alloc/alloc.h"
#include "alloc/central.h"
#include "alloc/leak.h"
#include "alloc/pageheap.h"

static struct mp_span *span_at(size_t page)
{
	return __atomic_load_n(&mp_heap.pagemap[page], __ATOMIC_ACQUIRE);
}

/* The span starting at page *pg, advancing *pg past it; NULL at the end. */
static struct mp_span *next_span(size_t *pg)
{
	while (*pg < mp_heap.top) {
		struct mp_span *s = span_at(*pg);
		if (s && s->npages && s->start == mp_heap.base + *pg * MP_PAGE_SIZE) {
			*pg += s->npages;
			return s;
		}
		(*pg)++;
	}
	return NULL;
}

#define FOR_EACH_SPAN(s) \
	for (struct mp_span *s; (s = next_span(&pg_)) != NULL;)

static void mark_free(void *p, void *ctx)
{
	(void)ctx;
	if (!mp_heap_owns(p))
		return;
	struct mp_span *s = mp_heap_span_of(p);
	if (!s || s->state != MP_SPAN_SMALL || !s->leak)
		return;
	uintptr_t off = (uintptr_t)p - s->start;
	if (off >= (size_t)s->npages * MP_PAGE_SIZE)
		return;
	uint32_t i = mp_class_index(s->cls, off);
	if (i < mp_classes[s->cls].nobjs)
		s->leak[i] = MP_BLK_FREE;
}

int mp_alloc_leak_begin(void)
{
	if (!mp_heap.base)
		return 0;
	int r = 0;
	size_t pg_ = 0;
	FOR_EACH_SPAN(s) {
		if (s->state == MP_SPAN_LARGE) {
			s->leak_state = MP_BLK_LIVE;
		} else if (s->state == MP_SPAN_SMALL) {
			const struct mp_sizeclass *sc = &mp_classes[s->cls];
			s->leak = mp_meta_alloc(sc->nobjs);
			if (!s->leak) {
				r = -ENOMEM;
				continue;
			}
			uint32_t carved = s->carved < sc->nobjs ? s->carved : sc->nobjs;
			memset(s->leak, MP_BLK_LIVE, carved);
			for (void *p = s->freelist; p; p = *(void **)p)
				mark_free(p, NULL);
		}
	}
	mp_central_foreach_parked(mark_free, NULL);
	mp_alloc_foreach_cached(mark_free, NULL);
	return r;
}

void mp_alloc_leak_end(void)
{
	if (!mp_heap.base)
		return;
	size_t pg_ = 0;
	FOR_EACH_SPAN(s) {
		if (s->state == MP_SPAN_SMALL && s->leak) {
			mp_meta_free(s->leak, mp_classes[s->cls].nobjs);
			s->leak = NULL;
		}
		s->leak_state = 0;
	}
}

void mp_alloc_leak_foreach(int (*fn)(const struct mp_blk *b, void *ctx), void *ctx)
{
	if (!mp_heap.base)
		return;
	struct mp_blk b;
	size_t pg_ = 0;
	FOR_EACH_SPAN(s) {
		if (s->state == MP_SPAN_LARGE) {
			if (mp_alloc_leak_fill(s, 0, &b) && fn(&b, ctx))
				return;
		} else if (s->state == MP_SPAN_SMALL) {
			uint32_t n = mp_classes[s->cls].nobjs;
			for (uint32_t i = 0; i < n; i++)
				if (mp_alloc_leak_fill(s, i, &b) && fn(&b, ctx))
					return;
		}
	}
}
