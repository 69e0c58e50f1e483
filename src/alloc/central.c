/* SPDX-License-Identifier: MIT */
/*
 * Central lists (see central.h).  A span of class c is on its class's
 * partial list while it has blocks out and a block to give (a returned one,
 * or one never carved).  When its last block comes back it goes back to the
 * page heap at once; when it has nothing left to give it leaves the list
 * until a block comes back.  Blocks are carved from a fresh span lazily, in
 * address order, so a span costs memory only for the blocks really used.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "alloc/central.h"
#include "base/lock.h"
#include "alloc/pageheap.h"
#include "alloc/sizeclass.h"

#define MAX_SLOTS 16

struct central {
	pthread_mutex_t lock;
	struct mp_span *partial;      /* doubly linked through next/prev */
	uint32_t nslots, maxslots;
	void *slots[MAX_SLOTS];       /* parked batches of exactly `batch` blocks */
} __attribute__((aligned(64)));

static struct central central[MP_NCLASS];

void mp_central_init(void)
{
	for (unsigned c = 1; c < MP_NCLASS; c++) {
		struct central *k = &central[c];
		pthread_mutex_init(&k->lock, NULL);
		uint64_t bytes = (uint64_t)mp_classes[c].batch * mp_classes[c].size;
		uint64_t n = (16 * 1024) / bytes;
		k->maxslots = n < 1 ? 1 : n > MAX_SLOTS ? MAX_SLOTS : (uint32_t)n;
	}
}

static void partial_add(struct central *k, struct mp_span *s)
{
	s->prev = NULL;
	s->next = k->partial;
	if (k->partial)
		k->partial->prev = s;
	k->partial = s;
	s->in_partial = 1;
}

static void partial_remove(struct central *k, struct mp_span *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		k->partial = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->next = s->prev = NULL;
	s->in_partial = 0;
}

static struct mp_span *span_get(unsigned c)
{
	if (mp_lock(&mp_heap.lock) < 0)
		return NULL;
	struct mp_span *s = mp_heap_alloc_locked(mp_classes[c].npages, 1, MP_SPAN_SMALL, c);
	mp_unlock(&mp_heap.lock);
	return s;
}

static void span_put(unsigned c, struct mp_span *s)
{
	/* Every block is on the span's free list now, and its link is the only
	 * word of ours in the span's memory: cleared, so that the pages, carved
	 * again for any class or a large block, hold no pointer memprof wrote
	 * (see small_alloc in alloc.c).  One store per block the span held. */
	for (void *p = s->freelist, *n; p; p = n) {
		n = *(void **)p;
		*(void **)p = NULL;
	}
	uint64_t *b = s->tags;
	s->tags = NULL;
	mp_lock(&mp_heap.lock);   /* never in no-wait mode: frees are deferred there */
	mp_heap_free_locked(s);
	mp_unlock(&mp_heap.lock);
	mp_meta_free(b, (size_t)mp_classes[c].nobjs * sizeof(uint64_t));
}

uint32_t mp_central_get(unsigned c, uint32_t want, void **ret_head)
{
	struct central *k = &central[c];
	const struct mp_sizeclass *sc = &mp_classes[c];
	void *head = NULL, **tail = &head;
	uint32_t got = 0;

	if (mp_lock(&k->lock) < 0) {
		*ret_head = NULL;
		return 0;
	}
	if (want == sc->batch && k->nslots > 0) {
		*ret_head = k->slots[--k->nslots];
		mp_unlock(&k->lock);
		return want;
	}
	while (got < want) {
		struct mp_span *s = k->partial;
		if (!s) {
			s = span_get(c);
			if (!s)
				break;
			partial_add(k, s);
		}
		while (got < want) {
			void *p = s->freelist;
			if (p)
				s->freelist = *(void **)p;
			else if (s->carved < sc->nobjs)
				p = (void *)(s->start + (size_t)s->carved++ * sc->size);
			else
				break;
			s->inuse++;
			*tail = p;
			tail = (void **)p;
			got++;
		}
		if (!s->freelist && s->carved == sc->nobjs)
			partial_remove(k, s);
	}
	*tail = NULL;
	mp_unlock(&k->lock);
	*ret_head = head;
	return got;
}

void mp_central_put(unsigned c, void *head, uint32_t n)
{
	struct central *k = &central[c];
	mp_lock(&k->lock);   /* never in no-wait mode: frees are deferred there */
	if (n == mp_classes[c].batch && k->nslots < k->maxslots) {
		k->slots[k->nslots++] = head;
		mp_unlock(&k->lock);
		return;
	}
	while (head) {
		void *p = head;
		head = *(void **)p;
		struct mp_span *s = mp_heap_span_of(p);
		*(void **)p = s->freelist;
		s->freelist = p;
		s->inuse--;
		if (s->inuse == 0) {
			if (s->in_partial)
				partial_remove(k, s);
			span_put(c, s);
		} else if (!s->in_partial) {
			partial_add(k, s);
		}
	}
	mp_unlock(&k->lock);
}

void mp_central_lock_all(void)
{
	for (unsigned c = 1; c < MP_NCLASS; c++)
		mp_lock(&central[c].lock);
}

int mp_central_trylock_all(void)
{
	for (unsigned c = 1; c < MP_NCLASS; c++) {
		/* Counted as mp_lock counts (base/lock.h): mp_central_unlock_all
		 * takes each count back. */
		mp_lock_held++;
		if (pthread_mutex_trylock(&central[c].lock) != 0) {
			mp_lock_held--;
			while (--c >= 1)
				mp_unlock(&central[c].lock);
			return -EBUSY;
		}
	}
	return 0;
}

void mp_central_unlock_all(void)
{
	for (unsigned c = 1; c < MP_NCLASS; c++)
		mp_unlock(&central[c].lock);
}

void mp_central_foreach_parked(void (*fn)(void *block, void *ctx), void *ctx)
{
	for (unsigned c = 1; c < MP_NCLASS; c++)
		for (uint32_t i = 0; i < central[c].nslots; i++)
			for (void *p = central[c].slots[i]; p; p = *(void **)p)
				fn(p, ctx);
}

uint64_t mp_central_parked(unsigned c)
{
	struct central *k = &central[c];
	mp_lock(&k->lock);
	uint64_t n = (uint64_t)k->nslots * mp_classes[c].batch;
	mp_unlock(&k->lock);
	return n;
}

int mp_central_check_locked(void)
{
	for (unsigned c = 1; c < MP_NCLASS; c++) {
		const struct mp_sizeclass *sc = &mp_classes[c];
		for (struct mp_span *s = central[c].partial; s; s = s->next) {
			if (s->state != MP_SPAN_SMALL || s->cls != c || !s->in_partial)
				return -__LINE__;
			if (s->inuse == 0 || (!s->freelist && s->carved == sc->nobjs))
				return -__LINE__;
			uint32_t nfree = 0;
			for (void *p = s->freelist; p; p = *(void **)p) {
				uintptr_t a = (uintptr_t)p;
				if (a < s->start || a >= s->start + (size_t)s->carved * sc->size ||
				    (a - s->start) % sc->size != 0 || ++nfree > sc->nobjs)
					return -__LINE__;
			}
			if (s->inuse + nfree != s->carved)
				return -__LINE__;
		}
		for (uint32_t i = 0; i < central[c].nslots; i++) {
			uint32_t n = 0;
			for (void *p = central[c].slots[i]; p; p = *(void **)p)
				if (++n > sc->batch || mp_heap_span_of(p)->cls != c)
					return -__LINE__;
			if (n != sc->batch)
				return -__LINE__;
		}
	}
	return 0;
}
