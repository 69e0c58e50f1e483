/* SPDX-License-Identifier: MIT */
/*
 * The address set of the converter (convert/addrset.h): flags are or'ed in,
 * every address added is found at a slot of its own that stays put until
 * the next add, absent addresses are not found, UINT64_MAX (the empty key)
 * is kept aside in the last slot, and growth keeps everything.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "convert/addrset.h"
#include "tap.h"

static void test_empty(void)
{
	struct mp_addrset s = { 0 };

	CHECK_INT(mp_addrset_find(&s, 0), -1);
	CHECK_INT(mp_addrset_find(&s, 0x401000), -1);
	CHECK_INT(mp_addrset_find(&s, MP_ADDRSET_EMPTY), -1);
	CHECK_U64(mp_addrset_nslots(&s), 1);
	CHECK_INT(mp_addrset_flags(&s, 0x401000), 0);
	mp_addrset_done(&s);
	mp_addrset_done(&s);   /* twice: the set was left empty */
}

static void test_flags(void)
{
	struct mp_addrset s = { 0 };

	CHECK_INT(mp_addrset_add(&s, 0x401000, 0), 0);
	CHECK_INT(mp_addrset_add(&s, 0x401000, 1), 0);
	CHECK_INT(mp_addrset_add(&s, 0x401000, 0), 0);
	CHECK_INT(mp_addrset_add(&s, 0, 2), 0);   /* a broken frame's address */
	CHECK_U64(s.n, 2);
	CHECK_INT(mp_addrset_flags(&s, 0x401000), 1);
	CHECK_INT(mp_addrset_flags(&s, 0), 2);
	CHECK_INT(mp_addrset_flags(&s, 0x401001), 0);
	CHECK(mp_addrset_find(&s, 0) != mp_addrset_find(&s, 0x401000));
	mp_addrset_done(&s);
}

static void test_kept_aside(void)
{
	struct mp_addrset s = { 0 };

	CHECK_INT(mp_addrset_add(&s, MP_ADDRSET_EMPTY, 4), 0);
	CHECK_U64(s.n, 0);
	CHECK_INT(mp_addrset_find(&s, MP_ADDRSET_EMPTY), (long)mp_addrset_nslots(&s) - 1);
	CHECK_INT(mp_addrset_flags(&s, MP_ADDRSET_EMPTY), 4);
	CHECK_INT(mp_addrset_add(&s, 7, 1), 0);
	CHECK_INT(mp_addrset_add(&s, MP_ADDRSET_EMPTY, 1), 0);
	CHECK_INT(mp_addrset_find(&s, MP_ADDRSET_EMPTY), (long)mp_addrset_nslots(&s) - 1);
	CHECK_INT(mp_addrset_flags(&s, MP_ADDRSET_EMPTY), 5);
	CHECK(mp_addrset_find(&s, 7) >= 0 && mp_addrset_find(&s, 7) < (long)mp_addrset_nslots(&s) - 1);
	mp_addrset_done(&s);
}

/* Many addresses, close together as code addresses are: all found, each
 * at its own slot, flags kept through growth; neighbours not added are not. */
static void test_many(void)
{
	enum { N = 50000 };
	struct mp_addrset s = { 0 };
	uint8_t *seen;
	int ok = 1;

	for (uint64_t i = 0; i < N; i++)
		ok &= mp_addrset_add(&s, 0x555555554000ull + 4 * i, (uint8_t)(i & 1)) == 0;
	CHECK(ok);
	CHECK_U64(s.n, N);
	CHECK(s.cap >= 2 * N);
	seen = calloc(mp_addrset_nslots(&s), 1);
	for (uint64_t i = 0; i < N && seen; i++) {
		long slot = mp_addrset_find(&s, 0x555555554000ull + 4 * i);

		ok &= slot >= 0 && (size_t)slot < mp_addrset_nslots(&s) - 1 && !seen[slot];
		if (slot >= 0)
			seen[slot] = 1;
		ok &= mp_addrset_flags(&s, 0x555555554000ull + 4 * i) == (i & 1);
		ok &= mp_addrset_find(&s, 0x555555554000ull + 4 * i + 1) == -1;
	}
	CHECK(seen != NULL);
	CHECK(ok);
	free(seen);
	mp_addrset_done(&s);
}

int main(void)
{
	test_empty();
	test_flags();
	test_kept_aside();
	test_many();
	return tap_done();
}
