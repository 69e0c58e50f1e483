/* SPDX-License-Identifier: MIT */
/*
 * The malloc family, as glibc documents for replacing malloc ("Replacing
 * malloc" in the glibc manual): malloc, free, calloc, realloc, reallocarray,
 * posix_memalign, aligned_alloc, memalign, valloc, pvalloc,
 * malloc_usable_size.  C++ new/delete live in interpose-cxx.c.
 *
 * Until memprof's own allocator is the default, blocks come from glibc's
 * allocator through its exported __libc_* entry points: no dlsym needed for
 * the hot functions, so nothing recurses during bootstrap and every block
 * (even one allocated before we were initialized) is glibc's to free.
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

#include "sample/live.h"
#include "sample/stacks.h"
#include "shim/shim.h"

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void *__libc_valloc(size_t);
extern void *__libc_pvalloc(size_t);
extern void __libc_free(void *);

static inline void forget(void *p)
{
	if (MP_UNLIKELY(mp_live_maybe(p)))
		mp_free_slow(p);
}

MP_EXPORT void *malloc(size_t n)
{
	return mp_account(__libc_malloc(n), n);
}

MP_EXPORT void free(void *p)
{
	forget(p);
	__libc_free(p);
}

MP_EXPORT void *calloc(size_t n, size_t size)
{
	size_t total;
	if (__builtin_mul_overflow(n, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	return mp_account(__libc_calloc(n, size), total);
}

MP_EXPORT void *realloc(void *p, size_t n)
{
	uint32_t b = 0;
	int had = 0;
	if (p && MP_UNLIKELY(mp_live_maybe(p)) && !mp_tls.busy) {
		mp_tls.busy = 1;
		had = mp_live_remove(p, &b);
		if (had)
			mp_prof_record_free(b);
		mp_tls.busy = 0;
	}
	void *q = __libc_realloc(p, n);
	if (!q) {
		/* realloc(p, 0) freed p (glibc); any other NULL is a failure
		 * that leaves p allocated: put it back. */
		if (had && n != 0) {
			mp_tls.busy = 1;
			mp_prof_unrecord_free(b);
			if (mp_live_insert(p, b) < 0)
				mp_prof_record_free(b);
			mp_tls.busy = 0;
		}
		return NULL;
	}
	return mp_account(q, n);
}

MP_EXPORT void *reallocarray(void *p, size_t n, size_t size)
{
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
	if (!pow2(align) || align % sizeof(void *) != 0)
		return EINVAL;
	int saved = errno;
	void *p = __libc_memalign(align, n);
	errno = saved;
	if (!p)
		return ENOMEM;
	*ret = mp_account(p, n);
	return 0;
}

MP_EXPORT void *aligned_alloc(size_t align, size_t n)
{
	/* glibc >= 2.38 rejects alignments that are not powers of two; so do we. */
	if (!pow2(align)) {
		errno = EINVAL;
		return NULL;
	}
	return mp_account(__libc_memalign(align, n), n);
}

MP_EXPORT void *memalign(size_t align, size_t n)
{
	return mp_account(__libc_memalign(align, n), n);
}

MP_EXPORT void *valloc(size_t n)
{
	return mp_account(__libc_valloc(n), n);
}

MP_EXPORT void *pvalloc(size_t n)
{
	return mp_account(__libc_pvalloc(n), n);
}

typedef size_t (*usable_fn)(void *);

MP_EXPORT size_t malloc_usable_size(void *p)
{
	static usable_fn real;
	if (!p)
		return 0;
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
