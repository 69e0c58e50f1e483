/* SPDX-License-Identifier: MIT */
/*
 * A set of code addresses with flags and slots (see addrset.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "convert/addrset.h"

/* splitmix64's finalizer, halved: code addresses differ in their low bits
 * and share their high ones. */
static size_t home(uint64_t a, size_t cap)
{
	a ^= a >> 29;
	a *= 0xbf58476d1ce4e5b9ull;
	a ^= a >> 32;
	return (size_t)a & (cap - 1);
}

int mp_addrset_add(struct mp_addrset *s, uint64_t a, uint8_t f)
{
	size_t j;

	if (a == MP_ADDRSET_EMPTY) {
		s->has_empty = true;
		s->empty_flag |= f;
		return 0;
	}
	/* At most half full. */
	if ((s->n + 1) * 2 > s->cap) {
		size_t ncap = s->cap ? 2 * s->cap : 1024;
		uint64_t *nk = malloc(ncap * sizeof(*nk));
		uint8_t *nf = calloc(ncap, 1);

		if (!nk || !nf) {
			free(nk);
			free(nf);
			return -ENOMEM;
		}
		memset(nk, 0xff, ncap * sizeof(*nk));
		for (size_t i = 0; i < s->cap; i++) {
			if (s->key[i] == MP_ADDRSET_EMPTY)
				continue;
			for (j = home(s->key[i], ncap); nk[j] != MP_ADDRSET_EMPTY; j = (j + 1) & (ncap - 1))
				;
			nk[j] = s->key[i];
			nf[j] = s->flag[i];
		}
		free(s->key);
		free(s->flag);
		s->key = nk;
		s->flag = nf;
		s->cap = ncap;
	}
	for (j = home(a, s->cap); s->key[j] != MP_ADDRSET_EMPTY; j = (j + 1) & (s->cap - 1)) {
		if (s->key[j] == a) {
			s->flag[j] |= f;
			return 0;
		}
	}
	s->key[j] = a;
	s->flag[j] = f;
	s->n++;
	return 0;
}

long mp_addrset_find(const struct mp_addrset *s, uint64_t a)
{
	if (a == MP_ADDRSET_EMPTY)
		return s->has_empty ? (long)s->cap : -1;
	if (!s->cap)
		return -1;
	/* The table is never full: a free key ends every probe. */
	for (size_t j = home(a, s->cap); s->key[j] != MP_ADDRSET_EMPTY; j = (j + 1) & (s->cap - 1))
		if (s->key[j] == a)
			return (long)j;
	return -1;
}

size_t mp_addrset_nslots(const struct mp_addrset *s)
{
	return s->cap + 1;
}

uint8_t mp_addrset_flags(const struct mp_addrset *s, uint64_t a)
{
	long j = mp_addrset_find(s, a);

	if (j < 0)
		return 0;
	return (size_t)j == s->cap ? s->empty_flag : s->flag[j];
}

void mp_addrset_done(struct mp_addrset *s)
{
	free(s->key);
	free(s->flag);
	*s = (struct mp_addrset){ 0 };
}
