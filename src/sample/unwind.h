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

struct mp_stack_cache;   /* sample/stacks.h */
struct mp_fp;            /* sample/stacks.h */

enum { MP_UNWIND_FAST = 0, MP_UNWIND_LIBUNWIND = 1, MP_UNWIND_CHECK = 2 };

/* Frames whose pc lies in [lo, hi) at the top of a captured stack are dropped
 * (the shim's own code).  `mode`: MP_UNWIND_*.  0 on success. */
int mp_unwind_init(uintptr_t skip_lo, uintptr_t skip_hi, unsigned mode);

/* Load libunwind (unwind=1 and 2), from a constructor: dlopen.  Until it
 * is loaded, or when it cannot be, libgcc's walk stands in.  0, -ENOENT. */
int mp_unwind_load_libunwind(void);

extern MP_HIDDEN uintptr_t mp_unwind_skip_lo, mp_unwind_skip_hi;
extern MP_HIDDEN unsigned mp_unwind_mode;
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

/* The walk's answer when it is one the thread's walk memo holds: the pcs
 * were not stored; *ret_cache is the memo's (below). */
#define MP_WALK_MEMO (UINT32_MAX - 1)

/*
 * memprof's own walker (fastunwind.c): every frame by its .eh_frame rule
 * (CFA from RSP or RBP, return address at CFA - 8), rules cached per return
 * address, recent walks remembered per thread.  Returns the number of pcs
 * stored, first the return address into its caller; MP_WALK_MEMO; or
 * UINT32_MAX when some frame needs more than that (a signal frame, an
 * expression, code without unwind information): then libunwind walks the
 * stack instead.
 *
 * *ret_cache: the stack table's cache (struct mp_stack_cache, stacks.h)
 * the memo keeps for this walk, or NULL when the walk is not kept.  The
 * walker only clears it, whenever the memo's walk changes (a new walk in
 * that entry, another `max`), then sets its fp and depth (the memo's
 * fingerprint: what capture.h looks the stack up by), and never reads it:
 * what it holds is the caller's business (sample/capture.h).
 */
uint32_t mp_fastunwind_capture(uint64_t *pcs, uint32_t max, struct mp_stack_cache **ret_cache);
/* After MP_WALK_MEMO, and before the thread walks again: the memo's pcs,
 * at most `max` (the walk's); the number stored. */
uint32_t mp_fastunwind_memo_pcs(const struct mp_stack_cache *cache, uint64_t *pcs, uint32_t max);
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

/*
 * Where the caller of a frame of this thread's stack stands: the frame
 * whose pc lies in [lo, hi) when lo < hi, else the one whose CFA is `cfa`
 * (libgcc's walk, from the caller of this function out).  *ret_sp: that
 * frame's CFA, the caller's stack pointer at the call; ret_regs: the
 * callee-saved registers as the caller has them (x86-64: rbx, rbp,
 * r12-r15), which the frames below may have saved and reused.  0, or
 * -ENOENT when the walk meets no such frame (-ENOTSUP on other
 * architectures).  Not for signal handlers; may take ld.so's lock.
 */
#define MP_UNWIND_NSAVED 6
int mp_unwind_caller(uintptr_t lo, uintptr_t hi, uintptr_t cfa, uintptr_t *ret_sp,
		     uintptr_t ret_regs[MP_UNWIND_NSAVED]);

/* Room for the shim's own frames on top of a full stack. */
#define MP_UNWIND_EXTRA_FRAMES 16

/* MP_UNWIND_CHECK: memprof's walk of a stack against libunwind's, counted
 * in mp_unwind_checked and mp_unwind_differed. */
void mp_unwind_check(const uint64_t *fast, uint32_t nfast, void **slow, int nslow, uint32_t keep);
/* MP_UNWIND_CHECK: an id or bucket the memo remembered against the one
 * libunwind's stack gives; a difference counts in mp_unwind_differed. */
void mp_unwind_check_id(uint32_t memo_id, int64_t slow_id);

#endif
