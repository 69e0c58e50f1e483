/* SPDX-License-Identifier: MIT */
/*
 * A pool of interned strings and other small blocks that live as long as
 * the pool: what a module's answers point to, so that its libdw and libelf
 * data (where the strings first were) can be freed while the answers stay
 * (module.h).  Not thread-safe: the module's lock guards its pool.  CLI
 * only.
 */
#ifndef MP_SYMBOLIZE_STRPOOL_H
#define MP_SYMBOLIZE_STRPOOL_H

#include <stddef.h>

struct mp_strpool_block;

struct mp_strpool {
	struct mp_strpool_block *head;  /* blocks, newest first */
	size_t used, cap;               /* in the newest block */
	const char **slot;              /* interned strings: open addressing */
	size_t nslot, nstr;
	size_t bytes;                   /* all blocks' sizes */
};

/* An empty pool: zero-initialised storage is one too. */
void mp_strpool_init(struct mp_strpool *p);
void mp_strpool_done(struct mp_strpool *p);

/* The pool's copy of s (the same pointer for equal strings), NULL when s
 * is NULL or memory is short. */
const char *mp_strpool_intern(struct mp_strpool *p, const char *s);

/* A copy of s in the pool, not looked up or entered in the set (for
 * strings known to be new, such as a symbol's own name: no hashing), or
 * NULL when s is NULL or memory is short. */
const char *mp_strpool_copy(struct mp_strpool *p, const char *s);

/* n bytes, 8-aligned, uninitialised, or NULL. */
void *mp_strpool_alloc(struct mp_strpool *p, size_t n);

#endif
