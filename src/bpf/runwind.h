/* SPDX-License-Identifier: MIT */
/*
 * Unwinding another process's stack from a copy of it, for memprof attach:
 * the BPF program copies the user stack from the stack pointer up, with
 * the instruction pointer, stack pointer and RBP; here each frame is
 * unwound with the rule the module's .eh_frame gives (sample/cfi.c, the
 * reader the in-process walker uses), so code built without frame pointers
 * unwinds to main.  Where that reader refuses a frame, the stack is
 * unwound again by elfutils' unwinder (dwunwind.h), which evaluates every
 * rule and falls back to the frame pointer.  CLI only; lives beside the in-target walker
 * (sample/fastunwind.c) rather than in it: that one reads its own memory
 * and must stay small and fast.
 *
 * Modules are found in the text of /proc/PID/maps and read through the
 * process's /proc map_files (the very file mapped, whatever namespace or
 * root it lives in), else /proc/PID/root, else their names.
 */
#ifndef MP_BPF_RUNWIND_H
#define MP_BPF_RUNWIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpf/attach.h"

struct mp_runwind;
struct mp_elfmod;

/* For process `pid`; reads its maps now.  0, -ENOMEM, or -errno when the
 * maps cannot be read (-ENOENT: the process is gone). */
int mp_runwind_new(int pid, struct mp_runwind **ret);
void mp_runwind_free(struct mp_runwind *u);     /* accepts NULL */

/* Read the maps again (a module was loaded).  0 or -errno. */
int mp_runwind_reload(struct mp_runwind *u);

/* The last maps text read (NUL-terminated). */
const char *mp_runwind_maps(const struct mp_runwind *u, size_t *ret_len);

/* An executable file mapping of the process. */
struct mp_rmodule {
	uint64_t start, end, offset;
	const char *path;          /* as in maps */
	struct mp_elfmod *elf;     /* NULL: not readable */
	uint64_t bias;             /* runtime address - link-time vaddr */
};

size_t mp_runwind_nmodules(const struct mp_runwind *u);
const struct mp_rmodule *mp_runwind_module(const struct mp_runwind *u, size_t i);
/* The executable mapping containing `pc`, or NULL. */
const struct mp_rmodule *mp_runwind_find(struct mp_runwind *u, uint64_t pc);

/*
 * Unwind from registers `r` at an instruction about to run (a probe site,
 * or the instruction after a system call) with the stack bytes
 * stack[0..len) copied from address r->sp.  Writes the return addresses,
 * innermost (the caller of the function r->ip is in) first, into
 * pcs[0..max) and returns how many.  Stops at the outermost frame, at a
 * frame it cannot unwind, or when the copy ends.  Each frame is unwound
 * with our CFI reader; a stack where it refuses a frame is unwound again
 * by elfutils (dwunwind.h), whose answer counts when it gets as far.
 */
uint32_t mp_runwind_walk(struct mp_runwind *u, const struct mp_bpf_regs *r, const uint8_t *stack,
			 size_t len, uint64_t *pcs, uint32_t max);

/* The name a module's file was opened by (a /proc/PID/map_files entry
 * while the process lives, ...), for probing it; NULL when not opened. */
const char *mp_runwind_opened(const struct mp_runwind *u, const struct mp_rmodule *m);

/* Whether code address `pc` (a return address minus one) is in one of
 * the allocation wrappers whose frames `memprof run` never sees (C++'s
 * operator new in a shared library: run interposes it). */
bool mp_runwind_in_wrapper(struct mp_runwind *u, uint64_t pc);

struct mp_runwind_stats {
	uint64_t walks;            /* stacks unwound */
	uint64_t cfi_frames;       /* frames from our CFI reader */
	uint64_t fp_frames;        /* frames from the frame pointer chain (or the top word) */
	uint64_t dw_walks;         /* stacks unwound again by elfutils */
	uint64_t dw_frames;        /* frames elfutils gave (when its answer counted) */
};

void mp_runwind_stats(const struct mp_runwind *u, struct mp_runwind_stats *ret);

#endif
