/* SPDX-License-Identifier: MIT */
/*
 * `memprof timeline`: numbered profile names (made, parsed, siblings), and
 * the series built from hand-made profiles: heap from HeapAlloc when present
 * and from inuse_space otherwise, RSS and resource counts, stacks ranked by
 * growth (shrinking and vanished ones dropped, ties by name), the SVG and
 * HTML outputs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pprof/pprof.h"
#include "report/timeline.h"
#include "tap.h"

static void test_names(void)
{
	static const struct {
		const char *final;
		uint32_t seq;
		const char *want;
	} made[] = {
		{ "app.heap.pb.gz", 1, "app.s0001.heap.pb.gz" },
		{ "dir/memprof.42.heap.pb.gz", 12, "dir/memprof.42.s0012.heap.pb.gz" },
		{ "x.pb.gz", 3, "x.s0003.pb.gz" },
		{ "x.fds.pb.gz", 10000, "x.s10000.fds.pb.gz" },
		{ "out", 1, "out.s0001" },
		{ ".heap.pb.gz", 2, ".heap.s0002.pb.gz" },   /* no stem: only .pb.gz is a suffix */
	};
	for (size_t i = 0; i < sizeof(made) / sizeof(made[0]); i++) {
		char *s = mp_snapname_numbered(made[i].final, made[i].seq);

		CHECK_STR(s, made[i].want);
		free(s);
	}

	static const struct {
		const char *name, *series;
		uint32_t seq;
		enum mp_profile_kind kind;
	} parsed[] = {
		{ "app.s0001.heap.pb.gz", "app", 1, MP_PROFILE_HEAP },
		{ "app.heap.pb.gz", "app", 0, MP_PROFILE_HEAP },
		{ "memprof.42.s0012.heap.pb.gz", "memprof.42", 12, MP_PROFILE_HEAP },
		{ "memprof.42.heap.pb.gz", "memprof.42", 0, MP_PROFILE_HEAP },
		{ "x.s10000.threads.pb.gz", "x", 10000, MP_PROFILE_THREADS },
		{ "x.s0003.timers.pb.gz", "x", 3, MP_PROFILE_TIMERS },
		{ "x.s0003.fds.pb.gz", "x", 3, MP_PROFILE_FDS },
		{ "x.s0003.pb.gz", "x", 3, MP_PROFILE_NONE },
		{ "x.s123.heap.pb.gz", "x.s123", 0, MP_PROFILE_HEAP },   /* fewer than 4 digits */
		{ "x.s0000.heap.pb.gz", "x.s0000", 0, MP_PROFILE_HEAP }, /* numbers start at 1 */
		{ "x.t0001.heap.pb.gz", "x.t0001", 0, MP_PROFILE_HEAP },
		{ "s0001.heap.pb.gz", "s0001", 0, MP_PROFILE_HEAP },     /* no '.' before the s */
		{ "x.s99999999999.heap.pb.gz", "x.s99999999999", 0, MP_PROFILE_HEAP },   /* > 2^32 */
		{ "notes.txt", "notes.txt", 0, MP_PROFILE_NONE },
		{ "x.s0001", "x.s0001", 0, MP_PROFILE_NONE },
	};
	for (size_t i = 0; i < sizeof(parsed) / sizeof(parsed[0]); i++) {
		char *series = NULL;
		uint32_t seq = 99;
		enum mp_profile_kind kind = MP_PROFILE_NONE;

		CHECK_INT(mp_snapname_parse(parsed[i].name, &series, &seq, &kind), 0);
		CHECK_STR(series, parsed[i].series);
		CHECK_INT(seq, parsed[i].seq);
		CHECK_INT(kind, parsed[i].kind);
		free(series);
	}

	char *s = mp_snapname_sibling("d/x.s0002.heap.pb.gz", MP_PROFILE_FDS);
	CHECK_STR(s, "d/x.s0002.fds.pb.gz");
	free(s);
	s = mp_snapname_sibling("x.heap.pb.gz", MP_PROFILE_TIMERS);
	CHECK_STR(s, "x.timers.pb.gz");
	free(s);
	s = mp_snapname_sibling("d/x.s0002.pb.gz", MP_PROFILE_FDS);
	CHECK_STR(s, "d/x.s0002.fds.pb.gz");
	free(s);
	CHECK(mp_snapname_sibling("x.fds.pb.gz", MP_PROFILE_TIMERS) == NULL);
	CHECK(mp_snapname_sibling("x.svg", MP_PROFILE_FDS) == NULL);
	CHECK(mp_snapname_sibling("x.heap.pb.gz", MP_PROFILE_NONE) == NULL);
}

static void test_bytes(void)
{
	char buf[64];

	mp_timeline_format_bytes(0, buf, sizeof(buf));
	CHECK_STR(buf, "0 B");
	mp_timeline_format_bytes(1023, buf, sizeof(buf));
	CHECK_STR(buf, "1023 B");
	mp_timeline_format_bytes(1536, buf, sizeof(buf));
	CHECK_STR(buf, "1.50 KiB");
	mp_timeline_format_bytes(512000, buf, sizeof(buf));
	CHECK_STR(buf, "500.00 KiB");
	mp_timeline_format_bytes(-3 * 1048576, buf, sizeof(buf));
	CHECK_STR(buf, "-3.00 MiB");
}

/* A heap profile: `n` samples of (function, inuse bytes), one frame each
 * under "main", taken at time `t`; optional comments. */
struct fn_bytes {
	const char *fn;
	int64_t bytes;
};

static struct mp_profile *heap_profile(int64_t t, const struct fn_bytes *v, size_t n,
				const char *const *comments)
{
	struct mp_pprof_builder *b = mp_pprof_builder_new();
	uint8_t *buf = NULL;
	size_t len = 0;
	struct mp_profile *p = NULL;

	mp_pprof_add_sample_type(b, "alloc_space", "bytes");
	mp_pprof_add_sample_type(b, "inuse_space", "bytes");
	mp_pprof_set_time(b, t, 0);
	/* "stat:Name=value": a statistic (memprof_stat); else a comment, as
	 * earlier memprof versions kept statistics */
	for (; comments && *comments; comments++) {
		const char *eq = strchr(*comments, '=');

		if (strncmp(*comments, "stat:", 5) == 0 && eq) {
			char name[64];

			snprintf(name, sizeof(name), "%.*s", (int)(eq - *comments - 5), *comments + 5);
			mp_pprof_add_stat(b, name, strtoll(eq + 1, NULL, 10));
		} else {
			mp_pprof_add_comment(b, *comments);
		}
	}
	struct mp_pprof_line main_line = { .function = "main" };
	uint64_t main_loc = mp_pprof_add_location(b, 0, 0x1000, &main_line, 1);
	for (size_t i = 0; i < n; i++) {
		struct mp_pprof_line l = { .function = v[i].fn };
		uint64_t locs[2] = { mp_pprof_add_location(b, 0, 0x2000 + 16 * i, &l, 1), main_loc };
		int64_t vals[2] = { v[i].bytes, v[i].bytes };

		mp_pprof_add_sample(b, locs, 2, vals, 2, NULL, 0);
	}
	if (mp_pprof_encode(b, &buf, &len) == 0)
		mp_pprof_parse(buf, len, &p, NULL);
	free(buf);
	mp_pprof_builder_free(b);
	return p;
}

/* A resource profile with `n` live things in one sample. */
static struct mp_profile *count_profile(int64_t n)
{
	struct mp_pprof_builder *b = mp_pprof_builder_new();
	uint8_t *buf = NULL;
	size_t len = 0;
	struct mp_profile *p = NULL;

	mp_pprof_add_sample_type(b, "fds", "count");
	struct mp_pprof_line l = { .function = "open_thing" };
	uint64_t loc = mp_pprof_add_location(b, 0, 0x3000, &l, 1);
	mp_pprof_add_sample(b, &loc, 1, &n, 1, NULL, 0);
	if (mp_pprof_encode(b, &buf, &len) == 0)
		mp_pprof_parse(buf, len, &p, NULL);
	free(buf);
	mp_pprof_builder_free(b);
	return p;
}

static void test_series(void)
{
	static const struct fn_bytes p0[] = { { "grow", 1000 }, { "shrink", 5000 }, { "gone", 10 },
					      { "flat", 300 } };
	static const struct fn_bytes p1[] = { { "grow", 3000 }, { "shrink", 2000 }, { "flat", 300 },
					      { "late", 700 }, { "grow", 500 } };
	static const struct fn_bytes p2[] = { { "grow", 9000 }, { "shrink", 1000 }, { "flat", 300 },
					      { "late", 700 }, { "tie", 700 } };
	static const char *const c2[] = { "stat:RSS=1048576", "stat:HeapAlloc=123456",
					  "stat:HeapAllocX=1", "HeapAlloc=99", NULL };
	struct mp_profile *h0 = heap_profile(1000000000, p0, 4, (const char *const[]){ "RSS=4096", NULL });
	struct mp_profile *h1 = heap_profile(1500000000, p1, 5, (const char *const[]){ "RSS=x", NULL });
	struct mp_profile *h2 = heap_profile(3000000000, p2, 5, c2);
	struct mp_profile *f0 = count_profile(3), *f2 = count_profile(7);
	struct mp_timeline t;
	char *err = NULL;

	CHECK(h0 && h1 && h2 && f0 && f2);
	if (!h0 || !h1 || !h2 || !f0 || !f2)
		return;
	mp_timeline_init(&t);
	CHECK_INT(mp_timeline_add(&t, "a", h0, f0, NULL, NULL, &err), 0);
	CHECK_INT(mp_timeline_add(&t, "b", h1, NULL, NULL, NULL, &err), 0);
	CHECK_INT(mp_timeline_add(&t, "c", h2, f2, NULL, NULL, &err), 0);
	CHECK_INT(t.npoints, 3);
	CHECK_INT(t.points[0].heap, 6310);           /* inuse_space total */
	CHECK_INT(t.points[0].heap_from_stat, 0);
	CHECK_INT(t.points[1].heap, 6500);
	CHECK_INT(t.points[2].heap, 123456);         /* the HeapAlloc stat wins */
	CHECK_INT(t.points[2].heap_from_stat, 1);
	CHECK_INT(t.points[0].rss, 4096);            /* a comment of an earlier memprof */
	CHECK(t.points[1].rss == MP_TIMELINE_UNKNOWN);   /* "RSS=x" is not a number */
	CHECK_INT(t.points[2].rss, 1048576);
	CHECK_INT(t.points[0].fds, 3);
	CHECK(t.points[1].fds == MP_TIMELINE_UNKNOWN);
	CHECK_INT(t.points[2].fds, 7);
	CHECK(t.points[0].threads == MP_TIMELINE_UNKNOWN);
	CHECK_INT(t.points[2].time_ns, 3000000000);

	CHECK_INT(mp_timeline_finish(&t, 3), 0);
	/* grow +8000, then late and tie +700 (by stack text), not flat,
	 * shrink or gone; only the top 3 kept */
	CHECK_INT(t.nstacks, 3);
	if (t.nstacks == 3) {
		CHECK_STR(t.stacks[0].name, "grow");     /* no file: the name alone */
		CHECK_STR(t.stacks[0].full, "grow\nmain");
		CHECK_INT(t.stacks[0].growth, 8000);
		CHECK_INT(t.stacks[0].inuse[0], 1000);
		CHECK_INT(t.stacks[0].inuse[1], 3500);   /* two samples of one stack summed */
		CHECK_INT(t.stacks[0].inuse[2], 9000);
		CHECK_STR(t.stacks[1].name, "late");
		CHECK_INT(t.stacks[1].inuse[0], 0);
		CHECK_INT(t.stacks[1].growth, 700);
		CHECK_STR(t.stacks[2].name, "tie");
	}

	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	CHECK_INT(mp_timeline_write_svg(&t, "a <title> & more", f), 0);
	fclose(f);
	CHECK(strstr(buf, "<svg xmlns=\"http://www.w3.org/2000/svg\"") == buf);
	CHECK(strstr(buf, "data-points=\"3\" data-stacks=\"3\"") != NULL);
	CHECK(strstr(buf, "a &lt;title&gt; &amp; more") != NULL);
	CHECK(strstr(buf, "data-growth=\"8000\"") != NULL);
	CHECK(strstr(buf, "id=\"fds\"") != NULL);
	CHECK(strstr(buf, "id=\"threads\"") == NULL);   /* never known: not drawn */
	CHECK(strstr(buf, "+7.81 KiB  grow<") != NULL);
	free(buf);
	buf = NULL;
	f = open_memstream(&buf, &len);
	CHECK_INT(mp_timeline_write_html(&t, "t", f), 0);
	fclose(f);
	CHECK(strncmp(buf, "<!DOCTYPE html>", 15) == 0);
	CHECK(strstr(buf, "<pre>grow\nmain</pre>") != NULL);
	CHECK(strstr(buf, "</html>\n") != NULL);
	free(buf);
	mp_timeline_done(&t);

	/* not a heap profile */
	mp_timeline_init(&t);
	CHECK_INT(mp_timeline_add(&t, "f", f0, NULL, NULL, NULL, &err), -EINVAL);
	CHECK(err && strstr(err, "inuse_space"));
	free(err);
	CHECK_INT(t.npoints, 0);
	CHECK_INT(mp_timeline_finish(&t, 5), 0);
	CHECK_INT(t.nstacks, 0);
	buf = NULL;
	f = open_memstream(&buf, &len);
	CHECK_INT(mp_timeline_write_svg(&t, "empty", f), 0);
	fclose(f);
	CHECK(strstr(buf, "no snapshots") != NULL);
	free(buf);
	mp_timeline_done(&t);

	mp_profile_free(h0);
	mp_profile_free(h1);
	mp_profile_free(h2);
	mp_profile_free(f0);
	mp_profile_free(f2);
}

/*
 * One snapshot of a program with a cache filled through a std::vector in
 * fill_cache (cache.c:17, called from main at app.c:9) and a buffer from
 * strdup in read_line (io.c:5): frames of libc and of the C++ headers come
 * first, as in a real stack.
 */
static struct mp_profile *app_profile(int64_t t, int64_t cache, int64_t line)
{
	struct mp_pprof_builder *b = mp_pprof_builder_new();
	uint64_t exe = mp_pprof_add_mapping(b, 0x1000, 0x9000, 0x1000, "/opt/app/bin/app", "",
					    true, true, true, true);
	uint64_t libc = mp_pprof_add_mapping(b, 0x7f0000000000, 0x7f0000100000, 0x26000,
					     "/usr/lib/x86_64-linux-gnu/libc.so.6", "", true, true,
					     true, true);
	struct mp_pprof_line vec[] = {
		{ .function = "std::__new_allocator<int>::allocate(unsigned long, void const*)",
		  .file = "/usr/include/c++/12/bits/new_allocator.h", .line = 137 },
		{ .function = "fill_cache", .file = "/src/app/cache.c", .line = 17 },
	};
	struct mp_pprof_line m = { .function = "main", .file = "/src/app/app.c", .line = 9 };
	struct mp_pprof_line dup = { .function = "__GI___strdup", .file = "./string/strdup.c",
				     .line = 42 };
	struct mp_pprof_line rl = { .function = "read_line", .file = "io.c", .line = 5 };
	uint64_t lvec = mp_pprof_add_location(b, exe, 0x1100, vec, 2);
	uint64_t lmain = mp_pprof_add_location(b, exe, 0x1200, &m, 1);
	uint64_t ldup = mp_pprof_add_location(b, libc, 0x7f0000001000, &dup, 1);
	uint64_t lrl = mp_pprof_add_location(b, exe, 0x1300, &rl, 1);
	uint8_t *buf = NULL;
	size_t len = 0;
	struct mp_profile *p = NULL;

	mp_pprof_add_sample_type(b, "inuse_space", "bytes");
	mp_pprof_set_time(b, t, 0);
	if (cache)
		mp_pprof_add_sample(b, (uint64_t[]){ lvec, lmain }, 2, &cache, 1, NULL, 0);
	if (line)
		mp_pprof_add_sample(b, (uint64_t[]){ ldup, lrl, lmain }, 3, &line, 1, NULL, 0);
	if (mp_pprof_encode(b, &buf, &len) == 0)
		mp_pprof_parse(buf, len, &p, NULL);
	free(buf);
	mp_pprof_builder_free(b);
	return p;
}

/*
 * Issue 13: a cache that grows through the run and is torn down at exit
 * vanished from "top growing stacks" (first to last: the at-exit profile),
 * while the chart showed it; stacks were named by a truncated leaf
 * (std::__new_allocator<...>::allocate < ...).  Growth is measured to the
 * largest heap, and a stack is named by its first frame in the program.
 */
static void test_peak_and_names(void)
{
	struct mp_profile *p[4] = {
		app_profile(1000000000, 1000, 100),
		app_profile(2000000000, 50000, 200),
		app_profile(3000000000, 90000, 300),
		app_profile(4000000000, 0, 400),      /* at exit: the cache freed */
	};
	struct mp_timeline t;
	char *err = NULL, *buf = NULL;
	size_t len = 0;

	mp_timeline_init(&t);
	for (int i = 0; i < 4; i++)
		CHECK(p[i] && mp_timeline_add(&t, i == 3 ? "app.heap.pb.gz" : "app.s000N.heap.pb.gz",
					      p[i], NULL, NULL, NULL, &err) == 0);
	CHECK_INT(mp_timeline_finish(&t, 5), 0);
	CHECK_U64(t.peak, 2);
	CHECK_U64(t.nstacks, 2);
	if (t.nstacks == 2) {
		CHECK_STR(t.stacks[0].name, "fill_cache (cache.c:17)");
		CHECK_INT(t.stacks[0].growth, 89000);
		CHECK_STR(t.stacks[1].name, "read_line (io.c:5)");
		CHECK_INT(t.stacks[1].growth, 200);
	}
	FILE *f = open_memstream(&buf, &len);
	CHECK_INT(mp_timeline_write_html(&t, "app", f), 0);
	fclose(f);
	CHECK(strstr(buf, "from the first snapshot to the largest heap, app.s000N.heap.pb.gz") !=
	      NULL);
	CHECK(strstr(buf, "<td>fill_cache (cache.c:17)</td>") != NULL);
	free(buf);
	mp_timeline_done(&t);
	for (int i = 0; i < 4; i++)
		mp_profile_free(p[i]);
}

/* Peak profiles beside the points: the highest is marked, at its time. */
static void test_peak_mark(void)
{
	static const struct fn_bytes a[] = { { "f", 100 } }, b[] = { { "f", 300 } },
		pk1[] = { { "f", 500 }, { "g", 200 } }, pk2[] = { { "f", 600 } };
	struct mp_profile *h1 = heap_profile(1000000000, a, 1, NULL),
			  *h2 = heap_profile(3000000000, b, 1, NULL),
			  *p1 = heap_profile(2000000000, pk1, 2, NULL),   /* 700 at 2 s */
			  *p2 = heap_profile(2500000000, pk2, 1, NULL);   /* 600: lower */
	struct mp_timeline t;
	char *buf = NULL;
	size_t len = 0;

	mp_timeline_init(&t);
	CHECK_INT(t.heap_peak, MP_TIMELINE_UNKNOWN);
	CHECK_INT(mp_timeline_add(&t, "x.s0001.heap.pb.gz", h1, NULL, NULL, NULL, NULL), 0);
	CHECK_INT(mp_timeline_add_peak(&t, p1), 0);
	CHECK_INT(mp_timeline_add(&t, "x.heap.pb.gz", h2, NULL, NULL, NULL, NULL), 0);
	CHECK_INT(mp_timeline_add_peak(&t, p2), 0);
	CHECK_INT(t.heap_peak, 700);
	CHECK_INT(t.heap_peak_ns, 2000000000);
	CHECK_INT(mp_timeline_finish(&t, 5), 0);
	FILE *f = open_memstream(&buf, &len);
	CHECK_INT(mp_timeline_write_svg(&t, "x", f), 0);
	fclose(f);
	/* Half way between the points (x 90 .. 930), above them (the axis
	 * reaches the peak). */
	CHECK(strstr(buf, "<g class=\"peak\" data-peak=\"700\" data-time=\"2000000000\">"
		      "<line x1=\"510.0\"") != NULL);
	CHECK(strstr(buf, "peak (sampled): 700 B at 1.000s") != NULL);
	free(buf);
	mp_timeline_done(&t);
	mp_profile_free(h1);
	mp_profile_free(h2);
	mp_profile_free(p1);
	mp_profile_free(p2);
}

int main(void)
{
	test_names();
	test_peak_mark();
	test_bytes();
	test_series();
	test_peak_and_names();
	return tap_done();
}
