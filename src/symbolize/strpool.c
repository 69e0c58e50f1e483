/* SPDX-License-Identifier: MIT */
/*
 * Interned strings and small blocks (strpool.h): blocks of 64 KiB (a
 * larger request gets a block of its own) and a hash set of the strings.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "symbolize/strpool.h"

#define BLOCK 65536

struct mp_strpool_block {
	struct mp_strpool_block *next;
	size_t size;
	/* data follows, 16-aligned */
} __attribute__((aligned(16)));

void mp_strpool_init(struct mp_strpool *p)
{
	memset(p, 0, sizeof(*p));
}

void mp_strpool_done(struct mp_strpool *p)
{
	for (struct mp_strpool_block *b = p->head, *next; b; b = next) {
		next = b->next;
		free(b);
	}
	free(p->slot);
	memset(p, 0, sizeof(*p));
}

void *mp_strpool_alloc(struct mp_strpool *p, size_t n)
{
	struct mp_strpool_block *b;
	size_t size;

	n = (n + 7) & ~(size_t)7;
	if (p->head && p->used + n <= p->cap) {
		p->used += n;
		return (char *)(p->head + 1) + p->used - n;
	}
	if (n > SIZE_MAX - sizeof(*b))
		return NULL;
	size = n > BLOCK / 4 ? n : BLOCK - sizeof(*b);
	b = malloc(sizeof(*b) + size);
	if (!b)
		return NULL;
	b->size = size;
	p->bytes += sizeof(*b) + size;
	if (size != n || !p->head) {
		/* A new current block. */
		b->next = p->head;
		p->head = b;
		p->used = n;
		p->cap = size;
	} else {
		/* A block of its own, behind the current one. */
		b->next = p->head->next;
		p->head->next = b;
	}
	return b + 1;
}

const char *mp_strpool_copy(struct mp_strpool *p, const char *s)
{
	size_t n;
	char *copy;

	if (!s)
		return NULL;
	n = strlen(s) + 1;
	copy = mp_strpool_alloc(p, n);
	if (copy)
		memcpy(copy, s, n);
	return copy;
}

static size_t str_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ull;
	}
	return (size_t)(h ^ (h >> 32));
}

const char *mp_strpool_intern(struct mp_strpool *p, const char *s)
{
	size_t h, j, n;
	char *copy;

	if (!s)
		return NULL;
	if ((p->nstr + 1) * 2 > p->nslot) {
		size_t ns = p->nslot ? 2 * p->nslot : 256;
		const char **nv = calloc(ns, sizeof(*nv));

		if (!nv)
			return NULL;
		for (size_t i = 0; i < p->nslot; i++) {
			if (!p->slot[i])
				continue;
			for (j = str_hash(p->slot[i]) & (ns - 1); nv[j]; j = (j + 1) & (ns - 1))
				;
			nv[j] = p->slot[i];
		}
		free(p->slot);
		p->slot = nv;
		p->nslot = ns;
	}
	h = str_hash(s);
	for (j = h & (p->nslot - 1); p->slot[j]; j = (j + 1) & (p->nslot - 1))
		if (strcmp(p->slot[j], s) == 0)
			return p->slot[j];
	n = strlen(s) + 1;
	copy = mp_strpool_alloc(p, n);
	if (!copy)
		return NULL;
	memcpy(copy, s, n);
	p->slot[j] = copy;
	p->nstr++;
	return copy;
}
