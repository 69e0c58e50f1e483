/* SPDX-License-Identifier: MIT */
/*
 * Page heap and metadata memory (see pageheap.h).  In the target: mmap and
 * madvise only; never malloc, stdio or locks other than our own.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "base/lock.h"
#include "alloc/pageheap.h"
#include "base/vmarea.h"
#include "base/compiler.h"

struct mp_heap mp_heap = { .lock = PTHREAD_MUTEX_INITIALIZER };

uint64_t mp_heap_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- metadata: power-of-two size bins carved from an area ---- */

#define META_REGION ((size_t)1 << 30)
#define META_STEP ((size_t)1 << 20)
#define META_MIN_SHIFT 4
#define META_NBINS 10                 /* 16 B .. 8 KiB (a thread cache) */

static struct {
	pthread_mutex_t lock;
	struct mp_vm_area area;       /* mapped META_STEP at a time */
	size_t used;
	void *bins[META_NBINS];
} meta = { .lock = PTHREAD_MUTEX_INITIALIZER };

static unsigned meta_bin(size_t bytes)
{
	unsigned b = 0;
	while (((size_t)1 << (b + META_MIN_SHIFT)) < bytes)
		b++;
	return b;
}

void *mp_meta_alloc(size_t bytes)
{
	unsigned b = meta_bin(bytes);
	if (b >= META_NBINS)
		return NULL;
	size_t sz = (size_t)1 << (b + META_MIN_SHIFT);
	void *p;
	if (mp_lock(&meta.lock) < 0)
		return NULL;
	p = meta.bins[b];
	if (p) {
		meta.bins[b] = *(void **)p;
		mp_unlock(&meta.lock);
		memset(p, 0, sz);
		return p;
	}
	if (!meta.area.base && mp_vm_area_init(&meta.area, META_REGION) < 0)
		meta.area.base = 0;
	if (meta.area.base && mp_vm_area_grow(&meta.area, meta.used + sz, META_STEP) == 0) {
		p = (void *)(meta.area.base + meta.used);
		meta.used += sz;   /* fresh pages read as zero */
	}
	mp_unlock(&meta.lock);
	return p;
}

int mp_meta_trylock(void)
{
	return pthread_mutex_trylock(&meta.lock) == 0 ? 0 : -EBUSY;
}

void mp_meta_unlock(void)
{
	pthread_mutex_unlock(&meta.lock);
}

void mp_meta_free(void *p, size_t bytes)
{
	if (!p)
		return;
	unsigned b = meta_bin(bytes);
	if (mp_lock(&meta.lock) < 0)
		return;   /* no-wait mode (lock.h): a few bytes of metadata lost */
	*(void **)p = meta.bins[b];
	meta.bins[b] = p;
	mp_unlock(&meta.lock);
}

/* ---- arena ---- */

int mp_heap_init(size_t max_bytes)
{
	size_t npages = max_bytes >> MP_PAGE_SHIFT;
	if (mp_vm_area_init(&mp_heap.arena, max_bytes) < 0 ||
	    mp_vm_area_init(&mp_heap.pagemap_area, npages * sizeof(struct mp_span *)) < 0 ||
	    mp_vm_area_init(&mp_heap.classmap_area, npages * sizeof(uint16_t)) < 0)
		return -ENOMEM;
	mp_heap.pagemap = (struct mp_span **)mp_heap.pagemap_area.base;
	mp_heap.classmap = (uint16_t *)mp_heap.classmap_area.base;
	mp_heap.size = npages << MP_PAGE_SHIFT;
	/* Publish base last: mp_heap_owns() is false until then. */
	__atomic_store_n(&mp_heap.base, mp_heap.arena.base, __ATOMIC_RELEASE);
	return 0;
}

/*
 * Map the arena up to page `pages` (exclusive), the page map and class map
 * entries that cover it first (so they always cover the mapped arena).  A
 * growth maps an eighth of what is mapped more (2 MiB to 64 MiB), so the
 * heap costs few mmap calls; when a limit refuses that, exactly what is
 * needed is asked for.  0 or -ENOMEM.
 */
static int grow_locked(size_t pages)
{
	struct mp_vm_area *a = &mp_heap.arena;
	size_t have = a->mapped >> MP_PAGE_SHIFT, max = mp_heap.size >> MP_PAGE_SHIFT;
	if (pages <= have)
		return 0;
	size_t slack = (have << MP_PAGE_SHIFT) / 8;
	if (slack < ((size_t)2 << 20))
		slack = (size_t)2 << 20;
	if (slack > ((size_t)64 << 20))
		slack = (size_t)64 << 20;
	size_t want = pages + (slack >> MP_PAGE_SHIFT);
	if (want > max)
		want = max;
	for (;;) {
		if (mp_vm_area_grow(&mp_heap.pagemap_area, want * sizeof(struct mp_span *), 0) == 0 &&
		    mp_vm_area_grow(&mp_heap.classmap_area, want * sizeof(uint16_t), 0) == 0 &&
		    mp_vm_area_grow(a, want << MP_PAGE_SHIFT, 0) == 0)
			return 0;
		if (want == pages)
			return -ENOMEM;
		want = pages;   /* a limit refused the slack: only what is needed */
	}
}

static size_t page_of(uintptr_t a)
{
	return (a - mp_heap.base) >> MP_PAGE_SHIFT;
}

static void map_range(struct mp_span *s, size_t first, size_t n)
{
	for (size_t i = 0; i < n; i++)
		__atomic_store_n(&mp_heap.pagemap[first + i], s, __ATOMIC_RELEASE);
}

static void map_ends(struct mp_span *s)
{
	size_t first = page_of(s->start);
	__atomic_store_n(&mp_heap.pagemap[first], s, __ATOMIC_RELEASE);
	__atomic_store_n(&mp_heap.pagemap[first + s->npages - 1], s, __ATOMIC_RELEASE);
}

static struct mp_span *span_new(void)
{
	return mp_meta_alloc(sizeof(struct mp_span));
}

static void span_delete(struct mp_span *s)
{
	mp_meta_free(s, sizeof(*s));
}

/* ---- free lists: exact bins + one list of big spans; age list ---- */

static void bin_insert(struct mp_span *s)
{
	struct mp_span **head;
	if (s->npages <= MP_NBINS) {
		unsigned b = s->npages - 1;
		head = &mp_heap.bins[b];
		mp_heap.binmap[b / 64] |= 1ull << (b % 64);
	} else {
		head = &mp_heap.large;
	}
	s->prev = NULL;
	s->next = *head;
	if (*head)
		(*head)->prev = s;
	*head = s;
}

static void bin_remove(struct mp_span *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else if (s->npages <= MP_NBINS) {
		unsigned b = s->npages - 1;
		mp_heap.bins[b] = s->next;
		if (!s->next)
			mp_heap.binmap[b / 64] &= ~(1ull << (b % 64));
	} else
		mp_heap.large = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->next = s->prev = NULL;
}

static void age_append(struct mp_span *s)
{
	s->age_next = NULL;
	s->age_prev = mp_heap.age_tail;
	if (mp_heap.age_tail)
		mp_heap.age_tail->age_next = s;
	else
		mp_heap.age_head = s;
	mp_heap.age_tail = s;
}

static void age_remove(struct mp_span *s)
{
	if (s->age_prev)
		s->age_prev->age_next = s->age_next;
	else
		mp_heap.age_head = s->age_next;
	if (s->age_next)
		s->age_next->age_prev = s->age_prev;
	else
		mp_heap.age_tail = s->age_prev;
	s->age_next = s->age_prev = NULL;
}

/* Take a free span off every list (its page counts stay with the caller). */
static void free_unlink(struct mp_span *s)
{
	bin_remove(s);
	if (!s->released)
		age_remove(s);
	mp_heap.free_pages -= s->npages;
	if (s->released)
		mp_heap.released_pages -= s->npages;
}

static void free_link(struct mp_span *s)
{
	s->state = MP_SPAN_FREE;
	map_ends(s);
	bin_insert(s);
	if (!s->released)
		age_append(s);
	mp_heap.free_pages += s->npages;
	if (s->released)
		mp_heap.released_pages += s->npages;
}

/* Smallest free span of at least n pages: exact bins first, then best fit
 * among the big ones (lowest address on ties keeps the heap compact). */
static struct mp_span *find_free(size_t n)
{
	if (n <= MP_NBINS) {
		for (unsigned w = (unsigned)(n - 1) / 64; w < MP_NBINS / 64; w++) {
			uint64_t m = mp_heap.binmap[w];
			if (w == (n - 1) / 64)
				m &= ~0ull << ((n - 1) % 64);
			if (m)
				return mp_heap.bins[w * 64 + (unsigned)__builtin_ctzll(m)];
		}
	}
	struct mp_span *best = NULL;
	for (struct mp_span *s = mp_heap.large; s; s = s->next)
		if (s->npages >= n && (!best || s->npages < best->npages ||
				       (s->npages == best->npages && s->start < best->start)))
			best = s;
	return best;
}

/* Cut the first n pages off free span s (already unlinked); the rest goes
 * back to the free lists.  Returns s, now n pages long. */
static struct mp_span *split_front(struct mp_span *s, size_t n)
{
	if (s->npages == n)
		return s;
	struct mp_span *rest = span_new();
	if (!rest)
		return s;  /* keep the whole span: wasteful but correct */
	rest->start = s->start + n * MP_PAGE_SIZE;
	rest->npages = (uint32_t)(s->npages - n);
	rest->released = s->released;
	rest->zeroed = s->zeroed;
	rest->freed_ns = s->freed_ns;
	s->npages = (uint32_t)n;
	free_link(rest);
	return s;
}

struct mp_span *mp_heap_alloc_locked(size_t npages, size_t align_pages, int state, unsigned cls)
{
	size_t want = npages + align_pages - 1;
	struct mp_span *s;
	if (want < npages || npages == 0)
		return NULL;
	s = find_free(want);
	if (s) {
		free_unlink(s);
	} else {
		size_t avail = (mp_heap.size >> MP_PAGE_SHIFT) - mp_heap.top;
		if (want > avail || grow_locked(mp_heap.top + want) < 0)
			return NULL;
		s = span_new();
		if (!s)
			return NULL;
		s->start = mp_heap.base + mp_heap.top * MP_PAGE_SIZE;
		s->npages = (uint32_t)want;
		s->zeroed = 1;
		s->released = 1;   /* never touched: holds no memory */
		mp_heap.top += want;
	}
	if (align_pages > 1) {
		/* Absolute alignment: the arena base is only page aligned. */
		uintptr_t mask = align_pages * MP_PAGE_SIZE - 1;
		size_t lead = ((mask + 1 - (s->start & mask)) & mask) >> MP_PAGE_SHIFT;
		if (lead) {
			struct mp_span *body = span_new();
			if (!body) {
				free_link(s);
				return NULL;
			}
			body->start = s->start + lead * MP_PAGE_SIZE;
			body->npages = (uint32_t)(s->npages - lead);
			body->zeroed = s->zeroed;
			body->released = s->released;
			s->npages = (uint32_t)lead;
			free_link(s);
			s = body;
		}
	}
	s = split_front(s, npages);
	s->state = (uint8_t)state;
	s->cls = (uint16_t)cls;
	s->released = 0;
	s->next = s->prev = NULL;
	s->freelist = NULL;
	s->carved = s->inuse = 0;
	s->in_partial = 0;
	s->marked = 0;
	s->tags = NULL;
	s->tag = 0;
	s->large_size = 0;
	s->leak = NULL;
	s->leak_state = 0;
	size_t first = page_of(s->start);
	map_range(s, first, s->npages);
	if (state == MP_SPAN_SMALL)
		for (size_t i = 0; i < s->npages; i++)
			__atomic_store_n(&mp_heap.classmap[first + i], (uint16_t)cls, __ATOMIC_RELAXED);
	return s;
}

static void release(struct mp_span *s)
{
	madvise((void *)s->start, (size_t)s->npages * MP_PAGE_SIZE, MADV_DONTNEED);
	mp_heap.nreleases++;
	s->released = 1;
	s->zeroed = 1;
}

/* Merge free neighbours of s (unlinked, same release state) into s. */
static struct mp_span *coalesce(struct mp_span *s)
{
	size_t first = page_of(s->start);
	if (first > 0) {
		struct mp_span *l = mp_heap.pagemap[first - 1];
		if (l && l->state == MP_SPAN_FREE && l->released == s->released &&
		    l->start + (size_t)l->npages * MP_PAGE_SIZE == s->start) {
			free_unlink(l);
			l->npages += s->npages;
			l->zeroed = l->zeroed && s->zeroed;
			if (s->freed_ns > l->freed_ns)
				l->freed_ns = s->freed_ns;
			span_delete(s);
			s = l;
			first = page_of(s->start);
		}
	}
	size_t after = first + s->npages;
	if (after < mp_heap.top) {
		struct mp_span *r = mp_heap.pagemap[after];
		if (r && r->state == MP_SPAN_FREE && r->released == s->released &&
		    r->start == s->start + (size_t)s->npages * MP_PAGE_SIZE) {
			free_unlink(r);
			s->npages += r->npages;
			s->zeroed = s->zeroed && r->zeroed;
			if (r->freed_ns > s->freed_ns)
				s->freed_ns = r->freed_ns;
			span_delete(r);
		}
	}
	return s;
}

static size_t retain_limit(void)
{
	size_t inuse = mp_heap.top - mp_heap.free_pages;
	size_t lim = (inuse / 256) << MP_PAGE_SHIFT;
	return lim < MP_RETAIN_MIN ? MP_RETAIN_MIN : lim;
}

/*
 * A released free span at the top of the heap goes back to the process's
 * address space: the arena ends below it again.  glibc unmaps a freed
 * mmap()ed block and trims its heap's top alike; without this, a program
 * under RLIMIT_AS that frees a big buffer could not map that much itself.
 */
#define TRIM_MIN ((size_t)1 << 20)

static void trim_top_locked(void)
{
	if (mp_heap.top == 0)
		return;
	struct mp_span *s = mp_heap.pagemap[mp_heap.top - 1];
	if (!s || s->state != MP_SPAN_FREE || !s->released ||
	    page_of(s->start) + s->npages != mp_heap.top ||
	    ((size_t)s->npages << MP_PAGE_SHIFT) < TRIM_MIN)
		return;
	free_unlink(s);
	mp_heap.top = page_of(s->start);
	span_delete(s);
	mp_vm_area_trim(&mp_heap.arena, mp_heap.top << MP_PAGE_SHIFT);
}

void mp_heap_scavenge_locked(uint64_t now, int force)
{
	/* Hysteresis: called when idle memory passed twice the limit, it goes
	 * down to half of it, so releases (each a TLB shootdown on every CPU
	 * the process runs on) come in rare batches. */
	size_t target = retain_limit() / 2;
	mp_heap.last_scavenge_ns = now;
	while (mp_heap.age_head) {
		struct mp_span *s = mp_heap.age_head;
		size_t idle = (mp_heap.free_pages - mp_heap.released_pages) << MP_PAGE_SHIFT;
		if (!force && idle <= target && now - s->freed_ns < MP_SCAVENGE_DELAY_NS)
			break;
		free_unlink(s);
		release(s);
		s = coalesce(s);
		free_link(s);
	}
	trim_top_locked();
}

static void free_span(struct mp_span *s, int released);

void mp_heap_free_locked(struct mp_span *s)
{
	free_span(s, 0);
}

void mp_heap_free_released_locked(struct mp_span *s)
{
	free_span(s, 1);
}

static void free_span(struct mp_span *s, int released)
{
	size_t first = page_of(s->start);
	if (s->state == MP_SPAN_SMALL)
		for (size_t i = 0; i < s->npages; i++)
			__atomic_store_n(&mp_heap.classmap[first + i], 0, __ATOMIC_RELAXED);
	/* Interior entries become stale; clear them so a stray pointer into a
	 * free span finds nothing rather than an unrelated span. */
	for (size_t i = 1; i + 1 < s->npages; i++)
		__atomic_store_n(&mp_heap.pagemap[first + i], NULL, __ATOMIC_RELAXED);
	s->state = MP_SPAN_FREE;
	s->zeroed = (uint8_t)released;
	s->released = (uint8_t)released;
	s->freed_ns = mp_heap_now_ns();
	s = coalesce(s);
	free_link(s);
	size_t idle = (mp_heap.free_pages - mp_heap.released_pages) << MP_PAGE_SHIFT;
	uint64_t freed = s->freed_ns;   /* s may be gone after the trim */
	if (released)
		trim_top_locked();
	if (idle > 2 * retain_limit() || freed - mp_heap.last_scavenge_ns > MP_SCAVENGE_DELAY_NS / 4)
		mp_heap_scavenge_locked(freed, 0);
}

int mp_heap_check_locked(void)
{
	size_t page = 0, free_pages = 0, released = 0;
	while (page < mp_heap.top) {
		struct mp_span *s = mp_heap.pagemap[page];
		if (!s || s->start != mp_heap.base + page * MP_PAGE_SIZE || s->npages == 0)
			return -__LINE__;
		if (page + s->npages > mp_heap.top)
			return -__LINE__;
		if (mp_heap.pagemap[page + s->npages - 1] != s)
			return -__LINE__;
		for (size_t i = 0; i < s->npages; i++) {
			unsigned c = mp_heap.classmap[page + i];
			if (s->state == MP_SPAN_SMALL) {
				if ((c & MP_CLASSMAP_CLASS) != s->cls || mp_heap.pagemap[page + i] != s)
					return -__LINE__;
			} else if (c != 0)
				return -__LINE__;
			if (s->state == MP_SPAN_LARGE && mp_heap.pagemap[page + i] != s)
				return -__LINE__;
		}
		if (s->state == MP_SPAN_FREE) {
			free_pages += s->npages;
			if (s->released)
				released += s->npages;
			if (page > 0) {
				struct mp_span *l = mp_heap.pagemap[page - 1];
				if (l && l->state == MP_SPAN_FREE && l->released == s->released &&
				    l->start + (size_t)l->npages * MP_PAGE_SIZE == s->start)
					return -__LINE__;   /* should have been merged */
			}
		} else if (s->state != MP_SPAN_SMALL && s->state != MP_SPAN_LARGE)
			return -__LINE__;
		page += s->npages;
	}
	if (free_pages != mp_heap.free_pages || released != mp_heap.released_pages)
		return -__LINE__;
	size_t aged = 0;
	for (struct mp_span *s = mp_heap.age_head; s; s = s->age_next) {
		if (s->state != MP_SPAN_FREE || s->released)
			return -__LINE__;
		aged += s->npages;
	}
	if (aged != free_pages - released)
		return -__LINE__;
	return 0;
}

int mp_heap_resize_locked(struct mp_span *s, size_t npages)
{
	size_t first = page_of(s->start);
	if (npages == s->npages)
		return 0;
	if (npages < s->npages) {
		struct mp_span *tail = span_new();
		if (!tail)
			return -ENOMEM;
		tail->start = s->start + npages * MP_PAGE_SIZE;
		tail->npages = (uint32_t)(s->npages - npages);
		tail->state = MP_SPAN_LARGE;
		s->npages = (uint32_t)npages;
		mp_heap_free_locked(tail);
		return 0;
	}
	size_t extra = npages - s->npages, after = first + s->npages;
	if (after == mp_heap.top) {
		if (extra > (mp_heap.size >> MP_PAGE_SHIFT) - mp_heap.top ||
		    grow_locked(mp_heap.top + extra) < 0)
			return -ENOMEM;
		mp_heap.top += extra;
	} else {
		struct mp_span *r = mp_heap.pagemap[after];
		if (!r || r->state != MP_SPAN_FREE || r->npages < extra ||
		    r->start != s->start + (size_t)s->npages * MP_PAGE_SIZE)
			return -ENOMEM;
		free_unlink(r);
		r = split_front(r, extra);
		if (r->npages != extra) {       /* could not split: give it back */
			free_link(r);
			return -ENOMEM;
		}
		span_delete(r);
	}
	map_range(s, after, extra);
	s->npages = (uint32_t)npages;
	return 0;
}
