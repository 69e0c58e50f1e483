/* SPDX-License-Identifier: MIT */
/*
 * memprof's allocator for the process under test: size classes
 * (sizeclass.h), per-thread caches, central lists per class (central.c) and
 * a page heap (pageheap.h).  Runs in the target: never calls any other
 * allocator, never prints.
 *
 * Thread caches: a thread's cache is found through one word of
 * initial-exec TLS, its offset from the shared empty cache mp_tc_none, so
 * that the word's initial zero means "no cache yet".  mp_tc_none (and
 * mp_tc_dead, for a thread whose cache its exit flushed) has empty lists
 * with a limit of 0: the first malloc and the first free of a thread fall
 * into the slow path, which sets a cache up (no "initialized?" test on the
 * fast path), and nothing ever writes the sentinels.  The caches themselves
 * live in the allocator's own memory and are reused after their thread
 * exits: a thread that never allocates costs nothing, where ~7 KB of TLS
 * were zeroed for every thread created (a quarter of a microsecond).  A
 * thread past its exit keeps working through the central lists.
 *
 * Thread safety: everything here may be called from any thread.  Signal
 * handlers that allocate are safe when the shim's signal layer brackets
 * them with mp_alloc_signal_enter/leave (it does for every handler the
 * program installs through sigaction and signal): see alloc.c.
 * Fork: mp_alloc_atfork_{prepare,parent,child} must run around fork().
 */
#ifndef MP_ALLOC_ALLOC_H
#define MP_ALLOC_ALLOC_H

#include <stddef.h>
#include <stdint.h>

#include "alloc/pageheap.h"
#include "alloc/sizeclass.h"
#include "base/compiler.h"

struct mp_tlist {
	void *head;              /* singly linked through each block's first word */
	uint32_t count;
	uint32_t max;            /* 0: not set up (or dead): every free goes slow */
	uint64_t nmalloc;        /* blocks handed to the program (stats) */
	uint64_t nfree;          /* blocks taken back (stats) */
};

enum { MP_TC_NEW = 0, MP_TC_LIVE = 1, MP_TC_DEAD = 2, MP_TC_SIGNAL = 3 };

struct mp_tcache {
	struct mp_tlist l[MP_NCLASS];
	int state;               /* MP_TC_* */
	struct mp_tcache *next, *prev;   /* registry of live caches */
};

extern struct mp_tcache mp_tc_none __attribute__((visibility("hidden")));
extern MP_TLS uintptr_t mp_tc_off;      /* this thread's cache - &mp_tc_none */

static inline struct mp_tcache *mp_tc_self(void)
{
	return (struct mp_tcache *)((uintptr_t)&mp_tc_none + mp_tc_off);
}

/* Out-of-line paths.  Return NULL with errno = ENOMEM on failure.
 * mp_alloc_free_slow's `c` is p's page map entry (mp_heap.classmap), as
 * mp_alloc_free read it. */
void *mp_alloc_malloc_slow(size_t n);
void mp_alloc_free_slow(void *p, unsigned c);

/* The whole malloc fast path: class lookup, pop. */
static inline void *mp_alloc_malloc(size_t n)
{
	if (MP_LIKELY(n <= MP_MAX_SMALL)) {
		struct mp_tlist *l = &mp_tc_self()->l[mp_size_class(n)];
		void *p = l->head;
		if (MP_LIKELY(p != NULL)) {
			l->head = *(void **)p;
			*(void **)p = NULL;   /* no link of ours in a live block (alloc.c) */
			l->count--;
			l->nmalloc++;
			return p;
		}
	}
	return mp_alloc_malloc_slow(n);
}

/*
 * The free fast path for a block of ours (mp_heap_owns(p)): one entry of the
 * class map gives the class, and tells whether a sampled block may live in
 * the span (then the slow path credits the profile).
 */
static inline void mp_alloc_free(void *p)
{
	unsigned c = __atomic_load_n(&mp_heap.classmap[((uintptr_t)p - mp_heap.base) >> MP_PAGE_SHIFT],
				     __ATOMIC_RELAXED);
	struct mp_tlist *l = &mp_tc_self()->l[c & MP_CLASSMAP_CLASS];
	if (MP_LIKELY(c < MP_CLASSMAP_SAMPLED && l->count < l->max)) {
		*(void **)p = l->head;
		l->head = p;
		l->count++;
		l->nfree++;
		return;
	}
	mp_alloc_free_slow(p, c);
}

/*
 * Around a program's signal handler (shim/signals.c): from enter to leave
 * the thread allocates without touching its own cache and, when the code the
 * signal interrupted may hold an allocator lock, without waiting for any
 * (alloc.c, lock.h).  `sp` is the caller's frame address, to tell later
 * that a handler was left by siglongjmp.  Async-signal-safe, no system
 * call; `f` lives in the caller's frame.
 */
struct mp_alloc_sigframe {
	uintptr_t off;
	int nowait;
	unsigned depth;
};
void mp_alloc_signal_enter(struct mp_alloc_sigframe *f, uintptr_t sp);
void mp_alloc_signal_leave(const struct mp_alloc_sigframe *f);

/* Set up the arena (idempotent; the first malloc does it).  0 or -ENOMEM. */
int mp_alloc_init(void);

/* calloc of `total` bytes (overflow already checked). */
void *mp_alloc_calloc(size_t total);
/* memalign for a power-of-two `align`. */
void *mp_alloc_memalign(size_t align, size_t n);
/* realloc of a block of ours (p != NULL, n != 0): in place when it can. */
void *mp_alloc_realloc(void *p, size_t n);
/* Usable bytes of a block of ours, 0 for a pointer that is not a live block. */
size_t mp_alloc_usable(const void *p);

/*
 * Set (to 1, never back) once the program has asked malloc_usable_size for
 * a block of ours: it may then keep data, pointers included, in the bytes
 * past what it asked for, and the leak scan reads whole blocks again.
 */
extern int mp_alloc_slack_used;

/*
 * Sampling support: remember that the block p (ours, live) was sampled,
 * with a tag (nonzero; what it means is the sampler's: sample/tag.h, its
 * profile bucket and when it was allocated); take the tag back when it is
 * freed.  The free paths call the function registered with
 * mp_alloc_on_sampled_free() with the tag of every sampled block they free.
 * Lock-free; not for signal handlers that interrupted the allocator.
 *
 * `early` (NULL: none) is called by the free of a block of a span that may
 * hold sampled ones before its tag is looked up, and what it returns is
 * fn's `early` (else 0): work of the caller's whose latency then overlaps
 * the lookup's cache misses (the page map's entry, the span, the tag) instead
 * of following them.  The shim reads its clock there when every block is
 * sampled (--rate 1).
 */
int mp_alloc_set_sample(void *p, uint64_t tag);
int mp_alloc_take_sample(void *p, uint64_t *ret_tag);
void mp_alloc_on_sampled_free(void (*fn)(uint64_t tag, uint64_t early), uint64_t (*early)(void));

/*
 * mp_alloc_set_sample in three steps, for a caller with cache misses of
 * its own (the profile tables') to overlap with the mark's: a chain of
 * three (the page map's entry, the span, the block's word in the span's
 * tag array) that set at once stalls on each in turn.  For p of ours
 * (mp_heap_owns), live, that no other thread frees meanwhile:
 * mp_alloc_mark_prefetch(p) as early as possible (it only starts the page
 * map's entry on its way), mp_alloc_mark_find(p, &m) some time later (it
 * reads the entry and the span, and starts the tag's word on its way),
 * then mp_alloc_mark_set(&m, p, tag), which is mp_alloc_set_sample(p, tag)
 * (inline: a store and, once the span's pages are marked, a load from the
 * span's line).
 */
struct mp_alloc_mark {
	struct mp_span *s;
	uint64_t *word;   /* the block's tag word; NULL: set by mp_alloc_set_sample */
};

static inline void mp_alloc_mark_prefetch(const void *p)
{
	__builtin_prefetch(&mp_heap.pagemap[((uintptr_t)p - mp_heap.base) >> MP_PAGE_SHIFT]);
}

static inline void mp_alloc_mark_find(const void *p, struct mp_alloc_mark *m)
{
	struct mp_span *s = mp_heap_span_of(p);
	m->s = s;
	m->word = NULL;
	if (!s || s->state != MP_SPAN_SMALL)
		return;
	uint64_t *arr = __atomic_load_n(&s->tags, __ATOMIC_ACQUIRE);
	if (!arr)
		return;   /* the span's first sampled block: the array is made then */
	m->word = &arr[mp_class_index(s->cls, (uintptr_t)p - s->start)];
	__builtin_prefetch(m->word, 1);
}

void mp_alloc_mark_pages(struct mp_span *s);

static inline int mp_alloc_mark_set(const struct mp_alloc_mark *m, void *p, uint64_t tag)
{
	if (MP_UNLIKELY(!m->word))
		return mp_alloc_set_sample(p, tag);
	__atomic_store_n(m->word, tag, __ATOMIC_RELEASE);
	/* The span's pages' marks: set already, most times (the acquire
	 * makes those another thread set ours). */
	if (MP_UNLIKELY(!__atomic_load_n(&m->s->marked, __ATOMIC_ACQUIRE)))
		mp_alloc_mark_pages(m->s);
	return 0;
}

/*
 * Watched blocks (the leak scan's ignored ones, leakscan/ignore.h): after
 * mp_alloc_watch(p), every free in the span of block p takes the slow path
 * (as a sampled block's span does), which calls the function registered
 * with mp_alloc_on_watched_free() with the block freed; so do the frees of
 * every large block.  The fast path pays nothing for it.
 */
void mp_alloc_watch(const void *p);
void mp_alloc_on_watched_free(void (*fn)(void *p));

/* Fork handlers (prepare takes every allocator lock). */
void mp_alloc_atfork_prepare(void);
void mp_alloc_atfork_parent(void);
void mp_alloc_atfork_child(void);

/* Statistics, Go MemStats names. */
struct mp_alloc_stats {
	uint64_t heap_alloc;     /* bytes in live blocks (class sizes; large: pages) */
	uint64_t heap_inuse;     /* bytes in in-use spans */
	uint64_t heap_idle;      /* bytes in free spans */
	uint64_t heap_released;  /* of those, returned to the OS */
	uint64_t heap_sys;       /* arena bytes ever used */
	uint64_t mallocs, frees; /* cumulative block counts */
	uint64_t cached;         /* bytes of free blocks parked in thread caches and central batches */
	uint64_t class_mallocs[MP_NCLASS], class_frees[MP_NCLASS];
};
void mp_alloc_stats(struct mp_alloc_stats *ret);

/* Invariant walker: spans, free lists and counts agree.  0, or a negative
 * line number of the failed check.  Stops the world only in the sense of
 * taking every allocator lock: call when other threads are quiet. */
int mp_alloc_check(void);

#endif
