/* SPDX-License-Identifier: MIT */
/*
 * A module's ELF symbols as an address index: built once from the symbol
 * table, then every lookup is one binary search.  Pure logic on numbers the
 * caller read from an untrusted ELF file (symbolize.c enumerates them with
 * libdwfl); fuzzed (tests/fuzz/fuzz-symindex.c).  CLI only.
 *
 * Which symbol names an address is the rule libdwfl's
 * dwfl_module_addrinfo() applies by scanning the whole table on every call
 * (so this index answers what symbolization answered before it):
 *   - a symbol with a size names the addresses [value, value + size);
 *     among several that hold the address, the one that starts last wins,
 *     then the stronger binding (global, weak, local, other), then the
 *     smaller size, then the earlier in the table;
 *   - global and weak symbols are preferred to local ones: a local symbol
 *     names an address only where no global or weak sized symbol holds it;
 *   - where no sized symbol holds the address, a symbol without a size (an
 *     assembler label) names it if it is the last one at or below it, lies
 *     at or above the end of every sized symbol that starts at or below
 *     it, and its section holds the address (an absolute one: only its own
 *     address).
 * The build sweeps the sorted boundaries of all symbols once and records,
 * per stretch of addresses, the symbol that names it: O(n log n) time,
 * O(n) space.
 */
#ifndef MP_SYMBOLIZE_SYMINDEX_H
#define MP_SYMBOLIZE_SYMINDEX_H

#include <stddef.h>
#include <stdint.h>

/* One symbol as the caller read it; only the ones that can name code:
 * defined, named, not STT_SECTION, STT_FILE or STT_TLS. */
struct mp_rawsym {
	uint64_t value;             /* address (any fixed base; lookups use the same) */
	uint64_t size;              /* 0: a label */
	uint64_t sec_lo, sec_hi;    /* its section's addresses [lo, hi); only for labels */
	uint32_t order;             /* position in the symbol table(s) */
	uint8_t bind;               /* MP_SYMBIND_* */
	uint8_t absolute;           /* SHN_ABS and other reserved sections: exact match */
};

enum {
	MP_SYMBIND_OTHER = 0,
	MP_SYMBIND_LOCAL = 1,
	MP_SYMBIND_WEAK = 2,
	MP_SYMBIND_GLOBAL = 3,
};

struct mp_symindex;

/*
 * Build the index of syms[0..n) (any order; values are untrusted: sizes
 * that overflow end at UINT64_MAX).  Returns 0 and *ret, or -ENOMEM.
 * n must be below UINT32_MAX.
 */
int mp_symindex_build(const struct mp_rawsym *syms, size_t n, struct mp_symindex **ret);

void mp_symindex_free(struct mp_symindex *ix);     /* accepts NULL */

/* The index into the build's syms[] of the symbol that names addr, or -1. */
int64_t mp_symindex_lookup(const struct mp_symindex *ix, uint64_t addr);

/* Bytes the index holds (for the memory figures of the benchmark). */
size_t mp_symindex_bytes(const struct mp_symindex *ix);

#endif
