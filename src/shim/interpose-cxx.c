/* SPDX-License-Identifier: MIT */
/*
 * C++ operator new and delete, interposed directly (by their Itanium ABI
 * names) so the allocating frame in a profile is the caller of new, not
 * libstdc++'s operator new.  On failure the throwing forms defer to the real
 * libstdc++ operator, which runs the new_handler loop and throws
 * std::bad_alloc: we cannot throw from C.
 */
#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "shim/shim.h"

typedef void *(*new_fn)(size_t);
typedef void *(*new_al_fn)(size_t, size_t);

static MP_NOINLINE MP_COLD void *real_new(const char *name, size_t n)
{
	new_fn f = (new_fn)dlsym(RTLD_NEXT, name);
	if (!f)
		abort();
	return f(n);
}

static MP_NOINLINE MP_COLD void *real_new_aligned(const char *name, size_t n, size_t al)
{
	new_al_fn f = (new_al_fn)dlsym(RTLD_NEXT, name);
	if (!f)
		abort();
	return f(n, al);
}

/*
 * When the program has a malloc of its own (shim.h, MP_MODE_FOREIGN), new
 * does what libstdc++'s does: malloc, or aligned_alloc for the aligned
 * forms, both found the way libstdc++ finds them (the program's, where it
 * defines them), so that its free takes the block back.
 */

static inline void *op_new(size_t n)
{
	int m = __atomic_load_n(&mp_alloc_mode, __ATOMIC_RELAXED);
	void *p;
	if (MP_LIKELY(m == MP_MODE_OWN))
		p = mp_alloc_malloc(n ? n : 1);
	else if (m == MP_MODE_FOREIGN)
		return malloc(n ? n : 1);
	else
		p = mp_shim_malloc(n ? n : 1);
	return p ? mp_account(p, n) : NULL;
}

static inline void *op_new_aligned(size_t n, size_t al)
{
	if (mp_shim_foreign()) {
		/* libstdc++: a size that is a multiple of the alignment */
		size_t sz = n ? n : 1;
		if (sz > SIZE_MAX - (al - 1))
			return NULL;
		return aligned_alloc(al, (sz + al - 1) & ~(al - 1));
	}
	void *p = mp_shim_memalign(al, n ? n : 1);
	return p ? mp_account(p, n) : NULL;
}

/* operator new(size_t), new[](size_t) */
MP_EXPORT void *_Znwm(size_t n)
{
	void *p = op_new(n);
	return p ? p : real_new("_Znwm", n);
}

MP_EXPORT void *_Znam(size_t n)
{
	void *p = op_new(n);
	return p ? p : real_new("_Znam", n);
}

/* nothrow forms */
MP_EXPORT void *_ZnwmRKSt9nothrow_t(size_t n, const void *nt)
{
	(void)nt;
	return op_new(n);
}

MP_EXPORT void *_ZnamRKSt9nothrow_t(size_t n, const void *nt)
{
	(void)nt;
	return op_new(n);
}

/* operator new(size_t, std::align_val_t) and friends */
MP_EXPORT void *_ZnwmSt11align_val_t(size_t n, size_t al)
{
	void *p = op_new_aligned(n, al);
	return p ? p : real_new_aligned("_ZnwmSt11align_val_t", n, al);
}

MP_EXPORT void *_ZnamSt11align_val_t(size_t n, size_t al)
{
	void *p = op_new_aligned(n, al);
	return p ? p : real_new_aligned("_ZnamSt11align_val_t", n, al);
}

MP_EXPORT void *_ZnwmSt11align_val_tRKSt9nothrow_t(size_t n, size_t al, const void *nt)
{
	(void)nt;
	return op_new_aligned(n, al);
}

MP_EXPORT void *_ZnamSt11align_val_tRKSt9nothrow_t(size_t n, size_t al, const void *nt)
{
	(void)nt;
	return op_new_aligned(n, al);
}

/* Every delete is free(): sizes and alignments are not needed to free.
 * Our own blocks come back to us directly; any other goes to whatever free
 * the program's symbol lookup finds (ours, or its own allocator's, which
 * is what libstdc++'s delete would call). */
static inline void op_delete(void *p)
{
	if (mp_heap_owns(p))
		mp_shim_free(p);
	else
		free(p);
}

#define DELETE(name, ...) \
	MP_EXPORT void name(void *p, ##__VA_ARGS__) { op_delete(p); }

DELETE(_ZdlPv)
DELETE(_ZdaPv)
DELETE(_ZdlPvm, size_t n)
DELETE(_ZdaPvm, size_t n)
DELETE(_ZdlPvRKSt9nothrow_t, const void *nt)
DELETE(_ZdaPvRKSt9nothrow_t, const void *nt)
DELETE(_ZdlPvSt11align_val_t, size_t al)
DELETE(_ZdaPvSt11align_val_t, size_t al)
DELETE(_ZdlPvmSt11align_val_t, size_t n, size_t al)
DELETE(_ZdaPvmSt11align_val_t, size_t n, size_t al)
DELETE(_ZdlPvSt11align_val_tRKSt9nothrow_t, size_t al, const void *nt)
DELETE(_ZdaPvSt11align_val_tRKSt9nothrow_t, size_t al, const void *nt)
