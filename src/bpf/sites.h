/* SPDX-License-Identifier: MIT */
/*
 * Where memprof attach puts its probe on each allocator entry point.
 *
 * A uprobe replaces an instruction with int3; on the hit, the kernel either
 * emulates the original instruction (x86: push of a register, jumps, calls
 * and conditional jumps with a relative target; nops on recent kernels
 * only, so never a site here) or single-steps a copy of it out of line,
 * which costs a second trap: ~17 us per call here (glibc's free begins
 * with `test %rdi,%rdi`), against ~0.45 us for an emulated one.  Among
 * the emulated ones a jump costs a little less than a push, whose
 * emulation writes the user stack (tests/bench/uprobe-floor.c: up to ~15
 * ns a hit, within the noise of a shared machine).
 *
 * So the site is found by decoding the function's first instructions in a
 * straight line from the entry, as far as each is one we know (a short
 * list: pushes, moves and loads into registers, lea, compares and tests,
 * add/sub of the stack pointer by a constant, nops, ...): the first
 * conditional or unconditional jump on that line, else the first push or
 * call on it, else the entry itself (single-stepped; the CLI says so),
 * where the argument registers the probe's program reads are still as at
 * the entry.  Every call passes such a site exactly once: no instruction
 * before it branches (so none is skipped) and no branch lands between the
 * entry and the site (so none is repeated): checked on every byte of the
 * code segment, a superset of its instructions (rel8 branches from the
 * function itself, rel32 ones from anywhere).  The stack pointer there is
 * the entry's minus what the pushes and subtractions before it took: the
 * return address lies at sp + ra_off.
 *
 * A function whose sampled calls get a return probe (every allocating
 * one) needs ra_off 0: the kernel takes the probe for the function's entry
 * and plants the return probe in the word at sp.  So glibc 2.36's malloc,
 * calloc and realloc keep their first push (memalign gets the je before
 * any push).  free never gets a return probe: it may go further, and past
 * its NULL test, `test %rdi,%rdi; je/jz T`, when that tests the untouched
 * first argument, the stack pointer is still the entry's and T is a `ret`:
 * free(NULL) then returns without an effect and without a trap.  glibc
 * 2.36's free gets the jne at +0x23 (after two pushes, sub $0x18,%rsp and
 * loads that leave %rdi alone), not the push at +9 (the first emulated
 * instruction past the NULL test): a jump rather than a push.
 */
#ifndef MP_BPF_SITES_H
#define MP_BPF_SITES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpf/attach.h"

struct mp_elfmod;

/* Where to probe in a function's first bytes. */
struct mp_site {
	uint32_t off;              /* bytes after the entry */
	uint32_t ra_off;           /* the return address is at sp + ra_off there */
	bool emulated;             /* the instruction there is one the kernel emulates */
	bool after_null_test;      /* past free's NULL test: free(NULL) does not hit it */
	char insn[24];             /* what it is: "push %r12", "je", "test" ... */
};

/*
 * Choose the site from the function's first `len` bytes.  `nargs`: how many
 * integer arguments the probe's program reads (rdi, rsi, rdx: 0 to 3), which
 * must be untouched at the site; `ret_probe`: the probe may ask for a return
 * probe, which the kernel plants in the word at sp (it takes the site for
 * the entry), so nothing before the site may push or move the stack
 * pointer; `null_free`: the function is a free, which may be probed after
 * its NULL test; `max_off`: no site after this offset.  Pure (unit-tested):
 * reads code[0..len) only.
 */
void mp_site_choose(const uint8_t *code, size_t len, unsigned nargs, bool ret_probe,
		    bool null_free, uint32_t max_off, struct mp_site *ret);

/*
 * The lowest offset in (0, site_off] from func_va (a function of func_size
 * bytes; 0: unknown) that a relative branch or call in seg[0..seg_len)
 * (mapped at seg_va) can reach, or 0 when none can.  Every byte is decoded
 * as if an instruction began there (a superset of the real ones), except
 * the function's bytes before the site (decoded already); rel8 branches
 * only from the function itself, rel32 ones from anywhere.  Pure.
 */
uint32_t mp_site_branched_into(const uint8_t *seg, size_t seg_len, uint64_t seg_va,
			       uint64_t func_va, uint64_t func_size, uint32_t site_off);

/* One allocator entry point found in a module. */
struct mp_probe {
	const char *name;          /* "malloc", ... (static) */
	enum mp_bpf_fn fn;
	bool outer;                /* implemented with other probed functions */
	uint64_t vaddr, size;      /* the symbol */
	uint64_t file_off;         /* file offset of the site */
	struct mp_site site;
	const char *also;          /* an alias at the same address ("aligned_alloc"), or NULL */
};

#define MP_MAX_PROBES 16

/* The allocator entry points `m` defines (none: not an allocator), at most
 * MP_MAX_PROBES, aliases merged.  Returns how many. */
size_t mp_probes_find(const struct mp_elfmod *m, struct mp_probe *ret);

#endif
