/* SPDX-License-Identifier: MIT */
/*
 * elfutils' unwinder (libdwfl) over a stack copied from another process,
 * for memprof attach's stacks where our own CFI reader (sample/cfi.c, which
 * knows a CFA of RSP or RBP plus an offset) refuses a frame: CFA
 * expressions (GCC's stack realignment through a DRAP register: CFA =
 * *(RBP - 8)), rules naming other registers, signal frames.  It evaluates
 * the whole of DWARF's call frame information, with the callee-saved
 * registers the probe captured, and falls back to the frame pointer where
 * there is none.  CLI only.
 */
#ifndef MP_BPF_DWUNWIND_H
#define MP_BPF_DWUNWIND_H

#include <stddef.h>
#include <stdint.h>

#include "bpf/attach.h"

struct mp_dwunwind;

/* An unwinder with no module yet; NULL when out of memory. */
struct mp_dwunwind *mp_dwunwind_new(void);
void mp_dwunwind_free(struct mp_dwunwind *d);      /* accepts NULL */

/* Forget every module (the process's maps changed). */
void mp_dwunwind_reset(struct mp_dwunwind *d);

/* A module: the ELF file opened by `path` (a /proc/PID/map_files entry or
 * a name), named `name`, loaded with bias `bias` (runtime address minus
 * link-time address).  0, or -errno when it cannot be opened or read. */
int mp_dwunwind_add(struct mp_dwunwind *d, const char *name, const char *path, uint64_t bias);

/*
 * As mp_runwind_walk: the return addresses from registers `r` at an
 * instruction about to run and the stack bytes stack[0..len) copied from
 * r->sp, innermost first, at most `max`.  Returns how many.
 */
uint32_t mp_dwunwind_walk(struct mp_dwunwind *d, const struct mp_bpf_regs *r,
			  const uint8_t *stack, size_t len, uint64_t *pcs, uint32_t max);

#endif
