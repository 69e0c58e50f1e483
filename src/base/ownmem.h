/* SPDX-License-Identifier: MIT */
/*
 * The mappings memprof makes for itself inside the target (the arena, page
 * maps, metadata, profile tables), so the leak scan never takes them for the
 * program's memory: a pointer kept in one of our tables must not make a
 * block reachable.  In the target: a fixed array, no allocation; add is
 * lock-free (an atomic slot claim).
 */
#ifndef MP_BASE_OWNMEM_H
#define MP_BASE_OWNMEM_H

#include <stddef.h>
#include <stdint.h>

#define MP_OWNMEM_MAX 256

/* Remember [p, p + n) as ours; silently ignored when the table is full. */
void mp_ownmem_add(const void *p, size_t n);

/* Forget [p, p + n), added as such, before it is unmapped: the program may
 * map its own memory there later, and that is a root again. */
void mp_ownmem_remove(const void *p, size_t n);

/* The lowest-starting range of ours that ends after p: 1 and [*ret_lo,
 * *ret_hi), or 0 when none does. */
int mp_ownmem_next(uintptr_t p, uintptr_t *ret_lo, uintptr_t *ret_hi);

/* Whether [lo, hi) overlaps a range of ours. */
int mp_ownmem_overlaps(uintptr_t lo, uintptr_t hi);

#endif
