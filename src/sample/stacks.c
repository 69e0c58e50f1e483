/* SPDX-License-Identifier: MIT */
/*
 * Stack table and heap buckets (see stacks.h).
 *
 * Both live in large reserved regions that never move, so a bucket index
 * handed out once stays valid for the life of the process and counts are
 * atomic adds.  The indexes over them are open-addressing hash tables,
 * probed without the lock and grown, under the lock, into a new generation
 * when 3/4 full: the buckets' of 64-bit slots, "entry + 1" (0 = empty) and
 * the 32 bits of the entry's hash its home slot comes from, so that a probe
 * skips entries that only share its home slot without reading them, and a
 * new generation places them without hashing again; the stacks' of 32-byte slots
 * holding 96 bits of the stack's fingerprint and its id (struct mp_fpslot), so
 * that a probe reads no record at all.
 *
 * Must never: call malloc or stdio, or hold the lock across anything that
 * could re-enter the allocator (unwinding happens before we are called).
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "common/snapshot.h"
#include "common/stackfeed.h"
#include "base/compiler.h"
#include "base/lock.h"
#include "sample/peak.h"
#include "sample/stacks.h"
#include "sample/tag.h"
#include "base/vmarea.h"
#include "base/shm.h"
#include "base/vm.h"

/* Windows of address space (base/vmarea.h), mapped TABLE_STEP at a time
 * as the tables fill: a table costs the address space it uses. */
#define STACK_REGION ((size_t)512 << 20)
#define BUCKET_REGION ((size_t)256 << 20)
#define TABLE_STEP ((size_t)256 << 10)
#define INDEX_MIN 4096u
#define MAX_BUCKETS (BUCKET_REGION / sizeof(struct mp_snap_heap_rec))
/* A sampled block's tag holds its bucket (sample/tag.h). */
_Static_assert(MAX_BUCKETS <= MP_TAG_MAX_BUCKETS, "bucket numbers fit in a tag");

/* Counted (base/lock.h): a handler nested into its holder must not wait. */
static pthread_mutex_t prof_lock = PTHREAD_MUTEX_INITIALIZER;

static struct mp_vm_area stack_area, off_area, bucket_area;
static uint8_t *stack_mem;         /* records {u32 id, u32 depth, u64 pc[]} */
static size_t stack_used;
uint32_t mp_prof_nstack;          /* stacks in the table (ids 1..it) */
static uint32_t *stack_off;        /* offset of stack id i+1 (in a region of its own) */

/* The stack index (struct mp_fpindex, stacks.h).  Slots start 32 bytes in
 * (the mapping is page-aligned): none straddles two cache lines. */
_Static_assert(sizeof(struct mp_fpindex) % sizeof(struct mp_fpslot) == 0 &&
		       64 % sizeof(struct mp_fpslot) == 0,
	       "index slots never straddle cache lines");

struct mp_fpindex *mp_prof_fpidx;
struct mp_prof_hint *mp_prof_hints;

struct mp_snap_heap_rec *mp_prof_heap;
static uint32_t nbuckets;
struct mp_index *mp_prof_bidx;

static int truncated;

/* Where the memprof CLI finds the stack records while the program runs
 * (common/stackfeed.h): the one symbol of ours in the target that is not
 * an interposed function. */
MP_EXPORT struct mp_stackfeed memprof_stack_feed;
uint8_t *mp_prof_retired;
#define RETIRED_BYTES (STACK_REGION / 16 / 8 + 1)

/* A stack's hash, which its buckets' hashes start from: its fingerprint's a. */
static uint64_t hash_pcs(const uint64_t *pcs, uint32_t depth)
{
	return mp_fp_of(pcs, depth).a;
}

static struct mp_index *index_new(uint32_t cap)
{
	struct mp_index *ix = mp_vm_reserve(sizeof(*ix) + (size_t)cap * sizeof(uint64_t));
	if (ix)
		ix->cap = cap;
	return ix;
}

static const uint64_t *stack_pcs(uint32_t id, uint32_t *ret_depth)
{
	const uint32_t *rec = (const uint32_t *)(stack_mem + stack_off[id - 1]);
	*ret_depth = rec[1];
	return (const uint64_t *)(rec + 2);
}

static uint64_t stack_hash_of(uint32_t id)
{
	uint32_t depth;
	const uint64_t *pcs = stack_pcs(id, &depth);
	return hash_pcs(pcs, depth);
}

/* Replace the index by one twice its size when 3/4 full.  Caller holds the
 * lock; lock-free readers keep probing the old generation safely. */
static int index_grow_locked(struct mp_index **ixp)
{
	struct mp_index *ix = *ixp;
	if ((uint64_t)(ix->used + 1) * 4 < (uint64_t)ix->cap * 3)
		return 0;
	if (ix->cap >= (1u << 30))
		return -ENOSPC;
	struct mp_index *n = index_new(ix->cap * 2);
	if (!n)
		return -ENOMEM;
	for (uint32_t i = 0; i < ix->cap; i++) {
		uint64_t v = ix->slots[i];
		if (!v)
			continue;
		/* Its home slot: from the hash bits it holds. */
		uint32_t j = mp_prof_bucket_home(v, n->cap);
		while (n->slots[j])
			j = (j + 1) & (n->cap - 1);
		n->slots[j] = v;
	}
	n->used = ix->used;
	__atomic_store_n(ixp, n, __ATOMIC_RELEASE);
	return 0;
}

/* Publish entry v under hash h.  Caller holds the lock and grew the index. */
static void index_add_locked(struct mp_index *ix, uint64_t h, uint32_t v)
{
	uint32_t mask = ix->cap - 1;
	uint32_t j = mp_prof_bucket_home(h, ix->cap);
	while (ix->slots[j])
		j = (j + 1) & mask;
	__atomic_store_n(&ix->slots[j], (h >> 32 << 32) | v, __ATOMIC_RELEASE);
	ix->used++;
}

/* Lock-free probe: the entry + 1 that `match` accepts, or 0.  Only
 * entries with the same hash bits are read. */
static uint32_t index_find(struct mp_index *const *ixp, uint64_t h,
			   int (*match)(uint32_t, const void *), const void *key)
{
	const struct mp_index *ix = __atomic_load_n(ixp, __ATOMIC_ACQUIRE);
	uint32_t mask = ix->cap - 1;
	for (uint32_t j = mp_prof_bucket_home(h, ix->cap);; j = (j + 1) & mask) {
		uint64_t v = __atomic_load_n(&ix->slots[j], __ATOMIC_ACQUIRE);
		if (!v)
			return 0;
		if ((v ^ h) >> 32 == 0 && match((uint32_t)v, key))
			return (uint32_t)v;
	}
}

int mp_prof_hints_init(void)
{
	if (!mp_prof_hints)
		mp_prof_hints = mp_vm_reserve(MP_PROF_HINTS * sizeof(*mp_prof_hints));
	return mp_prof_hints ? 0 : -ENOMEM;
}

int mp_prof_init(void)
{
	if (mp_vm_area_init(&stack_area, STACK_REGION) < 0 ||
	    mp_vm_area_init(&off_area, STACK_REGION / 16 * sizeof(uint32_t)) < 0 ||
	    mp_vm_area_init(&bucket_area, BUCKET_REGION) < 0 ||
	    mp_peak_init(MAX_BUCKETS) < 0)
		return -ENOMEM;
	/* Shared with the CLI when it asked (base/shm.h): the records are the
	 * snapshot's, and survive any death of the process. */
	mp_vm_area_share(&stack_area, MP_SNAP_STACKS, 0);
	mp_vm_area_share(&bucket_area, MP_SNAP_HEAP, sizeof(struct mp_snap_heap_rec));
	stack_mem = (uint8_t *)stack_area.base;
	stack_off = (uint32_t *)off_area.base;
	mp_prof_heap = (struct mp_snap_heap_rec *)bucket_area.base;
	mp_prof_fpidx =
		mp_vm_reserve(sizeof(*mp_prof_fpidx) + INDEX_MIN * sizeof(struct mp_fpslot));
	if (mp_prof_fpidx)
		mp_prof_fpidx->cap = INDEX_MIN;
	mp_prof_bidx = index_new(INDEX_MIN);
	if (!mp_prof_fpidx || !mp_prof_bidx)
		return -ENOMEM;
	memprof_stack_feed.stacks = (uint64_t)(uintptr_t)stack_mem;
	memprof_stack_feed.used = (uint64_t)(uintptr_t)&stack_used;
	memprof_stack_feed.size = STACK_REGION;
	__atomic_store_n(&memprof_stack_feed.magic, MP_STACKFEED_MAGIC, __ATOMIC_RELEASE);
	return 0;
}

/* Lock-free lookup of the stack index (mp_prof_fp_find) by key. */
static uint32_t fp_find(uint64_t key, struct mp_fp f)
{
	const struct mp_fpindex *ix = __atomic_load_n(&mp_prof_fpidx, __ATOMIC_ACQUIRE);
	struct mp_fp_probe pr = { ix, key, mp_prof_fp_home(key, ix->cap) };
	return mp_prof_fp_find(&pr, f.b, NULL);
}

/* Under the lock: room for one more slot (the index doubled when 3/4
 * full; lock-free readers keep probing the old generation safely). */
static int fp_grow_locked(void)
{
	struct mp_fpindex *ix = mp_prof_fpidx;
	if ((uint64_t)(ix->used + 1) * 4 >= (uint64_t)ix->cap * 3) {
		if (ix->cap >= (1u << 30))
			return -ENOSPC;
		struct mp_fpindex *n =
			mp_vm_reserve(sizeof(*n) + (size_t)ix->cap * 2 * sizeof(struct mp_fpslot));
		if (!n)
			return -ENOMEM;
		n->cap = ix->cap * 2;
		for (uint32_t i = 0; i < ix->cap; i++) {
			struct mp_fpslot e = ix->slots[i];
			if (!e.key)
				continue;
			uint32_t j = mp_prof_fp_home(e.key, n->cap);
			while (n->slots[j].key)
				j = (j + 1) & (n->cap - 1);
			n->slots[j] = e;
		}
		n->used = ix->used;
		__atomic_store_n(&mp_prof_fpidx, n, __ATOMIC_RELEASE);
	}
	return 0;
}

/* Under the lock, after fp_grow_locked: publish stack id under key. */
static void fp_put_locked(uint64_t key, struct mp_fp f, uint32_t id)
{
	struct mp_fpindex *ix = mp_prof_fpidx;
	uint32_t mask = ix->cap - 1, j = mp_prof_fp_home(key, ix->cap);
	while (ix->slots[j].key)
		j = (j + 1) & mask;
	__atomic_store_n(&ix->slots[j].val, (f.b >> 32 << 32) | id, __ATOMIC_RELAXED);
	__atomic_store_n(&ix->slots[j].key, key, __ATOMIC_RELEASE);
	ix->used++;
}

struct bucket_key {
	uint32_t stack_id;
	uint64_t size;
};

static int match_bucket(uint32_t v, const void *key)
{
	const struct bucket_key *k = key;
	return mp_prof_heap[v - 1].stack_id == k->stack_id && mp_prof_heap[v - 1].size == k->size;
}

/* Find or add a stack; returns its id (>= 1) or a negative errno. */
static int64_t intern_stack_locked(const uint64_t *pcs, uint32_t depth, struct mp_fp f,
				   uint64_t key)
{
	uint32_t found = fp_find(key, f);
	if (found)
		return found;
	size_t need = 8 + (size_t)depth * 8;
	if (stack_used + need > STACK_REGION || mp_prof_nstack + 1 >= STACK_REGION / 16)
		return -ENOSPC;
	if (mp_vm_area_grow(&stack_area, stack_used + need, TABLE_STEP) < 0 ||
	    mp_vm_area_grow(&off_area, (size_t)(mp_prof_nstack + 1) * sizeof(uint32_t),
			    TABLE_STEP / 8) < 0)
		return -ENOSPC;   /* the address space is used up: dropped like a full table */
	int r = fp_grow_locked();
	if (r < 0)
		return r;
	uint32_t id = mp_prof_nstack + 1;
	uint32_t *rec = (uint32_t *)(stack_mem + stack_used);
	mp_shm_begin(&stack_area, stack_used, need);
	rec[0] = id;
	rec[1] = depth;
	memcpy(rec + 2, pcs, depth * sizeof(*pcs));
	stack_off[id - 1] = (uint32_t)stack_used;
	/* Release: a reader of the feed sees the record before the count. */
	__atomic_store_n(&stack_used, stack_used + need, __ATOMIC_RELEASE);
	mp_shm_publish(&stack_area, 0, stack_used);
	mp_shm_end(&stack_area);
	__atomic_store_n(&mp_prof_nstack, id, __ATOMIC_RELEASE);
	/* Last: a lock-free reader that finds the id sees the record. */
	fp_put_locked(key, f, id);
	return id;
}

static int64_t intern_bucket_locked(const struct bucket_key *k, uint64_t h)
{
	uint32_t v = index_find(&mp_prof_bidx, h, match_bucket, k);
	if (v)
		return v - 1;
	size_t need = (size_t)(nbuckets + 1) * sizeof(*mp_prof_heap);
	if (need > BUCKET_REGION || mp_vm_area_grow(&bucket_area, need, TABLE_STEP) < 0)
		return -ENOSPC;
	int r = index_grow_locked(&mp_prof_bidx);
	if (r < 0)
		return r;
	uint32_t b = nbuckets;
	if (mp_peak_add_bucket_locked(b) < 0)
		return -ENOSPC;
	mp_shm_begin(&bucket_area, (uint64_t)b * sizeof(*mp_prof_heap), sizeof(*mp_prof_heap));
	mp_prof_heap[b].stack_id = k->stack_id;
	mp_prof_heap[b].size = k->size;
	__atomic_store_n(&nbuckets, b + 1, __ATOMIC_RELEASE);
	mp_shm_publish(&bucket_area, 0, (uint64_t)nbuckets * sizeof(*mp_prof_heap));
	mp_shm_end(&bucket_area);
	index_add_locked(mp_prof_bidx, h, b + 1);
	return b;
}

uint32_t mp_prof_gen = 1;

static void set_truncated(void)
{
	truncated = 1;
	struct mp_shm_meta *m = __atomic_load_n(&mp_shm_dir, __ATOMIC_ACQUIRE);
	if (m)
		__atomic_or_fetch(&m->flags, (uint64_t)MP_SNAP_F_TRUNCATED, __ATOMIC_RELAXED);
}

/*
 * The common case, a stack and size seen before, takes no lock: lock-free
 * probes and an atomic add.  New stacks and buckets are added under the
 * lock, written whole before their index slot is published.
 */
static int64_t intern_fp(const uint64_t *pcs, uint32_t depth, struct mp_fp f)
{
	uint64_t key = mp_prof_fp_key(f, depth);
	uint32_t found = fp_find(key, f);
	if (found)
		return found;
	mp_lock_wait(&prof_lock);
	int64_t s = intern_stack_locked(pcs, depth, f, key);
	if (s < 0)
		set_truncated();
	mp_unlock(&prof_lock);
	return s;
}

/* The bucket index's home slot for blocks of `size` from the stack whose
 * hash is stack_hash: start fetching it (the first slot a lookup reads). */
static inline void prefetch_bucket_slot(uint64_t stack_hash, uint64_t size)
{
	const struct mp_index *bx = __atomic_load_n(&mp_prof_bidx, __ATOMIC_ACQUIRE);
	__builtin_prefetch(&bx->slots[mp_prof_bucket_home(mp_prof_bucket_hash(stack_hash, size),
							  bx->cap)]);
}

int64_t mp_prof_intern_stack_fp(const uint64_t *pcs, uint32_t depth, struct mp_fp f)
{
	return intern_fp(pcs, depth, f);
}

int64_t mp_prof_intern_stack_hash(const uint64_t *pcs, uint32_t depth, uint64_t *ret_hash)
{
	if (depth > MP_MAX_DEPTH)
		depth = MP_MAX_DEPTH;
	struct mp_fp f = mp_fp_of(pcs, depth);
	*ret_hash = f.a;
	return intern_fp(pcs, depth, f);
}

int64_t mp_prof_intern_stack(const uint64_t *pcs, uint32_t depth)
{
	uint64_t sh;
	return mp_prof_intern_stack_hash(pcs, depth, &sh);
}

int64_t mp_prof_record_hashed(uint32_t stack_id, uint64_t stack_hash, uint64_t size)
{
	struct bucket_key bk = { stack_id, size };
	uint64_t h = mp_prof_bucket_hash(stack_hash, size);
	uint32_t w = index_find(&mp_prof_bidx, h, match_bucket, &bk);
	int64_t b = (int64_t)w - 1;
	if (!w) {
		mp_lock_wait(&prof_lock);
		b = intern_bucket_locked(&bk, h);
		if (b < 0)
			set_truncated();
		mp_unlock(&prof_lock);
		if (b < 0)
			return b;
	}
	mp_peak_touch((uint32_t)b, &mp_prof_heap[b]);
	__atomic_add_fetch(&mp_prof_heap[b].alloc_objects, 1, __ATOMIC_RELAXED);
	return b;
}

int64_t mp_prof_record_stack(uint32_t stack_id, uint64_t size)
{
	return mp_prof_record_hashed(stack_id, stack_hash_of(stack_id), size);
}

int64_t mp_prof_record_pcs(const uint64_t *pcs, uint32_t depth, uint64_t size,
			   uint32_t *ret_stack, uint64_t *ret_hash)
{
	if (depth > MP_MAX_DEPTH)
		depth = MP_MAX_DEPTH;
	struct mp_fp f = mp_fp_of(pcs, depth);
	uint64_t sh = f.a;
	*ret_hash = sh;
	/* The bucket's index slot is on its way while the stack is looked up:
	 * two cache misses at once instead of one after the other. */
	prefetch_bucket_slot(sh, size);
	int64_t s = intern_fp(pcs, depth, f);
	*ret_stack = s > 0 ? (uint32_t)s : 0;
	return s < 0 ? s : mp_prof_record_hashed((uint32_t)s, sh, size);
}

int64_t mp_prof_record_alloc(const uint64_t *pcs, uint32_t depth, uint64_t size)
{
	uint32_t s;
	uint64_t sh;
	return mp_prof_record_pcs(pcs, depth, size, &s, &sh);
}

void mp_prof_record_free(uint32_t b)
{
	mp_peak_shrinking(mp_prof_heap[b].size);
	mp_peak_touch(b, &mp_prof_heap[b]);
	__atomic_add_fetch(&mp_prof_heap[b].free_objects, 1, __ATOMIC_RELAXED);
}

void mp_prof_unrecord_free(uint32_t b)
{
	mp_peak_touch(b, &mp_prof_heap[b]);
	__atomic_sub_fetch(&mp_prof_heap[b].free_objects, 1, __ATOMIC_RELAXED);
	mp_peak_grew(mp_prof_heap[b].size, mp_tag_now());   /* in use again */
}

int mp_prof_truncated(void)
{
	return truncated;
}

void mp_prof_lock(void)
{
	mp_lock_wait(&prof_lock);
}

void mp_prof_unlock(void)
{
	mp_unlock(&prof_lock);
}

void mp_prof_stacks(const void **ret_data, size_t *ret_size)
{
	*ret_data = stack_mem;
	*ret_size = stack_used;
}

void mp_prof_buckets(const void **ret_data, size_t *ret_size)
{
	*ret_data = mp_prof_heap;
	*ret_size = (size_t)nbuckets * sizeof(*mp_prof_heap);
}

uint32_t mp_prof_unmapped(const uint64_t *ranges, size_t n)
{
	mp_lock_wait(&prof_lock);
	uint8_t *rt = mp_prof_retired;
	if (!rt && stack_mem) {
		rt = mp_vm_reserve(RETIRED_BYTES);
		__atomic_store_n(&mp_prof_retired, rt, __ATOMIC_RELEASE);
	}
	/* Every stack with a return address whose call lies in a range: one
	 * pass over the table (dlclose is rare next to allocations). */
	for (uint32_t id = 1; rt && n && id <= mp_prof_nstack; id++) {
		if ((rt[id >> 3] >> (id & 7)) & 1)
			continue;   /* retired by an earlier unload */
		uint32_t depth;
		const uint64_t *pcs = stack_pcs(id, &depth);
		bool hit = false;
		for (uint32_t j = 0; j < depth && !hit; j++)
			for (size_t r = 0; r < n && !hit; r++)
				hit = pcs[j] - 1 - ranges[2 * r] < ranges[2 * r + 1] - ranges[2 * r];
		if (hit)
			__atomic_or_fetch(&rt[id >> 3], (uint8_t)(1u << (id & 7)), __ATOMIC_RELAXED);
	}
	uint32_t last = mp_prof_nstack;
	/* The caches' stack ids and buckets (struct mp_stack_cache): void now. */
	__atomic_add_fetch(&mp_prof_gen, 1, __ATOMIC_RELAXED);
	mp_unlock(&prof_lock);
	return last;
}

void mp_prof_after_fork_child(void)
{
	/* Held since mp_prof_lock in the fork's prepare: new, and uncounted. */
	pthread_mutex_init(&prof_lock, NULL);
	mp_lock_held--;
}

void mp_prof_reset(void)
{
	mp_lock_wait(&prof_lock);
	memset(stack_mem, 0, stack_used);
	memset(mp_prof_heap, 0, (size_t)nbuckets * sizeof(*mp_prof_heap));
	mp_peak_reset(nbuckets);
	memset(mp_prof_fpidx->slots, 0, (size_t)mp_prof_fpidx->cap * sizeof(struct mp_fpslot));
	memset(mp_prof_bidx->slots, 0, (size_t)mp_prof_bidx->cap * sizeof(uint64_t));
	if (mp_prof_retired)
		memset(mp_prof_retired, 0, (size_t)mp_prof_nstack / 8 + 1);
	stack_used = 0;
	mp_prof_nstack = nbuckets = 0;
	mp_shm_publish(&stack_area, 0, 0);
	mp_shm_publish(&bucket_area, 0, 0);
	mp_prof_fpidx->used = mp_prof_bidx->used = 0;
	truncated = 0;
	__atomic_add_fetch(&mp_prof_gen, 1, __ATOMIC_RELAXED);
	mp_unlock(&prof_lock);
}
