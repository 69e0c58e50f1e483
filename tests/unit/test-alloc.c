/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the own allocator (src/alloc): the size-class rules, the
 * page heap (split, coalesce, alignment, release, invariants after random
 * operations) and the allocator API driven directly in this process (its
 * arena is separate from this program's malloc), single- and multi-threaded,
 * with the invariant walker after each phase.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/alloc.h"
#include "alloc/central.h"
#include "alloc/pageheap.h"
#include "alloc/sizeclass.h"
#include "tap.h"

static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void test_sizeclasses(void)
{
	CHECK_INT(mp_size_class(100), 0);   /* zero tables before init: slow path */
	mp_sizeclass_init();
	mp_sizeclass_init();                /* idempotent */
	CHECK_INT(mp_classes[1].size, 16);
	CHECK_INT(mp_classes[MP_NCLASS - 1].size, MP_MAX_SMALL);

	int bad_order = 0, bad_align = 0, bad_span = 0, bad_batch = 0;
	for (unsigned c = 1; c < MP_NCLASS; c++) {
		const struct mp_sizeclass *k = &mp_classes[c];
		if (c > 1 && k->size <= mp_classes[c - 1].size)
			bad_order++;
		if (k->size % 16)
			bad_align++;
		size_t bytes = (size_t)k->npages * MP_PAGE_SIZE;
		if (k->npages < 1 || k->npages > 32 || k->nobjs != bytes / k->size || k->nobjs < 1 ||
		    (k->size <= 4096 && k->nobjs < 4))
			bad_span++;
		/* tail waste: at most 1/64 of the span, or else the least any
		 * length of 1..32 pages gives */
		uint64_t best = UINT64_MAX, best_bytes = 1;
		for (uint32_t np = 1; np <= 32; np++) {
			uint64_t b = np * MP_PAGE_SIZE, w = b % k->size;
			if (b / k->size >= (k->size <= 4096 ? 4u : 1u) && w * best_bytes < best * b) {
				best = w;
				best_bytes = b;
			}
		}
		if ((bytes % k->size) * 64 > bytes && (bytes % k->size) * best_bytes > best * bytes)
			bad_span++;
		if (k->batch < 2 || k->batch > 64)
			bad_batch++;
	}
	CHECK_INT(bad_order, 0);
	CHECK_INT(bad_align, 0);
	CHECK_INT(bad_span, 0);
	CHECK_INT(bad_batch, 0);

	/* Every power of two from 16 to 32 KiB is a class (memalign). */
	int missing = 0;
	for (uint32_t p = 16; p <= MP_MAX_SMALL; p *= 2) {
		unsigned c = mp_size_class(p);
		if (mp_classes[c].size != p)
			missing++;
	}
	CHECK_INT(missing, 0);

	/* The lookup gives the smallest class that holds n, with bounded
	 * rounding: under 16 B up to 512 B, under 32 B up to 1 KiB, 2% (+16 B
	 * of rounding) above. */
	int bad_lookup = 0, bad_waste = 0;
	for (size_t n = 0; n <= MP_MAX_SMALL; n++) {
		unsigned c = mp_size_class(n);
		if (c < 1 || c >= MP_NCLASS || mp_classes[c].size < n ||
		    (c > 1 && mp_classes[c - 1].size >= n))
			bad_lookup++;
		else if (n <= 512 ? n > 0 && mp_classes[c].size - n >= 16
			 : n <= 1024 ? mp_classes[c].size - n >= 32
			 : (double)(mp_classes[c].size - n) / mp_classes[c].size > 0.02 + 16.0 / n)
			bad_waste++;
	}
	CHECK_INT(bad_lookup, 0);
	CHECK_INT(bad_waste, 0);

	/* The reciprocal division is exact for every offset of every span. */
	int bad_div = 0;
	for (unsigned c = 1; c < MP_NCLASS; c++) {
		size_t bytes = (size_t)mp_classes[c].npages * MP_PAGE_SIZE;
		for (size_t off = 0; off < bytes; off += 8)
			if (mp_class_index(c, off) != off / mp_classes[c].size)
				bad_div++;
	}
	CHECK_INT(bad_div, 0);
}

/* ---- page heap ---- */

static struct mp_span *heap_alloc(size_t n, size_t align)
{
	pthread_mutex_lock(&mp_heap.lock);
	struct mp_span *s = mp_heap_alloc_locked(n, align, MP_SPAN_LARGE, 0);
	pthread_mutex_unlock(&mp_heap.lock);
	return s;
}

static void heap_free(struct mp_span *s)
{
	pthread_mutex_lock(&mp_heap.lock);
	mp_heap_free_locked(s);
	pthread_mutex_unlock(&mp_heap.lock);
}

static int heap_check(void)
{
	pthread_mutex_lock(&mp_heap.lock);
	int r = mp_heap_check_locked();
	pthread_mutex_unlock(&mp_heap.lock);
	return r;
}

static void test_pageheap(void)
{
	CHECK_INT(mp_alloc_init(), 0);
	CHECK(mp_heap.base != 0 && mp_heap.base % MP_PAGE_SIZE == 0);
	CHECK(!mp_heap_owns(NULL));
	CHECK(!mp_heap_owns(&rng));

	size_t top0 = mp_heap.top;
	struct mp_span *a = heap_alloc(3, 1), *b = heap_alloc(5, 1), *c = heap_alloc(2, 1);
	CHECK(a && b && c);
	CHECK_U64(b->start, a->start + 3 * MP_PAGE_SIZE);
	CHECK_U64(mp_heap.top, top0 + 10);
	CHECK(mp_heap_span_of((void *)(b->start + 4 * MP_PAGE_SIZE + 100)) == b);
	CHECK_INT(heap_check(), 0);

	/* Free the middle, then its neighbours: one free span of 10 pages. */
	uintptr_t start = a->start;
	heap_free(b);
	CHECK_INT(heap_check(), 0);
	heap_free(a);
	heap_free(c);
	CHECK_INT(heap_check(), 0);
	struct mp_span *whole = mp_heap_span_of((void *)start);
	CHECK(whole && whole->state == MP_SPAN_FREE && whole->npages >= 10);

	/* Best fit reuses it; alignment splits off a lead. */
	struct mp_span *d = heap_alloc(4, 1);
	CHECK(d && d->start == start);
	struct mp_span *e = heap_alloc(2, 16);
	CHECK(e && e->start % (16 * MP_PAGE_SIZE) == 0);
	CHECK_INT(heap_check(), 0);

	/* Resize in place: shrink frees the tail, grow takes it back. */
	struct mp_span *f = heap_alloc(8, 1);
	pthread_mutex_lock(&mp_heap.lock);
	CHECK_INT(mp_heap_resize_locked(f, 3), 0);
	CHECK_INT(f->npages, 3);
	CHECK_INT(mp_heap_resize_locked(f, 8), 0);
	CHECK_INT(f->npages, 8);
	CHECK_INT(mp_heap_check_locked(), 0);
	pthread_mutex_unlock(&mp_heap.lock);

	/* Release: everything idle goes back to the OS and reads as zero. */
	memset((void *)f->start, 0xab, 8 * MP_PAGE_SIZE);
	uintptr_t fs = f->start;
	heap_free(d);
	heap_free(e);
	heap_free(f);
	pthread_mutex_lock(&mp_heap.lock);
	mp_heap_scavenge_locked(mp_heap_now_ns(), 1);
	CHECK_U64(mp_heap.free_pages, mp_heap.released_pages);
	CHECK_INT(mp_heap_check_locked(), 0);
	pthread_mutex_unlock(&mp_heap.lock);
	CHECK_INT(((unsigned char *)fs)[100], 0);

	/* Random operations keep every invariant. */
	struct mp_span *live[64] = { 0 };
	int bad = 0;
	for (int i = 0; i < 5000; i++) {
		unsigned k = (unsigned)(rnd() % 64);
		if (live[k]) {
			heap_free(live[k]);
			live[k] = NULL;
		} else {
			size_t n = 1 + rnd() % (rnd() % 8 == 0 ? 300 : 20);
			live[k] = heap_alloc(n, rnd() % 4 == 0 ? 4 : 1);
			if (!live[k] || live[k]->npages != n)
				bad++;
		}
		if (i % 500 == 0 && heap_check() != 0)
			bad++;
	}
	CHECK_INT(bad, 0);
	for (int k = 0; k < 64; k++)
		if (live[k])
			heap_free(live[k]);
	CHECK_INT(heap_check(), 0);

	/* Metadata bins recycle. */
	void *m1 = mp_meta_alloc(100);
	CHECK(m1 != NULL);
	mp_meta_free(m1, 100);
	CHECK(mp_meta_alloc(128) == m1);
	CHECK(mp_meta_alloc(1 << 20) == NULL);
}

/* ---- the allocator API ---- */

static void fill(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(seed + i * 7);
}

static int verify(const unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != (unsigned char)(seed + i * 7))
			return 0;
	return 1;
}

static size_t pick(void)
{
	switch (rnd() % 8) {
	case 0: return rnd() % 17;
	case 1: case 2: case 3: return 1 + rnd() % 256;
	case 4: case 5: return 1 + rnd() % 4096;
	case 6: return 1 + rnd() % 40000;
	default: return 1 + rnd() % 300000;
	}
}

static void test_api(void)
{
	/* Basic contract. */
	void *z = mp_alloc_malloc(0);
	CHECK(z != NULL && mp_heap_owns(z));
	CHECK_INT(mp_alloc_usable(z), 16);
	mp_alloc_free(z);
	CHECK_INT(mp_alloc_usable(&rng), 0);   /* not ours... */
	errno = 0;
	CHECK(mp_alloc_malloc(SIZE_MAX) == NULL && errno == ENOMEM);
	CHECK(mp_alloc_malloc((size_t)1 << 62) == NULL);

	for (size_t al = 16; al <= ((size_t)1 << 20); al *= 2) {
		void *p = mp_alloc_memalign(al, 100);
		void *q = mp_alloc_memalign(al, 70000);
		CHECK(p && (uintptr_t)p % al == 0 && q && (uintptr_t)q % al == 0);
		CHECK(mp_alloc_usable(q) >= 70000);
		mp_alloc_free(p);
		mp_alloc_free(q);
	}

	unsigned char *c = mp_alloc_malloc(5000);
	memset(c, 0xff, 5000);
	mp_alloc_free(c);
	c = mp_alloc_calloc(5000);
	int nz = 0;
	for (int i = 0; i < 5000; i++)
		nz += c[i] != 0;
	CHECK_INT(nz, 0);
	mp_alloc_free(c);

	/* Realloc keeps contents across small, large and in-place moves. */
	unsigned char *r = mp_alloc_malloc(10);
	fill(r, 10, 3);
	int bad = 0;
	for (size_t n = 10; n < (size_t)4 << 20; n = n * 3 / 2 + 1) {
		r = mp_alloc_realloc(r, n);
		size_t old = n * 2 / 3;
		if (!r || !verify(r, old < 10 ? old : 10, 3))
			bad++;
	}
	r = mp_alloc_realloc(r, 5);
	if (!r || !verify(r, 5, 3))
		bad++;
	CHECK_INT(bad, 0);
	mp_alloc_free(r);

	/* Random workload with contents checked, then the walker. */
	enum { N = 2048 };
	static unsigned char *blk[N];
	static size_t len[N];
	bad = 0;
	for (int i = 0; i < 200000; i++) {
		unsigned k = (unsigned)(rnd() % N);
		if (blk[k]) {
			if (!verify(blk[k], len[k] < 64 ? len[k] : 64, k))
				bad++;
			if (rnd() % 4 == 0) {
				size_t n = pick();
				unsigned char *q = mp_alloc_realloc(blk[k], n ? n : 1);
				if (!q) {
					bad++;
					continue;
				}
				blk[k] = q;
				len[k] = len[k] < n ? len[k] : n;
				fill(blk[k], len[k] < 64 ? len[k] : 64, k);
				continue;
			}
			mp_alloc_free(blk[k]);
			blk[k] = NULL;
		} else {
			len[k] = pick();
			blk[k] = rnd() % 16 == 0 ? mp_alloc_memalign(64, len[k]) : mp_alloc_malloc(len[k]);
			if (!blk[k] || mp_alloc_usable(blk[k]) < len[k]) {
				bad++;
				continue;
			}
			fill(blk[k], len[k] < 64 ? len[k] : 64, k);
		}
	}
	CHECK_INT(bad, 0);
	CHECK_INT(mp_alloc_check(), 0);
	/* The walker finds a broken invariant (what -Ddebug_checks=full relies
	 * on): a free-page count off by one, then mended. */
	mp_heap.free_pages++;
	CHECK(mp_alloc_check() < 0);
	mp_heap.free_pages--;
	CHECK_INT(mp_alloc_check(), 0);

	struct mp_alloc_stats st;
	mp_alloc_stats(&st);
	uint64_t live = 0;
	for (int k = 0; k < N; k++)
		live += blk[k] != NULL;
	CHECK(st.mallocs >= st.frees);
	CHECK(st.heap_inuse >= st.heap_alloc);
	CHECK_U64(st.heap_sys, st.heap_inuse + st.heap_idle);
	for (int k = 0; k < N; k++) {
		if (blk[k])
			mp_alloc_free(blk[k]);
		blk[k] = NULL;
	}
	struct mp_alloc_stats st2;
	mp_alloc_stats(&st2);
	CHECK_U64(st2.mallocs - st2.frees, 0);
	CHECK_U64(st2.heap_alloc, 0);
	(void)live;

	/* Sampling marks: set, take once, then gone. */
	void *s = mp_alloc_malloc(40), *big = mp_alloc_malloc(100000);
	uint64_t b = 0;
	CHECK_INT(mp_alloc_set_sample(s, 41), 0);
	CHECK_INT(mp_alloc_set_sample(big, 0x123456789abcdef0ull), 0);
	CHECK_INT(mp_alloc_take_sample(s, &b), 1);
	CHECK_U64(b, 41);
	CHECK_INT(mp_alloc_take_sample(s, &b), 0);
	CHECK_INT(mp_alloc_take_sample(big, &b), 1);
	CHECK_U64(b, 0x123456789abcdef0ull);   /* all 64 bits of the tag */
	mp_alloc_free(s);
	mp_alloc_free(big);
	CHECK_INT(mp_alloc_check(), 0);
}

static uint32_t freed_buckets[8];
static uint64_t freed_early[8];
static uint32_t early_calls;
static void on_free(uint64_t b, uint64_t early)
{
	if (b < 8) {
		__atomic_fetch_add(&freed_buckets[b], 1, __ATOMIC_RELAXED);
		freed_early[b] = early;
	}
}

static uint64_t on_free_early(void)
{
	return 1000 + __atomic_add_fetch(&early_calls, 1, __ATOMIC_RELAXED);
}

static void test_sampled_free(void)
{
	mp_alloc_on_sampled_free(on_free, NULL);
	void *p = mp_alloc_malloc(24), *q = mp_alloc_malloc(24), *big = mp_alloc_malloc(50000);
	mp_alloc_set_sample(p, 3);
	mp_alloc_set_sample(big, 5);
	mp_alloc_free(q);   /* same span, not sampled: no credit */
	mp_alloc_free(p);
	mp_alloc_free(big);
	CHECK_INT(freed_buckets[3], 1);
	CHECK_INT(freed_buckets[5], 1);
	CHECK_INT(freed_buckets[0], 0);
	CHECK_U64(freed_early[3], 0);   /* no early function: 0 */

	/* With one: called before the lookup of every free in a span that
	 * may hold sampled blocks (q's too), and its value handed to fn; a
	 * large block's free does not call it (0). */
	mp_alloc_on_sampled_free(on_free, on_free_early);
	p = mp_alloc_malloc(24);
	q = mp_alloc_malloc(24);
	big = mp_alloc_malloc(50000);
	mp_alloc_set_sample(p, 4);
	mp_alloc_set_sample(big, 6);
	mp_alloc_free(q);
	mp_alloc_free(p);
	mp_alloc_free(big);
	CHECK_INT(freed_buckets[4], 1);
	CHECK_INT(freed_buckets[6], 1);
	CHECK_INT(early_calls, 2);
	CHECK_U64(freed_early[4], 1002);
	CHECK_U64(freed_early[6], 0);
	mp_alloc_on_sampled_free(NULL, NULL);
}

/* ---- threads: cross-thread frees and thread exit ---- */

#define NT 4
#define QN 4096
static void *queue[NT][QN];

static void *worker(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg;
	uint64_t s = 0x9e3779b97f4a7c15ull * (id + 1);
	int bad = 0;
	for (int round = 0; round < 40; round++) {
		/* Fill my slots of the next thread's queue... */
		for (int i = 0; i < QN; i++) {
			s ^= s << 13; s ^= s >> 7; s ^= s << 17;
			size_t n = 1 + s % (s % 16 == 0 ? 70000 : 600);
			unsigned char *p = mp_alloc_malloc(n);
			if (!p) {
				bad++;
				continue;
			}
			p[0] = (unsigned char)id;
			p[n - 1] = (unsigned char)id;
			void *old = __atomic_exchange_n(&queue[(id + 1) % NT][i], p, __ATOMIC_ACQ_REL);
			if (old)
				mp_alloc_free(old);   /* a block another thread made */
		}
	}
	return (void *)(uintptr_t)bad;
}

static void *short_lived(void *arg)
{
	/* Allocate, leave blocks behind, exit: the key destructor flushes. */
	void **out = arg;
	for (int i = 0; i < 1000; i++)
		out[i] = mp_alloc_malloc(16 + (size_t)i % 200);
	return NULL;
}

static void test_threads(void)
{
	pthread_t t[NT];
	for (unsigned i = 0; i < NT; i++)
		pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)i);
	uintptr_t bad = 0;
	for (unsigned i = 0; i < NT; i++) {
		void *r;
		pthread_join(t[i], &r);
		bad += (uintptr_t)r;
	}
	CHECK_INT(bad, 0);
	for (unsigned i = 0; i < NT; i++)
		for (int k = 0; k < QN; k++)
			if (queue[i][k]) {
				mp_alloc_free(queue[i][k]);
				queue[i][k] = NULL;
			}
	static void *left[1000];
	pthread_t s;
	pthread_create(&s, NULL, short_lived, left);
	pthread_join(s, NULL);
	for (int i = 0; i < 1000; i++)
		mp_alloc_free(left[i]);
	CHECK_INT(mp_alloc_check(), 0);
	struct mp_alloc_stats st;
	mp_alloc_stats(&st);
	CHECK_U64(st.mallocs - st.frees, 0);
	CHECK_U64(st.heap_alloc, 0);
}
/* A thread has no cache until its first malloc; then a live one of its own
 * that serves the next malloc and free of the class from its list; after
 * the thread exits, the next new thread gets that same cache back. */
struct tc_probe {
	struct mp_tcache *before, *after;
	int state;
	uint32_t count_after_free, count_after_malloc;
};

static void *tc_probe(void *arg)
{
	struct tc_probe *pr = arg;
	pr->before = mp_tc_self();
	void *a = mp_alloc_malloc(40), *b = mp_alloc_malloc(40);
	pr->after = mp_tc_self();
	pr->state = pr->after->state;
	mp_alloc_free(a);
	pr->count_after_free = pr->after->l[mp_size_class(40)].count;
	a = mp_alloc_malloc(40);
	pr->count_after_malloc = pr->after->l[mp_size_class(40)].count;
	mp_alloc_free(a);
	mp_alloc_free(b);
	return NULL;
}

static void test_thread_caches(void)
{
	struct tc_probe p1 = { 0 }, p2 = { 0 };
	pthread_t t;
	pthread_create(&t, NULL, tc_probe, &p1);
	pthread_join(t, NULL);
	CHECK(p1.before == &mp_tc_none);
	CHECK(p1.after != &mp_tc_none);
	CHECK_INT(p1.state, MP_TC_LIVE);
	CHECK_INT(p1.count_after_malloc + 1, p1.count_after_free);
	pthread_create(&t, NULL, tc_probe, &p2);
	pthread_join(t, NULL);
	CHECK(p2.before == &mp_tc_none);
	CHECK(p2.after == p1.after);            /* the spare cache, reused */
	CHECK_INT(p2.state, MP_TC_LIVE);
	CHECK_INT(mp_alloc_check(), 0);
}

/*
 * The free-list link is the only word the allocator writes into blocks: a
 * block handed out again must not carry it (the leak scan would follow it),
 * nor may the pages of a span given back to the page heap.
 */
static void test_no_links_left(void)
{
	void *a = mp_alloc_malloc(32), *b = mp_alloc_malloc(32);
	mp_alloc_free(b);
	mp_alloc_free(a);                       /* a's first word links to b */
	void *p = mp_alloc_malloc(32);
	CHECK(p == a);
	CHECK(*(void **)p == NULL);
	void *q = mp_alloc_malloc(32);
	CHECK(q == b);
	mp_alloc_free(q);
	mp_alloc_free(p);

	/* Whole spans taken and given back: the blocks of every span that went
	 * back to the page heap (spans still partly in use keep the links of
	 * their free blocks, which the scan never reads). */
	unsigned c = mp_size_class(3000);
	uint32_t n = 3 * mp_classes[c].nobjs;
	static void *blocks[4096];
	CHECK(n != mp_classes[c].batch && n <= 4096);
	void *head = NULL;
	CHECK_INT(mp_central_get(c, n, &head), n);
	uint32_t k = 0;
	for (void *x = head; x && k < n; x = *(void **)x)
		blocks[k++] = x;
	mp_central_put(c, head, n);
	int links = 0, freed = 0;
	for (uint32_t i = 0; i < k; i++) {
		const struct mp_span *sp = mp_heap_span_of(blocks[i]);
		if (sp && sp->state == MP_SPAN_SMALL)
			continue;
		freed++;
		links += *(void **)blocks[i] != NULL;
	}
	CHECK(freed >= (int)mp_classes[c].nobjs);
	CHECK_INT(links, 0);
	CHECK_INT(mp_alloc_check(), 0);
}

int main(void)
{
	test_sizeclasses();
	test_pageheap();
	test_api();
	test_sampled_free();
	test_threads();
	test_thread_caches();
	test_no_links_left();
	return tap_done();
}
