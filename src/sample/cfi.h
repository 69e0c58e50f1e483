/* SPDX-License-Identifier: MIT */
/*
 * Reading x86-64 call frame information (.eh_frame) into the rules
 * memprof's stack walker follows (fastunwind.c): the row of an FDE's
 * program at a pc, reduced to the canonical frame address as RSP or RBP
 * plus an offset, the return address at CFA - 8, and RBP restored from
 * CFA + an offset or left as it is.  Anything else gives MP_CFI_BAD and
 * the walker leaves the stack to libunwind.
 *
 * Pure: it reads the bytes it is given and nothing else, never beyond the
 * region it is told the CFI lies in (fuzzed: tests/fuzz/fuzz-cfi.c).
 */
#ifndef MP_SAMPLE_CFI_H
#define MP_SAMPLE_CFI_H

#include <stdint.h>

/* A rule, packed into a word: kind in bits 0-1, CFA offset in 16-39
 * (signed), RBP's offset from the CFA in 40-63 (signed, a multiple of 8;
 * 0: RBP unchanged). */
enum { MP_CFI_RSP = 1, MP_CFI_RBP = 2, MP_CFI_END = 3 };
#define MP_CFI_BAD UINT64_MAX

static inline unsigned mp_cfi_kind(uint64_t rule)
{
	return (unsigned)(rule & 3);
}

static inline int64_t mp_cfi_cfa_off(uint64_t rule)
{
	return (int64_t)(rule << 24) >> 40;
}

static inline int64_t mp_cfi_rbp_off(uint64_t rule)
{
	return (int64_t)rule >> 40;
}

/*
 * The rule for the frame whose return address is `pc` (for the innermost
 * frame: the pc after its call), which is the row of the instruction
 * before it, from the FDE at `fde` of the function that starts at `func`.
 * The FDE and its CIE must lie in [lo, hi); for the CFI of loaded code,
 * which the program itself runs on, lo = 0 and hi = UINTPTR_MAX.
 * MP_CFI_END: the outermost frame (return address undefined).
 */
uint64_t mp_cfi_rule(uintptr_t lo, uintptr_t hi, const uint8_t *fde, uint64_t func, uint64_t pc);

#endif
