/* SPDX-License-Identifier: MIT */
/*
 * Three small open-addressing hash tables shared by the pprof builder, the
 * validator, the report code and the converter's address set.  CLI only
 * (they allocate with malloc).
 *
 * - struct mp_idmap: nonzero uint64 id -> uint32 index, fixed capacity chosen
 *   at init (profile ids are known up front).  Id 0 is the empty marker, which
 *   suits pprof, where id 0 is reserved.
 * - struct mp_u64map: uint64 key -> uint32 value, growing, with slots.
 * - struct mp_keymap: byte string -> uint32 value, growing.  Keys are copied
 *   into the table's own storage, so callers may pass stack buffers.
 */
#ifndef MP_PPROF_KEYMAP_H
#define MP_PPROF_KEYMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mp_idmap {
	uint64_t *keys;
	uint32_t *vals;
	size_t mask;            /* capacity - 1, capacity a power of two */
	uint32_t *direct;       /* ids below ndirect: value + 1 (0: absent), no hashing */
	size_t ndirect;         /* (pprof writers number ids 1..n: the usual case) */
};

/* Room for `n` keys.  0 or -ENOMEM. */
int mp_idmap_init(struct mp_idmap *m, size_t n);
void mp_idmap_done(struct mp_idmap *m);
/* 0 inserted; -EEXIST when `id` is already present (value unchanged);
 * -EINVAL for id 0; -ENOSPC when more than `n` keys were put. */
int mp_idmap_put(struct mp_idmap *m, uint64_t id, uint32_t val);
/* splitmix64's finalizer: a cheap, well-mixed 64-bit permutation. */
static inline uint64_t mp_mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/* The value, or -1 when absent.  Inline: reports look ids up per frame. */
static inline int64_t mp_idmap_get(const struct mp_idmap *m, uint64_t id)
{
	if (id == 0 || !m->keys)
		return -1;
	if (id < m->ndirect)
		return (int64_t)m->direct[id] - 1;
	for (size_t i = mp_mix64(id) & m->mask, probes = 0; probes <= m->mask;
	     i = (i + 1) & m->mask, probes++) {
		if (m->keys[i] == id)
			return m->vals[i];
		if (m->keys[i] == 0)
			return -1;
	}
	return -1;
}


/* 64-bit key -> uint32 value, growing; the key lives in its slot (one
 * cache miss per lookup in a big table).  Any key but UINT64_MAX.  Besides
 * interning (the reports' edge and child tables), a key's slot is an
 * index in [0, mp_u64map_nslots()) that callers may key arrays of their
 * own with, and its value is theirs to change in place: the converter's
 * address set keeps flag bits there and each address's location id in an
 * array by slot, so that a frame met again costs one probe. */
struct mp_u64map {
	uint64_t *keys;         /* key + 1; 0: empty */
	uint32_t *vals;         /* vals[slot]: the value of the key at slot */
	size_t cap, n;          /* cap a power of two at most half full, or 0 */
};

/* 1 and *ret_val = val when `key` is new (inserted), 0 and *ret_val = its
 * value when present, -ENOMEM, -EINVAL for UINT64_MAX.  Zero-initialize
 * the struct before use. */
int mp_u64map_intern(struct mp_u64map *m, uint64_t key, uint32_t val, uint32_t *ret_val);
/* Find `key` or insert it with value 0: 1 when inserted, 0 when present
 * (both with *ret_slot its slot), -ENOMEM (the map as it was), -EINVAL
 * for UINT64_MAX.  Moves keys: slots found before are stale after it. */
int mp_u64map_add(struct mp_u64map *m, uint64_t key, size_t *ret_slot);
/* The slot of `key`, or -1 when absent.  Inline: the converter looks
 * every frame's address up (1.6 million in a compile's profiles). */
static inline long mp_u64map_find(const struct mp_u64map *m, uint64_t key)
{
	size_t mask = m->cap - 1;

	if (!m->cap)
		return -1;
	/* (UINT64_MAX + 1 is 0, the empty mark, which no probe compares
	 * equal: it is never found) */
	key++;
	for (size_t j = (size_t)mp_mix64(key) & mask; m->keys[j]; j = (j + 1) & mask)
		if (m->keys[j] == key)
			return (long)j;
	return -1;
}
/* How many slots there are: the length of an array keyed by slot. */
static inline size_t mp_u64map_nslots(const struct mp_u64map *m)
{
	return m->cap;
}
/* Whether `slot` holds a key, and then *ret_key. */
static inline bool mp_u64map_key_at(const struct mp_u64map *m, size_t slot, uint64_t *ret_key)
{
	if (!m->keys[slot])
		return false;
	*ret_key = m->keys[slot] - 1;
	return true;
}
void mp_u64map_done(struct mp_u64map *m);   /* frees; the map is then empty */
/* Room for n keys before the next growth (an empty map only).  0 or
 * -ENOMEM. */
int mp_u64map_reserve(struct mp_u64map *m, size_t n);

struct mp_keymap_slot {
	uint64_t hash;          /* 0: empty */
	size_t off, len;        /* key bytes in `keys` */
	uint32_t val;
};

struct mp_keymap {
	struct mp_keymap_slot *slots;
	size_t mask, n;
	char *keys;             /* concatenated key bytes */
	size_t keys_len, keys_cap;
};

void mp_keymap_init(struct mp_keymap *m);
void mp_keymap_done(struct mp_keymap *m);
/*
 * Look `key` up; when absent insert it with value `val`.  Returns 1 when
 * inserted, 0 when found (then *ret_val is the stored value), -ENOMEM.
 * ret_val may be NULL.
 */
int mp_keymap_intern(struct mp_keymap *m, const void *key, size_t len, uint32_t val,
		     uint32_t *ret_val);
/* 0 and *ret_val when present, -ENOENT when absent. */
int mp_keymap_get(const struct mp_keymap *m, const void *key, size_t len, uint32_t *ret_val);

uint64_t mp_hash_bytes(const void *p, size_t len);

#endif
