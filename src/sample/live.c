/* SPDX-License-Identifier: MIT */
/*
 * Sampled live blocks (see live.h): 64 stripes, each an open-addressing
 * table of (address, tag: sample/tag.h) with linear probing and tombstones, mapped with
 * mp_vm_reserve and rebuilt at twice the size when 3/4 of it is used.
 *
 * Ordering: the shim inserts a block before malloc returns it and removes it
 * before the block is handed back to the allocator, so any thread that frees
 * p learned p after the insert completed (the program's own synchronization
 * orders it) and a relaxed filter read sees the increment.
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>

#include "base/lock.h"
#include "sample/live.h"
#include "base/vm.h"

#define NSTRIPES 64
#define STRIPE_MIN 1024u
#define TOMB ((uintptr_t)1)   /* never a block address: blocks are 16-aligned */

struct slot {
	uintptr_t key;        /* 0 empty, TOMB deleted */
	uint64_t tag;         /* sample/tag.h */
};

struct stripe {
	pthread_mutex_t lock;
	struct slot *slots;
	uint32_t cap;         /* power of two, 0 before first use */
	uint32_t used;        /* live entries */
	uint32_t tombs;
} __attribute__((aligned(64)));

uint16_t mp_live_filter[1u << MP_LIVE_FILTER_BITS];
static struct stripe stripes[NSTRIPES] = {
	[0 ... NSTRIPES - 1] = { .lock = PTHREAD_MUTEX_INITIALIZER },
};

static uint64_t hash_ptr(uintptr_t p)
{
	uint64_t x = (uint64_t)p >> 4;
	x ^= x >> 31;
	x *= 0xd6e8feb86659fd93ull;
	return x ^ (x >> 32);
}

static struct stripe *stripe_of(uint64_t h)
{
	return &stripes[h & (NSTRIPES - 1)];
}

static int rebuild_locked(struct stripe *s, uint32_t cap)
{
	struct slot *n = mp_vm_reserve((size_t)cap * sizeof(*n));
	if (!n)
		return -ENOMEM;
	for (uint32_t i = 0; i < s->cap; i++) {
		uintptr_t k = s->slots[i].key;
		if (k == 0 || k == TOMB)
			continue;
		uint32_t j = (uint32_t)(hash_ptr(k) >> 6) & (cap - 1);
		while (n[j].key)
			j = (j + 1) & (cap - 1);
		n[j] = s->slots[i];
	}
	mp_vm_release(s->slots, (size_t)s->cap * sizeof(*s->slots));
	s->slots = n;
	s->cap = cap;
	s->tombs = 0;
	return 0;
}

int mp_live_insert(const void *p, uint64_t tag)
{
	uintptr_t k = (uintptr_t)p;
	uint64_t h = hash_ptr(k);
	struct stripe *s = stripe_of(h);
	int r = 0;

	if (mp_lock(&s->lock) < 0)
		return -EBUSY;   /* no-wait mode (base/lock.h) */
	if ((uint64_t)(s->used + s->tombs + 1) * 4 >= (uint64_t)s->cap * 3) {
		uint32_t cap = s->cap ? s->cap : STRIPE_MIN;
		while ((uint64_t)(s->used + 1) * 2 >= cap)
			cap *= 2;
		r = rebuild_locked(s, cap);
		if (r < 0)
			goto out;
	}
	uint32_t mask = s->cap - 1;
	uint32_t j = (uint32_t)(h >> 6) & mask;
	while (s->slots[j].key != 0 && s->slots[j].key != TOMB)
		j = (j + 1) & mask;
	if (s->slots[j].key == TOMB)
		s->tombs--;
	s->slots[j].key = k;
	s->slots[j].tag = tag;
	s->used++;
	uint16_t *f = &mp_live_filter[mp_live_filter_slot(p)];
	/* Saturate: a slot that reached the maximum stays "maybe" for ever. */
	uint16_t old = __atomic_load_n(f, __ATOMIC_RELAXED);
	while (old != UINT16_MAX &&
	       !__atomic_compare_exchange_n(f, &old, old + 1, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
out:
	mp_unlock(&s->lock);
	return r;
}

int mp_live_remove(const void *p, uint64_t *ret_tag)
{
	uintptr_t k = (uintptr_t)p;
	uint64_t h = hash_ptr(k);
	struct stripe *s = stripe_of(h);
	int found = 0;

	if (mp_lock(&s->lock) < 0)
		return 0;        /* no-wait mode: the entry stays (live.h) */
	if (s->cap == 0)
		goto out;
	uint32_t mask = s->cap - 1;
	for (uint32_t j = (uint32_t)(h >> 6) & mask; s->slots[j].key != 0; j = (j + 1) & mask) {
		if (s->slots[j].key != k)
			continue;
		*ret_tag = s->slots[j].tag;
		s->slots[j].key = TOMB;
		s->used--;
		s->tombs++;
		found = 1;
		uint16_t *f = &mp_live_filter[mp_live_filter_slot(p)];
		uint16_t old = __atomic_load_n(f, __ATOMIC_RELAXED);
		while (old != UINT16_MAX && old != 0 &&
		       !__atomic_compare_exchange_n(f, &old, old - 1, 0, __ATOMIC_RELAXED,
						    __ATOMIC_RELAXED))
			;
		break;
	}
out:
	mp_unlock(&s->lock);
	return found;
}

uint64_t mp_live_count(void)
{
	uint64_t n = 0;
	for (int i = 0; i < NSTRIPES; i++)
		n += __atomic_load_n(&stripes[i].used, __ATOMIC_RELAXED);
	return n;
}

void mp_live_lock_all(void)
{
	for (int i = 0; i < NSTRIPES; i++)
		mp_lock_wait(&stripes[i].lock);
}

void mp_live_unlock_all(void)
{
	for (int i = NSTRIPES - 1; i >= 0; i--)
		mp_unlock(&stripes[i].lock);
}

void mp_live_after_fork_child(void)
{
	for (int i = 0; i < NSTRIPES; i++)
		pthread_mutex_init(&stripes[i].lock, NULL);
	mp_lock_held -= NSTRIPES;   /* held since mp_live_lock_all */
}
