/* SPDX-License-Identifier: MIT */
/*
 * Snapshot -> heap profile: a synthetic snapshot of this very process (its
 * /proc/self/maps, return addresses of its own functions, built -g -O0) is
 * converted and read back with mp_pprof_parse; checked exactly: sample
 * types, period, times, comments, values at rate 1 and at rate 524288
 * (against Go's scaleHeapSample, numbers computed independently), the
 * "bytes" label, skipped all-zero records, locations (pc - 1, mapping,
 * function, file, line), mapping order and flags, the string table.
 * Then the file front ends and their error messages.
 */
#include <dirent.h>
#include <errno.h>
#include <link.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/snapshot-read.h"
#include "convert/convert.h"
#include "pprof/pprof.h"
#include "tap.h"

#define NOINLINE __attribute__((noinline, used))

/* ---- code whose addresses go into the snapshot ----------------------------------- */

static void *volatile sink;
static int call_line_a, call_line_b;

static NOINLINE void *conv_leaf(void) { return __builtin_return_address(0); }

enum { CALLER_A_LINE = __LINE__ + 1 };
static NOINLINE void *conv_caller_a(void)
{
	void *ra = conv_leaf(); call_line_a = __LINE__;

	sink = ra;
	return ra;
}

enum { CALLER_B_LINE = __LINE__ + 1 };
static NOINLINE void *conv_caller_b(void)
{
	void *ra = conv_leaf(); call_line_b = __LINE__;

	sink = ra;
	return ra;
}

/* ---- a snapshot writer for tests -------------------------------------------------- */

struct snapbuf {
	uint8_t *p;
	size_t len, cap;
};

static void put(struct snapbuf *b, const void *d, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			abort();
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
}

static void section(struct snapbuf *b, uint32_t type, const void *d, size_t n)
{
	static const uint8_t zeros[8];
	struct mp_snap_section s = { .type = type, .size = n };

	put(b, &s, sizeof(s));
	put(b, d, n);
	if (n % 8)
		put(b, zeros, 8 - n % 8);
}

static char *read_text(const char *path, size_t *ret_len)
{
	int fd = open(path, O_RDONLY);
	size_t len = 0, cap = 1 << 16;
	char *buf = malloc(cap);
	ssize_t got;

	if (fd < 0 || !buf)
		abort();
	while ((got = read(fd, buf + len, cap - len - 1)) > 0) {
		len += (size_t)got;
		if (len + 1 == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			if (!buf)
				abort();
		}
	}
	close(fd);
	buf[len] = 0;
	*ret_len = len;
	return buf;
}

static uint64_t ra_a, ra_b;
static uint64_t exe_bias;   /* this program's load bias (0 unless PIE) */

static int first_object(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	*(uint64_t *)data = info->dlpi_addr;   /* the main program comes first */
	return 1;
}
static char exe[4096];

/*
 * Stacks: 1 = [ra_a, ra_b], 2 = [0x10 (no mapping), 0 (a broken frame)],
 * 3 = [ra_b].  Heap records (size, alloc, free):
 *   A stack 1:  48 B, 10, 4
 *   B stack 2:  1 MiB, 3, 3     in-use all zero, alloc not: kept
 *   C stack 1:  0 B, 5, 0       malloc(0): objects without bytes
 *   D stack 3:  100 B, 0, 0     all four values zero: skipped
 *   E stack 3:  4000 B, 7, 2
 */
static struct snapbuf build_snapshot(uint64_t rate, bool stats, bool truncated)
{
	struct snapbuf b = { 0 };
	struct mp_snap_header h = {
		.version = MP_SNAP_VERSION,
		.endian = MP_SNAP_ENDIAN_TAG,
		.header_size = sizeof(h),
		.nsections = stats ? 5 : 4,
		.pid = 31337,
		.ppid = 1,
		.rate = rate,
		.start_ns = 1700000000000000000ull,
		.end_ns = 1700000003000000007ull,
		.max_depth = 64,
		.flags = MP_SNAP_F_FINAL | (truncated ? MP_SNAP_F_TRUNCATED : 0),
	};
	const struct mp_snap_heap_rec heap[] = {
		{ .stack_id = 1, .size = 48, .alloc_objects = 10, .free_objects = 4 },
		{ .stack_id = 2, .size = 1 << 20, .alloc_objects = 3, .free_objects = 3 },
		{ .stack_id = 1, .size = 0, .alloc_objects = 5, .free_objects = 0 },
		{ .stack_id = 3, .size = 100, .alloc_objects = 0, .free_objects = 0 },
		{ .stack_id = 3, .size = 4000, .alloc_objects = 7, .free_objects = 2 },
	};
	struct mp_snap_kv kv[2];
	uint8_t stacks[256];
	uint32_t rec[2];
	uint64_t pcs[2];
	size_t n = 0, maps_len;
	char *maps = read_text("/proc/self/maps", &maps_len);

	memcpy(h.magic, MP_SNAP_MAGIC, sizeof(h.magic));
	put(&b, &h, sizeof(h));
	section(&b, MP_SNAP_MAPS, maps, maps_len);
	section(&b, MP_SNAP_EXE, exe, strlen(exe));
	rec[0] = 1, rec[1] = 2, pcs[0] = ra_a, pcs[1] = ra_b;
	memcpy(stacks + n, rec, 8), n += 8;
	memcpy(stacks + n, pcs, 16), n += 16;
	rec[0] = 2, rec[1] = 2, pcs[0] = 0x10, pcs[1] = 0;
	memcpy(stacks + n, rec, 8), n += 8;
	memcpy(stacks + n, pcs, 16), n += 16;
	rec[0] = 3, rec[1] = 1, pcs[0] = ra_b;
	memcpy(stacks + n, rec, 8), n += 8;
	memcpy(stacks + n, pcs, 8), n += 8;
	section(&b, MP_SNAP_STACKS, stacks, n);
	section(&b, MP_SNAP_HEAP, heap, sizeof(heap));
	if (stats) {
		memset(kv, 0, sizeof(kv));
		strcpy(kv[0].name, "mallocs");
		kv[0].value = 424242;
		strcpy(kv[1].name, "heap_bytes");
		kv[1].value = 0;
		section(&b, MP_SNAP_STATS, kv, sizeof(kv));
	}
	free(maps);
	return b;
}

/* ---- profile accessors -------------------------------------------------------------- */

static const char *str(const struct mp_profile *p, int64_t i)
{
	return mp_profile_str(p, i);
}

static const char *base(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

static struct mp_profile *convert(uint64_t rate, bool stats, bool truncated, unsigned flags)
{
	struct snapbuf b = build_snapshot(rate, stats, truncated);
	struct mp_converter *cv = NULL;
	struct mp_snap *snap = NULL;
	uint8_t *out = NULL;
	size_t out_len = 0;
	struct mp_profile *p = NULL;
	char *err = NULL;
	int r;

	r = mp_snap_parse(b.p, b.len, &snap, &err);
	if (r == 0)
		r = mp_converter_new(snap, flags, NULL, &cv);
	if (r == 0)
		r = mp_converter_encode(cv, MP_PROFILE_HEAP, &out, &out_len, &err);
	mp_converter_free(cv);
	mp_snap_free(snap);
	CHECK_INT(r, 0);
	if (r < 0)
		printf("# %s\n", err ? err : "?");
	free(err);
	err = NULL;
	free(b.p);
	if (r < 0)
		return NULL;
	r = mp_pprof_parse(out, out_len, &p, &err);
	CHECK_INT(r, 0);
	if (r < 0)
		printf("# %s\n", err ? err : "?");
	free(err);
	free(out);
	return p;
}

/* One location: address, mapping, and (when want_fn) its single line. */
static void check_location(const struct mp_profile *p, uint64_t id, uint64_t want_addr,
			   uint64_t want_mapping, const char *want_fn, int want_line,
			   int want_start_line)
{
	const Perftools__Profiles__Location *l = mp_profile_location(p, id);

	CHECK(l != NULL);
	if (!l)
		return;
	CHECK_U64(l->address, want_addr);
	CHECK_U64(l->mapping_id, want_mapping);
	if (!want_fn) {
		CHECK_U64(l->n_line, 0);
		return;
	}
	CHECK_U64(l->n_line, 1);
	if (l->n_line == 1) {
		const Perftools__Profiles__Function *f = mp_profile_function(p, l->line[0]->function_id);

		CHECK_INT(l->line[0]->line, want_line);
		CHECK(f != NULL);
		if (f) {
			CHECK_STR(str(p, f->name), want_fn);
			CHECK_STR(str(p, f->system_name), want_fn);
			CHECK_STR(base(str(p, f->filename)), "test-convert.c");
			CHECK_INT(f->start_line, want_start_line);
		}
	}
}

/* ---- tests ---------------------------------------------------------------------------- */

static void check_values(const struct mp_profile *p, const int64_t want[4][4])
{
	CHECK_U64(p->msg->n_sample, 4);      /* D skipped */
	for (size_t i = 0; i < p->msg->n_sample && i < 4; i++) {
		CHECK_U64(p->msg->sample[i]->n_value, 4);
		for (size_t j = 0; j < 4 && j < p->msg->sample[i]->n_value; j++)
			CHECK_INT(p->msg->sample[i]->value[j], want[i][j]);
	}
}

static void test_rate1(void)
{
	/* Rate 1: every allocation recorded, nothing scaled. */
	static const int64_t want[4][4] = {
		{ 10, 480, 6, 288 },                    /* A */
		{ 3, 3 << 20, 0, 0 },                   /* B */
		{ 5, 0, 5, 0 },                         /* C */
		{ 7, 28000, 5, 20000 },                 /* E */
	};
	static const char *const types[4][2] = {
		{ "alloc_objects", "count" }, { "alloc_space", "bytes" },
		{ "inuse_objects", "count" }, { "inuse_space", "bytes" },
	};
	static const int64_t label_bytes[4] = { 48, 1 << 20, 0, 4000 };
	struct mp_profile *p = convert(1, true, false, 0);
	const Perftools__Profiles__Mapping *m;
	char want_comment[256];

	if (!p)
		return;
	CHECK_U64(p->msg->n_sample_type, 4);
	for (size_t i = 0; i < 4 && i < p->msg->n_sample_type; i++) {
		CHECK_STR(str(p, p->msg->sample_type[i]->type), types[i][0]);
		CHECK_STR(str(p, p->msg->sample_type[i]->unit), types[i][1]);
	}
	CHECK_INT(p->msg->default_sample_type, 0);   /* as Go: pprof shows the last */
	CHECK(p->msg->period_type != NULL);
	if (p->msg->period_type) {
		CHECK_STR(str(p, p->msg->period_type->type), "space");
		CHECK_STR(str(p, p->msg->period_type->unit), "bytes");
	}
	CHECK_INT(p->msg->period, 1);
	CHECK_INT(p->msg->time_nanos, 1700000003000000007ll);
	CHECK_INT(p->msg->duration_nanos, 3000000007ll);
	/* One short comment (program, pid, rate, how many allocations the
	 * figures rest on: 10 + 3 + 5 + 0 + 7); the statistics in their own
	 * field, not in comments, which pprof prints above every report. */
	CHECK_U64(p->msg->n_comment, 1);
	snprintf(want_comment, sizeof(want_comment),
		 "memprof %s: %s (pid 31337), rate 1, 25 allocations recorded", MP_VERSION,
		 base(exe));
	if (p->msg->n_comment == 1)
		CHECK_STR(str(p, p->msg->comment[0]), want_comment);
	CHECK_U64(p->msg->n_memprof_stat, 2);
	if (p->msg->n_memprof_stat == 2) {
		int64_t v = -1;

		CHECK_STR(p->msg->memprof_stat[0]->name, "mallocs");
		CHECK_INT(p->msg->memprof_stat[0]->value, 424242);
		CHECK(mp_profile_stat(p, "heap_bytes", &v) == 0 && v == 0);
		CHECK_INT(mp_profile_stat(p, "HeapAlloc", &v), -ENOENT);
	}
	check_values(p, want);

	/* Labels: "bytes" = block size, numeric, no unit (as Go); none for 0. */
	for (size_t i = 0; i < p->msg->n_sample && i < 4; i++) {
		const Perftools__Profiles__Sample *s = p->msg->sample[i];

		CHECK_U64(s->n_label, label_bytes[i] ? 1 : 0);
		if (s->n_label == 1) {
			CHECK_STR(str(p, s->label[0]->key), "bytes");
			CHECK_INT(s->label[0]->str, 0);
			CHECK_INT(s->label[0]->num, label_bytes[i]);
			CHECK_INT(s->label[0]->num_unit, 0);
		}
	}

	/* Locations: pc - 1, in our mapping, our functions at the call lines. */
	if (p->msg->n_sample == 4) {
		const Perftools__Profiles__Sample *a = p->msg->sample[0], *bb = p->msg->sample[1],
						  *c = p->msg->sample[2], *e = p->msg->sample[3];

		CHECK_U64(a->n_location_id, 2);
		CHECK_U64(bb->n_location_id, 2);
		CHECK_U64(e->n_location_id, 1);
		if (a->n_location_id == 2) {
			/* at the executable's link-time addresses (a PIE's load
			 * bias taken off: pprof's disassembly looks them up) */
			check_location(p, a->location_id[0], ra_a - 1 - exe_bias, 1, "conv_caller_a",
				       call_line_a, CALLER_A_LINE);
			check_location(p, a->location_id[1], ra_b - 1 - exe_bias, 1, "conv_caller_b",
				       call_line_b, CALLER_B_LINE);
		}
		/* The same stack twice: the same locations. */
		CHECK(c->n_location_id == 2 && a->n_location_id == 2 &&
		      c->location_id[0] == a->location_id[0] &&
		      c->location_id[1] == a->location_id[1]);
		CHECK(e->n_location_id == 1 && a->n_location_id == 2 &&
		      e->location_id[0] == a->location_id[1]);
		if (bb->n_location_id == 2) {
			check_location(p, bb->location_id[0], 0xf, 0, NULL, 0, 0);
			check_location(p, bb->location_id[1], 0, 0, NULL, 0, 0);
		}
		CHECK_U64(p->msg->n_location, 4);
		CHECK_U64(p->msg->n_function, 2);
	}

	/* Mappings: ours first, fully symbolized; the others have no location,
	 * so no claim. */
	CHECK(p->msg->n_mapping >= 3);
	m = mp_profile_mapping(p, 1);
	CHECK(m != NULL);
	if (m) {
		CHECK_STR(str(p, m->filename), exe);
		CHECK(strlen(str(p, m->build_id)) >= 16);
		CHECK(m->memory_start <= ra_a - 1 - exe_bias && ra_a - 1 - exe_bias < m->memory_limit);
		CHECK(m->has_functions);
		CHECK(m->has_filenames);
		CHECK(m->has_line_numbers);
		CHECK(m->has_inline_frames);
	}
	for (uint64_t id = 2; id <= p->msg->n_mapping; id++) {
		m = mp_profile_mapping(p, id);
		CHECK(m && !m->has_functions && !m->has_filenames && !m->has_line_numbers &&
		      !m->has_inline_frames);
		CHECK(m && strcmp(str(p, m->filename), exe) != 0);
		if (id > 2 && m && mp_profile_mapping(p, id - 1))
			CHECK(m->memory_start >= mp_profile_mapping(p, id - 1)->memory_limit);
	}

	/* String table: "" first, no duplicates. */
	CHECK(p->msg->n_string_table > 0 && strcmp(p->msg->string_table[0], "") == 0);
	{
		int dups = 0;

		for (size_t i = 0; i < p->msg->n_string_table; i++)
			for (size_t j = i + 1; j < p->msg->n_string_table; j++)
				dups += strcmp(p->msg->string_table[i], p->msg->string_table[j]) == 0;
		CHECK_INT(dups, 0);
	}
	mp_profile_free(p);
}

static void test_rate_default(void)
{
	/*
	 * Rate 524288: each pair times 1 / (1 - exp(-avg/rate)), truncated
	 * (values computed with Python's float arithmetic):
	 *   A alloc 10 x 48:    (109231, 5243120)   in use 6 x 48: (65539, 3145872)
	 *   B alloc 3 x 1 MiB:  (3, 3638089)        in use 0: (0, 0)
	 *   C 5 x 0 bytes:      (5, 0)              unscaled
	 *   E alloc 7 x 4000:   (921, 3684033)      in use 5 x 4000: (657, 2631452)
	 */
	static const int64_t want[4][4] = {
		{ 109231, 5243120, 65539, 3145872 },
		{ 3, 3638089, 0, 0 },
		{ 5, 0, 5, 0 },
		{ 921, 3684033, 657, 2631452 },
	};
	struct mp_profile *p = convert(524288, false, true, 0);

	if (!p)
		return;
	CHECK_INT(p->msg->period, 524288);
	check_values(p, want);
	CHECK_U64(p->msg->n_comment, 1);
	if (p->msg->n_comment == 1)
		CHECK(strstr(str(p, p->msg->comment[0]), ", rate 512 KiB, 25 samples; warning: a profile "
			     "table filled up, some samples were dropped") != NULL);
	mp_profile_free(p);
}

static void test_no_files(void)
{
	struct mp_profile *p = convert(1, false, false, MP_CONVERT_F_NO_FILES);
	const Perftools__Profiles__Mapping *m;

	if (!p)
		return;
	/* No symbols: the two locations in the executable are named by object
	 * and file offset (the same in every run), the others stay bare. */
	CHECK_U64(p->msg->n_function, 2);
	CHECK_U64(p->msg->n_location, 4);
	m = mp_profile_mapping(p, 1);
	CHECK(m && strcmp(str(p, m->filename), exe) == 0);
	CHECK(m && !m->has_functions && !m->has_inline_frames);
	CHECK(m && strcmp(str(p, m->build_id), "") == 0);
	if (m && p->msg->n_sample == 4 && p->msg->sample[0]->n_location_id == 2) {
		const Perftools__Profiles__Location *l = mp_profile_location(p, p->msg->sample[0]->location_id[0]);
		char want[600];

		snprintf(want, sizeof(want), "%s+0x%" PRIx64, base(exe),
			 l ? l->address - m->memory_start + m->file_offset : 0);
		CHECK(l && l->mapping_id == 1 && l->n_line == 1);
		if (l && l->n_line == 1) {
			const Perftools__Profiles__Function *f = mp_profile_function(p, l->line[0]->function_id);

			CHECK(f && strcmp(str(p, f->name), want) == 0 && f->filename == 0);
		}
		check_location(p, p->msg->sample[1]->location_id[0], 0x10 - 1, 0, NULL, 0, 0);
	}
	mp_profile_free(p);
}

static void test_scale(void)
{
	int64_t o, b;

	mp_convert_scale_heap(0, 0, 524288, &o, &b);
	CHECK(o == 0 && b == 0);
	mp_convert_scale_heap(0, 100, 524288, &o, &b);
	CHECK(o == 0 && b == 0);
	mp_convert_scale_heap(3, 0, 524288, &o, &b);       /* zero-byte blocks */
	CHECK(o == 3 && b == 0);
	mp_convert_scale_heap(3, 300, 0, &o, &b);           /* rate < 1: as they are */
	CHECK(o == 3 && b == 300);
	mp_convert_scale_heap(3, 300, 1, &o, &b);
	CHECK(o == 3 && b == 300);
	/* avg = rate: 1 / (1 - e^-1) = 1.5819767068693265 */
	mp_convert_scale_heap(1000, 1000 * 4096, 4096, &o, &b);
	CHECK_INT(o, 1581);
	CHECK_INT(b, 6479776);
	/* Large blocks are (almost) always sampled: scale -> 1. */
	mp_convert_scale_heap(2, (uint64_t)2 << 26, 524288, &o, &b);
	CHECK(o == 2 && b == (int64_t)2 << 26);
	/* Small blocks: scale ~ rate/size (1 / (1 - e^(-16/524288)) = 32768.5). */
	mp_convert_scale_heap(1000, 16000, 524288, &o, &b);
	CHECK_INT(o, 32768500);
	CHECK_INT(b, 524296000);
	/* Tiny blocks at a huge rate: beyond int64, clamped. */
	mp_convert_scale_heap((uint64_t)1 << 40, (uint64_t)1 << 40, (uint64_t)1 << 62, &o, &b);
	CHECK_INT(o, INT64_MAX);
	CHECK_INT(b, INT64_MAX);
}

/* The converter's file output: whole or not at all. */
static void test_files(void)
{
	char dir[] = "/tmp/test-convert-XXXXXX", out[4200], ro[4200];
	struct snapbuf b = build_snapshot(1, false, false);
	struct mp_converter *cv = NULL;
	struct mp_snap *snap = NULL;
	struct mp_profile *p = NULL;
	char *err = NULL;
	struct stat st, st2;
	int r;

	if (!mkdtemp(dir)) {
		CHECK(!"mkdtemp");
		free(b.p);
		return;
	}
	snprintf(out, sizeof(out), "%s/heap.pb.gz", dir);
	snprintf(ro, sizeof(ro), "%s/no-such-dir/heap.pb.gz", dir);
	CHECK_INT(mp_snap_parse(b.p, b.len, &snap, NULL), 0);
	CHECK_INT(mp_converter_new(snap, 0, NULL, &cv), 0);
	if (!cv) {
		mp_snap_free(snap);
		free(b.p);
		return;
	}
	r = mp_converter_write(cv, MP_PROFILE_HEAP, out, &err);
	CHECK_INT(r, 0);
	CHECK(err == NULL);
	r = mp_pprof_read_file(out, &p, &err);
	CHECK_INT(r, 0);
	if (r == 0) {
		CHECK_U64(p->msg->n_sample, 4);
		CHECK_INT(p->msg->sample[0]->value[3], 288);
	}
	mp_profile_free(p);
	free(err);
	err = NULL;

	/* A failure: one line naming the file, the existing output untouched,
	 * no temporary file left. */
	CHECK_INT(stat(out, &st), 0);
	r = mp_converter_write(cv, MP_PROFILE_HEAP, ro, &err);
	CHECK_INT(r, -ENOENT);
	CHECK(err && strncmp(err, "cannot write heap profile '", 27) == 0 &&
	      strstr(err, "no-such-dir") && !strchr(err, '\n'));
	free(err);
	err = NULL;
	r = mp_converter_write(cv, MP_PROFILE_FDS, ro, &err);
	CHECK_INT(r, -ENOENT);
	CHECK(err && strncmp(err, "cannot write descriptor profile '", 33) == 0);
	free(err);
	CHECK_INT(stat(out, &st2), 0);
	CHECK(st2.st_size == st.st_size && st2.st_mtim.tv_nsec == st.st_mtim.tv_nsec &&
	      st2.st_mtim.tv_sec == st.st_mtim.tv_sec);
	{
		DIR *d = opendir(dir);
		struct dirent *e;
		int n = 0;

		while (d && (e = readdir(d)))
			n += e->d_name[0] != '.';
		if (d)
			closedir(d);
		CHECK_INT(n, 1);
	}
	mp_converter_free(cv);
	mp_snap_free(snap);
	free(b.p);
	unlink(out);
	rmdir(dir);
}

/* ---- lifetimes and the peak -------------------------------------------------------- */

/* The value sums and sample counts per label value of `key`, for the
 * samples of block size `bytes`. */
static void label_sums(const struct mp_profile *p, int64_t bytes, const char *key,
		       const char *value, int64_t sum[4], int *nsamples)
{
	memset(sum, 0, 4 * sizeof(*sum));
	*nsamples = 0;
	for (size_t i = 0; i < p->msg->n_sample; i++) {
		const Perftools__Profiles__Sample *s = p->msg->sample[i];
		const char *v = NULL;
		int64_t b = -1;

		for (size_t k = 0; k < s->n_label; k++) {
			if (strcmp(str(p, s->label[k]->key), "bytes") == 0)
				b = s->label[k]->num;
			else if (strcmp(str(p, s->label[k]->key), key) == 0)
				v = str(p, s->label[k]->str);
		}
		if (b != bytes || (value && (!v || strcmp(v, value) != 0)))
			continue;
		for (int j = 0; j < 4; j++)
			sum[j] += s->value[j];
		(*nsamples)++;
	}
}

static struct mp_profile *encode(const struct snapbuf *b, enum mp_profile_kind kind)
{
	struct mp_converter *cv = NULL;
	struct mp_snap *snap = NULL;
	struct mp_profile *p = NULL;
	uint8_t *out = NULL;
	size_t out_len = 0;
	char *err = NULL;
	int r = mp_snap_parse(b->p, b->len, &snap, &err);

	if (r == 0)
		r = mp_converter_new(snap, 0, NULL, &cv);
	if (r == 0)
		r = mp_converter_encode(cv, kind, &out, &out_len, &err);
	if (r == 0)
		r = mp_pprof_parse(out, out_len, &p, &err);
	CHECK_INT(r, 0);
	if (r < 0)
		printf("# %s\n", err ? err : "?");
	free(err);
	free(out);
	mp_converter_free(cv);
	mp_snap_free(snap);
	return p;
}

static void test_lifetimes_and_peak(void)
{
	/* build_snapshot's heap records A (10, 4) x 48, B (3, 3) x 1 MiB,
	 * C (5, 0) x 0, D (0, 0) x 100, E (7, 2) x 4000; at the default rate. */
	struct snapbuf b = build_snapshot(524288, false, false);
	struct mp_snap_life_rec life[5] = {
		{ .freed = { 1, 2 } },                     /* A: 1 of 4 frees unknown */
		{ .freed = { 0, 0, 0, 1, 0, 0, 0, 2 } },   /* B */
		{ .freed = { 0 } },
		{ .freed = { 0 } },
		{ .freed = { 0, 0, 0, 0, 0, 0, 2 } },      /* E */
	};
	struct {
		struct mp_snap_peak h;
		struct mp_snap_peak_rec r[5];
	} peak = {
		.h = { .epoch = 2, .inuse = 3300000, .time_ns = 1700000001500000000ull },
		.r = {
			{ .epoch = 2, .alloc_objects = 8, .free_objects = 1 },   /* A at the peak */
			{ .epoch = 2, .alloc_objects = 3, .free_objects = 0 },   /* B all in use */
			{ .epoch = 1 },                                          /* C: unchanged */
			{ .epoch = 2 },
			{ .epoch = 2, .alloc_objects = 1, .free_objects = 0 },
		},
	};
	uint32_t nsec;

	section(&b, MP_SNAP_LIFETIMES, life, sizeof(life));
	section(&b, MP_SNAP_PEAK, &peak, sizeof(peak));
	memcpy(&nsec, b.p + offsetof(struct mp_snap_header, nsections), sizeof(nsec));
	nsec += 2;
	memcpy(b.p + offsetof(struct mp_snap_header, nsections), &nsec, sizeof(nsec));

	struct mp_profile *p = encode(&b, MP_PROFILE_HEAP);
	int64_t sum[4];
	int n;

	if (p) {
		/* The split adds up to the unsplit values (test_rate_default). */
		label_sums(p, 48, "lifetime", NULL, sum, &n);
		CHECK_INT(n, 4);
		CHECK_INT(sum[0], 109231);
		CHECK_INT(sum[1], 5243120);
		CHECK_INT(sum[2], 65539);
		CHECK_INT(sum[3], 3145872);
		label_sums(p, 48, "lifetime", "in-use", sum, &n);
		CHECK_INT(n, 1);
		CHECK_INT(sum[2], 65539);
		CHECK_INT(sum[3], 3145872);
		label_sums(p, 48, "lifetime", "10us-100us", sum, &n);
		CHECK_INT(n, 1);
		CHECK(sum[0] > 21000 && sum[0] < 22700 && sum[2] == 0 && sum[3] == 0);
		label_sums(p, 48, "lifetime", "unknown", sum, &n);
		CHECK_INT(n, 1);
		label_sums(p, 1 << 20, "lifetime", NULL, sum, &n);
		CHECK_INT(n, 2);                 /* 1ms-10ms and >=10s; none in use */
		CHECK_INT(sum[0], 3);
		CHECK_INT(sum[1], 3638089);
		label_sums(p, 1 << 20, "lifetime", ">=10s", sum, &n);
		CHECK_INT(sum[0], 2);
		label_sums(p, 4000, "lifetime", NULL, sum, &n);
		CHECK_INT(sum[0], 921);
		CHECK_INT(sum[1], 3684033);
		CHECK_INT(sum[2], 657);
		CHECK_INT(sum[3], 2631452);
		label_sums(p, 0, "lifetime", "in-use", sum, &n);
		CHECK_INT(n, 0);                 /* size 0: no bytes label to find it by */
		mp_profile_free(p);
	}

	p = encode(&b, MP_PROFILE_PEAK);
	if (p) {
		CHECK_U64(p->msg->n_sample_type, 4);
		CHECK_INT(p->msg->time_nanos, 1700000001500000000ll);
		CHECK_U64(p->msg->n_comment, 1);
		if (p->msg->n_comment == 1)
			CHECK(strstr(str(p, p->msg->comment[0]), ", peak heap in use 3.1 MiB at "
				     "2023-11-14T22:13:21.500Z (1.500 s after start), rate 512 KiB") != NULL);
		label_sums(p, 48, "lifetime", NULL, sum, &n);
		CHECK_INT(n, 1);
		/* 8 x 48 allocated, 7 in use, unbiased: Python's float arithmetic. */
		int64_t o, by;
		mp_convert_scale_heap(8, 8 * 48, 524288, &o, &by);
		CHECK_INT(sum[0], o);
		CHECK_INT(sum[1], by);
		mp_convert_scale_heap(7, 7 * 48, 524288, &o, &by);
		CHECK_INT(sum[3], by);
		label_sums(p, 1 << 20, "lifetime", NULL, sum, &n);
		CHECK_INT(sum[2], 3);
		label_sums(p, 4000, "lifetime", NULL, sum, &n);
		CHECK_INT(sum[2], 131);          /* 1 x 4000 in use: 1 / (1 - exp(-4000/524288)) */
		mp_profile_free(p);
	}
	free(b.p);

	/* Without the sections: no labels, and no peak profile to make. */
	b = build_snapshot(1, false, false);
	p = encode(&b, MP_PROFILE_HEAP);
	if (p) {
		for (size_t i = 0; i < p->msg->n_sample; i++)
			CHECK_U64(p->msg->sample[i]->n_label, p->msg->sample[i]->value[1] ? 1 : 0);
		mp_profile_free(p);
	}
	struct mp_snap *snap = NULL;
	struct mp_converter *cv = NULL;
	uint8_t *out = NULL;
	size_t len = 0;
	char *err = NULL;
	CHECK_INT(mp_snap_parse(b.p, b.len, &snap, &err), 0);
	if (snap && mp_converter_new(snap, 0, NULL, &cv) == 0) {
		CHECK_INT(mp_converter_encode(cv, MP_PROFILE_PEAK, &out, &len, &err), -ENODATA);
		CHECK(err && strstr(err, "cannot encode peak heap profile"));
	}
	free(err);
	free(out);
	mp_converter_free(cv);
	mp_snap_free(snap);
	free(b.p);
}

int main(void)
{
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	unsetenv("DEBUGINFOD_URLS");
	exe[n > 0 ? n : 0] = 0;
	dl_iterate_phdr(first_object, &exe_bias);
	ra_a = (uint64_t)(uintptr_t)conv_caller_a();
	ra_b = (uint64_t)(uintptr_t)conv_caller_b();
	test_scale();
	test_rate1();
	test_rate_default();
	test_lifetimes_and_peak();
	test_no_files();
	test_files();
	return tap_done();
}
