/* SPDX-License-Identifier: MIT */
/*
 * Hash tables for pprof ids and interned byte strings (see keymap.h).
 * Linear probing; the key-string table doubles at 50% load.
 */
#include "pprof/keymap.h"
#include "common/grow.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Eight bytes at a time (multiply and xor-shift), the tail byte by byte,
 * then mixed; never returns 0 (the empty marker).  Byte-wise FNV-1a, used
 * before, clustered badly on the short binary keys of the report's graph
 * (pairs of node indexes): probe chains made `memprof diff` of two
 * 100 000-sample profiles take 50 s. */
uint64_t mp_hash_bytes(const void *p, size_t len)
{
	const unsigned char *s = p;
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ len;
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		uint64_t w;
		memcpy(&w, s + i, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
	}
	for (; i < len; i++)
		h = (h ^ s[i]) * 0x100000001b3ULL;
	h = mp_mix64(h);
	return h ? h : 1;
}

int mp_idmap_init(struct mp_idmap *m, size_t n)
{
	size_t cap = 16;

	while (cap < 2 * n) {
		if (cap > SIZE_MAX / 4)
			return -ENOMEM;
		cap *= 2;
	}
	m->keys = calloc(cap, sizeof(*m->keys));
	m->vals = calloc(cap, sizeof(*m->vals));
	if (!m->keys || !m->vals) {
		free(m->keys);
		free(m->vals);
		m->keys = NULL;
		m->vals = NULL;
		return -ENOMEM;
	}
	m->mask = cap - 1;
	m->ndirect = 2 * n + 1;
	m->direct = calloc(m->ndirect, sizeof(*m->direct));
	if (!m->direct) {
		mp_idmap_done(m);
		return -ENOMEM;
	}
	return 0;
}

void mp_idmap_done(struct mp_idmap *m)
{
	free(m->keys);
	free(m->vals);
	free(m->direct);
	m->keys = NULL;
	m->vals = NULL;
	m->direct = NULL;
	m->ndirect = 0;
}

int mp_idmap_put(struct mp_idmap *m, uint64_t id, uint32_t val)
{
	if (id == 0)
		return -EINVAL;
	if (id < m->ndirect) {
		if (m->direct[id])
			return -EEXIST;
		m->direct[id] = val + 1;
		return 0;
	}
	for (size_t i = mp_mix64(id) & m->mask, probes = 0; probes <= m->mask;
	     i = (i + 1) & m->mask, probes++) {
		if (m->keys[i] == id)
			return -EEXIST;
		if (m->keys[i] == 0) {
			m->keys[i] = id;
			m->vals[i] = val;
			return 0;
		}
	}
	return -ENOSPC;
}


void mp_keymap_init(struct mp_keymap *m)
{
	memset(m, 0, sizeof(*m));
}

void mp_keymap_done(struct mp_keymap *m)
{
	free(m->slots);
	free(m->keys);
	memset(m, 0, sizeof(*m));
}

static struct mp_keymap_slot *find_slot(struct mp_keymap_slot *slots, size_t mask, const char *keys,
					uint64_t h, const void *key, size_t len)
{
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		struct mp_keymap_slot *s = &slots[i];

		if (s->hash == 0)
			return s;
		if (s->hash == h && s->len == len && (len == 0 || memcmp(keys + s->off, key, len) == 0))
			return s;
	}
}

static int grow(struct mp_keymap *m)
{
	size_t cap = m->slots ? (m->mask + 1) * 2 : 64;
	struct mp_keymap_slot *slots;

	if (cap > SIZE_MAX / sizeof(*slots))
		return -ENOMEM;
	slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	if (m->slots) {
		for (size_t i = 0; i <= m->mask; i++) {
			struct mp_keymap_slot *s = &m->slots[i];

			size_t j;

			if (!s->hash)
				continue;
			for (j = s->hash & (cap - 1); slots[j].hash; j = (j + 1) & (cap - 1))
				;
			slots[j] = *s;
		}
		free(m->slots);
	}
	m->slots = slots;
	m->mask = cap - 1;
	return 0;
}

int mp_keymap_intern(struct mp_keymap *m, const void *key, size_t len, uint32_t val,
		     uint32_t *ret_val)
{
	uint64_t h = mp_hash_bytes(key, len);
	struct mp_keymap_slot *s;

	if (!m->slots || (m->n + 1) * 2 > m->mask + 1) {
		int r = grow(m);

		if (r < 0)
			return r;
	}
	s = find_slot(m->slots, m->mask, m->keys, h, key, len);
	if (s->hash) {
		if (ret_val)
			*ret_val = s->val;
		return 0;
	}
	if (len > SIZE_MAX - m->keys_len || MP_GROW(m->keys, m->keys_len + len, m->keys_cap) < 0)
		return -ENOMEM;
	if (len)
		memcpy(m->keys + m->keys_len, key, len);
	s->hash = h;
	s->off = m->keys_len;
	s->len = len;
	s->val = val;
	m->keys_len += len;
	m->n++;
	if (ret_val)
		*ret_val = val;
	return 1;
}

int mp_keymap_get(const struct mp_keymap *m, const void *key, size_t len, uint32_t *ret_val)
{
	const struct mp_keymap_slot *s;

	if (!m->slots)
		return -ENOENT;
	s = find_slot(m->slots, m->mask, m->keys, mp_hash_bytes(key, len), key, len);
	if (!s->hash)
		return -ENOENT;
	*ret_val = s->val;
	return 0;
}

/* Move everything into `cap` slots (a power of two, above twice the count). */
static int u64map_resize(struct mp_u64map *m, size_t cap)
{
	uint64_t *keys = calloc(cap, sizeof(*keys));
	uint32_t *vals = calloc(cap, sizeof(*vals));

	if (!keys || !vals) {
		free(keys);
		free(vals);
		return -ENOMEM;
	}
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->keys[i])
			continue;
		size_t j = (size_t)(mp_mix64(m->keys[i])) & (cap - 1);
		while (keys[j])
			j = (j + 1) & (cap - 1);
		keys[j] = m->keys[i];
		vals[j] = m->vals[i];
	}
	free(m->keys);
	free(m->vals);
	m->keys = keys;
	m->vals = vals;
	m->cap = cap;
	return 0;
}

int mp_u64map_add(struct mp_u64map *m, uint64_t key, size_t *ret_slot)
{
	size_t mask, j;

	if (key == UINT64_MAX)
		return -EINVAL;
	if ((m->n + 1) * 2 > m->cap && u64map_resize(m, m->cap ? m->cap * 2 : 1024) < 0)
		return -ENOMEM;
	key++;
	mask = m->cap - 1;
	/* At most half full: a free slot ends every probe. */
	for (j = (size_t)mp_mix64(key) & mask; m->keys[j]; j = (j + 1) & mask) {
		if (m->keys[j] == key) {
			*ret_slot = j;
			return 0;
		}
	}
	m->keys[j] = key;
	m->vals[j] = 0;
	m->n++;
	*ret_slot = j;
	return 1;
}

int mp_u64map_intern(struct mp_u64map *m, uint64_t key, uint32_t val, uint32_t *ret_val)
{
	size_t slot;
	int r = mp_u64map_add(m, key, &slot);

	if (r == 1)
		m->vals[slot] = val;
	if (r >= 0)
		*ret_val = m->vals[slot];
	return r;
}

int mp_u64map_reserve(struct mp_u64map *m, size_t n)
{
	size_t cap = 1024;
	if (m->cap)
		return 0;
	while (cap < 2 * n + 2) {
		if (cap > SIZE_MAX / 16)
			return -ENOMEM;
		cap *= 2;
	}
	return u64map_resize(m, cap);
}

void mp_u64map_done(struct mp_u64map *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}
