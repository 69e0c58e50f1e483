/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the pprof reader: any bytes go through
 * mp_pprof_parse (gzip, wire format, protobuf-c, validation); what parses
 * goes through the `top` report and the flame graph with a few option sets,
 * as `memprof top` and `memprof flame` would, which must take or refuse a
 * sample index alike (one resolver for every command).  Built as a libFuzzer binary with -Dfuzz=enabled (clang), and
 * always as a replay test over corpus/pprof/ (replay.c).
 *
 *   CC=clang meson setup B -Dfuzz=enabled -Db_sanitize=address,undefined -Db_lundef=false
 *   ninja -C B tests/fuzz/fuzz-pprof
 *   mkdir new && B/tests/fuzz/fuzz-pprof -max_len=8192 new tests/fuzz/corpus/pprof
 *
 * Inputs that crashed once stay in corpus/pprof/ as regression tests.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "pprof/pprof.h"
#include "report/flame.h"
#include "report/stats.h"
#include "report/top.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Small enough that a crafted gzip stream cannot exhaust the fuzzer's memory. */
#define FUZZ_MAX_DECOMPRESSED ((size_t)64 << 20)

static void report(const struct mp_profile *p, const char *sample_index, int node_count)
{
	struct mp_top_options o = MP_TOP_OPTIONS_DEFAULT;
	struct mp_top *t = NULL;
	char *err = NULL, *ferr = NULL, *out = NULL;
	size_t len = 0;
	FILE *f;
	int r, fr;

	o.sample_index = sample_index;
	o.node_count = node_count;
	r = mp_top_compute(p, &o, &t, &err);
	if (r == 0) {
		f = open_memstream(&out, &len);
		if (f) {
			mp_top_print(t, f);
			fclose(f);
		}
		free(out);
	}
	out = NULL;
	f = open_memstream(&out, &len);
	if (f) {
		fr = mp_flame_write(p, sample_index, "t", f, &ferr);
		fclose(f);
		if ((r == -EINVAL || r == -ENODATA || fr == -EINVAL || fr == -ENODATA) && r != fr &&
		    r != -ENOMEM && fr != -ENOMEM) {
			fprintf(stderr, "fuzz-pprof: top %d, flame %d\n", r, fr);
			abort();
		}
	}
	free(out);
	mp_top_free(t);
	free(err);
	free(ferr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mp_profile *p = NULL;
	char *err = NULL;

	if (mp_pprof_parse_limited(data, size, FUZZ_MAX_DECOMPRESSED, &p, &err) == 0) {
		report(p, NULL, 0);
		report(p, "0", 2);
		report(p, "inuse_space", 0);
		/* memprof's statistics field and the samples behind an estimate */
		char *out = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&out, &len);
		if (f) {
			mp_stats_print(p, f);
			fclose(f);
		}
		free(out);
		uint64_t n;
		int64_t rate;
		(void)mp_heap_sampled_allocations(p, &n, &rate);
		mp_profile_free(p);
	}
	free(err);
	return 0;
}
