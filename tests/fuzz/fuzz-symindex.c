/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the symbol index builder (src/symbolize/symindex.c):
 * the input is an array of symbols as an ELF file could describe them
 * (records of 34 bytes: value, size, section start and end as u64, then
 * binding and an "absolute" flag; the table position is the record's).
 * The index must build, and name every probed address (each symbol's
 * value, value - 1, end, end - 1, its section's bounds, and addresses from
 * the input) exactly as the rule of symindex.h, evaluated naively over
 * all symbols, names it.  Also built as a replay test over
 * corpus/symindex/ (replay.c).
 *
 *   CC=clang meson setup B -Dfuzz=enabled -Db_sanitize=address,undefined -Db_lundef=false
 *   ninja -C B tests/fuzz/fuzz-symindex
 *   mkdir new && B/tests/fuzz/fuzz-symindex -max_len=2048 new tests/fuzz/corpus/symindex
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "symbolize/symindex.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REC 34           /* 4 x u64, bind, flags */

static uint64_t end_of(const struct mp_rawsym *s)
{
	return s->size > UINT64_MAX - s->value ? UINT64_MAX : s->value + s->size;
}

static bool better(const struct mp_rawsym *s, size_t x, size_t y)
{
	if (s[x].value != s[y].value)
		return s[x].value > s[y].value;
	if (s[x].bind != s[y].bind)
		return s[x].bind > s[y].bind;
	if (s[x].size != s[y].size)
		return s[x].size < s[y].size;
	if (s[x].order != s[y].order)
		return s[x].order < s[y].order;
	return x < y;
}

/* The rule of symindex.h, over every symbol. */
static int64_t naive(const struct mp_rawsym *s, size_t n, uint64_t addr)
{
	int64_t best[2] = { -1, -1 }, label = -1;
	uint64_t maxend = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i].value > addr)
			continue;
		if (s[i].size) {
			int pass = s[i].bind == MP_SYMBIND_LOCAL;

			if (end_of(&s[i]) > maxend)
				maxend = end_of(&s[i]);
			if (addr < end_of(&s[i]) && (best[pass] < 0 || better(s, i, (size_t)best[pass])))
				best[pass] = (int64_t)i;
		} else if (label < 0 || s[i].value > s[label].value ||
			   (s[i].value == s[label].value &&
			    (s[i].bind > s[label].bind ||
			     (s[i].bind == s[label].bind && s[i].order < s[label].order)))) {
			/* i ascends: on a full tie the earlier one stays. */
			label = (int64_t)i;
		}
	}
	if (best[0] >= 0)
		return best[0];
	if (best[1] >= 0)
		return best[1];
	if (label >= 0 && s[label].value >= maxend &&
	    (s[label].absolute ? addr == s[label].value
			       : addr >= s[label].sec_lo && addr < s[label].sec_hi))
		return label;
	return -1;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n = size / REC;
	struct mp_rawsym *s = calloc(n ? n : 1, sizeof(*s));
	struct mp_symindex *ix = NULL;

	if (!s)
		return 0;
	for (size_t i = 0; i < n; i++) {
		const uint8_t *p = data + i * REC;

		s[i].value = get64(p);
		s[i].size = get64(p + 8);
		s[i].sec_lo = get64(p + 16);
		s[i].sec_hi = get64(p + 24);
		s[i].bind = p[32] & 3;
		s[i].absolute = p[33] & 1;
		/* Table positions, with ties now and then. */
		s[i].order = (uint32_t)(i / ((p[33] >> 1 & 1) + 1));
	}
	if (mp_symindex_build(s, n, &ix) < 0) {
		free(s);
		return 0;       /* out of memory only */
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t probes[] = { s[i].value, s[i].value - 1, end_of(&s[i]), end_of(&s[i]) - 1,
				      s[i].sec_lo, s[i].sec_hi, s[i].sec_hi - 1, s[i].value + s[i].size / 2 };

		for (size_t k = 0; k < sizeof(probes) / sizeof(probes[0]); k++)
			if (mp_symindex_lookup(ix, probes[k]) != naive(s, n, probes[k]))
				abort();
	}
	for (size_t off = n * REC; off + 8 <= size; off += 8) {
		uint64_t a = get64(data + off);

		if (mp_symindex_lookup(ix, a) != naive(s, n, a))
			abort();
	}
	mp_symindex_free(ix);
	free(s);
	return 0;
}
