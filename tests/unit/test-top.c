/* SPDX-License-Identifier: MIT */
/*
 * `memprof top`: pprof's unit formatting and percentages, its displayed-name
 * rule, and the table for hand-built profiles (aggregation by function,
 * inlined frames, recursion, nameless frames, merging, dropping, -n, the
 * sample index rules).  Expected values were worked out by hand from pprof's
 * rules and agree with `go tool pprof -top` on the same profiles.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pprof/pprof.h"
#include "report/diff.h"
#include "report/flame.h"
#include "report/measure.h"
#include "report/timeline.h"
#include "report/top.h"
#include "common/snapshot.h"
#include "tap.h"

static void check_label(int line, int64_t v, const char *from, const char *to, const char *want)
{
	char buf[MP_MEASURE_BUFSZ];

	mp_measure_scaled_label(buf, sizeof(buf), v, from, to);
	tap_ok(strcmp(buf, want) == 0, __FILE__, line, want);
	if (strcmp(buf, want) != 0)
		printf("#   got \"%s\", want \"%s\"\n", buf, want);
}

static void check_pct(int line, int64_t v, int64_t total, const char *want)
{
	char buf[MP_MEASURE_BUFSZ];

	mp_measure_percentage(buf, sizeof(buf), v, total);
	tap_ok(strcmp(buf, want) == 0, __FILE__, line, want);
	if (strcmp(buf, want) != 0)
		printf("#   got \"%s\", want \"%s\"\n", buf, want);
}

static void test_units(void)
{
	const char *u;

#define L(v, from, to, want) check_label(__LINE__, v, from, to, want)
	L(0, "bytes", "minimum", "0");
	L(1, "bytes", "minimum", "1B");
	L(1023, "bytes", "minimum", "1023B");
	L(1024, "bytes", "minimum", "1kB");
	L(1536, "bytes", "minimum", "1.50kB");
	L(10485760, "bytes", "minimum", "10MB");
	L(3 * 1073741824LL, "bytes", "auto", "3GB");
	L(1099511627776LL, "bytes", "minimum", "1TB");
	L(1125899906842624LL * 2, "bytes", "minimum", "2PB");
	/* In a chosen unit, as pprof prints rows once the unit is picked. */
	L(96, "bytes", "kB", "0.09kB");
	L(1048576, "bytes", "kB", "1024kB");
	L(110698, "bytes", "kB", "108.10kB");
	L(4, "bytes", "MB", "0");          /* 0.0000038MB rounds to 0 */
	L(-2048, "bytes", "minimum", "-2kB");
	L(-1, "bytes", "kB", "0");         /* "-0.00" -> "-0" -> "0" */
	L(1024, "Bytes", "KB", "1kB");     /* units are case-insensitive */
	L(2048, "B", "minimum", "2kB");
	/* Counts and unknown units print the number. */
	L(1429, "count", "count", "1429");
	L(1429, "count", "minimum", "1429");
	L(7, "objects", "objects", "7objects");
	L(7, "objects", "minimum", "7");
	L(12, "widgets", "widgets", "12widgets");
	/* Time. */
	L(1500000, "nanoseconds", "auto", "1.50ms");
	L(51180000000LL, "nanoseconds", "auto", "51.18s");
	L(999, "nanoseconds", "auto", "999ns");
	L(7200000000000LL, "nanoseconds", "auto", "2hrs");
	L(1500, "microseconds", "ms", "1.50ms");
	L(3, "seconds", "nanoseconds", "3000000000ns");
	/* Extremes do not crash. */
	L(INT64_MIN, "count", "count", "-9223372036854775808");
	L(INT64_MAX, "bytes", "minimum", "8192PB");
#undef L

	CHECK_NEAR(mp_measure_scale(1536, "bytes", "minimum", &u), 1.5, 0);
	CHECK_STR(u, "kB");
	CHECK_NEAR(mp_measure_scale(5, "count", "minimum", &u), 5, 0);
	CHECK_STR(u, "");
	mp_measure_scale(5, "bytes", "nanoseconds", &u);
	CHECK_STR(u, "B");       /* unknown target: the type's default unit */
	mp_measure_scale(5, "count", "nanoseconds", &u);
	CHECK_STR(u, "nanoseconds");

#define P(v, t, want) check_pct(__LINE__, v, t, want)
	P(1, 1, "  100%");
	P(9996, 10000, "  100%");
	P(10004, 10000, "  100%");
	P(0, 0, "    0%");
	P(5, 0, "    0%");
	P(0, 10, "    0%");
	P(7000, 10000, "70.00%");
	P(1012, 1429, "70.82%");
	P(7, 1000, "  0.7%");
	P(1, 1429, " 0.07%");
	P(1, 1417, "0.071%");
	P(96, 11067514, "0.00087%");
	P(1, 100000000, "1e-06%");
	P(-5, 10, "50.00%");
	P(150, 100, "150.00%");
#undef P
}

static void test_display_names(void)
{
	struct { const char *name, *sys, *want; } cases[] = {
		{ "main", "main", "main" },
		{ "main", "", "main" },
		{ "", "sys_only", "sys_only" },
		{ "", "", "" },
		{ "ns::A<int>::f(int)", "_ZN2ns1AIiE1fEi", "ns::A<int>::f(int)" },
		{ "ns::A<int>::f(int)", "ns::A<int>::f(int)", "ns::A::f" },
		{ "", "std::vector<std::pair<int, int> >::push_back(int const&)", "std::vector::push_back" },
		{ "f(int)", "f(int)", "f(int)" },                 /* no ::, <, > or brackets */
		{ "main.(*T[...]).M", "main.(*T[...]).M", "main.(*T[...]).M" },
		{ "main.F[...]", "main.F[...]", "main.F[...]" },
		{ "Foo.<init>", "Foo.<init>", "Foo.<init>" },
		{ "a::b)c(d)", "a::b)c(d)", "a::b)c(d)" },         /* stray ')': left alone */
		{ "a::f(x)g(y)", "a::f(x)g(y)", "a::fg" },
		{ "a::f((x))", "a::f((x))", "a::f" },
		{ "a::f(x)g(y", "a::f(x)g(y", "a::fg(y" },         /* unclosed: stays */
		{ "a::f(x)g)h(i)", "a::f(x)g)h(i)", "a::fg)h(i)" }, /* abort keeps earlier cuts */
		{ "a::f<T<U> >::g<V>(W<X>)", "a::f<T<U> >::g<V>(W<X>)", "a::f::g" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s = mp_top_display_name(cases[i].name, cases[i].sys);

		CHECK_STR(s, cases[i].want);
		free(s);
	}
}

/* ---- tables ----------------------------------------------------------------- */

static struct mp_profile *parse_builder(struct mp_pprof_builder *b)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	struct mp_profile *p = NULL;
	char *err = NULL;

	if (mp_pprof_encode(b, &buf, &len) < 0 || mp_pprof_parse(buf, len, &p, &err) < 0) {
		printf("# cannot parse: %s\n", err ? err : "?");
		p = NULL;
	}
	free(err);
	free(buf);
	mp_pprof_builder_free(b);
	return p;
}

/* The whole printed report, malloc'd. */
static char *report(const struct mp_profile *p, const char *sample_index, int node_count)
{
	struct mp_top_options o = MP_TOP_OPTIONS_DEFAULT;
	struct mp_top *t = NULL;
	char *out = NULL, *err = NULL;
	size_t len = 0;
	FILE *f;

	o.sample_index = sample_index;
	o.node_count = node_count;
	if (mp_top_compute(p, &o, &t, &err) < 0) {
		printf("# mp_top_compute: %s\n", err ? err : "?");
		free(err);
		return strdup("(error)");
	}
	f = open_memstream(&out, &len);
	mp_top_print(t, f);
	fclose(f);
	mp_top_free(t);
	return out;
}

#define CHECK_REPORT(p, si, n, want) do { \
	char *got_ = report((p), (si), (n)); \
	CHECK_STR(got_, want); \
	free(got_); \
} while (0)

static uint64_t loc(struct mp_pprof_builder *b, uint64_t mapping, uint64_t addr, const char *f1,
		    const char *f2)
{
	struct mp_pprof_line lines[2] = { { .function = f1 }, { .function = f2 } };

	return mp_pprof_add_location(b, mapping, addr, lines, f2 ? 2 : 1);
}

/*
 * main -> a -> (b inlined into a) and main -> c -> c -> c (recursion);
 * a nameless frame in libx.so and a frame with no lines and no mapping.
 */
static struct mp_profile *heap_profile(void)
{
	struct mp_pprof_builder *b = mp_pprof_builder_new();
	uint64_t m = mp_pprof_add_mapping(b, 0x400000, 0x500000, 0, "/usr/bin/app", "", true, true, true, true);
	uint64_t lx = mp_pprof_add_mapping(b, 0x700000, 0x800000, 0, "/usr/lib/libx.so", "", true, true, true, true);
	uint64_t lmain = loc(b, m, 0x401000, "main", NULL);
	uint64_t lab = loc(b, m, 0x402000, "b", "a");             /* b inlined into a */
	uint64_t la = loc(b, m, 0x402100, "a", NULL);
	uint64_t lc = loc(b, m, 0x403000, "c", NULL);
	uint64_t lanon = loc(b, lx, 0x700100, "", NULL);
	uint64_t lnone = mp_pprof_add_location(b, 0, 0x900000, NULL, 0);

	mp_pprof_add_sample_type(b, "alloc_objects", "count");
	mp_pprof_add_sample_type(b, "alloc_space", "bytes");
	/* 2 objects, 2 MiB in b (inlined into a) */
	mp_pprof_add_sample(b, (uint64_t[]){ lab, lmain }, 2, (int64_t[]){ 2, 2097152 }, 2, NULL, 0);
	/* 10 objects, 1 MiB in a */
	mp_pprof_add_sample(b, (uint64_t[]){ la, lmain }, 2, (int64_t[]){ 10, 1048576 }, 2, NULL, 0);
	/* c recursing: 100 objects, 512 KiB */
	mp_pprof_add_sample(b, (uint64_t[]){ lc, lc, lc, lmain }, 4, (int64_t[]){ 100, 524288 }, 2, NULL, 0);
	/* a nameless frame in libx.so called from c: 1 object, 512 KiB */
	mp_pprof_add_sample(b, (uint64_t[]){ lanon, lc, lmain }, 3, (int64_t[]){ 1, 524288 }, 2, NULL, 0);
	/* an unknown frame: 1 object, 1 KiB */
	mp_pprof_add_sample(b, (uint64_t[]){ lnone }, 1, (int64_t[]){ 1, 1024 }, 2, NULL, 0);
	/* all zero: dropped (pprof's Merge) */
	mp_pprof_add_sample(b, (uint64_t[]){ lnone }, 1, (int64_t[]){ 0, 0 }, 2, NULL, 0);
	return parse_builder(b);
}

static void test_heap_table(void)
{
	struct mp_profile *p = heap_profile();

	if (!p) {
		CHECK(!"heap profile");
		return;
	}
	/*
	 * Default: the last sample type.  Total 4 MiB + 1 KiB; the cutoff is
	 * 0.5% of it, so <unknown> (1 KiB) is dropped with its flat; 4096/4097
	 * is within 0.05 of 100%, printed "100%"; [libx.so] sorts before c.
	 */
	CHECK_REPORT(p, NULL, 0,
		"File: app\n"
		"Type: alloc_space\n"
		"Showing nodes accounting for 4096kB, 100% of 4097kB total\n"
		"Dropped 1 node (cum <= 20.48kB)\n"
		"      flat  flat%   sum%        cum   cum%\n"
		"    2048kB 49.99% 49.99%     2048kB 49.99%  b (inline)\n"
		"    1024kB 24.99% 74.98%     3072kB 74.98%  a\n"
		"     512kB 12.50% 87.48%      512kB 12.50%  [libx.so]\n"
		"     512kB 12.50%   100%     1024kB 24.99%  c\n"
		"         0     0%   100%     4096kB   100%  main\n");
	/* By name, by number, and "inuse_" dropped for a profile without it. */
	CHECK_REPORT(p, "alloc_objects", 0,
		"File: app\n"
		"Type: alloc_objects\n"
		"Showing nodes accounting for 114, 100% of 114 total\n"
		"      flat  flat%   sum%        cum   cum%\n"
		"       100 87.72% 87.72%        101 88.60%  c\n"
		"        10  8.77% 96.49%         12 10.53%  a\n"
		"         2  1.75% 98.25%          2  1.75%  b (inline)\n"
		"         1  0.88% 99.12%          1  0.88%  <unknown>\n"
		"         1  0.88%   100%          1  0.88%  [libx.so]\n"
		"         0     0%   100%        113 99.12%  main\n");
	{
		char *a = report(p, "0", 0), *b = report(p, "alloc_objects", 0);
		char *c = report(p, "inuse_alloc_objects", 0);

		CHECK_STR(a, b);
		CHECK_STR(c, b);
		free(a);
		free(b);
		free(c);
	}
	/* -n 2: with 1 MiB the smallest value and 4 MiB the total, MB it is. */
	CHECK_REPORT(p, NULL, 2,
		"File: app\n"
		"Type: alloc_space\n"
		"Showing nodes accounting for 3MB, 74.98% of 4MB total\n"
		"Dropped 1 node (cum <= 0.02MB)\n"
		"Showing top 2 nodes out of 5\n"
		"      flat  flat%   sum%        cum   cum%\n"
		"       2MB 49.99% 49.99%        2MB 49.99%  b (inline)\n"
		"       1MB 24.99% 74.98%        3MB 74.98%  a\n");
	mp_profile_free(p);
}

/* Every command takes --sample-index the same way (pprof.h
 * mp_profile_sample_index): top, diff (through top) and flame accept the same
 * spellings and refuse with the same message. */
static void test_sample_index_everywhere(void)
{
	static const struct {
		const char *want;
		int idx;
		const char *err;
	} cases[] = {
		{ NULL, 1, NULL },               /* default_sample_type */
		{ "", 1, NULL },
		{ "space", 1, NULL },
		{ "inuse_space", 1, NULL },      /* Go's spelling of a "space" type */
		{ "inuse_objects", 0, NULL },
		{ "objects", 0, NULL },
		{ "0", 0, NULL },
		{ "+1", 1, NULL },
		{ "2", -EINVAL, "sample index '2' is outside the range [0..1]" },
		{ "-1", -EINVAL, "sample index '-1' is outside the range [0..1]" },
		{ "1x", -EINVAL, "unknown sample index '1x': the profile has objects space" },
		{ "alloc_space", -EINVAL, "unknown sample index 'alloc_space': the profile has objects space" },
	};
	struct mp_pprof_builder *b = mp_pprof_builder_new();
	uint64_t l;
	int64_t v[2] = { 2, 64 };

	mp_pprof_add_sample_type(b, "objects", "count");
	mp_pprof_add_sample_type(b, "space", "bytes");
	mp_pprof_set_default_sample_type(b, "space");
	l = loc(b, 0, 0x1000, "f", NULL);
	mp_pprof_add_sample(b, &l, 1, v, 2, NULL, 0);
	struct mp_profile *p = parse_builder(b);

	if (!p) {
		CHECK(!"profile");
		return;
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mp_top_options o = MP_TOP_OPTIONS_DEFAULT;
		struct mp_top *t = NULL;
		char *err = NULL, *terr = NULL, *ferr = NULL, *svg = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&svg, &len);
		int r = mp_profile_sample_index(p, cases[i].want, &err);

		CHECK_INT(r, cases[i].idx);
		CHECK_STR(err ? err : "", cases[i].err ? cases[i].err : "");
		o.sample_index = cases[i].want;
		CHECK_INT(mp_top_compute(p, &o, &t, &terr), r < 0 ? r : 0);
		CHECK_STR(terr ? terr : "", err ? err : "");
		if (t)
			CHECK_INT(t->sample_index, r);
		CHECK_INT(mp_flame_write(p, cases[i].want, "t", f, &ferr), r < 0 ? r : 0);
		CHECK_STR(ferr ? ferr : "", err ? err : "");
		fclose(f);
		if (r >= 0)
			CHECK(svg && strstr(svg, r ? "(space, bytes)" : "(objects, count)") != NULL);
		mp_top_free(t);
		free(err);
		free(terr);
		free(ferr);
		free(svg);
	}
	mp_profile_free(p);
}

static void test_sample_index_errors(void)
{
	struct mp_profile *p = heap_profile();
	struct mp_top_options o = MP_TOP_OPTIONS_DEFAULT;
	struct mp_top *t = NULL;
	char *err = NULL;

	o.sample_index = "inuse_space";
	CHECK_INT(mp_top_compute(p, &o, &t, &err), -EINVAL);
	CHECK_STR(err, "unknown sample index 'inuse_space': the profile has alloc_objects alloc_space");
	free(err);
	err = NULL;
	o.sample_index = "2";
	CHECK_INT(mp_top_compute(p, &o, &t, &err), -EINVAL);
	CHECK_STR(err, "sample index '2' is outside the range [0..1]");
	free(err);
	err = NULL;
	o.sample_index = "-1";
	CHECK_INT(mp_top_compute(p, &o, &t, &err), -EINVAL);
	free(err);
	CHECK(t == NULL);
	mp_profile_free(p);

	/* No sample types at all. */
	p = parse_builder(mp_pprof_builder_new());
	o.sample_index = NULL;
	err = NULL;
	CHECK_INT(mp_top_compute(p, &o, &t, &err), -ENODATA);
	CHECK_STR(err, "profile has no sample types");
	free(err);
	mp_profile_free(p);
}

/* Node fraction: nodes under 0.5% of the total are dropped, and with them
 * the flat of samples whose leaf was dropped. */
static void test_drop(void)
{
	struct mp_pprof_builder *b = mp_pprof_builder_new();
	uint64_t lmain = loc(b, 0, 0x1, "main", NULL);
	uint64_t lbig = loc(b, 0, 0x2, "big", NULL);
	uint64_t lt1 = loc(b, 0, 0x3, "tiny1", NULL);
	uint64_t lt2 = loc(b, 0, 0x4, "tiny2", NULL);
	struct mp_profile *p;

	mp_pprof_add_sample_type(b, "objects", "count");
	mp_pprof_add_sample_type(b, "space", "bytes");
	mp_pprof_set_default_sample_type(b, "objects");
	mp_pprof_set_time(b, 0, 0);
	mp_pprof_add_sample(b, (uint64_t[]){ lbig, lmain }, 2, (int64_t[]){ 990, 10 }, 2, NULL, 0);
	mp_pprof_add_sample(b, (uint64_t[]){ lt1, lmain }, 2, (int64_t[]){ 4, 10 }, 2, NULL, 0);
	mp_pprof_add_sample(b, (uint64_t[]){ lt2, lmain }, 2, (int64_t[]){ 4, 10 }, 2, NULL, 0);
	mp_pprof_add_sample(b, (uint64_t[]){ lmain }, 1, (int64_t[]){ 2, 0 }, 2, NULL, 0);
	p = parse_builder(b);
	if (!p) {
		CHECK(!"drop profile");
		return;
	}
	/* Total 1000, cutoff 5: tiny1 and tiny2 go, their 8 objects with them. */
	CHECK_REPORT(p, NULL, 0,
		"Type: objects\n"
		"Showing nodes accounting for 992, 99.20% of 1000 total\n"
		"Dropped 2 nodes (cum <= 5)\n"
		"      flat  flat%   sum%        cum   cum%\n"
		"       990 99.00% 99.00%        990 99.00%  big\n"
		"         2   0.2% 99.20%       1000   100%  main\n");
	mp_profile_free(p);
}

/* Samples with the same stack are merged before the total takes absolute
 * values; partial inlining; ties sorted by name. */
static void test_merge_and_inline(void)
{
	struct mp_pprof_builder *b = mp_pprof_builder_new();
	uint64_t lmain = loc(b, 0, 0x1, "main", NULL);
	uint64_t lx_in_a = loc(b, 0, 0x2, "x", "a");   /* x inlined in a */
	uint64_t lx = loc(b, 0, 0x3, "x", NULL);       /* x called from main */
	uint64_t lz = loc(b, 0, 0x4, "z", NULL);
	uint64_t ly = loc(b, 0, 0x5, "y", NULL);
	struct mp_profile *p;

	mp_pprof_add_sample_type(b, "delta", "count");
	mp_pprof_add_sample(b, (uint64_t[]){ lx_in_a, lmain }, 2, (int64_t[]){ 30 }, 1, NULL, 0);
	mp_pprof_add_sample(b, (uint64_t[]){ lx, lmain }, 2, (int64_t[]){ 30 }, 1, NULL, 0);
	mp_pprof_add_sample(b, (uint64_t[]){ lz, lmain }, 2, (int64_t[]){ 20 }, 1, NULL, 0);
	mp_pprof_add_sample(b, (uint64_t[]){ ly, lmain }, 2, (int64_t[]){ 20 }, 1, NULL, 0);
	/* +50 and -50 on the same stack: merged to 0, which pprof drops. */
	mp_pprof_add_sample(b, (uint64_t[]){ ly }, 1, (int64_t[]){ 50 }, 1, NULL, 0);
	mp_pprof_add_sample(b, (uint64_t[]){ ly }, 1, (int64_t[]){ -50 }, 1, NULL, 0);
	p = parse_builder(b);
	if (!p) {
		CHECK(!"merge profile");
		return;
	}
	CHECK_REPORT(p, NULL, 0,
		"Type: delta\n"
		"Showing nodes accounting for 100, 100% of 100 total\n"
		"      flat  flat%   sum%        cum   cum%\n"
		"        60 60.00% 60.00%         60 60.00%  x (partial-inline)\n"
		"        20 20.00% 80.00%         20 20.00%  y\n"
		"        20 20.00%   100%         20 20.00%  z\n"
		"         0     0%   100%         30 30.00%  a\n"
		"         0     0%   100%        100   100%  main\n");
	mp_profile_free(p);
}

/* One run of a program whose library (mapped at `lib_start`: ASLR moves
 * it) holds 4096 B allocated at a frame without a name, file offset 0x2123. */
static struct mp_profile *run_profile(uint64_t exe_start, uint64_t lib_start)
{
	struct mp_pprof_builder *b = mp_pprof_builder_new();
	uint64_t m = mp_pprof_add_mapping(b, exe_start, exe_start + 0x1000, 0x1000, "/usr/bin/app",
					  "", true, true, true, true);
	uint64_t lx = mp_pprof_add_mapping(b, lib_start, lib_start + 0x10000, 0x2000,
					   "/usr/lib/libx.so.1", "", false, false, false, false);
	uint64_t lmain = loc(b, m, exe_start + 0x10, "main", NULL);
	uint64_t lanon = mp_pprof_add_location(b, lx, lib_start + 0x123, NULL, 0);

	mp_pprof_add_sample_type(b, "inuse_space", "bytes");
	mp_pprof_add_sample(b, (uint64_t[]){ lanon, lmain }, 2, (int64_t[]){ 4096 }, 1, NULL, 0);
	return parse_builder(b);
}

/*
 * Frames without a name compare by object and file offset, not by run-time
 * address (issue 13): two runs of the same program diff to zero stack by
 * stack, their difference's flame graph has no red or blue frame, and the
 * timeline sees one stack, not two.
 */
static void test_unnamed_frames(void)
{
	struct mp_profile *a = run_profile(0x555555554000, 0x7f0000001000);
	struct mp_profile *b = run_profile(0x5566aa000000, 0x7f1234500000);
	struct mp_pprof_builder *d = NULL;
	int64_t total = -1, max = -1;
	char *key = NULL, *err = NULL;

	if (!a || !b) {
		CHECK(!"profiles");
		return;
	}
	CHECK_INT(mp_diff_growth(a, b, 0, &total, &max, &key), 0);
	CHECK(total == 0 && max == 0);
	CHECK_STR(key, "libx.so.1+0x2123;main;");
	free(key);

	CHECK_INT(mp_diff_build(a, b, &d, &err), 0);
	if (d) {
		struct mp_profile *dp = parse_builder(d);
		char *svg = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&svg, &len);

		CHECK(dp && mp_flame_write(dp, NULL, "t", f, &err) == 0);
		fclose(f);
		CHECK(svg && strstr(svg, "data-diff=\"1\"") != NULL);
		CHECK(svg && strstr(svg, "data-name=\"libx.so.1+0x2123\"") != NULL);
		CHECK(svg && strstr(svg, "data-net=\"4096\"") == NULL &&
		      strstr(svg, "data-net=\"-4096\"") == NULL);
		free(svg);
		mp_profile_free(dp);
	}

	struct mp_timeline t;
	mp_timeline_init(&t);
	CHECK_INT(mp_timeline_add(&t, "a", a, NULL, NULL, NULL, &err), 0);
	CHECK_INT(mp_timeline_add(&t, "b", b, NULL, NULL, NULL, &err), 0);
	CHECK_INT(mp_timeline_finish(&t, 5), 0);
	CHECK_U64(t.nstacks, 0);            /* nothing grew */
	mp_timeline_done(&t);
	free(err);
	mp_profile_free(a);
	mp_profile_free(b);
}

/* --lifetimes: the share of each row from samples labelled short-lived. */
static void test_lifetimes(void)
{
	struct mp_pprof_builder *b = mp_pprof_builder_new();
	uint64_t m = mp_pprof_add_mapping(b, 0x400000, 0x500000, 0, "/usr/bin/app", "", true, true, true, true);
	uint64_t lmain = loc(b, m, 0x401000, "main", NULL);
	uint64_t la = loc(b, m, 0x402000, "a", NULL);
	uint64_t lb = loc(b, m, 0x403000, "b", NULL);
	struct mp_pprof_label l[2] = { { .key = MP_LIFE_LABEL }, { .key = "bytes", .num = 64 } };

	mp_pprof_add_sample_type(b, "alloc_space", "bytes");
	mp_pprof_add_sample_type(b, "inuse_space", "bytes");
	l[0].str = "<10us";          /* a: 300 of 400 short-lived below 1ms */
	mp_pprof_add_sample(b, (uint64_t[]){ la, lmain }, 2, (int64_t[]){ 100, 0 }, 2, l, 2);
	l[0].str = "100us-1ms";
	mp_pprof_add_sample(b, (uint64_t[]){ la, lmain }, 2, (int64_t[]){ 200, 0 }, 2, l, 2);
	l[0].str = "1ms-10ms";       /* short below 10ms only */
	mp_pprof_add_sample(b, (uint64_t[]){ la, lmain }, 2, (int64_t[]){ 100, 0 }, 2, l, 2);
	l[0].str = MP_LIFE_INUSE;    /* b: never short */
	mp_pprof_add_sample(b, (uint64_t[]){ lb, lmain }, 2, (int64_t[]){ 600, 600 }, 2, l, 2);
	struct mp_profile *p = parse_builder(b);
	if (!p)
		return;
	CHECK(mp_top_has_label(p, MP_LIFE_LABEL));
	CHECK(!mp_top_has_label(p, "nothing"));
	int64_t limit = 1000000;
	struct mp_top_options o = MP_TOP_OPTIONS_DEFAULT, so;
	struct mp_top *t = NULL, *st = NULL;
	o.sample_index = "alloc_space";
	so = o;
	so.node_fraction = so.edge_fraction = 0;
	so.keep = mp_top_short_lived;
	so.keep_arg = &limit;
	CHECK_INT(mp_top_compute(p, &o, &t, NULL), 0);
	CHECK_INT(mp_top_compute(p, &so, &st, NULL), 0);
	if (t && st) {
		char *out = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&out, &len);
		mp_top_print_lifetimes(t, st, f);
		fclose(f);
		CHECK(strstr(out, "flat  flat%   sum%        cum   cum%  short  short\n"));
		CHECK(strstr(out, "  0.0%   0.0%  b\n"));
		CHECK(strstr(out, " 75.0%  75.0%  a\n"));
		CHECK(strstr(out, "     -  30.0%  main\n"));
		free(out);
	}
	mp_top_free(st);
	st = NULL;
	limit = 10000000;            /* 10ms: a's 1ms-10ms too */
	CHECK_INT(mp_top_compute(p, &so, &st, NULL), 0);
	for (size_t i = 0; st && i < st->nrows; i++)
		if (strcmp(st->rows[i].name, "a") == 0)
			CHECK_INT(st->rows[i].flat, 400);
	mp_top_free(st);
	mp_top_free(t);
	mp_profile_free(p);
}

int main(void)
{
	setenv("TZ", "UTC", 1);
	test_units();
	test_display_names();
	test_heap_table();
	test_sample_index_errors();
	test_sample_index_everywhere();
	test_drop();
	test_merge_and_inline();
	test_unnamed_frames();
	test_lifetimes();
	return tap_done();
}
