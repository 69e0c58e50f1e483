/* SPDX-License-Identifier: MIT */
/*
 * Stack table and heap buckets (see stacks.h).
 *
 * Both live in large reserved regions that never move, so a bucket index
 * handed out once stays valid for the life of the process and a free can be
 * credited with an atomic add, without the lock.  The indexes over them are
 * open-addressing hash tables of 32-bit "entry + 1" slots (0 = empty) that
 * double, under the lock, when 3/4 full.
 *
 * Must never: call malloc or stdio, or hold the lock across anything that
 * could re-enter the allocator (unwinding happens before we are called).
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "common/snapshot.h"
#include "sample/stacks.h"
#include "sample/vm.h"

/* Worst-case reservations; only touched pages cost memory. */
#define STACK_REGION ((size_t)512 << 20)
#define BUCKET_REGION ((size_t)256 << 20)
#define INDEX_MIN 4096u

struct index {
	uint32_t *slots;   /* entry + 1, 0 = empty */
	uint32_t cap;      /* power of two */
	uint32_t used;
};

static pthread_mutex_t prof_lock = PTHREAD_MUTEX_INITIALIZER;

static uint8_t *stack_mem;         /* records {u32 id, u32 depth, u64 pc[]} */
static size_t stack_used;
static uint32_t nstacks;
static uint32_t *stack_off;        /* offset of stack id i+1 (in a region of its own) */
static struct index stack_idx;

static struct mp_snap_heap_rec *buckets;
static uint32_t nbuckets;
static struct index bucket_idx;

static int truncated;

static uint64_t mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	return h ^ (h >> 33);
}

static uint64_t hash_pcs(const uint64_t *pcs, uint32_t depth)
{
	uint64_t h = depth;
	for (uint32_t i = 0; i < depth; i++)
		h = mix(h ^ pcs[i]) + i;
	return h;
}

static uint64_t hash_bucket(uint32_t stack_id, uint64_t size)
{
	return mix(((uint64_t)stack_id << 32) ^ mix(size));
}

static int index_init(struct index *ix, uint32_t cap)
{
	uint32_t *s = mp_vm_reserve((size_t)cap * sizeof(*s));
	if (!s)
		return -ENOMEM;
	ix->slots = s;
	ix->cap = cap;
	ix->used = 0;
	return 0;
}

static const uint64_t *stack_pcs(uint32_t id, uint32_t *ret_depth)
{
	const uint32_t *rec = (const uint32_t *)(stack_mem + stack_off[id - 1]);
	*ret_depth = rec[1];
	return (const uint64_t *)(rec + 2);
}

static uint64_t entry_hash_stack(uint32_t e)
{
	uint32_t depth;
	const uint64_t *pcs = stack_pcs(e + 1, &depth);
	return hash_pcs(pcs, depth);
}

static uint64_t entry_hash_bucket(uint32_t e)
{
	return hash_bucket(buckets[e].stack_id, buckets[e].size);
}

/* Double the index when 3/4 full; rehash every entry.  Caller holds the lock. */
static int index_grow_locked(struct index *ix, uint64_t (*hash_of)(uint32_t))
{
	if ((uint64_t)(ix->used + 1) * 4 < (uint64_t)ix->cap * 3)
		return 0;
	if (ix->cap >= (1u << 30))
		return -ENOSPC;
	struct index n;
	if (index_init(&n, ix->cap * 2) < 0)
		return -ENOMEM;
	for (uint32_t i = 0; i < ix->cap; i++) {
		uint32_t v = ix->slots[i];
		if (!v)
			continue;
		uint32_t j = (uint32_t)hash_of(v - 1) & (n.cap - 1);
		while (n.slots[j])
			j = (j + 1) & (n.cap - 1);
		n.slots[j] = v;
	}
	n.used = ix->used;
	mp_vm_release(ix->slots, (size_t)ix->cap * sizeof(uint32_t));
	*ix = n;
	return 0;
}

int mp_prof_init(void)
{
	stack_mem = mp_vm_reserve(STACK_REGION);
	stack_off = mp_vm_reserve(STACK_REGION / 16 * sizeof(uint32_t));
	buckets = mp_vm_reserve(BUCKET_REGION);
	if (!stack_mem || !stack_off || !buckets)
		return -ENOMEM;
	if (index_init(&stack_idx, INDEX_MIN) < 0 || index_init(&bucket_idx, INDEX_MIN) < 0)
		return -ENOMEM;
	return 0;
}

/* Find or add a stack; returns its id (>= 1) or a negative errno. */
static int64_t intern_stack_locked(const uint64_t *pcs, uint32_t depth)
{
	uint64_t h = hash_pcs(pcs, depth);
	uint32_t mask = stack_idx.cap - 1;
	for (uint32_t j = (uint32_t)h & mask;; j = (j + 1) & mask) {
		uint32_t v = stack_idx.slots[j];
		if (!v)
			break;
		uint32_t d;
		const uint64_t *p = stack_pcs(v, &d);
		if (d == depth && memcmp(p, pcs, depth * sizeof(*pcs)) == 0)
			return v;
	}
	size_t need = 8 + (size_t)depth * 8;
	if (stack_used + need > STACK_REGION || nstacks + 1 >= STACK_REGION / 16)
		return -ENOSPC;
	int r = index_grow_locked(&stack_idx, entry_hash_stack);
	if (r < 0)
		return r;
	uint32_t id = ++nstacks;
	uint32_t *rec = (uint32_t *)(stack_mem + stack_used);
	rec[0] = id;
	rec[1] = depth;
	memcpy(rec + 2, pcs, depth * sizeof(*pcs));
	stack_off[id - 1] = (uint32_t)stack_used;
	stack_used += need;
	mask = stack_idx.cap - 1;
	uint32_t j = (uint32_t)h & mask;
	while (stack_idx.slots[j])
		j = (j + 1) & mask;
	stack_idx.slots[j] = id;
	stack_idx.used++;
	return id;
}

static int64_t intern_bucket_locked(uint32_t stack_id, uint64_t size)
{
	uint64_t h = hash_bucket(stack_id, size);
	uint32_t mask = bucket_idx.cap - 1;
	for (uint32_t j = (uint32_t)h & mask;; j = (j + 1) & mask) {
		uint32_t v = bucket_idx.slots[j];
		if (!v)
			break;
		if (buckets[v - 1].stack_id == stack_id && buckets[v - 1].size == size)
			return v - 1;
	}
	if ((size_t)(nbuckets + 1) * sizeof(*buckets) > BUCKET_REGION)
		return -ENOSPC;
	int r = index_grow_locked(&bucket_idx, entry_hash_bucket);
	if (r < 0)
		return r;
	uint32_t b = nbuckets++;
	buckets[b].stack_id = stack_id;
	buckets[b].size = size;
	mask = bucket_idx.cap - 1;
	uint32_t j = (uint32_t)h & mask;
	while (bucket_idx.slots[j])
		j = (j + 1) & mask;
	bucket_idx.slots[j] = b + 1;
	bucket_idx.used++;
	return b;
}

int64_t mp_prof_record_alloc(const uint64_t *pcs, uint32_t depth, uint64_t size)
{
	if (depth > MP_MAX_DEPTH)
		depth = MP_MAX_DEPTH;
	pthread_mutex_lock(&prof_lock);
	int64_t b = intern_stack_locked(pcs, depth);
	if (b >= 0)
		b = intern_bucket_locked((uint32_t)b, size);
	if (b >= 0)
		__atomic_add_fetch(&buckets[b].alloc_objects, 1, __ATOMIC_RELAXED);
	else
		truncated = 1;
	pthread_mutex_unlock(&prof_lock);
	return b;
}

void mp_prof_record_free(uint32_t b)
{
	__atomic_add_fetch(&buckets[b].free_objects, 1, __ATOMIC_RELAXED);
}

void mp_prof_unrecord_free(uint32_t b)
{
	__atomic_sub_fetch(&buckets[b].free_objects, 1, __ATOMIC_RELAXED);
}

int mp_prof_truncated(void)
{
	return truncated;
}

void mp_prof_lock(void)
{
	pthread_mutex_lock(&prof_lock);
}

void mp_prof_unlock(void)
{
	pthread_mutex_unlock(&prof_lock);
}

void mp_prof_stacks(const void **ret_data, size_t *ret_size)
{
	*ret_data = stack_mem;
	*ret_size = stack_used;
}

void mp_prof_buckets(const void **ret_data, size_t *ret_size)
{
	*ret_data = buckets;
	*ret_size = (size_t)nbuckets * sizeof(*buckets);
}

void mp_prof_after_fork_child(void)
{
	pthread_mutex_init(&prof_lock, NULL);
}

void mp_prof_reset(void)
{
	pthread_mutex_lock(&prof_lock);
	memset(stack_mem, 0, stack_used);
	memset(buckets, 0, (size_t)nbuckets * sizeof(*buckets));
	memset(stack_idx.slots, 0, (size_t)stack_idx.cap * sizeof(uint32_t));
	memset(bucket_idx.slots, 0, (size_t)bucket_idx.cap * sizeof(uint32_t));
	stack_used = 0;
	nstacks = nbuckets = 0;
	stack_idx.used = bucket_idx.used = 0;
	truncated = 0;
	pthread_mutex_unlock(&prof_lock);
}
