/* SPDX-License-Identifier: MIT */
/*
 * Stack capture, behind a two-call interface so another stack source
 * (frame pointers, BPF) can stand in for libunwind.
 * In the target; never allocates from the target's heap.  Not signal-safe.
 */
#ifndef MP_SAMPLE_UNWIND_H
#define MP_SAMPLE_UNWIND_H

#include <stdint.h>

/* Frames whose pc lies in [lo, hi) at the top of a captured stack are dropped
 * (the shim's own code).  0 on success. */
int mp_unwind_init(uintptr_t skip_lo, uintptr_t skip_hi);

/* Capture the calling thread's stack, innermost first, at most `max` return
 * addresses after the skipped frames.  Returns the number stored. */
uint32_t mp_unwind_capture(uint64_t *ret_pcs, uint32_t max);

#endif
