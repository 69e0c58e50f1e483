/* SPDX-License-Identifier: MIT */
/*
 * The 64-bit key map (pprof/keymap.h) as the converter's address set uses
 * it: a key's slot stays put until the next add and holds its value, which
 * the caller changes in place (flags or'ed in); absent keys are not found;
 * UINT64_MAX is refused; growth keeps every key and value; interning
 * answers the first value.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pprof/keymap.h"
#include "tap.h"

static void test_empty(void)
{
	struct mp_u64map m = { 0 };
	uint64_t k;
	size_t nkeys = 0;

	CHECK_INT(mp_u64map_find(&m, 0), -1);
	CHECK_INT(mp_u64map_find(&m, 0x401000), -1);
	CHECK_INT(mp_u64map_find(&m, UINT64_MAX), -1);
	CHECK_U64(mp_u64map_nslots(&m), 0);
	mp_u64map_done(&m);
	mp_u64map_done(&m);   /* twice: the map was left empty */
	CHECK_INT(mp_u64map_reserve(&m, 3000), 0);
	CHECK(mp_u64map_nslots(&m) >= 6000);
	for (size_t i = 0; i < mp_u64map_nslots(&m); i++)
		nkeys += mp_u64map_key_at(&m, i, &k);
	CHECK_U64(nkeys, 0);
	mp_u64map_done(&m);
}

static void test_flags(void)
{
	struct mp_u64map m = { 0 };
	size_t s0, s1, s2, sz;
	uint64_t k = 1;

	CHECK_INT(mp_u64map_add(&m, 0x401000, &s0), 1);
	CHECK_INT(m.vals[s0], 0);
	m.vals[s0] |= 1;
	CHECK_INT(mp_u64map_add(&m, 0x401000, &s1), 0);
	CHECK_U64(s1, s0);
	CHECK_INT(m.vals[s1], 1);
	CHECK_INT(mp_u64map_add(&m, 0, &sz), 1);   /* a broken frame's address */
	m.vals[sz] |= 2;
	CHECK_U64(m.n, 2);
	CHECK(sz != s0);
	CHECK_INT(mp_u64map_find(&m, 0x401000), (long)s0);
	CHECK_INT(mp_u64map_find(&m, 0), (long)sz);
	CHECK_INT(m.vals[sz], 2);
	CHECK_INT(mp_u64map_find(&m, 0x401001), -1);
	CHECK(mp_u64map_key_at(&m, sz, &k) && k == 0);
	CHECK(mp_u64map_key_at(&m, s0, &k) && k == 0x401000);
	CHECK_INT(mp_u64map_add(&m, UINT64_MAX, &s2), -EINVAL);
	CHECK_INT(mp_u64map_find(&m, UINT64_MAX), -1);
	CHECK_U64(m.n, 2);
	mp_u64map_done(&m);
}

static void test_intern(void)
{
	struct mp_u64map m = { 0 };
	uint32_t v = 0;

	CHECK_INT(mp_u64map_intern(&m, 5, 10, &v), 1);
	CHECK_INT(v, 10);
	CHECK_INT(mp_u64map_intern(&m, 5, 11, &v), 0);
	CHECK_INT(v, 10);
	CHECK_INT(mp_u64map_intern(&m, UINT64_MAX, 12, &v), -EINVAL);
	CHECK_INT(v, 10);
	mp_u64map_done(&m);
}

/* Many keys, close together as code addresses are: all found, each at a
 * slot of its own, values kept through growth; neighbours not added are
 * not found. */
static void test_many(void)
{
	enum { N = 50000 };
	struct mp_u64map m = { 0 };
	uint8_t *seen;
	size_t slot, nkeys = 0;
	uint64_t k;
	int ok = 1;

	for (uint64_t i = 0; i < N; i++) {
		ok &= mp_u64map_add(&m, 0x555555554000ull + 4 * i, &slot) == 1;
		m.vals[slot] |= (uint32_t)(i & 1);
	}
	CHECK(ok);
	CHECK_U64(m.n, N);
	CHECK(mp_u64map_nslots(&m) >= 2 * N);
	seen = calloc(mp_u64map_nslots(&m), 1);
	for (uint64_t i = 0; i < N && seen; i++) {
		long s = mp_u64map_find(&m, 0x555555554000ull + 4 * i);

		ok &= s >= 0 && (size_t)s < mp_u64map_nslots(&m) && !seen[s];
		if (s >= 0) {
			seen[s] = 1;
			ok &= m.vals[s] == (i & 1);
		}
		ok &= mp_u64map_find(&m, 0x555555554000ull + 4 * i + 1) == -1;
	}
	CHECK(seen != NULL);
	CHECK(ok);
	for (size_t i = 0; i < mp_u64map_nslots(&m); i++)
		nkeys += mp_u64map_key_at(&m, i, &k);
	CHECK_U64(nkeys, N);
	free(seen);
	mp_u64map_done(&m);
}

int main(void)
{
	test_empty();
	test_flags();
	test_intern();
	test_many();
	return tap_done();
}
