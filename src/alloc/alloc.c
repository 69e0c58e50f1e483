/* SPDX-License-Identifier: MIT */
/*
 * Thread caches, the malloc-family entry points of the own allocator, its
 * statistics and fork handling (see alloc.h).  In the target: never calls
 * another allocator, never prints; slow paths take our own mutexes only.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>

#include "alloc/alloc.h"
#include "alloc/central.h"
#include "base/lock.h"

int mp_alloc_slack_used;
struct mp_tcache mp_tc_none = { .state = MP_TC_NEW };
static struct mp_tcache mp_tc_dead = { .state = MP_TC_DEAD };
/* The cache of a thread inside a program's signal handler (below). */
static struct mp_tcache mp_tc_sig = { .state = MP_TC_SIGNAL };
MP_TLS uintptr_t mp_tc_off;
static MP_TLS void *deferred;       /* blocks freed in no-wait mode (below) */
static int signal_fixup(void);
static void drain_deferred(void);
static void defer_free(void *p);

static void tc_set_self(struct mp_tcache *tc)
{
	mp_tc_off = (uintptr_t)tc - (uintptr_t)&mp_tc_none;
}

#define ARENA_MAX ((size_t)256 << 30)

enum { INIT_NONE, INIT_BUSY, INIT_DONE, INIT_FAILED };

static struct {
	int init;                     /* INIT_*, atomic */
	pthread_key_t key;            /* its destructor flushes an exiting thread's cache */
	pthread_mutex_t reg_lock;     /* registry of live caches, spare caches */
	struct mp_tcache *reg;
	struct mp_tcache *spare;      /* flushed by their thread's exit, linked by next */
	/* counts of exited threads and of dead caches (atomic) */
	uint64_t dead_mallocs[MP_NCLASS], dead_frees[MP_NCLASS];
	void (*on_sampled_free)(uint64_t tag, uint64_t early);
	uint64_t (*sampled_free_early)(void);
	void (*on_watched_free)(void *p);
} g = { .reg_lock = PTHREAD_MUTEX_INITIALIZER };

static MP_TLS int initializing;

static void tc_exit(void *arg);

int mp_alloc_init(void)
{
	int s = __atomic_load_n(&g.init, __ATOMIC_ACQUIRE);
	if (MP_LIKELY(s == INIT_DONE))
		return 0;
	if (s == INIT_FAILED || initializing)
		return -ENOMEM;   /* a signal handler re-entered our own init */
	int expect = INIT_NONE;
	if (__atomic_compare_exchange_n(&g.init, &expect, INIT_BUSY, 0, __ATOMIC_ACQ_REL,
					__ATOMIC_ACQUIRE)) {
		initializing = 1;
		mp_sizeclass_init();
		mp_central_init();
		int r = mp_heap_init(ARENA_MAX);
		if (r == 0 && pthread_key_create(&g.key, tc_exit) != 0)
			r = -ENOMEM;   /* the arena stays, unused: malloc fails over to ENOMEM */
		initializing = 0;
		__atomic_store_n(&g.init, r == 0 ? INIT_DONE : INIT_FAILED, __ATOMIC_RELEASE);
		return r;
	}
	/* Another thread is at it; it only maps memory, so this is short. */
	while ((s = __atomic_load_n(&g.init, __ATOMIC_ACQUIRE)) == INIT_BUSY)
		sched_yield();
	return s == INIT_DONE ? 0 : -ENOMEM;
}

void mp_alloc_on_sampled_free(void (*fn)(uint64_t tag, uint64_t early), uint64_t (*early)(void))
{
	__atomic_store_n(&g.sampled_free_early, early, __ATOMIC_RELEASE);
	__atomic_store_n(&g.on_sampled_free, fn, __ATOMIC_RELEASE);
}

void mp_alloc_on_watched_free(void (*fn)(void *p))
{
	__atomic_store_n(&g.on_watched_free, fn, __ATOMIC_RELEASE);
}

static void watched_free(void *p)
{
	void (*fn)(void *) = __atomic_load_n(&g.on_watched_free, __ATOMIC_ACQUIRE);
	if (fn)
		fn(p);
}

/* ---- thread caches ---- */

/* This thread's first cache: a spare one (left clean by its thread's exit)
 * or a fresh one (zeroed pages).  Without memory for one, the thread works
 * through the central lists as if it had exited. */
static struct mp_tcache *tc_setup(void)
{
	mp_lock(&g.reg_lock);
	struct mp_tcache *tc = g.spare;
	if (tc)
		g.spare = tc->next;
	mp_unlock(&g.reg_lock);
	if (!tc)
		tc = mp_meta_alloc(sizeof(*tc));
	if (!tc) {
		tc_set_self(&mp_tc_dead);
		return &mp_tc_dead;
	}
	for (unsigned c = 1; c < MP_NCLASS; c++)
		tc->l[c].max = mp_classes[c].batch + mp_classes[c].batch / 2;
	tc->state = MP_TC_LIVE;
	mp_lock(&g.reg_lock);
	tc->prev = NULL;
	tc->next = g.reg;
	if (g.reg)
		g.reg->prev = tc;
	g.reg = tc;
	mp_unlock(&g.reg_lock);
	tc_set_self(tc);
	pthread_setspecific(g.key, tc);
	return tc;
}

/* Give back `n` blocks from the head of list l of class c. */
static void tc_release(struct mp_tlist *l, unsigned c, uint32_t n)
{
	if (MP_UNLIKELY(deferred))
		drain_deferred();   /* a live cache: outside any handler */
	void *head = l->head, **link = &l->head;
	uint32_t k = 0;
	void *p = head;
	while (k < n && p) {
		link = (void **)p;
		p = *link;
		k++;
	}
	l->head = p;
	l->count -= k;
	*link = NULL;
	mp_central_put(c, head, k);
}

/* Thread exit: flush, count, unregister; later calls on this thread go to
 * the central lists directly. */
static void tc_exit(void *arg)
{
	struct mp_tcache *tc = arg;
	/* Outside any handler now: forget those left by a longjmp, give back
	 * what they freed. */
	if (mp_tc_self()->state == MP_TC_SIGNAL)
		signal_fixup();
	if (deferred && mp_tc_self()->state != MP_TC_SIGNAL)
		drain_deferred();
	if (tc != mp_tc_self() || tc->state != MP_TC_LIVE)
		return;
	for (unsigned c = 1; c < MP_NCLASS; c++) {
		struct mp_tlist *l = &tc->l[c];
		while (l->count > 0)
			tc_release(l, c, mp_classes[c].batch);
		l->max = 0;
	}
	mp_lock(&g.reg_lock);
	for (unsigned c = 1; c < MP_NCLASS; c++) {
		/* Most classes are untouched by a short thread: no locked add. */
		if (tc->l[c].nmalloc)
			__atomic_fetch_add(&g.dead_mallocs[c], tc->l[c].nmalloc, __ATOMIC_RELAXED);
		if (tc->l[c].nfree)
			__atomic_fetch_add(&g.dead_frees[c], tc->l[c].nfree, __ATOMIC_RELAXED);
		tc->l[c].nmalloc = tc->l[c].nfree = 0;
	}
	if (tc->prev)
		tc->prev->next = tc->next;
	else
		g.reg = tc->next;
	if (tc->next)
		tc->next->prev = tc->prev;
	/* Empty lists, zero counts: ready for the next thread as it is. */
	tc->state = MP_TC_NEW;
	tc->prev = NULL;
	tc->next = g.spare;
	g.spare = tc;
	mp_unlock(&g.reg_lock);
	tc_set_self(&mp_tc_dead);
}

/* ---- large blocks ---- */

static void *large_alloc(size_t n, size_t align, int *ret_zeroed)
{
	if (n > mp_heap.size) {
		errno = ENOMEM;
		return NULL;
	}
	size_t npages = (n + MP_PAGE_SIZE - 1) >> MP_PAGE_SHIFT;
	size_t apages = align > MP_PAGE_SIZE ? align >> MP_PAGE_SHIFT : 1;
	if (npages == 0)
		npages = 1;
	if (mp_lock(&mp_heap.lock) < 0) {
		errno = ENOMEM;   /* no-wait mode (lock.h) */
		return NULL;
	}
	struct mp_span *s = mp_heap_alloc_locked(npages, apages, MP_SPAN_LARGE, 0);
	/* The block's address before the lock goes: a leak scan while the
	 * program runs (leakscan.h) finds it in a register from here on. */
	void *p = s ? (void *)s->start : NULL;
	if (s) {
		s->large_size = n;
		mp_heap.large_nmalloc++;
		mp_heap.large_bytes += (uint64_t)s->npages * MP_PAGE_SIZE;
		if (ret_zeroed)
			*ret_zeroed = s->zeroed;
	}
	mp_unlock(&mp_heap.lock);
	if (!p)
		errno = ENOMEM;
	return p;
}

/* The live large span starting at p, or NULL (not a block of ours).
 * Under mp_heap.lock. */
static struct mp_span *large_span_locked(const void *p)
{
	struct mp_span *s = mp_heap_span_of(p);
	if (!s || s->state != MP_SPAN_LARGE || s->start != (uintptr_t)p)
		return NULL;
	return s;
}

static void large_free_as(void *p, int released)
{
	uint64_t tag = 0;
	watched_free(p);   /* every large free comes here, realloc's moves too */
	mp_lock(&mp_heap.lock);
	struct mp_span *s = large_span_locked(p);
	if (s) {
		tag = __atomic_exchange_n(&s->tag, 0, __ATOMIC_ACQ_REL);
		mp_heap.large_nfree++;
		mp_heap.large_bytes -= (uint64_t)s->npages * MP_PAGE_SIZE;
		if (released)
			mp_heap_free_released_locked(s);
		else
			mp_heap_free_locked(s);
	}
	mp_unlock(&mp_heap.lock);
	void (*fn)(uint64_t, uint64_t) = __atomic_load_n(&g.on_sampled_free, __ATOMIC_ACQUIRE);
	if (tag && fn)
		fn(tag, 0);
}

static void large_free(void *p)
{
	if (MP_UNLIKELY(mp_tc_self()->state == MP_TC_SIGNAL) && signal_fixup() && mp_lock_nowait) {
		defer_free(p);
		return;
	}
	large_free_as(p, 0);
}

/*
 * Moving a large block: copy it in chunks and give each copied chunk of the
 * old block back to the OS at once, so the move never holds both whole
 * blocks in memory (glibc moves big blocks with mremap, which copies nothing;
 * without this a growing buffer of n bytes briefly costs 2n).
 */
#define MOVE_CHUNK ((size_t)256 << 10)

static void move_large(void *q, void *p, size_t copy, size_t old)
{
	size_t off = 0;
	for (; off + MOVE_CHUNK <= copy; off += MOVE_CHUNK) {
		memcpy((char *)q + off, (char *)p + off, MOVE_CHUNK);
		madvise((char *)p + off, MOVE_CHUNK, MADV_DONTNEED);
	}
	memcpy((char *)q + off, (char *)p + off, copy - off);
	madvise((char *)p + off, old - off, MADV_DONTNEED);
	large_free_as(p, 1);
}

/* ---- small blocks ---- */

/* ---- signal handlers ----
 *
 * While a program's signal handler runs (shim/signals.c calls enter and
 * leave around it), its thread's cache pointer is the empty mp_tc_sig: the
 * fast paths, unchanged, find nothing there and take the slow path, so the
 * handler never touches the thread's own cache, which the code it
 * interrupted may be halfway through changing (a pop between reading the
 * head and storing the next).  The slow paths then serve it from the
 * central lists directly, and in no-wait mode (lock.h) without waiting for
 * a lock: a small block from the first class at least as large whose lock
 * is free, and frees deferred to a per-thread list that the thread's next
 * slow path outside a handler gives back.
 *
 * A handler left by siglongjmp (or an exception) never reaches leave: the
 * frames recorded at enter tell the slow path which handlers are gone (the
 * stack pointer is above their frame), and it puts back the state from
 * before them.  A handler on an alternate stack below the thread's stack
 * that is left that way keeps the thread on the slow path until its next
 * handler returns: slower, never wrong.
 */
#define SIG_FRAMES 8

static MP_TLS struct {
	uintptr_t sp, off;
	int nowait;
} sig_frames[SIG_FRAMES];
static MP_TLS unsigned sig_depth;

void mp_alloc_signal_enter(struct mp_alloc_sigframe *f, uintptr_t sp)
{
	f->off = mp_tc_off;
	f->nowait = mp_lock_nowait;
	f->depth = sig_depth;
	if (sig_depth < SIG_FRAMES) {
		sig_frames[sig_depth].sp = sp;
		sig_frames[sig_depth].off = f->off;
		sig_frames[sig_depth].nowait = f->nowait;
	}
	sig_depth = f->depth + 1;
	/* Each store below is one instruction: a handler nested between
	 * them saves and restores a consistent pair. */
	mp_lock_nowait = f->nowait || mp_lock_held > 0;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	tc_set_self(&mp_tc_sig);
}

void mp_alloc_signal_leave(const struct mp_alloc_sigframe *f)
{
	tc_set_self((struct mp_tcache *)((uintptr_t)&mp_tc_none + f->off));
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	mp_lock_nowait = f->nowait;
	sig_depth = f->depth;
}

/* Forget the handlers this thread has left without returning (above).
 * Whether it is still in one afterwards. */
static MP_NOINLINE int signal_fixup(void)
{
	uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
	while (sig_depth > 0 && sig_depth <= SIG_FRAMES && sp > sig_frames[sig_depth - 1].sp) {
		sig_depth--;
		mp_lock_nowait = sig_frames[sig_depth].nowait;
		tc_set_self((struct mp_tcache *)((uintptr_t)&mp_tc_none + sig_frames[sig_depth].off));
	}
	return mp_tc_self()->state == MP_TC_SIGNAL;
}

/* Push a block freed in no-wait mode.  Only this thread pushes (a nested
 * handler may, between our read and our swap: the compare-and-swap
 * retries) and only this thread, outside handlers, takes the whole list. */
static void defer_free(void *p)
{
	void *head = __atomic_load_n(&deferred, __ATOMIC_RELAXED);
	do
		*(void **)p = head;
	while (!__atomic_compare_exchange_n(&deferred, &head, p, 1, __ATOMIC_RELAXED,
					    __ATOMIC_RELAXED));
}

static MP_NOINLINE void drain_deferred(void)
{
	void *p = __atomic_exchange_n(&deferred, NULL, __ATOMIC_ACQUIRE);
	while (p) {
		void *next = *(void **)p;
		mp_alloc_free(p);
		p = next;
	}
}

/* A small block of class c or larger in a handler (see above). */
static void *signal_alloc(unsigned c)
{
	void *p;
	for (unsigned k = c; k < MP_NCLASS; k++) {
		if (mp_central_get(k, 1, &p) == 1) {
			__atomic_fetch_add(&g.dead_mallocs[k], 1, __ATOMIC_RELAXED);
			return p;
		}
		if (!mp_lock_nowait)
			break;        /* it could wait: the heap is out of memory */
	}
	errno = ENOMEM;
	return NULL;
}

static void *small_alloc(unsigned c)
{
	struct mp_tcache *tc = mp_tc_self();
	if (MP_UNLIKELY(tc->state != MP_TC_LIVE)) {
		if (tc->state == MP_TC_SIGNAL) {
			if (signal_fixup())
				return signal_alloc(c);
			tc = mp_tc_self();
		}
		if (tc->state == MP_TC_NEW)
			tc = tc_setup();
		if (tc->state != MP_TC_LIVE) {
			void *p;
			if (mp_central_get(c, 1, &p) != 1) {
				errno = ENOMEM;
				return NULL;
			}
			__atomic_fetch_add(&g.dead_mallocs[c], 1, __ATOMIC_RELAXED);
			return p;
		}
	}
	struct mp_tlist *l = &tc->l[c];
	if (!l->head) {
		/* Slow start: a thread's first refills of a class take 4 blocks,
		 * then as many as it has had (4, 8, 16, ...), up to the batch.
		 * Taking a batch links its blocks, which writes a word into each
		 * and so touches every page they cover (up to 8 KiB), whether
		 * the program uses them or not: a short process uses many
		 * classes a few times each.  gcc's cc1 on a one-line file:
		 * 1,728 -> 1,684 page faults (native 1,321), RSS 26.4 -> 25.8
		 * MB; 30 such compiles under the shim, CPU 1.154 -> 1.116 of
		 * native (medians of 10 shuffled runs).  A long-running
		 * program makes five more trips to the central list per class. */
		uint32_t want = mp_classes[c].batch;
		if (l->nmalloc < want)
			want = l->nmalloc < 4 ? (want < 4 ? want : 4) : (uint32_t)l->nmalloc;
		l->count = mp_central_get(c, want, &l->head);
		if (!l->count) {
			errno = ENOMEM;
			return NULL;
		}
	}
	void *p = l->head;
	l->head = *(void **)p;
	/* The free-list link is the one word memprof writes into the program's
	 * blocks.  Left in a live block the program never fully writes, it
	 * would point at another block and keep it reachable in the leak
	 * scan (memcheck ignores such never-written words; we cannot tell
	 * them apart): cleared, here and on the fast path (alloc.h). */
	*(void **)p = NULL;
	l->count--;
	l->nmalloc++;
	return p;
}

static void small_free(void *p, unsigned c)
{
	struct mp_tcache *tc = mp_tc_self();
	if (MP_UNLIKELY(tc->state != MP_TC_LIVE)) {
		if (tc->state == MP_TC_SIGNAL) {
			if (signal_fixup()) {
				if (mp_lock_nowait) {
					defer_free(p);
					return;
				}
			}
			tc = mp_tc_self();
		}
		if (tc->state == MP_TC_NEW)
			tc = tc_setup();
		/* MP_TC_SIGNAL (a handler that may wait), MP_TC_DEAD: */
		if (tc->state != MP_TC_LIVE) {
			*(void **)p = NULL;
			mp_central_put(c, p, 1);
			__atomic_fetch_add(&g.dead_frees[c], 1, __ATOMIC_RELAXED);
			return;
		}
	}
	struct mp_tlist *l = &tc->l[c];
	*(void **)p = l->head;
	l->head = p;
	l->count++;
	l->nfree++;
	if (l->count > l->max)
		tc_release(l, c, mp_classes[c].batch);
}

MP_NOINLINE MP_COLD void *mp_alloc_malloc_slow(size_t n)
{
	if (MP_UNLIKELY(mp_alloc_init() < 0)) {
		errno = ENOMEM;
		return NULL;
	}
	if (MP_UNLIKELY(deferred) && mp_tc_self()->state != MP_TC_SIGNAL)
		drain_deferred();
	if (n > MP_MAX_SMALL)
		return large_alloc(n, 0, NULL);
	return small_alloc(mp_size_class(n));
}

static inline uint64_t take_tag(void *p);

MP_NOINLINE MP_COLD void mp_alloc_free_slow(void *p, unsigned c)
{
	if (c & MP_CLASSMAP_SAMPLED) {
		uint64_t (*early)(void) = __atomic_load_n(&g.sampled_free_early, __ATOMIC_ACQUIRE);
		uint64_t e = early ? early() : 0;
		void (*fn)(uint64_t, uint64_t) = __atomic_load_n(&g.on_sampled_free, __ATOMIC_ACQUIRE);
		uint64_t tag = take_tag(p);
		if (tag && fn)
			fn(tag, e);
		watched_free(p);
	}
	c &= MP_CLASSMAP_CLASS;
	if (c == 0)
		large_free(p);
	else
		small_free(p, c);
}

void *mp_alloc_calloc(size_t total)
{
	if (total > MP_MAX_SMALL) {
		if (mp_alloc_init() < 0) {
			errno = ENOMEM;
			return NULL;
		}
		int zeroed = 0;
		void *p = large_alloc(total, 0, &zeroed);
		if (p && !zeroed)
			memset(p, 0, total);
		return p;
	}
	void *p = mp_alloc_malloc(total);
	if (p)
		memset(p, 0, total);
	return p;
}

void *mp_alloc_memalign(size_t align, size_t n)
{
	if (align <= 16)
		return mp_alloc_malloc(n);
	if (mp_alloc_init() < 0) {
		errno = ENOMEM;
		return NULL;
	}
	if (n <= MP_MAX_SMALL && align <= MP_PAGE_SIZE) {
		/* A class whose size is a multiple of align has align-aligned
		 * blocks, since spans start on page boundaries. */
		for (unsigned c = mp_size_class(n); c < MP_NCLASS; c++)
			if (mp_classes[c].size % align == 0)
				return small_alloc(c);
	}
	if (n > SIZE_MAX - align) {
		errno = ENOMEM;
		return NULL;
	}
	return large_alloc(n ? n : 1, align, NULL);
}

size_t mp_alloc_usable(const void *p)
{
	if (!mp_heap_owns(p))
		return 0;
	unsigned c = __atomic_load_n(&mp_heap.classmap[((uintptr_t)p - mp_heap.base) >> MP_PAGE_SHIFT],
				     __ATOMIC_RELAXED) & MP_CLASSMAP_CLASS;
	if (c)
		return mp_classes[c].size;
	if (mp_lock(&mp_heap.lock) < 0) {
		/* No-wait mode (lock.h): read without the lock; only a free of
		 * this very block could change it, and that would be the
		 * program's bug. */
		struct mp_span *s = large_span_locked(p);
		return s ? (size_t)__atomic_load_n(&s->npages, __ATOMIC_RELAXED) * MP_PAGE_SIZE : 0;
	}
	struct mp_span *s = large_span_locked(p);
	size_t n = s ? (size_t)s->npages * MP_PAGE_SIZE : 0;
	mp_unlock(&mp_heap.lock);
	return n;
}

void *mp_alloc_realloc(void *p, size_t n)
{
	size_t old = mp_alloc_usable(p);
	if (old == 0)
		return NULL;       /* not a live block of ours: nothing sane to do */
	if (old <= MP_MAX_SMALL) {
		/* Same class, or shrinking by less than half: keep it. */
		if (n <= old && (n > old / 2 || old <= 64))
			return p;
	} else if (n > MP_MAX_SMALL && n <= mp_heap.size) {
		size_t npages = (n + MP_PAGE_SIZE - 1) >> MP_PAGE_SHIFT;
		int r = mp_lock(&mp_heap.lock);
		if (r == 0) {
			struct mp_span *s = large_span_locked(p);
			size_t before = s ? s->npages : 0;
			r = s ? mp_heap_resize_locked(s, npages) : -ENOMEM;
			if (r == 0) {
				s->large_size = n;
				mp_heap.large_bytes += ((uint64_t)s->npages - before) * MP_PAGE_SIZE;
			}
			mp_unlock(&mp_heap.lock);
		}
		if (r == 0)
			return p;
	}
	void *q = mp_alloc_malloc(n);
	if (!q)
		return NULL;
	if (old >= 4 * MOVE_CHUNK && n > MP_MAX_SMALL && !mp_lock_nowait) {
		move_large(q, p, n < old ? n : old, old);
		return q;
	}
	memcpy(q, p, n < old ? n : old);
	mp_alloc_free(p);
	return q;
}

/* ---- sampling marks ---- */

/* The frees in small span s take the slow path, which looks for tags.
 * The bits stay set while the span is in use: once they all are, the
 * span says so (s->marked, read by mp_alloc_mark_set). */
MP_NOINLINE void mp_alloc_mark_pages(struct mp_span *s)
{
	size_t first = ((uintptr_t)s->start - mp_heap.base) >> MP_PAGE_SHIFT;
	for (uint32_t k = 0; k < s->npages; k++)
		if (!(__atomic_load_n(&mp_heap.classmap[first + k], __ATOMIC_RELAXED) &
		      MP_CLASSMAP_SAMPLED))
			__atomic_fetch_or(&mp_heap.classmap[first + k], MP_CLASSMAP_SAMPLED,
					  __ATOMIC_RELEASE);
	__atomic_store_n(&s->marked, 1, __ATOMIC_RELEASE);
}

int mp_alloc_set_sample(void *p, uint64_t tag)
{
	struct mp_span *s = mp_heap_span_of(p);
	if (!s)
		return -EINVAL;
	if (s->state == MP_SPAN_LARGE) {
		__atomic_store_n(&s->tag, tag, __ATOMIC_RELEASE);
		return 0;
	}
	unsigned c = s->cls;
	const struct mp_sizeclass *sc = &mp_classes[c];
	uint64_t *arr = __atomic_load_n(&s->tags, __ATOMIC_ACQUIRE);
	if (!arr) {
		uint64_t *fresh = mp_meta_alloc((size_t)sc->nobjs * sizeof(uint64_t));
		if (!fresh)
			return -ENOMEM;
		if (__atomic_compare_exchange_n(&s->tags, &arr, fresh, 0, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			arr = fresh;
		else
			mp_meta_free(fresh, (size_t)sc->nobjs * sizeof(uint64_t));
	}
	uint32_t i = mp_class_index(c, (uintptr_t)p - s->start);
	__atomic_store_n(&arr[i], tag, __ATOMIC_RELEASE);
	mp_alloc_mark_pages(s);
	return 0;
}

void mp_alloc_watch(const void *p)
{
	struct mp_span *s = mp_heap_owns(p) ? mp_heap_span_of(p) : NULL;
	if (!s || s->state != MP_SPAN_SMALL)
		return;   /* a large block's free always takes the slow path */
	size_t first = ((uintptr_t)s->start - mp_heap.base) >> MP_PAGE_SHIFT;
	for (uint32_t k = 0; k < s->npages; k++)
		__atomic_fetch_or(&mp_heap.classmap[first + k], MP_CLASSMAP_SAMPLED, __ATOMIC_RELEASE);
}

/* The tag of block p (ours, live) taken back, or 0: not sampled.  Inline
 * in mp_alloc_free_slow, which runs for every free at --rate 1. */
static inline uint64_t take_tag(void *p)
{
	struct mp_span *s = mp_heap_span_of(p);
	uint64_t tag;
	if (!s)
		return 0;
	if (s->state == MP_SPAN_LARGE) {
		if (s->start != (uintptr_t)p)
			return 0;
		tag = __atomic_exchange_n(&s->tag, 0, __ATOMIC_ACQ_REL);
	} else if (s->state == MP_SPAN_SMALL) {
		uint64_t *arr = __atomic_load_n(&s->tags, __ATOMIC_ACQUIRE);
		if (!arr)
			return 0;
		/* Only the one free of a live block clears its entry: no
		 * read-modify-write needed (this runs on every free at rate 1). */
		uint64_t *e = &arr[mp_class_index(s->cls, (uintptr_t)p - s->start)];
		tag = __atomic_load_n(e, __ATOMIC_ACQUIRE);
		if (tag)
			__atomic_store_n(e, 0, __ATOMIC_RELAXED);
	} else
		return 0;
	return tag;
}

int mp_alloc_take_sample(void *p, uint64_t *ret_tag)
{
	uint64_t tag = take_tag(p);
	if (!tag)
		return 0;
	*ret_tag = tag;
	return 1;
}

/* ---- fork ---- */

void mp_alloc_atfork_prepare(void)
{
	mp_lock(&g.reg_lock);
	mp_central_lock_all();
	mp_lock(&mp_heap.lock);
}

void mp_alloc_atfork_parent(void)
{
	mp_unlock(&mp_heap.lock);
	mp_central_unlock_all();
	mp_unlock(&g.reg_lock);
}

void mp_alloc_atfork_child(void)
{
	/* Only this thread exists now: the caches of the others are gone
	 * (their blocks stay counted as in use, which is what they are to a
	 * heap that can no longer reach them). */
	struct mp_tcache *me = mp_tc_self();
	for (struct mp_tcache *t = g.reg; t; t = t->next) {
		if (t == me)
			continue;
		for (unsigned c = 1; c < MP_NCLASS; c++) {
			g.dead_mallocs[c] += t->l[c].nmalloc;
			g.dead_frees[c] += t->l[c].nfree;
		}
	}
	g.reg = NULL;
	if (me->state == MP_TC_LIVE) {
		me->prev = me->next = NULL;
		g.reg = me;
	}
	mp_unlock(&mp_heap.lock);
	mp_central_unlock_all();
	mp_unlock(&g.reg_lock);
}

/* Leak scan (leak.c): every block in a thread cache, world stopped. */
void mp_alloc_foreach_cached(void (*fn)(void *block, void *ctx), void *ctx)
{
	for (struct mp_tcache *t = g.reg; t; t = t->next)
		for (unsigned c = 1; c < MP_NCLASS; c++)
			for (void *p = t->l[c].head; p; p = *(void **)p)
				fn(p, ctx);
}

/* ---- statistics and checks ---- */

void mp_alloc_stats(struct mp_alloc_stats *ret)
{
	struct mp_alloc_stats st;
	memset(&st, 0, sizeof(st));
	mp_lock(&g.reg_lock);
	for (unsigned c = 1; c < MP_NCLASS; c++) {
		st.class_mallocs[c] = __atomic_load_n(&g.dead_mallocs[c], __ATOMIC_RELAXED);
		st.class_frees[c] = __atomic_load_n(&g.dead_frees[c], __ATOMIC_RELAXED);
	}
	for (struct mp_tcache *t = g.reg; t; t = t->next)
		for (unsigned c = 1; c < MP_NCLASS; c++) {
			st.class_mallocs[c] += __atomic_load_n(&t->l[c].nmalloc, __ATOMIC_RELAXED);
			st.class_frees[c] += __atomic_load_n(&t->l[c].nfree, __ATOMIC_RELAXED);
			st.cached += (uint64_t)__atomic_load_n(&t->l[c].count, __ATOMIC_RELAXED) *
				     mp_classes[c].size;
		}
	mp_unlock(&g.reg_lock);
	for (unsigned c = 1; c < MP_NCLASS; c++)
		st.cached += mp_central_parked(c) * mp_classes[c].size;
	for (unsigned c = 1; c < MP_NCLASS; c++) {
		st.mallocs += st.class_mallocs[c];
		st.frees += st.class_frees[c];
		/* Unsynchronized counters of other threads can lag: never negative. */
		if (st.class_mallocs[c] > st.class_frees[c])
			st.heap_alloc += (st.class_mallocs[c] - st.class_frees[c]) * mp_classes[c].size;
	}
	mp_lock(&mp_heap.lock);
	st.mallocs += mp_heap.large_nmalloc;
	st.frees += mp_heap.large_nfree;
	st.heap_alloc += mp_heap.large_bytes;
	st.heap_sys = (uint64_t)mp_heap.top * MP_PAGE_SIZE;
	st.heap_idle = (uint64_t)mp_heap.free_pages * MP_PAGE_SIZE;
	st.heap_released = (uint64_t)mp_heap.released_pages * MP_PAGE_SIZE;
	st.heap_inuse = st.heap_sys - st.heap_idle;
	mp_unlock(&mp_heap.lock);
	*ret = st;
}

int mp_alloc_check(void)
{
	if (__atomic_load_n(&g.init, __ATOMIC_ACQUIRE) != INIT_DONE)
		return 0;
	mp_central_lock_all();
	mp_lock(&mp_heap.lock);
	int r = mp_heap_check_locked();
	if (r == 0)
		r = mp_central_check_locked();
	mp_unlock(&mp_heap.lock);
	mp_central_unlock_all();
	return r;
}
