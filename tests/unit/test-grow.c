/* SPDX-License-Identifier: MIT */
/*
 * The array growth helper (common/grow.h): capacities follow git's alloc_nr
 * or the need, elements survive growth, nothing changes when there is room,
 * and a size that would overflow is refused with arr and cap untouched.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/grow.h"
#include "tap.h"

static void test_appends(void)
{
	int *v = NULL;
	size_t n = 0, cap = 0, grew = 0;
	int ok = 1;

	for (int i = 0; i < 100000; i++) {
		size_t before = cap;

		ok &= MP_GROW(v, n + 1, cap) == 0;
		if (cap != before) {
			grew++;
			/* (cap + 16) * 3 / 2, or the need when that is more */
			ok &= cap == (before + 16) * 3 / 2;
		}
		ok &= cap >= n + 1;
		v[n++] = i;
	}
	CHECK(ok);
	CHECK_U64(cap, 106156);     /* 24, 60, 114, 195, ... */
	CHECK(grew < 30);           /* amortized: a logarithmic number of reallocs */
	for (size_t i = 0; i < n; i++)
		ok &= v[i] == (int)i;
	CHECK(ok);
	free(v);
}

static void test_need(void)
{
	char *s = NULL, *before;
	size_t cap = 0;

	/* A need beyond alloc_nr is met exactly. */
	CHECK_INT(MP_GROW(s, 1000, cap), 0);
	CHECK_U64(cap, 1000);
	memset(s, 'x', 1000);
	/* Room already: nothing moves. */
	before = s;
	CHECK_INT(MP_GROW(s, 1000, cap), 0);
	CHECK(s == before && cap == 1000);
	/* Then alloc_nr again, the contents kept. */
	CHECK_INT(MP_GROW(s, 1001, cap), 0);
	CHECK_U64(cap, 1524);
	CHECK(s[0] == 'x' && s[999] == 'x');
	free(s);
}

static void test_overflow(void)
{
	struct big { char b[4096]; } *v = NULL;
	uint64_t *w = NULL;
	size_t cap = 0, wcap = 0;

	CHECK_INT(MP_GROW(v, 1, cap), 0);
	struct big *before = v;
	size_t cap_before = cap;

	/* need * 4096 overflows size_t: refused before any realloc. */
	CHECK_INT(MP_GROW(v, SIZE_MAX / 4096 + 1, cap), -ENOMEM);
	CHECK(v == before && cap == cap_before);
	CHECK_INT(MP_GROW(w, SIZE_MAX, wcap), -ENOMEM);
	CHECK(w == NULL && wcap == 0);
	free(v);
}

/* cap near the top: alloc_nr would overflow, the need is used instead. */
static void test_formula(void)
{
	size_t cap = SIZE_MAX - 4;
	uint8_t one = 0, *p = &one;

	/* need <= cap: nothing to do, even here. */
	CHECK_INT(MP_GROW(p, SIZE_MAX - 4, cap), 0);
	CHECK(p == &one && cap == SIZE_MAX - 4);
}

int main(void)
{
	test_appends();
	test_need();
	test_overflow();
	test_formula();
	return tap_done();
}
