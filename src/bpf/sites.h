/* SPDX-License-Identifier: MIT */
/*
 * Where memprof attach puts its probe on each allocator entry point.
 *
 * A uprobe replaces an instruction with int3; on the hit, the kernel either
 * emulates the original instruction (x86: push of a register, and jumps,
 * calls and conditional jumps with a relative target) or single-steps a copy
 * of it out of line, which costs a second trap: measured here ~21 us per
 * call for glibc's free, whose first instruction is `test %rdi,%rdi`,
 * against well under 1 us for an emulated one.  So the probe goes on the
 * first emulated instruction, provided every instruction before it is one
 * that changes neither control flow, nor the stack pointer, nor a register
 * (compares, tests, endbr64): then every call reaches the site, with the
 * arguments and the stack as they were at the entry.  glibc's free gets its
 * `je` after the NULL test, malloc its first `push`.  Where no such
 * instruction comes first, the probe stays at the entry and is single-stepped
 * (slower, still correct); the CLI says so.
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
	bool emulated;             /* the instruction there is one the kernel emulates */
	char insn[24];             /* what it is: "push %r12", "je", "test" ... */
};

/* Choose the site from the function's first `len` bytes.  Pure (unit-tested
 * and fuzzable): reads code[0..len) only. */
void mp_site_choose(const uint8_t *code, size_t len, struct mp_site *ret);

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
