/* SPDX-License-Identifier: MIT */
/*
 * The page heap: one contiguous arena of address space, cut into spans of
 * MP_PAGE_SIZE pages, with a page map from address to span.  Runs in the
 * target: memory comes from mmap only, never from any malloc.
 *
 * The arena is one window of address space (base/vmarea.h), fixed at
 * init and mapped from its start as the heap grows, so it costs the address
 * space it uses and no more (RLIMIT_AS, RLIMIT_DATA), and a growth a limit
 * refuses is an allocation failing with ENOMEM, as under glibc.  Because it
 * is one range, "is this pointer ours?" is one subtraction and one compare,
 * and a pointer from anywhere else (glibc, before we took over) is never
 * mistaken for ours.  Pages of the window beyond the mapped part are never
 * handed out; the page and class maps are mapped as far as the arena is.
 *
 * Span states: free (in a size bin, and in the scavenger's age list while its
 * pages still hold memory), small (blocks of one size class), large (one
 * block).  Invariants, all under mp_heap.lock:
 *   - an in-use span's every page maps to it; a free span's first and last
 *     page map to it (interior entries are stale and never followed);
 *   - mp_heap.classmap[page] is the size class (bit 15: "a sampled block may
 *     live here") for pages of in-use small spans, and 0 everywhere else, so
 *     free()'s fast path needs that one load;
 *   - adjacent free spans are merged unless exactly one of them has been
 *     released to the OS.
 * Idle pages go back to the OS with MADV_DONTNEED (so RSS really drops) once
 * they have been free for MP_SCAVENGE_DELAY_NS, or at once when more than
 * twice max(MP_RETAIN_MIN, in-use / 256) bytes of unreleased free pages pile
 * up (then down to half of that).
 */
#ifndef MP_ALLOC_PAGEHEAP_H
#define MP_ALLOC_PAGEHEAP_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "base/compiler.h"
#include "alloc/sizeclass.h"
#include "base/vmarea.h"

enum { MP_SPAN_FREE = 0, MP_SPAN_SMALL = 1, MP_SPAN_LARGE = 2 };

#define MP_NBINS 128                 /* exact bins for free spans of 1..128 pages */
#define MP_CLASSMAP_SAMPLED 0x8000u
#define MP_CLASSMAP_CLASS 0x7fffu

struct mp_span {
	uintptr_t start;             /* address of the first page */
	uint32_t npages;
	uint8_t state;               /* MP_SPAN_* */
	uint16_t cls;                /* small: size class */
	uint8_t released;            /* free: pages returned to the OS */
	uint8_t zeroed;              /* pages read as zero (fresh or released) */
	/* small, set once: every page's class map entry has the sampled bit
	 * (alloc.c mp_alloc_mark_pages); release store after them */
	uint8_t marked;
	/* sampling: small: per-block tag (alloc.h; 0: not sampled), array
	 * installed once by CAS; large: the tag of its one block.  In the
	 * span's first cache line, with the state that is read before them on
	 * every sampled allocation and free (alloc.h mp_alloc_mark_find). */
	uint64_t *tags;
	uint64_t tag;
	struct mp_span *next, *prev; /* free: size bin; small: central partial list */
	struct mp_span *age_next, *age_prev; /* free and unreleased: scavenger order */
	uint64_t freed_ns;           /* free: when (CLOCK_MONOTONIC_COARSE) */
	/* small spans (under the central lock of their class) */
	void *freelist;              /* returned blocks */
	uint32_t carved;             /* blocks handed out from the fresh end so far */
	uint32_t inuse;              /* blocks out of the span (caches or program) */
	uint8_t in_partial;          /* on the central partial list */
	uint64_t large_size;         /* large: requested bytes */
	/* leak scan (alloc/leak.c), world stopped: small: per-block state
	 * (MP_BLK_*), large: leak_state */
	uint8_t *leak;
	uint8_t leak_state;
};

struct mp_heap {
	uintptr_t base;              /* arena start, page aligned; 0 until init */
	size_t size;                 /* arena bytes (the window; mapped as used) */
	uint16_t *classmap;          /* per page, see above */
	struct mp_span **pagemap;    /* per page */
	pthread_mutex_t lock;
	size_t top;                  /* pages ever handed out from the arena start */
	struct mp_span *bins[MP_NBINS];
	uint64_t binmap[MP_NBINS / 64];
	struct mp_span *large;       /* free spans of more than MP_NBINS pages */
	struct mp_span *age_head, *age_tail;
	size_t free_pages;           /* in free spans */
	size_t released_pages;       /* of those, released */
	uint64_t last_scavenge_ns;
	uint64_t large_nmalloc, large_nfree, large_bytes; /* large blocks: stats */
	uint64_t nreleases;          /* madvise calls */
	/* Mapped from their start as the heap grows (base/vmarea.h): the
	 * arena up to past `top`, the maps for the arena pages mapped. */
	struct mp_vm_area arena, pagemap_area, classmap_area;
};

extern MP_HIDDEN struct mp_heap mp_heap;

#define MP_SCAVENGE_DELAY_NS 1000000000ull
#define MP_RETAIN_MIN ((size_t)256 << 10)

/*
 * Set up the arena's window of `max_bytes` and those of the page maps
 * (nothing is mapped until used).  0, or -ENOMEM when no window is left.
 * Not thread-safe: the caller serializes initialization.
 */
int mp_heap_init(size_t max_bytes);

/* Whether p lies in the arena (NULL never does). */
static inline int mp_heap_owns(const void *p)
{
	return (uintptr_t)p - mp_heap.base < mp_heap.size;
}

/*
 * Under mp_heap.lock: a span of npages whose start is aligned to
 * `align_pages` pages (a power of two, 1 for none), with state, class and
 * page map entries set for `state`/`cls`.  NULL when the arena is full.
 */
struct mp_span *mp_heap_alloc_locked(size_t npages, size_t align_pages, int state, unsigned cls);

/* Under mp_heap.lock: give an in-use span back; may release idle pages.
 * The _released form is for a span whose pages the caller has already given
 * back to the OS (MADV_DONTNEED). */
void mp_heap_free_locked(struct mp_span *s);
void mp_heap_free_released_locked(struct mp_span *s);

/* Under mp_heap.lock: make in-use large span s npages long in place
 * (shrinking frees its tail; growing takes the free pages right after it).
 * 0, or -ENOMEM when it cannot grow in place. */
int mp_heap_resize_locked(struct mp_span *s, size_t npages);

/* Under mp_heap.lock: release idle pages now (force: all of them). */
void mp_heap_scavenge_locked(uint64_t now_ns, int force);

/* The span holding address p (in the arena), or NULL; may be stale for a
 * free span's interior pages: check the state under the lock. */
static inline struct mp_span *mp_heap_span_of(const void *p)
{
	return __atomic_load_n(&mp_heap.pagemap[((uintptr_t)p - mp_heap.base) >> MP_PAGE_SHIFT],
			       __ATOMIC_ACQUIRE);
}

/* Metadata memory (span structs, bucket arrays): own mappings, never
 * unmapped.  mp_meta_alloc returns zeroed memory or NULL; thread-safe. */
void *mp_meta_alloc(size_t bytes);
void mp_meta_free(void *p, size_t bytes);
/* The metadata lock, for the leak scan while the program runs (leak.h):
 * 0 or -EBUSY, never waits. */
int mp_meta_trylock(void);
void mp_meta_unlock(void);

uint64_t mp_heap_now_ns(void);

/* For the invariant walker and tests: check every invariant above.
 * Under mp_heap.lock.  0, or a negative line number of the failed check. */
int mp_heap_check_locked(void);

#endif
