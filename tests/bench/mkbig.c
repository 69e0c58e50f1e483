/* SPDX-License-Identifier: MIT */
/*
 * mkbig SEED NSAMPLES OUT: a heap profile with NSAMPLES samples of distinct
 * stacks (depth 8 to 40 over 5000 functions in 20 files, some inlined
 * frames), for the report benchmark (scripts/bench.py --set report).
 * Deterministic per seed; two seeds share functions and most stacks, as two
 * profiles of one program would.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "pprof/pprof.h"

static uint64_t s;

static uint64_t rnd(void)
{
	s ^= s << 13;
	s ^= s >> 7;
	s ^= s << 17;
	return s;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fputs("usage: mkbig SEED NSAMPLES OUT\n", stderr);
		return 2;
	}
	uint64_t seed = strtoull(argv[1], NULL, 10);
	size_t n = strtoull(argv[2], NULL, 10);
	struct mp_pprof_builder *b = mp_pprof_builder_new();
	mp_pprof_add_sample_type(b, "alloc_objects", "count");
	mp_pprof_add_sample_type(b, "alloc_space", "bytes");
	mp_pprof_add_sample_type(b, "inuse_objects", "count");
	mp_pprof_add_sample_type(b, "inuse_space", "bytes");
	mp_pprof_set_period(b, "space", "bytes", 524288);
	mp_pprof_set_time(b, 1700000000000000000ll, 1000000000ll);
	uint64_t map = mp_pprof_add_mapping(b, 0x400000, 0x4000000, 0, "/usr/bin/app", "abcdef",
					    true, true, true, true);
	enum { NFUNC = 5000 };
	static uint64_t locs[NFUNC * 2];
	char name[64], file[32];
	for (int i = 0; i < NFUNC * 2; i++) {
		struct mp_pprof_line lines[2];
		int f = i % NFUNC;
		snprintf(name, sizeof(name), "ns::module%d::function_%d", f % 97, f);
		snprintf(file, sizeof(file), "src/file%d.cc", f % 20);
		lines[0] = (struct mp_pprof_line){ .function = name, .file = file, .line = 10 + i % 300 };
		size_t nl = 1;
		if (i >= NFUNC) {   /* a second location of the function, with an inlined callee */
			static char inl[64];
			snprintf(inl, sizeof(inl), "inline_helper_%d", f % 50);
			lines[1] = lines[0];
			lines[0] = (struct mp_pprof_line){ .function = inl, .file = "src/inl.h", .line = 5 };
			nl = 2;
		}
		locs[i] = mp_pprof_add_location(b, map, 0x400000 + (uint64_t)i * 16, lines, nl);
	}
	s = 0x9e3779b97f4a7c15ull;          /* stacks shared by every seed */
	uint64_t stack[40];
	for (size_t k = 0; k < n; k++) {
		if (k % 10 == 0)            /* one stack in ten differs per seed */
			s ^= seed * 0x2545F4914F6CDD1Dull + k;
		size_t depth = 8 + rnd() % 33;
		for (size_t j = 0; j < depth; j++)
			stack[j] = locs[rnd() % (NFUNC * 2)];
		int64_t objs = 1 + (int64_t)(rnd() % 100), size = 16 << (rnd() % 10);
		int64_t v[4] = { objs, objs * size, objs / 2, objs / 2 * size };
		struct mp_pprof_label lb = { .key = "bytes", .num = size };
		mp_pprof_add_sample(b, stack, depth, v, 4, &lb, 1);
	}
	int r = mp_pprof_write_file(b, argv[3]);
	mp_pprof_builder_free(b);
	return r < 0;
}
