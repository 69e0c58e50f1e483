/* SPDX-License-Identifier: MIT */
/*
 * The own allocator of t-ownmalloc and t-ownmalloc-cxx: blocks from a
 * static arena, each after a header with a magic word; free and realloc
 * abort on any pointer that is not such a block (see t-ownmalloc.c).
 */
#ifndef T_OWNMALLOC_H
#define T_OWNMALLOC_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define OWN_MAGIC 0x6f776e6d616c6c63ull

static char own_arena[64 << 20] __attribute__((aligned(4096)));
static size_t own_used;

struct own_hdr {
	uint64_t magic, size;
};

static void own_check(void *p, const char *who)
{
	struct own_hdr *h = (struct own_hdr *)p - 1;

	if ((char *)p < own_arena || (char *)p >= own_arena + sizeof(own_arena) ||
	    h->magic != OWN_MAGIC) {
		static const char msg[] = "t-ownmalloc: a block that is not the program's\n";
		(void)!write(2, msg, sizeof(msg) - 1);
		(void)who;
		abort();
	}
}

#ifdef __cplusplus
extern "C" {
#endif

void *memalign(size_t align, size_t n)
{
	size_t at = (own_used + sizeof(struct own_hdr) + align - 1) & ~(align - 1);

	if (align < 16 || (align & (align - 1)) || at + n > sizeof(own_arena))
		return NULL;
	struct own_hdr *h = (struct own_hdr *)(own_arena + at) - 1;
	h->magic = OWN_MAGIC;
	h->size = n;
	own_used = at + n;
	return own_arena + at;
}

void *malloc(size_t n)
{
	return memalign(16, n);
}

void free(void *p)
{
	if (p)
		own_check(p, "free");
}

void *calloc(size_t n, size_t s)
{
	void *p = n && s > SIZE_MAX / n ? NULL : malloc(n * s);

	if (p)
		memset(p, 0, n * s);
	return p;
}

void *realloc(void *p, size_t n)
{
	if (!p)
		return malloc(n);
	own_check(p, "realloc");
	size_t old = ((struct own_hdr *)p - 1)->size;
	void *q = malloc(n);
	if (q)
		memcpy(q, p, old < n ? old : n);
	return q;
}

void *aligned_alloc(size_t a, size_t n)
{
	return memalign(a, n);
}

int posix_memalign(void **ret, size_t a, size_t n)
{
	void *p = memalign(a < 16 ? 16 : a, n);

	if (!p)
		return 12;
	*ret = p;
	return 0;
}

size_t malloc_usable_size(void *p)
{
	if (!p)
		return 0;
	own_check(p, "malloc_usable_size");
	return ((struct own_hdr *)p - 1)->size;
}

#ifdef __cplusplus
}
#endif

#endif
