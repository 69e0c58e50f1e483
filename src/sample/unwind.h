/* SPDX-License-Identifier: MIT */
/*
 * Stack capture, behind a two-call interface so another stack source
 * (frame pointers, BPF) can stand in for libunwind.
 * In the target; never allocates from the target's heap.  Not signal-safe.
 *
 * memprof's own walker (fastunwind.c) takes every stack it can.  Where it
 * cannot (a signal frame, a rule given by a DWARF expression, code without
 * unwind information), the default (unwind=0) falls back to libgcc's
 * _Unwind_Backtrace, the unwinder of C++ exceptions, which the walker
 * already uses to find FDEs.  libunwind is used only when asked for
 * (unwind=1, and unwind=2, which compares the walkers): libunwind 1.6
 * validates memory through a pipe it opens on its first use, two
 * descriptors in the program's table for good (and written to under a
 * number the program may have closed and reused), which a profiler must
 * not hold.  Both use their own memory; they may reach malloc on first use
 * in a thread, and the shim's recursion guard serves such calls unsampled.
 */
#ifndef MP_SAMPLE_UNWIND_H
#define MP_SAMPLE_UNWIND_H

#include <stdbool.h>
#include <stdint.h>

#include "base/compiler.h"
#include "sample/stacks.h"

enum { MP_UNWIND_FAST = 0, MP_UNWIND_LIBUNWIND = 1, MP_UNWIND_CHECK = 2 };

/* Frames whose pc lies in [lo, hi) at the top of a captured stack are dropped
 * (the shim's own code).  `mode`: MP_UNWIND_*.  0 on success. */
int mp_unwind_init(uintptr_t skip_lo, uintptr_t skip_hi, unsigned mode);

/* Load libunwind (unwind=1 and 2), from a constructor: dlopen.  Until it
 * is loaded, or when it cannot be, libgcc's walk stands in.  0, -ENOENT. */
int mp_unwind_load_libunwind(void);

extern uintptr_t mp_unwind_skip_lo, mp_unwind_skip_hi;
extern unsigned mp_unwind_mode;
extern uint64_t mp_unwind_checked, mp_unwind_differed;   /* MP_UNWIND_CHECK */
/* MP_UNWIND_CHECK, stacks memprof's walker could not take: libgcc's against
 * libunwind's. */
extern uint64_t mp_unwind_fallback_checked, mp_unwind_fallback_differed;

/*
 * The fallback walk (see above): return addresses from the caller's caller
 * out, at most `size`; the number stored.  libgcc's under MP_UNWIND_FAST,
 * libunwind's otherwise (and under MP_UNWIND_CHECK both, counted).
 */
int mp_unwind_fallback(void **buffer, int size);

int mp_fastunwind_init(void);

/*
 * What the caller learned about a stack the thread's walk memo holds
 * (fastunwind.c): its id in the stack table, and the bucket of its last
 * block size.  Valid while `gen` is the stack table's generation
 * (mp_prof_generation); the walker clears `stack` when the memo's walk
 * changes, or the walk's `max`.  Per thread: only its thread touches it.
 */
struct mp_stack_memo {
	uint32_t gen;
	uint32_t stack;          /* 0: unknown */
	uint32_t max;            /* the walk's */
	uint32_t bucket;         /* bucket + 1 for blocks of `size`; 0: none */
	uint64_t size;
};

/* The walk's answer when the memo already has the stack's id: the pcs were
 * not stored (never under MP_UNWIND_CHECK). */
#define MP_WALK_KNOWN (UINT32_MAX - 1)

/*
 * memprof's own walker (fastunwind.c): every frame by its .eh_frame rule
 * (CFA from RSP or RBP, return address at CFA - 8), rules cached per return
 * address, recent walks remembered per thread.  Returns the number of pcs
 * stored, first the return address into its caller; MP_WALK_KNOWN; or
 * UINT32_MAX when some frame needs more than that (a signal frame, an
 * expression, code without unwind information): then libunwind walks the
 * stack instead.  *ret_memo: the memo that now holds this walk, or NULL.
 */
uint32_t mp_fastunwind_capture(uint64_t *pcs, uint32_t max, struct mp_stack_memo **ret_memo);
/* Around fork (the rule table's insert lock, the walk memos' spare list). */
void mp_fastunwind_lock(void);
void mp_fastunwind_unlock(void);
void mp_fastunwind_after_fork_child(void);

/* Code in [ranges[2i], ranges[2i+1]), i < n, was unmapped: the rules
 * computed for it are computed again when next needed, and every thread's
 * walk memo is emptied before its next use.  Not for signal handlers. */
void mp_fastunwind_forget(const uint64_t *ranges, size_t n);

/*
 * Code in those ranges was unmapped (dlclose): what the walkers cached about
 * it is dropped, memprof's walker's (above) and libunwind's.  Not for
 * signal handlers.
 */
void mp_unwind_forget(const uint64_t *ranges, size_t n);

/* Room for the shim's own frames on top of a full stack. */
#define MP_UNWIND_EXTRA_FRAMES 16

void mp_unwind_check(const uint64_t *fast, uint32_t nfast, void **slow, int nslow);
/* MP_UNWIND_CHECK: a memo's stack id against that of libunwind's stack. */
void mp_unwind_check_id(uint32_t memo_id, int64_t slow_id);

/*
 * Capture the calling thread's stack, innermost first, at most `max` return
 * addresses after the skipped frames.  Returns the number stored, and in
 * *ret_memo the walk memo's record of this stack, or NULL.  When that
 * record has the stack's id, nothing is stored (0 is returned): callers go
 * through mp_memo_stack or mp_memo_bucket, which use it.  Inlined into its
 * callers: every frame of the shim's own is one more frame to walk and
 * then drop.
 */
static inline __attribute__((always_inline)) uint32_t
mp_unwind_capture(uint64_t *ret_pcs, uint32_t max, struct mp_stack_memo **ret_memo)
{
	uint64_t buf[MP_MAX_DEPTH + MP_UNWIND_EXTRA_FRAMES];
	uint32_t n = UINT32_MAX;
	*ret_memo = NULL;
	if (max > MP_MAX_DEPTH)
		max = MP_MAX_DEPTH;
	if (mp_unwind_mode != MP_UNWIND_LIBUNWIND)
		n = mp_fastunwind_capture(buf, max + MP_UNWIND_EXTRA_FRAMES, ret_memo);
	if (n == MP_WALK_KNOWN)
		return 0;
	if (n == UINT32_MAX || mp_unwind_mode == MP_UNWIND_CHECK) {
		/* (Under MP_UNWIND_CHECK the memo stays: mp_memo_stack checks
		 * its stack id against libunwind's stack.) */
		void *vbuf[MP_MAX_DEPTH + MP_UNWIND_EXTRA_FRAMES];
		int k = mp_unwind_fallback(vbuf, (int)(max + MP_UNWIND_EXTRA_FRAMES));
		if (n != UINT32_MAX)
			mp_unwind_check(buf, n, vbuf, k);
		n = k > 0 ? (uint32_t)k : 0;
		for (uint32_t i = 0; i < n; i++)
			buf[i] = (uint64_t)(uintptr_t)vbuf[i];
	}
	uint32_t i = 0;
	while (i < n && buf[i] >= mp_unwind_skip_lo && buf[i] < mp_unwind_skip_hi)
		i++;
	uint32_t out = 0;
	for (; i < n && out < max; i++)
		ret_pcs[out++] = buf[i];
	return out;
}

/* The stack table's id for the stack just captured (pcs[0..n), its memo m
 * or NULL): the memo's when it has one, else interned and remembered.
 * >= 1, or -ENOSPC when the table is full. */
static inline int64_t mp_memo_stack(struct mp_stack_memo *m, const uint64_t *pcs, uint32_t n)
{
	uint32_t gen = mp_prof_generation();
	if (m && m->stack && m->gen == gen) {
		if (MP_UNLIKELY(mp_unwind_mode == MP_UNWIND_CHECK))
			mp_unwind_check_id(m->stack, mp_prof_intern_stack(pcs, n));
		return m->stack;
	}
	int64_t s = mp_prof_intern_stack(pcs, n);
	if (m) {
		m->gen = gen;
		m->stack = s > 0 ? (uint32_t)s : 0;
		m->bucket = 0;
	}
	return s;
}

/* mp_prof_record_alloc for the stack just captured, through its memo. */
static inline int64_t mp_memo_bucket(struct mp_stack_memo *m, const uint64_t *pcs, uint32_t n,
				     uint64_t size)
{
	bool check = mp_unwind_mode == MP_UNWIND_CHECK;
	if (m && m->bucket && m->size == size && m->gen == mp_prof_generation() && !check) {
		mp_prof_record_again(m->bucket - 1);
		return m->bucket - 1;
	}
	int64_t s = mp_memo_stack(m, pcs, n);
	if (s < 0)
		return s;
	int64_t b = mp_prof_record_stack((uint32_t)s, size);
	if (MP_UNLIKELY(check) && m && m->bucket && m->size == size)
		mp_unwind_check_id(m->bucket - 1, b);
	if (m && b >= 0) {
		m->size = size;
		m->bucket = (uint32_t)b + 1;
	}
	return b;
}

#endif
