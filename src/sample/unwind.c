/* SPDX-License-Identifier: MIT */
/* Stack capture set-up, the fallback walk, and the check of memprof's walker
 * against libunwind (unwind.h). */
#define UNW_LOCAL_ONLY
#include <dlfcn.h>
#include <libunwind.h>   /* types and names only: libunwind is dlopen()ed */
#include <errno.h>
#include <stdbool.h>

#include "sample/stacks.h"
#include "sample/unwind.h"

uintptr_t mp_unwind_skip_lo, mp_unwind_skip_hi;
unsigned mp_unwind_mode = MP_UNWIND_LIBUNWIND;
uint64_t mp_unwind_checked, mp_unwind_differed;
uint64_t mp_unwind_fallback_checked, mp_unwind_fallback_differed;

/* libunwind's unw_backtrace and unw_flush_cache, once loaded (unwind=1 and
 * 2 only). */
static int (*unw_walk)(void **buffer, int size);
static int (*unw_flush)(unw_addr_space_t as, unw_word_t lo, unw_word_t hi);
static unw_addr_space_t *unw_as;

int mp_unwind_init(uintptr_t lo, uintptr_t hi, unsigned mode)
{
	mp_unwind_skip_lo = lo;
	mp_unwind_skip_hi = hi;
	if (mode != MP_UNWIND_LIBUNWIND && mp_fastunwind_init() < 0)
		mode = MP_UNWIND_LIBUNWIND;
	mp_unwind_mode = mode;
	return 0;
}

#define NAME_(x) #x
#define NAME(x) NAME_(x)

/*
 * libunwind is not linked into the shim: its exported _Unwind_* functions
 * (a copy of libgcc's interface) would then come before libgcc_s's in the
 * program's symbol lookup, and the C++ exceptions of a C program's plugins
 * would be unwound by libunwind, with its pipe.  Loaded with RTLD_LOCAL,
 * its names stay out of the program's way.
 */
int mp_unwind_load_libunwind(void)
{
	void *h = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
	if (!h)
		h = dlopen("libunwind.so", RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return -ENOENT;
	int (*policy)(unw_addr_space_t, unw_caching_policy_t) =
		(int (*)(unw_addr_space_t, unw_caching_policy_t))dlsym(h, NAME(unw_set_caching_policy));
	unw_addr_space_t *as = (unw_addr_space_t *)dlsym(h, NAME(unw_local_addr_space));
	int (*walk)(void **, int) = (int (*)(void **, int))dlsym(h, "unw_backtrace");
	if (!policy || !as || !walk)
		return -ENOENT;
	policy(*as, UNW_CACHE_PER_THREAD);
	unw_as = as;
	__atomic_store_n(&unw_flush,
			 (int (*)(unw_addr_space_t, unw_word_t, unw_word_t))dlsym(h, NAME(unw_flush_cache)),
			 __ATOMIC_RELEASE);
	__atomic_store_n(&unw_walk, walk, __ATOMIC_RELEASE);
	return 0;
}

/* libgcc_s (its unwind.h; libunwind-dev installs another of that name). */
typedef enum { MP_URC_NO_REASON = 0, MP_URC_END_OF_STACK = 5 } mp_urc;
struct _Unwind_Context;
extern int _Unwind_Backtrace(mp_urc (*fn)(struct _Unwind_Context *, void *), void *arg);
extern unsigned long _Unwind_GetIPInfo(struct _Unwind_Context *ctx, int *ip_before_insn);

struct gcc_walk {
	void **buf;
	int skip, n, max;
};

static mp_urc gcc_frame(struct _Unwind_Context *ctx, void *arg)
{
	struct gcc_walk *w = arg;
	int before = 0;
	uintptr_t ip = _Unwind_GetIPInfo(ctx, &before);
	if (ip == 0 || w->n >= w->max)
		return MP_URC_END_OF_STACK;
	if (w->skip > 0)
		w->skip--;
	else
		w->buf[w->n++] = (void *)ip;
	return MP_URC_NO_REASON;
}

/* libgcc's walk: pcs from the return address into this function's caller
 * out (its own frame, the first _Unwind_Backtrace reports, is dropped). */
static MP_NOINLINE int gcc_backtrace(void **buf, int size)
{
	struct gcc_walk w = { buf, 1, 0, size };
	_Unwind_Backtrace(gcc_frame, &w);
	return w.n;
}

extern uintptr_t _Unwind_GetCFA(struct _Unwind_Context *ctx);
extern uintptr_t _Unwind_GetGR(struct _Unwind_Context *ctx, int regno);

struct caller_walk {
	uintptr_t lo, hi, cfa;
	uintptr_t sp;
	uintptr_t *regs;
	int found;               /* 1: the frame met, its caller next; 2: done */
};

#if defined(__x86_64__)
static const int saved_regs[MP_UNWIND_NSAVED] = { 3, 6, 12, 13, 14, 15 };   /* DWARF numbers */
#endif

/*
 * libgcc hands each frame's context with its pc and the CFA of the frame
 * below it (the callee's: this frame's stack pointer at its call), and
 * its registers as they are in this frame (libgcc knows where every frame
 * below saved them).  So the caller of the frame with CFA `cfa` is the
 * context whose CFA is `cfa`; the caller of the frame whose pc is in
 * [lo, hi) is the next context.
 */
static mp_urc caller_frame(struct _Unwind_Context *ctx, void *arg)
{
	struct caller_walk *w = arg;
	int before = 0;
	uintptr_t ip = _Unwind_GetIPInfo(ctx, &before);
	if (ip == 0)
		return MP_URC_END_OF_STACK;
	uintptr_t pc = before ? ip : ip - 1;
	if (w->found == 1 || (w->lo == w->hi && _Unwind_GetCFA(ctx) == w->cfa)) {
		w->sp = _Unwind_GetCFA(ctx);
#if defined(__x86_64__)
		for (int i = 0; i < MP_UNWIND_NSAVED; i++)
			w->regs[i] = _Unwind_GetGR(ctx, saved_regs[i]);
#endif
		w->found = 2;
		return MP_URC_END_OF_STACK;
	}
	if (w->lo < w->hi && pc - w->lo < w->hi - w->lo)
		w->found = 1;
	return MP_URC_NO_REASON;
}

MP_NOINLINE int mp_unwind_caller(uintptr_t lo, uintptr_t hi, uintptr_t cfa, uintptr_t *ret_sp,
				 uintptr_t ret_regs[MP_UNWIND_NSAVED])
{
#if defined(__x86_64__)
	uintptr_t regs[MP_UNWIND_NSAVED] = { 0 };
	struct caller_walk w = { lo, hi, cfa, 0, regs, 0 };
	_Unwind_Backtrace(caller_frame, &w);
	if (w.found != 2)
		return -ENOENT;
	*ret_sp = w.sp;
	for (int i = 0; i < MP_UNWIND_NSAVED; i++)
		ret_regs[i] = regs[i];
	return 0;
#else
	(void)lo, (void)hi, (void)cfa, (void)ret_sp, (void)ret_regs;
	return -ENOTSUP;
#endif
}

/* Both walks from here start with a return address into this function,
 * dropped, so the first pc is the return address into our caller, as it was
 * when the walks were inlined there. */
MP_NOINLINE int mp_unwind_fallback(void **buf, int size)
{
	void *tmp[MP_MAX_DEPTH + MP_UNWIND_EXTRA_FRAMES + 1];
	int (*walk)(void **, int) = __atomic_load_n(&unw_walk, __ATOMIC_ACQUIRE);
	int k;
	if (size > MP_MAX_DEPTH + MP_UNWIND_EXTRA_FRAMES)
		size = MP_MAX_DEPTH + MP_UNWIND_EXTRA_FRAMES;
	if (mp_unwind_mode == MP_UNWIND_FAST || !walk)
		k = gcc_backtrace(tmp, size + 1);
	else
		k = walk(tmp, size + 1);
	k = k > 0 ? k - 1 : 0;
	for (int i = 0; i < k; i++)
		buf[i] = tmp[i + 1];
	if (mp_unwind_mode == MP_UNWIND_CHECK && walk) {
		/* libgcc's walk of the stacks memprof's walker left to libunwind
		 * (ours is its first frame). */
		void *g[MP_MAX_DEPTH + MP_UNWIND_EXTRA_FRAMES + 1];
		int n = gcc_backtrace(g, size + 1) - 1;
		bool same = n == k;
		for (int i = 1; same && i < n; i++)
			same = g[i + 1] == buf[i];
		__atomic_fetch_add(&mp_unwind_fallback_checked, 1, __ATOMIC_RELAXED);
		if (!same)
			__atomic_fetch_add(&mp_unwind_fallback_differed, 1, __ATOMIC_RELAXED);
	}
	return k;
}

void mp_unwind_forget(const uint64_t *ranges, size_t n)
{
	int (*flush)(unw_addr_space_t, unw_word_t, unw_word_t) =
		__atomic_load_n(&unw_flush, __ATOMIC_ACQUIRE);

	if (mp_unwind_mode != MP_UNWIND_LIBUNWIND)
		mp_fastunwind_forget(ranges, n);
	for (size_t r = 0; flush && r < n; r++)
		flush(*unw_as, (unw_word_t)ranges[2 * r], (unw_word_t)ranges[2 * r + 1]);
}

/*
 * Both walks of one stack, each from its own entry in the same caller:
 * the first pc of each is a return address into that caller, so they differ
 * there and the comparison starts from the second frame.  libunwind stops
 * at the same outermost frame (its return address undefined) or earlier
 * when it cannot go on.
 */
void mp_unwind_check(const uint64_t *fast, uint32_t nfast, void **slow, int nslow, uint32_t keep)
{
	/* Past the shim's own frames (memprof's walker does not report
	 * them), every frame the same; of a stack deeper than both walks
	 * went (the shim's frames count in one walk's limit, not in the
	 * other's), the `keep` innermost, which are what is recorded. */
	uint32_t i = 0, j = 0, ns = nslow > 0 ? (uint32_t)nslow : 0;
	while (i < nfast && fast[i] - mp_unwind_skip_lo < mp_unwind_skip_hi - mp_unwind_skip_lo)
		i++;
	while (j < ns && (uint64_t)(uintptr_t)slow[j] - mp_unwind_skip_lo <
				 mp_unwind_skip_hi - mp_unwind_skip_lo)
		j++;
	uint32_t a = nfast - i, b = ns - j;
	bool same = j < ns && (a == b || (a >= keep && b >= keep));
	uint32_t cmp = a == b ? a : keep;
	for (uint32_t k = 0; same && k < cmp; k++)
		same = fast[i + k] == (uint64_t)(uintptr_t)slow[j + k];
	__atomic_fetch_add(&mp_unwind_checked, 1, __ATOMIC_RELAXED);
	if (!same)
		__atomic_fetch_add(&mp_unwind_differed, 1, __ATOMIC_RELAXED);
}

void mp_unwind_check_id(uint32_t memo_id, int64_t slow_id)
{
	if (slow_id != (int64_t)memo_id)
		__atomic_fetch_add(&mp_unwind_differed, 1, __ATOMIC_RELAXED);
}
