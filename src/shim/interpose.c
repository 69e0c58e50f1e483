/* SPDX-License-Identifier: MIT */
/*
 * The malloc family, as glibc documents for replacing malloc ("Replacing
 * malloc" in the glibc manual): malloc, free, calloc, realloc, reallocarray,
 * posix_memalign, aligned_alloc, memalign, valloc, pvalloc,
 * malloc_usable_size.  C++ new/delete live in interpose-cxx.c.
 *
 * Blocks come from memprof's own allocator (alloc/) unless MEMPROF_OPTIONS
 * says allocator=system, or the allocator cannot reserve its arena; then
 * from glibc's allocator through its exported __libc_* entry points (no
 * dlsym on any hot or bootstrap path).  free, realloc and
 * malloc_usable_size send a block wherever it came from by its address: the
 * own allocator's arena is one address range, and every other pointer is
 * glibc's (including any allocated before we took over).
 *
 * Sampled blocks: in the own allocator a per-span side table remembers each
 * sampled block's tag (its bucket and when it was allocated: sample/tag.h,
 * alloc.h); glibc's blocks use the address table of sample/live.c.  Their
 * frees go through sample/peak.h mp_peak_freed (the bucket's free count,
 * the peak, the lifetime).
 *
 * Order: an allocation is recorded after the block exists and before it is
 * returned; a free is recorded before the block goes back to the allocator
 * (so another thread cannot get the same address and collide in the table).
 *
 * Must never: allocate for itself, take a lock on the fast path, or change
 * errno on success.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc/alloc.h"
#include "sample/live.h"
#include "sample/peak.h"
#include "sample/stacks.h"
#include "sample/tag.h"
#include "shim/shim.h"

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

int mp_alloc_mode;   /* MP_MODE_*: read on every allocation */

/*
 * MP_MODE_FOREIGN (shim.h): glibc's own entry points, which are what the
 * program reaches without memprof when its allocator does not define them
 * (glibc's reallocarray calls the program's realloc, as glibc's manual
 * says of a replaced malloc).  No sample is taken: the blocks are not ours
 * to follow.
 */
static struct {
	void *(*malloc)(size_t);
	void (*free)(void *);
	void *(*calloc)(size_t, size_t);
	void *(*realloc)(void *, size_t);
	void *(*reallocarray)(void *, size_t, size_t);
	int (*posix_memalign)(void **, size_t, size_t);
	void *(*aligned_alloc)(size_t, size_t);
	void *(*memalign)(size_t, size_t);
	void *(*valloc)(size_t);
	void *(*pvalloc)(size_t);
	size_t (*malloc_usable_size)(void *);
} next;


int mp_shim_go_foreign(void)
{
#define NEXT(f) (next.f = (__typeof__(next.f))dlsym(RTLD_NEXT, #f)) != NULL
	if (!(NEXT(malloc) && NEXT(free) && NEXT(calloc) && NEXT(realloc) && NEXT(reallocarray) &&
	      NEXT(posix_memalign) && NEXT(aligned_alloc) && NEXT(memalign) && NEXT(valloc) &&
	      NEXT(pvalloc) && NEXT(malloc_usable_size)))
		return -1;
#undef NEXT
	/* Blocks we handed out before (there should be none: only the
	 * functions the program lacks came here) still come back to us by
	 * their address. */
	__atomic_store_n(&mp_alloc_mode, MP_MODE_FOREIGN, __ATOMIC_RELEASE);
	return 0;
}

/*
 * The first allocation decides, before anything else happens: from the
 * allocator= of MEMPROF_OPTIONS, read with the one parser (silently: the
 * whole value is parsed again, with its warnings, by mp_shim_init).  No
 * allocation, no stdio.
 */
static MP_NOINLINE MP_COLD int decide_mode(void)
{
	struct mp_options o;
	mp_options_default(&o);
	mp_options_parse(&o, getenv(MP_OPTIONS_ENV), NULL, NULL);
	int mode = o.allocator == MP_ALLOCATOR_SYSTEM ? MP_MODE_SYSTEM : MP_MODE_OWN;
	if (mode == MP_MODE_OWN && mp_alloc_init() < 0) {
		mp_warn("cannot reserve the allocator's arena, using the system allocator", NULL,
			NULL, NULL);
		mode = MP_MODE_SYSTEM;
	}
	int expect = MP_MODE_UNDECIDED;
	__atomic_compare_exchange_n(&mp_alloc_mode, &expect, mode, 0, __ATOMIC_ACQ_REL,
				    __ATOMIC_ACQUIRE);
	return __atomic_load_n(&mp_alloc_mode, __ATOMIC_ACQUIRE);
}

int mp_shim_alloc_mode(void)
{
	int m = __atomic_load_n(&mp_alloc_mode, __ATOMIC_RELAXED);
	return MP_LIKELY(m != MP_MODE_UNDECIDED) ? m : decide_mode();
}

static inline void forget(void *p)
{
	if (MP_UNLIKELY(mp_live_maybe(p)))
		mp_free_slow(p);
}

MP_EXPORT void *malloc(size_t n)
{
	int m = __atomic_load_n(&mp_alloc_mode, __ATOMIC_RELAXED);
	if (MP_LIKELY(m == MP_MODE_OWN))
		return mp_account(mp_alloc_malloc(n), n);
	if (m == MP_MODE_FOREIGN)
		return next.malloc(n);
	return mp_account(mp_shim_malloc(n), n);
}

void mp_shim_free(void *p)
{
	if (MP_LIKELY(mp_heap_owns(p))) {
		mp_alloc_free(p);
		return;
	}
	if (!p)
		return;
	if (mp_shim_foreign()) {
		next.free(p);
		return;
	}
	forget(p);
	__libc_free(p);
}

MP_EXPORT void free(void *p)
{
	mp_shim_free(p);
}

MP_EXPORT void *calloc(size_t n, size_t size)
{
	if (mp_shim_foreign())
		return next.calloc(n, size);
	size_t total;
	if (__builtin_mul_overflow(n, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	void *p = mp_shim_alloc_mode() == MP_MODE_OWN ? mp_alloc_calloc(total)
						      : __libc_calloc(n, size);
	return mp_account(p, total);
}

/* realloc of a block of the own allocator (which it stays in). */
static void *realloc_own(void *p, size_t n)
{
	uint64_t tag = 0;
	unsigned life = 0;
	int had = mp_alloc_take_sample(p, &tag);
	if (had)
		life = mp_peak_freed_now(tag);
	if (n == 0) {
		/* glibc frees and returns NULL */
		mp_alloc_free(p);
		return NULL;
	}
	void *q = mp_alloc_realloc(p, n);
	if (!q) {
		/* p is still allocated: put its sample back. */
		if (had) {
			mp_peak_unfreed(tag, life);
			if (mp_alloc_set_sample(p, tag) < 0)
				mp_prof_record_free(mp_tag_bucket(tag));
		}
		return NULL;
	}
	return mp_account(q, n);
}

MP_EXPORT void *realloc(void *p, size_t n)
{
	if (!p)
		return malloc(n);
	if (mp_heap_owns(p))
		return realloc_own(p, n);
	if (mp_shim_foreign())
		return next.realloc(p, n);
	uint64_t tag = 0;
	unsigned life = 0;
	int had = 0;
	if (MP_UNLIKELY(mp_live_maybe(p)) && !mp_busy) {
		mp_busy = 1;
		had = mp_live_remove(p, &tag);
		if (had)
			life = mp_peak_freed_now(tag);
		mp_busy = 0;
	}
	void *q = __libc_realloc(p, n);
	if (!q) {
		/* realloc(p, 0) freed p (glibc); any other NULL is a failure
		 * that leaves p allocated: put it back. */
		if (had && n != 0) {
			mp_busy = 1;
			mp_peak_unfreed(tag, life);
			if (mp_live_insert(p, tag) < 0)
				mp_prof_record_free(mp_tag_bucket(tag));
			mp_busy = 0;
		}
		return NULL;
	}
	return mp_account(q, n);
}

MP_EXPORT void *reallocarray(void *p, size_t n, size_t size)
{
	if (mp_shim_foreign() && !mp_heap_owns(p))
		return next.reallocarray(p, n, size);
	size_t total;
	if (__builtin_mul_overflow(n, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, total);
}

static int pow2(size_t a)
{
	return a && (a & (a - 1)) == 0;
}

MP_EXPORT int posix_memalign(void **ret, size_t align, size_t n)
{
	if (mp_shim_foreign())
		return next.posix_memalign(ret, align, n);
	if (!pow2(align) || align % sizeof(void *) != 0)
		return EINVAL;
	int saved = errno;
	void *p = mp_shim_memalign(align, n);
	errno = saved;
	if (!p)
		return ENOMEM;
	*ret = mp_account(p, n);
	return 0;
}

MP_EXPORT void *aligned_alloc(size_t align, size_t n)
{
	if (mp_shim_foreign())
		return next.aligned_alloc(align, n);
	/* glibc >= 2.38 rejects alignments that are not powers of two; so do we. */
	if (!pow2(align)) {
		errno = EINVAL;
		return NULL;
	}
	return mp_account(mp_shim_memalign(align, n), n);
}

MP_EXPORT void *memalign(size_t align, size_t n)
{
	if (mp_shim_foreign())
		return next.memalign(align, n);
	/* glibc: alignments that are not powers of two are rounded up; the
	 * largest it accepts is SIZE_MAX / 2 + 1. */
	if (align > SIZE_MAX / 2 + 1) {
		errno = EINVAL;
		return NULL;
	}
	while (!pow2(align))
		align = align ? (align | (align >> 1)) + 1 : 1;
	return mp_account(mp_shim_memalign(align, n), n);
}

MP_EXPORT void *valloc(size_t n)
{
	if (mp_shim_foreign())
		return next.valloc(n);
	return mp_account(mp_shim_memalign((size_t)getpagesize(), n), n);
}

MP_EXPORT void *pvalloc(size_t n)
{
	if (mp_shim_foreign())
		return next.pvalloc(n);
	size_t page = (size_t)getpagesize();
	if (n > SIZE_MAX - page) {
		errno = ENOMEM;
		return NULL;
	}
	size_t rounded = n ? (n + page - 1) & ~(page - 1) : page;
	return mp_account(mp_shim_memalign(page, rounded), rounded);
}

typedef size_t (*usable_fn)(void *);

MP_EXPORT size_t malloc_usable_size(void *p)
{
	static usable_fn real;
	if (!p)
		return 0;
	if (mp_heap_owns(p)) {
		if (!mp_alloc_slack_used)
			__atomic_store_n(&mp_alloc_slack_used, 1, __ATOMIC_RELAXED);
		return mp_alloc_usable(p);
	}
	if (mp_shim_foreign())
		return next.malloc_usable_size(p);
	usable_fn f = __atomic_load_n(&real, __ATOMIC_ACQUIRE);
	if (!f) {
		/* Not on any bootstrap path: dlsym may allocate, and that is fine. */
		f = (usable_fn)dlsym(RTLD_NEXT, "malloc_usable_size");
		if (!f)
			return 0;
		__atomic_store_n(&real, f, __ATOMIC_RELEASE);
	}
	return f(p);
}
