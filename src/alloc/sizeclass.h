/* SPDX-License-Identifier: MIT */
/*
 * Size classes of the own allocator (alloc/).  Pure logic: no allocation,
 * no locks; usable in the target, in the CLI and in tests.
 *
 * Blocks up to MP_MAX_SMALL bytes are rounded up to one of MP_NCLASS - 1
 * classes and carved out of spans of whole pages; larger blocks are whole
 * page runs.  Class 0 means "not a small class": the lookup tables are zero
 * until mp_sizeclass_init() has run, so a lookup made before initialization
 * yields class 0 and the caller falls into its slow path (which initializes).
 *
 * The classes (sizeclass.c) round a request up by less than 16 bytes up to
 * 512 B, 32 bytes up to 1 KiB and about 2% above, finer than Go's table, because glibc, the baseline
 * for memory use, rounds to 16 bytes.  Every class size is a multiple of 16,
 * so every block is 16-byte aligned, and every size that is a multiple of a
 * power of two p <= MP_PAGE_SIZE gives p-aligned blocks (spans start on page
 * boundaries), which memalign uses.
 */
#ifndef MP_ALLOC_SIZECLASS_H
#define MP_ALLOC_SIZECLASS_H

#include <stddef.h>
#include <stdint.h>

#include "base/compiler.h"

#define MP_PAGE_SHIFT 13
#define MP_PAGE_SIZE ((size_t)1 << MP_PAGE_SHIFT)
#define MP_MAX_SMALL 32768
#define MP_NCLASS 211         /* class 0 (none) + 210 classes (the class map has 15 bits) */

struct mp_sizeclass {
	uint32_t size;        /* block size in bytes */
	uint32_t npages;      /* pages per span */
	uint32_t nobjs;       /* blocks per span */
	uint32_t batch;       /* blocks moved between thread and central cache at once */
	uint64_t recip;       /* 2^40 / size + 1: offset / size == (offset * recip) >> 40 for any
				 offset within a span (< 2^18: the error stays below 1) */
};

extern MP_HIDDEN struct mp_sizeclass mp_classes[MP_NCLASS];
/* n <= MP_MAX_SMALL: [(n + 15) >> 4] */
extern MP_HIDDEN uint8_t mp_class_by16[MP_MAX_SMALL / 16 + 1];

/* Fill the tables.  Idempotent, deterministic, no allocation. */
void mp_sizeclass_init(void);

/* The class of a request of n <= MP_MAX_SMALL bytes (0 before init). */
static inline unsigned mp_size_class(size_t n)
{
	return mp_class_by16[(n + 15) >> 4];
}

/* Index of the block at byte offset `off` of a span of class c. */
static inline uint32_t mp_class_index(unsigned c, size_t off)
{
	return (uint32_t)(((uint64_t)off * mp_classes[c].recip) >> 40);
}

#endif
