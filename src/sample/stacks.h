/* SPDX-License-Identifier: MIT */
/*
 * The profile tables inside the target: a deduplicated stack table and heap
 * buckets keyed by (stack, block size), both stored exactly in the raw
 * snapshot record formats (common/snapshot.h) so a snapshot is a copy.
 *
 * Memory comes from windows of address space mapped as the tables fill
 * (base/vmarea.h) and from mp_vm_reserve; nothing here calls malloc or prints.
 * Recording takes one mutex (never held across a call that could allocate or
 * re-enter).  Crediting a free is a lock-free atomic add.
 */
#ifndef MP_SAMPLE_STACKS_H
#define MP_SAMPLE_STACKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/compiler.h"
#include "common/shim-options.h"   /* MP_MAX_DEPTH */
#include "sample/peak.h"

/*
 * A stack's fingerprint: 128 bits of state run over its return addresses
 * from the outermost in, so that a walker that keeps the fingerprint of
 * every frame's outer part (fastunwind.c) extends it by the new inner
 * frames alone.  Each step is a bijection of the state for a given pc, so
 * two stacks of equal depth that differ in one frame never share a
 * fingerprint; the table (below) tells stacks apart by 96 of its bits (and
 * their depth), not by comparing their frames: two different stacks of a
 * run share them with a probability of about n^2 / 2^97 (n stacks).
 */
struct mp_fp {
	uint64_t a, b;
};

static inline struct mp_fp mp_fp_start(void)
{
	return (struct mp_fp){ 0x243f6a8885a308d3ull, 0x13198a2e03707344ull };
}

static inline struct mp_fp mp_fp_step(struct mp_fp f, uint64_t pc)
{
	uint64_t a = (f.a ^ pc) * 0xff51afd7ed558ccdull;
	uint64_t b = (f.b + pc) * 0xc4ceb9fe1a85ec53ull;
	a ^= b >> 31;
	b ^= a >> 29;
	return (struct mp_fp){ a, b };
}

/* The fingerprint of pcs[0..depth), innermost first. */
static inline struct mp_fp mp_fp_of(const uint64_t *pcs, uint32_t depth)
{
	struct mp_fp f = mp_fp_start();
	for (uint32_t i = depth; i-- > 0;)
		f = mp_fp_step(f, pcs[i]);
	return f;
}

/* Reserve the tables.  0 or -ENOMEM.  Not thread-safe: call once at init. */
int mp_prof_init(void);

/*
 * Count one sampled allocation of `size` bytes from the stack pcs[0..depth)
 * (innermost first).  Returns the bucket index (>= 0), or -ENOSPC when a
 * table is full (the sample is dropped and mp_prof_truncated() turns true).
 */
int64_t mp_prof_record_alloc(const uint64_t *pcs, uint32_t depth, uint64_t size);

/* The id of the stack pcs[0..depth) in the stack table (added if new).
 * >= 1, or -ENOSPC when full. */
int64_t mp_prof_intern_stack(const uint64_t *pcs, uint32_t depth);

/* mp_prof_record_alloc for a stack already interned: its bucket for `size`
 * (>= 0) or -ENOSPC. */
int64_t mp_prof_record_stack(uint32_t stack_id, uint64_t size);

/* The same with the stack's hash (as the calls below return it): the
 * stack's record is not read again to compute it. */
int64_t mp_prof_record_hashed(uint32_t stack_id, uint64_t stack_hash, uint64_t size);

/* mp_prof_intern_stack that also returns the stack's hash. */
int64_t mp_prof_intern_stack_hash(const uint64_t *pcs, uint32_t depth, uint64_t *ret_hash);

/*
 * The indexes (stacks.c), here for the lookups inlined into the sampling
 * path.  An index generation is replaced whole when it fills, never
 * modified in place except for filling empty slots, and never unmapped
 * (readers may still be probing an old generation; the old ones add up to
 * less than the current).
 *
 * The buckets': 64-bit slots, hash >> 32 << 32 | entry + 1, 0 = empty;
 * release stores.  A slot's home is in those same hash bits
 * (mp_prof_bucket_home).
 */
struct mp_index {
	uint32_t cap;      /* power of two */
	uint32_t used;
	uint64_t slots[];
};

/*
 * The stack index: by fingerprint, never by the frames.  A slot holds 64
 * bits of the fingerprint and depth (`key`, never 0: empty) and 32 more
 * beside the stack's id (`val`), so that a probe reads one slot and no
 * record: at --rate 1 a big program's stacks are ~40 frames, and comparing
 * them (three or four cache lines of record each) was most of a lookup.
 */
struct mp_fpslot {
	uint64_t key;      /* mp_prof_fp_key(); 0: empty; release stores, after val */
	uint64_t val;      /* fingerprint's b >> 32 << 32 | stack id */
	uint64_t last[2];  /* the stack's last buckets (mp_prof_last_bucket) */
};

struct mp_fpindex {
	uint32_t cap;      /* power of two */
	uint32_t used;
	uint64_t pad[3];
	struct mp_fpslot slots[];
};

extern MP_HIDDEN struct mp_fpindex *mp_prof_fpidx;
extern MP_HIDDEN struct mp_index *mp_prof_bidx;
/* Bit i set: stack id i holds an address of code unloaded since it was
 * interned (mp_prof_unmapped), so lookups never return it again.  NULL
 * until the first unload: then one load and one branch per match. */
extern MP_HIDDEN uint8_t *mp_prof_retired;

/*
 * A bucket's hash comes from its stack's hash (the fingerprint's a), not
 * its id: known before the stack is looked up, so the bucket's index slot
 * is fetched while the stack is (mp_prof_record_pcs, mp_prof_probe_fp).
 * Only its high 32 bits are used, and each of them depends on every bit of
 * the stack's hash, itself well mixed (mp_fp_step, above), and of the
 * size's product by an odd constant: a multiplication where two rounds of
 * mixing were (an index slot is all it chooses).
 */
static inline uint64_t mp_prof_bucket_hash(uint64_t stack_hash, uint64_t size)
{
	return (stack_hash ^ size * 0x9e3779b97f4a7c15ull) * 0xff51afd7ed558ccdull;
}

/* The home slot in a bucket index of `cap` slots of hash h (or of a slot
 * holding it). */
static inline uint32_t mp_prof_bucket_home(uint64_t h, uint32_t cap)
{
	return (uint32_t)(h >> 32) & (cap - 1);
}

/* The stack index key of a stack of fingerprint f and `depth` frames. */
static inline uint64_t mp_prof_fp_key(struct mp_fp f, uint32_t depth)
{
	return (f.a ^ ((uint64_t)depth * 0x9e3779b97f4a7c15ull)) | 1;
}

static inline uint32_t mp_prof_fp_home(uint64_t key, uint32_t cap)
{
	return (uint32_t)((key * 0x9e3779b97f4a7c15ull) >> 32) & (cap - 1);
}

/* Where a lookup of one stack in the stack index starts. */
struct mp_fp_probe {
	const struct mp_fpindex *ix;
	uint64_t key;
	uint32_t j;        /* home slot */
};

/* The probe of the stack of `depth` frames with fingerprint f. */
static inline void mp_prof_fp_probe(struct mp_fp f, uint32_t depth, struct mp_fp_probe *ret)
{
	const struct mp_fpindex *ix = __atomic_load_n(&mp_prof_fpidx, __ATOMIC_ACQUIRE);
	ret->ix = ix;
	ret->key = mp_prof_fp_key(f, depth);
	ret->j = mp_prof_fp_home(ret->key, ix->cap);
}

/*
 * Lock-free lookup of the stack index: the id of the stack whose probe pr
 * is and whose fingerprint's b is fb, or 0.  A stack retired by an unload
 * (mp_prof_unmapped) is passed over: the same frames interned again are
 * another stack.  *ret_last (when not NULL): where the table remembers the
 * stack's last buckets (mp_prof_last_*).  The probe may be of an index
 * generation replaced since: then a stack added since may not be found
 * (a caller that adds it looks again under the lock).
 */
static inline uint32_t mp_prof_fp_find(const struct mp_fp_probe *pr, uint64_t fb,
				       uint64_t **ret_last)
{
	const struct mp_fpindex *ix = pr->ix;
	uint32_t mask = ix->cap - 1;
	for (uint32_t j = pr->j;; j = (j + 1) & mask) {
		uint64_t k = __atomic_load_n(&ix->slots[j].key, __ATOMIC_ACQUIRE);
		if (!k)
			return 0;
		if (k != pr->key)
			continue;
		uint64_t v = __atomic_load_n(&ix->slots[j].val, __ATOMIC_RELAXED);
		if ((v ^ fb) >> 32)
			continue;
		uint32_t id = (uint32_t)v;
		const uint8_t *rt = __atomic_load_n(&mp_prof_retired, __ATOMIC_ACQUIRE);
		if (MP_UNLIKELY(rt != NULL) &&
		    (__atomic_load_n(&rt[id >> 3], __ATOMIC_RELAXED) >> (id & 7)) & 1)
			continue;
		if (ret_last)
			*ret_last = (uint64_t *)ix->slots[j].last;
		return id;
	}
}

/* The id of the stack of `depth` frames with fingerprint f (mp_fp_of), when
 * the table holds it; else 0.  Its hash is f.a.  Lock-free.  *ret_last:
 * where the table remembers the stack's last bucket (mp_prof_last_*), or
 * NULL. */
static inline uint32_t mp_prof_find_fp(struct mp_fp f, uint32_t depth, uint64_t **ret_last)
{
	struct mp_fp_probe pr;
	*ret_last = NULL;
	mp_prof_fp_probe(f, depth, &pr);
	return mp_prof_fp_find(&pr, f.b, ret_last);
}

/*
 * mp_prof_fp_probe, and start fetching the index slots a lookup of the
 * stack, then of its bucket of blocks of `size`, reads first
 * (mp_prof_fp_find, mp_prof_record_hashed), so that their cache misses
 * overlap the caller's other work.
 *
 * The bucket index's slot is needed only when the stack's last buckets are
 * of other sizes (11% of the stacks found, below), yet fetching it always
 * paid: without it the shim's samples per cc1 sample went 0.475 -> 0.487
 * (medians of 8 runs, perf cpu-clock, --rate 1).  Huge pages for the
 * indexes (MADV_HUGEPAGE) changed nothing measurable: the slots miss the
 * cache, not the TLB (the stack index stays under 2 MiB there).
 */
static inline void mp_prof_probe_fp(struct mp_fp f, uint32_t depth, uint64_t size,
				    struct mp_fp_probe *ret)
{
	mp_prof_fp_probe(f, depth, ret);
	__builtin_prefetch(&ret->ix->slots[ret->j]);
	const struct mp_index *bx = __atomic_load_n(&mp_prof_bidx, __ATOMIC_ACQUIRE);
	uint64_t h = mp_prof_bucket_hash(f.a, size);
	__builtin_prefetch(&bx->slots[mp_prof_bucket_home(h, bx->cap)]);
}

/*
 * A stack's last two buckets, kept beside its id in the table's index, two
 * words (size << 32 | bucket + 1) that any thread reads and writes whole:
 * blocks of `size` from the stack whose words `last` are (mp_prof_find_fp)
 * are counted in the bucket this returns (>= 0), or -1 when neither word
 * is of that size.  At --rate 1 a stack is mostly met again with a size it
 * had one of the last two times: the bucket's own index is not probed then
 * (compiling a 17,000-line file with gcc's cc1: one word left 26% of the
 * stacks found to the index, two words leave 11%).
 */
static inline int64_t mp_prof_last_bucket(const uint64_t *last, uint64_t size)
{
	uint64_t v = __atomic_load_n(&last[0], __ATOMIC_RELAXED);
	if (v && v >> 32 == size)
		return (int64_t)(uint32_t)v - 1;
	v = __atomic_load_n(&last[1], __ATOMIC_RELAXED);
	return v && v >> 32 == size ? (int64_t)(uint32_t)v - 1 : -1;
}

/* Bucket b is the stack's last for `size`: the word of the other size
 * before it becomes the second. */
static inline void mp_prof_last_set(uint64_t *last, uint64_t size, uint32_t b)
{
	if (size >= ((uint64_t)1 << 32))
		return;
	uint64_t v = __atomic_load_n(&last[0], __ATOMIC_RELAXED);
	if (v >> 32 != size)
		__atomic_store_n(&last[1], v, __ATOMIC_RELAXED);
	__atomic_store_n(&last[0], size << 32 | ((uint64_t)b + 1), __ATOMIC_RELAXED);
}

/* mp_prof_intern_stack for a stack whose fingerprint is known. */
int64_t mp_prof_intern_stack_fp(const uint64_t *pcs, uint32_t depth, struct mp_fp f);

/* mp_prof_record_alloc that also returns the stack's id (0 when the
 * table is full) and hash, for a cache (below). */
int64_t mp_prof_record_pcs(const uint64_t *pcs, uint32_t depth, uint64_t size,
			   uint32_t *ret_stack, uint64_t *ret_hash);

/* The heap records, one per bucket (the region of mp_prof_buckets; set
 * once by mp_prof_init): counted in here and, for a sampled free, by
 * sample/peak.c itself, as mp_prof_record_free does, without a call. */
extern MP_HIDDEN struct mp_snap_heap_rec *mp_prof_heap;

/* One more sampled allocation into a bucket a record call returned (the
 * peak's order, peak.h: touch before counting). */
static inline void mp_prof_record_again(uint32_t b)
{
	mp_peak_touch(b, &mp_prof_heap[b]);
	__atomic_add_fetch(&mp_prof_heap[b].alloc_objects, 1, __ATOMIC_RELAXED);
}

/*
 * The next allocation's stack, foretold (at --rate 1, where every
 * allocation looks its stack up).  A program mostly allocates next from
 * the stack that followed the same stack last time: compiling a
 * 17,000-line file with gcc's cc1, 83% of 6.3 million allocations did.  So
 * each stack's index slot has a hint, where the lookups of its last
 * follower went (the follower's index slot and bucket), and the end of one
 * sampled allocation starts those on their way, with the follower's own
 * hint: their cache misses then overlap the program's work until its next
 * allocation instead of stalling it.  A wrong hint costs three prefetches.
 * With the free's (sample/peak.c), cc1 on the big file at --rate 1, CPU
 * time against the same shim without hints, per-run ratios of shuffled
 * runs: median 0.987 and mean 0.993 over 20 runs, 0.953 and 0.958 over 16;
 * on the small file 0.989 over 30.  The shim's perf samples per cc1 sample
 * fell more (0.395 -> 0.369, medians of 8 runs): part of what a prefetch
 * saves the shim the program pays back in lines pushed out of its cache.
 * The hints are a table of their own (one per slot, masked: a bigger index
 * shares them), not a word in the slot: 64-byte slots made the index twice
 * as big and the shim's perf samples per cc1 sample 0.374 against 0.369.
 * Racing threads may store over each other's hints: a hint is never
 * trusted, only prefetched.
 */
struct mp_prof_hint {
	uint32_t slot;     /* index slot, masked to the index's size when used */
	uint32_t bucket;   /* bucket + 1; 0: none */
};
#define MP_PROF_HINTS (1u << 15)
extern MP_HIDDEN struct mp_prof_hint *mp_prof_hints;

/* Map the hints (once, at init, when every allocation is sampled); 0, or
 * -ENOMEM (none then: mp_prof_foretell must not be called). */
int mp_prof_hints_init(void);

/* After a sampled allocation into bucket b from the stack whose index
 * words `last` are (mp_prof_find_fp's, NULL: unknown): the hint of the
 * stack before it (*prev, the calling thread's: slot + 1, 0 none) is this
 * one, and this one's follower is fetched. */
static inline void mp_prof_foretell(uint32_t *prev, const uint64_t *last, uint32_t b)
{
	if (!last)
		return;
	const struct mp_fpindex *ix = __atomic_load_n(&mp_prof_fpidx, __ATOMIC_ACQUIRE);
	const struct mp_fpslot *s =
		(const struct mp_fpslot *)((const char *)last - offsetof(struct mp_fpslot, last));
	/* (A slot of an older index generation gives a wrong slot: a hint.) */
	uint32_t mask = ix->cap - 1, j = (uint32_t)(s - ix->slots) & mask;
	struct mp_prof_hint *h = mp_prof_hints;
	if (*prev)
		h[(*prev - 1) & (MP_PROF_HINTS - 1)] = (struct mp_prof_hint){ j, b + 1 };
	*prev = j + 1;
	struct mp_prof_hint nx = h[j & (MP_PROF_HINTS - 1)];
	if (nx.bucket) {
		__builtin_prefetch(&ix->slots[nx.slot & mask]);
		__builtin_prefetch(&mp_prof_heap[nx.bucket - 1], 1);
		__builtin_prefetch(&h[nx.slot & (MP_PROF_HINTS - 1)], 1);
	}
}

/* Changes whenever the tables are emptied (mp_prof_reset) or code is
 * unmapped (mp_prof_unmapped): stack ids and buckets of an older generation
 * are void.  Lock-free. */
extern MP_HIDDEN uint32_t mp_prof_gen;
static inline uint32_t mp_prof_generation(void)
{
	return __atomic_load_n(&mp_prof_gen, __ATOMIC_RELAXED);
}

/* Credit a free to bucket `b` / take it back (realloc failure).  Lock-free. */
void mp_prof_record_free(uint32_t b);
void mp_prof_unrecord_free(uint32_t b);

/* Whether samples were dropped because a table was full. */
int mp_prof_truncated(void);

/*
 * A consistent view for the snapshot writer: call mp_prof_lock(), read the
 * regions, mp_prof_unlock().  The stack region is a sequence of
 * {u32 id, u32 depth, u64 pc[depth]} records; the bucket region is an array
 * of struct mp_snap_heap_rec.
 */
void mp_prof_lock(void);
void mp_prof_unlock(void);
void mp_prof_stacks(const void **ret_data, size_t *ret_size);
void mp_prof_buckets(const void **ret_data, size_t *ret_size);

/*
 * Code in the ranges [ranges[2i], ranges[2i+1]), i < n, was unmapped
 * (dlclose): stacks with a return address whose call lies there are never
 * matched again, so that a stack of code loaded there later gets an id of
 * its own, even with the very same addresses (and the snapshot's reader
 * tells the two apart by id: common/snapshot.h, MP_SNAP_UNLOADED); walk
 * memos' ids and buckets are void (the generation changes).  Returns the
 * number of stacks in the table: ids up to it may hold addresses of the
 * unmapped code, later ones never.  Takes the lock; not for signal
 * handlers.
 */
uint32_t mp_prof_unmapped(const uint64_t *ranges, size_t n);

/* The number of stacks in the table now (ids 1..it).  Lock-free. */
extern MP_HIDDEN uint32_t mp_prof_nstack;
static inline uint32_t mp_prof_nstacks(void)
{
	return __atomic_load_n(&mp_prof_nstack, __ATOMIC_ACQUIRE);
}

/* In the child after fork(): the lock may have been held by a thread that
 * does not exist there.  The parent's tables are kept (the child's heap is a
 * copy of the parent's). */
void mp_prof_after_fork_child(void);

/*
 * The tables' answers for a stack its caller meets again and again, kept
 * where the caller finds that stack again: the walker's memo of each recent
 * walk holds one (sample/unwind.h), so that a stack walked before needs
 * neither hashing nor a probe of the table, and an allocation of the same
 * size from it not even a probe of the buckets.  All zero: nothing known.
 * Valid while `gen` is the tables' generation.  Per thread: only the thread
 * that owns it reads or writes it.
 */
struct mp_stack_cache {
	uint32_t gen;
	uint32_t stack;          /* id in the stack table; 0: unknown */
	uint32_t bucket;         /* bucket + 1 for blocks of `size`; 0: none */
	uint64_t size;
	uint64_t hash;           /* the stack's hash, where `stack` is known */
	uint64_t *last;          /* the table's words of its last buckets, or NULL */
	/* The walker's (sample/unwind.h), set whenever it clears the rest:
	 * the fingerprint of the memo's stack as mp_capture stores it, and
	 * its depth (0: holds nothing else). */
	struct mp_fp fp;
	uint32_t depth;
};

/* Whether c (or NULL) knows its stack's id. */
static inline bool mp_stack_cache_known(const struct mp_stack_cache *c)
{
	return c && c->stack && c->gen == mp_prof_generation();
}

/* The id of the stack pcs[0..n) whose cache is c (or NULL): the cache's
 * when it knows it, else interned and remembered.  >= 1, or -ENOSPC when
 * the table is full.  (pcs are read only when the cache does not know.) */
static inline int64_t mp_stack_cache_id(struct mp_stack_cache *c, const uint64_t *pcs,
					uint32_t n)
{
	uint32_t gen = mp_prof_generation();
	if (c && c->stack && c->gen == gen)
		return c->stack;
	uint64_t h;
	int64_t s = mp_prof_intern_stack_hash(pcs, n, &h);
	if (c) {
		c->gen = gen;
		c->stack = s > 0 ? (uint32_t)s : 0;
		c->bucket = 0;
		c->hash = h;
		c->last = NULL;
	}
	return s;
}

/* mp_prof_record_alloc through the cache c (or NULL) of the stack
 * pcs[0..n): the bucket (>= 0) or -ENOSPC. */
static inline int64_t mp_stack_cache_record(struct mp_stack_cache *c, const uint64_t *pcs,
					    uint32_t n, uint64_t size)
{
	uint32_t gen = mp_prof_generation();
	if (c && c->bucket && c->size == size && c->gen == gen) {
		mp_prof_record_again(c->bucket - 1);
		return c->bucket - 1;
	}
	int64_t b;
	if (c && c->stack && c->gen == gen) {
		b = mp_prof_record_hashed(c->stack, c->hash, size);
	} else {
		/* Stack and bucket looked up together (mp_prof_record_pcs). */
		uint32_t s;
		uint64_t h;
		b = mp_prof_record_pcs(pcs, n, size, &s, &h);
		if (c) {
			c->gen = gen;
			c->stack = s;
			c->bucket = 0;
			c->hash = h;
			c->last = NULL;
		}
	}
	if (c && b >= 0) {
		c->size = size;
		c->bucket = (uint32_t)b + 1;
	}
	return b;
}

/* For tests: forget everything.  Not while other threads record: a cache
 * checked against the old generation may be used after it. */
void mp_prof_reset(void);

#endif
