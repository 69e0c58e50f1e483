/* SPDX-License-Identifier: MIT */
/*
 * Stack capture, behind a two-call interface so another stack source
 * (frame pointers, BPF) can stand in for libunwind.
 * In the target; never allocates from the target's heap.  Not signal-safe.
 *
 * libunwind local unwinding: unw_backtrace() walks with libunwind's cached
 * fast-trace tables (x86_64), falling back to full DWARF unwinding; both use
 * libunwind's own mmap-backed pools.  libunwind may still reach malloc on
 * its first use in a thread; the shim's recursion guard forwards such calls
 * without sampling them.
 */
#ifndef MP_SAMPLE_UNWIND_H
#define MP_SAMPLE_UNWIND_H

#include <stdint.h>

#include "sample/stacks.h"

/* Frames whose pc lies in [lo, hi) at the top of a captured stack are dropped
 * (the shim's own code).  0 on success. */
int mp_unwind_init(uintptr_t skip_lo, uintptr_t skip_hi);

extern uintptr_t mp_unwind_skip_lo, mp_unwind_skip_hi;
int unw_backtrace(void **buffer, int size);      /* <libunwind.h> */

/* Room for the shim's own frames on top of a full stack. */
#define MP_UNWIND_EXTRA_FRAMES 16

/*
 * Capture the calling thread's stack, innermost first, at most `max` return
 * addresses after the skipped frames.  Returns the number stored.  Inlined
 * into its callers: every frame of the shim's own is one more frame for
 * libunwind to walk (~15 ns each) and then drop.
 */
static inline __attribute__((always_inline)) uint32_t mp_unwind_capture(uint64_t *ret_pcs,
									 uint32_t max)
{
	void *buf[MP_MAX_DEPTH + MP_UNWIND_EXTRA_FRAMES];
	if (max > MP_MAX_DEPTH)
		max = MP_MAX_DEPTH;
	int n = unw_backtrace(buf, (int)(max + MP_UNWIND_EXTRA_FRAMES));
	int i = 0;
	while (i < n && (uintptr_t)buf[i] >= mp_unwind_skip_lo && (uintptr_t)buf[i] < mp_unwind_skip_hi)
		i++;
	uint32_t out = 0;
	for (; i < n && out < max; i++)
		ret_pcs[out++] = (uint64_t)(uintptr_t)buf[i];
	return out;
}

#endif
