/* SPDX-License-Identifier: MIT */
/*
 * Raw snapshot reader: a hand-built snapshot parses with exact values; every
 * corruption (truncation at each byte, bad magic, version, endian tag,
 * header size, section bounds, stack ids, depths, heap records, stats) is
 * refused with -EBADMSG, a one-line reason, and the output untouched.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/snapshot-read.h"
#include "tap.h"

/* ---- a snapshot writer for tests ------------------------------------------ */

struct snapbuf {
	uint8_t *p;
	size_t len, cap;
	size_t payload[8];      /* payload offset of each section type written */
	size_t nsections_off;   /* where header.nsections is */
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
	uint32_t count;

	put(b, &s, sizeof(s));
	if (type < 8)
		b->payload[type] = b->len;
	put(b, d, n);
	if (n % 8)
		put(b, zeros, 8 - n % 8);
	memcpy(&count, b->p + b->nsections_off, sizeof(count));
	count++;
	memcpy(b->p + b->nsections_off, &count, sizeof(count));
}

static const char test_maps[] =
	"55d0c0a00000-55d0c0a01000 r--p 00000000 fe:00 1234      /usr/bin/app\n"
	"55d0c0a01000-55d0c0a02000 r-xp 00001000 fe:00 1234      /usr/bin/app\n";
static const char test_exe[] = "/usr/bin/app";   /* 12 bytes: padded */

static struct mp_snap_header test_header(void)
{
	struct mp_snap_header h = {
		.version = MP_SNAP_VERSION,
		.endian = MP_SNAP_ENDIAN_TAG,
		.header_size = sizeof(h),
		.nsections = 0,
		.pid = 4242,
		.ppid = 7,
		.rate = 524288,
		.start_ns = 1700000000000000000ull,
		.end_ns = 1700000002500000000ull,
		.max_depth = 4,
		.seq = 0,
		.flags = MP_SNAP_F_FINAL,
	};
	memcpy(h.magic, MP_SNAP_MAGIC, sizeof(h.magic));
	return h;
}

/* Stacks: id 1 depth 2, id 2 depth 0, id 3 depth 4 (= max_depth). */
static void put_stacks(struct snapbuf *b)
{
	uint8_t rec[256];
	size_t n = 0;
	uint32_t hdr[2];
	uint64_t pcs1[] = { 0x55d0c0a01234, 0x55d0c0a01567 };
	uint64_t pcs3[] = { 0x1, 0x55d0c0a01100, 0x7fffdeadbeef, UINT64_MAX };

	hdr[0] = 1, hdr[1] = 2;
	memcpy(rec + n, hdr, 8), n += 8;
	memcpy(rec + n, pcs1, sizeof(pcs1)), n += sizeof(pcs1);
	hdr[0] = 2, hdr[1] = 0;
	memcpy(rec + n, hdr, 8), n += 8;
	hdr[0] = 3, hdr[1] = 4;
	memcpy(rec + n, hdr, 8), n += 8;
	memcpy(rec + n, pcs3, sizeof(pcs3)), n += sizeof(pcs3);
	section(b, MP_SNAP_STACKS, rec, n);
}

static const struct mp_snap_heap_rec test_heap[] = {
	{ .stack_id = 1, .size = 48, .alloc_objects = 10, .free_objects = 4 },
	{ .stack_id = 3, .size = 1 << 20, .alloc_objects = 3, .free_objects = 3 },
	{ .stack_id = 2, .size = 0, .alloc_objects = 5, .free_objects = 0 },
};

static struct snapbuf build_valid(bool with_stats)
{
	struct snapbuf b = { 0 };
	struct mp_snap_header h = test_header();
	struct mp_snap_kv kv[2];

	b.nsections_off = offsetof(struct mp_snap_header, nsections);
	put(&b, &h, sizeof(h));
	section(&b, MP_SNAP_MAPS, test_maps, strlen(test_maps));
	section(&b, MP_SNAP_EXE, test_exe, strlen(test_exe));
	put_stacks(&b);
	section(&b, MP_SNAP_HEAP, test_heap, sizeof(test_heap));
	if (with_stats) {
		memset(kv, 0, sizeof(kv));
		strcpy(kv[0].name, "mallocs");
		kv[0].value = 123456789;
		memcpy(kv[1].name, "abcdefghijklmnopqrstuvwx", 24);  /* no NUL: full width */
		kv[1].value = 0;
		section(&b, MP_SNAP_STATS, kv, sizeof(kv));
	}
	return b;
}

/* ---- checks ---------------------------------------------------------------- */

static void test_valid(void)
{
	struct snapbuf b = build_valid(true);
	struct mp_snap *s = NULL;
	char *err = NULL;
	int r;

	/* Misaligned on purpose: the reader must not care. */
	uint8_t *odd = malloc(b.len + 1);
	memcpy(odd + 1, b.p, b.len);
	r = mp_snap_parse(odd + 1, b.len, &s, &err);
	CHECK_INT(r, 0);
	CHECK(err == NULL);
	if (r == 0) {
		CHECK_U64(s->header.pid, 4242);
		CHECK_U64(s->header.ppid, 7);
		CHECK_U64(s->header.rate, 524288);
		CHECK_U64(s->header.start_ns, 1700000000000000000ull);
		CHECK_U64(s->header.end_ns, 1700000002500000000ull);
		CHECK_U64(s->header.max_depth, 4);
		CHECK_U64(s->header.flags, MP_SNAP_F_FINAL);
		CHECK_U64(s->header.nsections, 5);
		CHECK_STR(s->maps, test_maps);
		CHECK_U64(s->maps_len, strlen(test_maps));
		CHECK_STR(s->exe, "/usr/bin/app");
		CHECK_U64(s->exe_len, 12);
		CHECK_U64(s->nstacks, 3);
		CHECK_U64(s->stacks[0].depth, 2);
		CHECK_U64(s->stacks[0].pcs[0], 0x55d0c0a01234);
		CHECK_U64(s->stacks[0].pcs[1], 0x55d0c0a01567);
		CHECK_U64(s->stacks[1].depth, 0);
		CHECK_U64(s->stacks[2].depth, 4);
		CHECK_U64(s->stacks[2].pcs[0], 1);
		CHECK_U64(s->stacks[2].pcs[3], UINT64_MAX);
		CHECK(mp_snap_stack(s, 0) == NULL);
		CHECK(mp_snap_stack(s, 3) == &s->stacks[2]);
		CHECK(mp_snap_stack(s, 4) == NULL);
		CHECK_U64(s->nheap, 3);
		CHECK_U64(s->heap[0].stack_id, 1);
		CHECK_U64(s->heap[0].size, 48);
		CHECK_U64(s->heap[0].alloc_objects, 10);
		CHECK_U64(s->heap[0].free_objects, 4);
		CHECK_U64(s->heap[1].size, 1 << 20);
		CHECK_U64(s->heap[2].stack_id, 2);
		CHECK(s->has_stats);
		CHECK_U64(s->nstats, 2);
		CHECK_STR(s->stats[0].name, "mallocs");
		CHECK_U64(s->stats[0].value, 123456789);
		CHECK_STR(s->stats[1].name, "abcdefghijklmnopqrstuvwx");
	}
	mp_snap_free(s);
	free(odd);
	free(b.p);

	/* Without stats, EXE, with an unknown section and a longer header. */
	b = build_valid(false);
	s = NULL;
	r = mp_snap_parse(b.p, b.len, &s, &err);
	CHECK_INT(r, 0);
	if (r == 0) {
		CHECK(!s->has_stats);
		CHECK_U64(s->nstats, 0);
	}
	mp_snap_free(s);
	free(b.p);

	{
		struct snapbuf c = { 0 };
		struct mp_snap_header h = test_header();
		uint8_t extra[16] = { 1, 2, 3 };

		h.header_size = sizeof(h) + 16;
		c.nsections_off = offsetof(struct mp_snap_header, nsections);
		put(&c, &h, sizeof(h));
		put(&c, extra, sizeof(extra));
		section(&c, MP_SNAP_MAPS, "", 0);
		section(&c, 99, "future", 6);
		section(&c, MP_SNAP_STACKS, "", 0);
		section(&c, MP_SNAP_HEAP, "", 0);
		s = NULL;
		r = mp_snap_parse(c.p, c.len, &s, &err);
		CHECK_INT(r, 0);
		if (r == 0) {
			CHECK_STR(s->maps, "");
			CHECK_STR(s->exe, "");
			CHECK_U64(s->nstacks, 0);
			CHECK_U64(s->nheap, 0);
		}
		mp_snap_free(s);
		free(c.p);
	}
}

/* Parse must fail with -EBADMSG, a one-line reason containing `want`,
 * and leave *ret alone. */
static void expect_bad(const uint8_t *p, size_t len, const char *want, int line)
{
	struct mp_snap *sentinel = (struct mp_snap *)&sentinel, *s = sentinel;
	char *err = NULL;
	int r = mp_snap_parse(p, len, &s, &err);
	int ok = r == -EBADMSG && s == sentinel && err && !strchr(err, '\n') &&
		 strstr(err, want);

	tap_ok(ok, __FILE__, line, want);
	if (!ok)
		printf("#   got %d \"%s\"\n", r, err ? err : "(null)");
	if (r == 0 && s != sentinel)
		mp_snap_free(s);
	free(err);
}

#define EXPECT_BAD(p, len, want) expect_bad((p), (len), (want), __LINE__)

static void test_truncated(void)
{
	struct snapbuf b = build_valid(true);
	int failures = 0;

	/* Every proper prefix is refused (each in its own exact-size buffer,
	 * so ASan catches a read past the end). */
	for (size_t n = 0; n < b.len; n++) {
		uint8_t *cut = malloc(n ? n : 1);
		struct mp_snap *s = NULL;
		char *err = NULL;

		memcpy(cut, b.p, n);
		if (mp_snap_parse(cut, n, &s, &err) != -EBADMSG || s || !err) {
			failures++;
			printf("# prefix of %zu bytes: not refused\n", n);
		}
		mp_snap_free(s);
		free(err);
		free(cut);
	}
	CHECK_INT(failures, 0);
	/* One byte more is trailing junk. */
	b.p = realloc(b.p, b.len + 8);
	memset(b.p + b.len, 0, 8);
	EXPECT_BAD(b.p, b.len + 8, "trailing data");
	free(b.p);
}

static void set_u32(struct snapbuf *b, size_t off, uint32_t v)
{
	memcpy(b->p + off, &v, sizeof(v));
}

static void set_u64(struct snapbuf *b, size_t off, uint64_t v)
{
	memcpy(b->p + off, &v, sizeof(v));
}

#define HDR(field) offsetof(struct mp_snap_header, field)
#define HEAP(i, field) (b.payload[MP_SNAP_HEAP] + (i) * sizeof(struct mp_snap_heap_rec) + \
			offsetof(struct mp_snap_heap_rec, field))
#define SEC_SIZE(type) (b.payload[type] - sizeof(struct mp_snap_section) + \
			offsetof(struct mp_snap_section, size))

static void test_corrupt(void)
{
	struct snapbuf b;

#define FRESH() do { free(b.p); b = build_valid(true); } while (0)
	b = build_valid(true);

	b.p[0] = 'X';
	EXPECT_BAD(b.p, b.len, "bad magic");
	FRESH();
	b.p[7] = 2;
	EXPECT_BAD(b.p, b.len, "bad magic");
	FRESH();
	set_u32(&b, HDR(version), 2);
	EXPECT_BAD(b.p, b.len, "unsupported version 2");
	FRESH();
	set_u32(&b, HDR(version), 0);
	EXPECT_BAD(b.p, b.len, "unsupported version 0");
	FRESH();
	set_u32(&b, HDR(endian), 0x04030201);
	EXPECT_BAD(b.p, b.len, "byte order");
	FRESH();
	set_u32(&b, HDR(header_size), sizeof(struct mp_snap_header) - 8);
	EXPECT_BAD(b.p, b.len, "bad header size");
	FRESH();
	set_u32(&b, HDR(header_size), sizeof(struct mp_snap_header) + 4);
	EXPECT_BAD(b.p, b.len, "bad header size");
	FRESH();
	set_u32(&b, HDR(header_size), UINT32_MAX - 7);
	EXPECT_BAD(b.p, b.len, "bad header size");
	FRESH();
	set_u32(&b, HDR(max_depth), MP_SNAP_MAX_DEPTH + 1);
	EXPECT_BAD(b.p, b.len, "max_depth 257 is more than 256");
	FRESH();
	set_u64(&b, HDR(rate), (uint64_t)INT64_MAX + 1);
	EXPECT_BAD(b.p, b.len, "rate");
	FRESH();
	set_u64(&b, HDR(end_ns), UINT64_MAX);
	EXPECT_BAD(b.p, b.len, "timestamp");
	FRESH();

	/* Section counts and bounds. */
	set_u32(&b, HDR(nsections), 6);
	EXPECT_BAD(b.p, b.len, "file ends before section 6 of 6");
	FRESH();
	set_u32(&b, HDR(nsections), UINT32_MAX);
	EXPECT_BAD(b.p, b.len, "file ends before section 6");
	FRESH();
	set_u32(&b, HDR(nsections), 4);
	EXPECT_BAD(b.p, b.len, "trailing data");
	FRESH();
	set_u64(&b, SEC_SIZE(MP_SNAP_MAPS), UINT64_MAX);
	EXPECT_BAD(b.p, b.len, "maps section (18446744073709551615 bytes) runs past the end");
	FRESH();
	set_u64(&b, SEC_SIZE(MP_SNAP_MAPS), UINT64_MAX - 6);  /* padding would wrap */
	EXPECT_BAD(b.p, b.len, "runs past the end");
	FRESH();
	set_u64(&b, SEC_SIZE(MP_SNAP_STATS), 2 * sizeof(struct mp_snap_kv) + 1);
	EXPECT_BAD(b.p, b.len, "stats section (65 bytes) runs past the end");
	FRESH();
	set_u32(&b, b.payload[MP_SNAP_STATS] - sizeof(struct mp_snap_section), MP_SNAP_HEAP);
	EXPECT_BAD(b.p, b.len, "more than one heap section");
	FRESH();
	set_u32(&b, b.payload[MP_SNAP_HEAP] - sizeof(struct mp_snap_section), 77);
	EXPECT_BAD(b.p, b.len, "no heap section");
	FRESH();
	set_u32(&b, b.payload[MP_SNAP_MAPS] - sizeof(struct mp_snap_section), 77);
	EXPECT_BAD(b.p, b.len, "no maps section");
	FRESH();
	b.p[b.payload[MP_SNAP_EXE] + 4] = 0;
	EXPECT_BAD(b.p, b.len, "exe section contains a NUL byte");
	FRESH();
	b.p[b.payload[MP_SNAP_MAPS]] = 0;
	EXPECT_BAD(b.p, b.len, "maps section contains a NUL byte");
	FRESH();

	/* Stacks. */
	set_u32(&b, b.payload[MP_SNAP_STACKS], 2);
	EXPECT_BAD(b.p, b.len, "stack record 1 has id 2, expected 1");
	FRESH();
	set_u32(&b, b.payload[MP_SNAP_STACKS] + 8 + 16, 3);   /* second record */
	EXPECT_BAD(b.p, b.len, "stack record 2 has id 3, expected 2");
	FRESH();
	set_u32(&b, b.payload[MP_SNAP_STACKS] + 8 + 16, 0);
	EXPECT_BAD(b.p, b.len, "stack record 2 has id 0, expected 2");
	FRESH();
	set_u32(&b, HDR(max_depth), 3);
	EXPECT_BAD(b.p, b.len, "stack 3 has depth 4, more than max_depth 3");
	FRESH();
	set_u32(&b, b.payload[MP_SNAP_STACKS] + 4, 3);         /* depth 3 of max 4 */
	EXPECT_BAD(b.p, b.len, "stack record 2 has id");       /* frames shifted */
	FRESH();
	set_u64(&b, SEC_SIZE(MP_SNAP_STACKS), 8 + 16 + 8 + 8 + 8);
	EXPECT_BAD(b.p, b.len, "stacks section ends inside the frames of stack 3");
	FRESH();
	set_u64(&b, SEC_SIZE(MP_SNAP_STACKS), 8 + 16 + 4);
	EXPECT_BAD(b.p, b.len, "stacks section ends inside the record of stack 2");
	FRESH();

	/* Heap records. */
	set_u32(&b, HEAP(1, stack_id), 4);
	EXPECT_BAD(b.p, b.len, "heap record 2 refers to unknown stack 4");
	FRESH();
	set_u32(&b, HEAP(0, stack_id), 0);
	EXPECT_BAD(b.p, b.len, "heap record 1 refers to unknown stack 0");
	FRESH();
	/* More frees than allocations (a fork child's copy): counted allocated. */
	set_u64(&b, HEAP(0, free_objects), 11);
	{
		struct mp_snap *s = NULL;
		char *err = NULL;
		CHECK(mp_snap_parse(b.p, b.len, &s, &err) == 0);
		if (s) {
			CHECK_U64(s->heap[0].alloc_objects, 11);
			CHECK_U64(s->heap[0].free_objects, 11);
			mp_snap_free(s);
		}
		free(err);
	}
	FRESH();
	set_u64(&b, HEAP(1, alloc_objects), UINT64_MAX);
	set_u64(&b, HEAP(1, free_objects), 0);
	EXPECT_BAD(b.p, b.len, "heap record 2: 18446744073709551615 objects of 1048576 bytes overflow");
	FRESH();
	set_u64(&b, HEAP(0, size), (uint64_t)INT64_MAX / 10 + 1);  /* * 10 > INT64_MAX */
	EXPECT_BAD(b.p, b.len, "heap record 1: 10 objects of");
	FRESH();
	set_u64(&b, HEAP(2, alloc_objects), (uint64_t)INT64_MAX + 1);  /* size 0 */
	EXPECT_BAD(b.p, b.len, "heap record 3: 9223372036854775808 objects of 0 bytes overflow");
	FRESH();
	set_u64(&b, SEC_SIZE(MP_SNAP_HEAP), sizeof(test_heap) - 8);
	EXPECT_BAD(b.p, b.len, "heap section size 88 is not a multiple of 32");
	FRESH();

	/* Stats. */
	memset(b.p + b.payload[MP_SNAP_STATS], 0, 24);
	EXPECT_BAD(b.p, b.len, "stat 1 has an empty name");
	FRESH();
	memcpy(b.p + b.payload[MP_SNAP_STATS], "a=b", 3);
	EXPECT_BAD(b.p, b.len, "stat 1 has a malformed name");
	FRESH();
	b.p[b.payload[MP_SNAP_STATS] + 10] = 'x';               /* junk after the NUL */
	EXPECT_BAD(b.p, b.len, "stat 1 has a malformed name");
	FRESH();
	b.p[b.payload[MP_SNAP_STATS] + 32 + 3] = '\n';
	EXPECT_BAD(b.p, b.len, "stat 2 has a malformed name");
	FRESH();
	set_u64(&b, SEC_SIZE(MP_SNAP_STATS), 40);
	EXPECT_BAD(b.p, b.len, "stats section size 40 is not a multiple of 32");
	free(b.p);
#undef FRESH
}

static void test_read_file(void)
{
	struct snapbuf b = build_valid(false);
	char path[] = "/tmp/test-snapshot-XXXXXX";
	int fd = mkstemp(path);
	struct mp_snap *s = NULL;
	char *err = (char *)"untouched";
	int r;

	CHECK(fd >= 0);
	CHECK_INT(write(fd, b.p, b.len), (long long)b.len);
	close(fd);
	r = mp_snap_read_file(path, &s, &err);
	CHECK_INT(r, 0);
	CHECK(err == NULL);
	if (r == 0)
		CHECK_U64(s->header.pid, 4242);
	mp_snap_free(s);

	/* Truncated on disk: the parser's reason comes back. */
	CHECK_INT(truncate(path, (off_t)b.len - 1), 0);
	s = NULL;
	r = mp_snap_read_file(path, &s, &err);
	CHECK_INT(r, -EBADMSG);
	CHECK(s == NULL);
	CHECK(err && strstr(err, "runs past the end"));
	free(err);
	unlink(path);

	err = (char *)"untouched";
	r = mp_snap_read_file(path, &s, &err);
	CHECK_INT(r, -ENOENT);
	CHECK(err == NULL);
	r = mp_snap_read_file("/", &s, &err);
	CHECK_INT(r, -EISDIR);
	r = mp_snap_read_file("/dev/null", &s, &err);
	CHECK_INT(r, -EINVAL);
	free(b.p);
}

/* ---- unloaded code (MP_SNAP_UNLOADED) ------------------------------------- */

static void put_unloaded(struct snapbuf *b, uint32_t last_stack, const char *text,
			 uint32_t build_id_len)
{
	static const uint8_t zeros[8];
	struct mp_snap_unload_rec h = { .last_stack = last_stack,
					.text_len = (uint32_t)strlen(text),
					.build_id_len = build_id_len };
	memset(h.build_id, 0xab, sizeof(h.build_id));
	put(b, &h, sizeof(h));
	put(b, text, strlen(text));
	if (strlen(text) % 8)
		put(b, zeros, 8 - strlen(text) % 8);
}

/*
 * A process that loaded a.so at X, took stack 1 through it, unloaded it;
 * loaded b.so at X (other code, same place), took stack 2, unloaded and
 * loaded it again at X; loaded c.so at Y, took stack 3, unloaded it; took
 * stack 4 in b.so.  Only a.so conflicts with what came later (b.so at its
 * place): its lines and stack 1's address move to layer 1; b.so's record
 * is the same file as the final maps' and c.so's range is free: layer 0.
 */
static struct snapbuf build_unloaded(struct snapbuf *recs)
{
	struct snapbuf b = { 0 };
	struct mp_snap_header h = test_header();
	static const char maps[] =
		"55d0c0a01000-55d0c0a02000 r-xp 00001000 fe:00 1234      /usr/lib/app\n"
		"7f0000001000-7f0000002000 r-xp 00001000 fe:00 900 /usr/lib/b.so\n";
	uint8_t rec[256];
	size_t n = 0;
	uint32_t hdr[2] = { 0, 2 };
	const uint64_t pcs[4][2] = { { 0x7f0000001112, 0x55d0c0a01234 },
				     { 0x7f0000001112, 0x55d0c0a01234 },
				     { 0x7f0000005112, 0x55d0c0a01234 },
				     { 0x7f0000001112, 0x55d0c0a01234 } };

	b.nsections_off = offsetof(struct mp_snap_header, nsections);
	h.max_depth = 2;
	put(&b, &h, sizeof(h));
	section(&b, MP_SNAP_MAPS, maps, strlen(maps));
	for (uint32_t i = 0; i < 4; i++) {
		hdr[0] = i + 1;
		memcpy(rec + n, hdr, 8), n += 8;
		memcpy(rec + n, pcs[i], 16), n += 16;
	}
	section(&b, MP_SNAP_STACKS, rec, n);
	section(&b, MP_SNAP_HEAP, test_heap, sizeof(test_heap[0]));
	put_unloaded(recs, 1,
		     "7f0000000000-7f0000001000 r--p 00000000 fe:00 800 /usr/lib/a.so\n"
		     "7f0000001000-7f0000002000 r-xp 00001000 fe:00 800 /usr/lib/a.so\n", 20);
	put_unloaded(recs, 2, "7f0000001000-7f0000002000 r-xp 00001000 fe:00 900 /usr/lib/b.so\n",
		     20);
	put_unloaded(recs, 3, "7f0000005000-7f0000006000 r-xp 00001000 fe:00 700 /usr/lib/c.so\n",
		     0);
	return b;
}

static void test_unloaded(void)
{
	struct snapbuf recs = { 0 };
	struct snapbuf b = build_unloaded(&recs);
	section(&b, MP_SNAP_UNLOADED, recs.p, recs.len);
	struct mp_snap *s = NULL;
	char *err = NULL;
	int r = mp_snap_parse(b.p, b.len, &s, &err);
	CHECK_INT(r, 0);
	if (r == 0) {
		CHECK_INT(s->nunloaded, 3);
		CHECK_INT(s->unloaded[0].layer, 1);
		CHECK_INT(s->unloaded[1].layer, 0);
		CHECK_INT(s->unloaded[2].layer, 0);
		CHECK_INT(s->unloaded[0].build_id_len, 20);
		CHECK_INT(s->unloaded[0].build_id[19], 0xab);
		CHECK_U64(s->stacks[0].pcs[0], 0x7f0000001112 + (1ull << 57));  /* a.so's */
		CHECK_U64(s->stacks[0].pcs[1], 0x55d0c0a01234);
		CHECK_U64(s->stacks[1].pcs[0], 0x7f0000001112);   /* b.so's: as it was */
		CHECK_U64(s->stacks[2].pcs[0], 0x7f0000005112);   /* c.so's: free range */
		CHECK_U64(s->stacks[3].pcs[0], 0x7f0000001112);
		CHECK(strstr(s->maps, "/usr/lib/b.so\n") != NULL);
		CHECK(strstr(s->maps, "\n2007f0000001000-2007f0000002000 r-xp 00001000 fe:00 800 "
				      "/usr/lib/a.so\n") != NULL);
		CHECK(strstr(s->maps, "\n2007f0000000000-2007f0000001000 r--p") != NULL);
		CHECK(strstr(s->maps, "\n7f0000005000-7f0000006000 r-xp 00001000 fe:00 700 "
				      "/usr/lib/c.so\n") != NULL);
		CHECK(strncmp(s->maps, "55d0c0a01000-55d0c0a02000 r-xp", 30) == 0);
		mp_snap_free(s);
	}
	free(err);
	free(b.p);

	/* Bad records. */
	struct mp_snap_unload_rec h = { .last_stack = 1, .text_len = 100 };
	b = build_unloaded(&recs);
	section(&b, MP_SNAP_UNLOADED, &h, sizeof(h));
	EXPECT_BAD(b.p, b.len, "unloaded record 1: text runs past the section");
	free(b.p);
	h.text_len = 0;
	h.build_id_len = 33;
	b = build_unloaded(&recs);
	section(&b, MP_SNAP_UNLOADED, &h, sizeof(h));
	EXPECT_BAD(b.p, b.len, "unloaded record 1: build ID of 33 bytes");
	free(b.p);
	b = build_unloaded(&recs);
	section(&b, MP_SNAP_UNLOADED, &h, sizeof(h) - 1);
	EXPECT_BAD(b.p, b.len, "unloaded section ends inside record 1");
	free(b.p);
	struct {
		struct mp_snap_unload_rec h;
		char text[8];
	} nul = { { .last_stack = 1, .text_len = 8 }, "a\0b" };
	b = build_unloaded(&recs);
	section(&b, MP_SNAP_UNLOADED, &nul, sizeof(nul));
	EXPECT_BAD(b.p, b.len, "unloaded section contains a NUL byte");
	free(b.p);
	b = build_unloaded(&recs);
	section(&b, MP_SNAP_UNLOADED, recs.p, recs.len);
	section(&b, MP_SNAP_UNLOADED, recs.p, recs.len);
	EXPECT_BAD(b.p, b.len, "more than one unloaded section");
	free(b.p);
	free(recs.p);
}

/* ---- the snapshot's name (MP_SNAP_NAME, memprof_snapshot(3)) --------------- */

static void test_name(void)
{
	struct mp_snap *s = NULL;
	char *err = NULL;
	struct snapbuf b = build_valid(false);

	CHECK_INT(mp_snap_parse(b.p, b.len, &s, &err), 0);
	if (s)
		CHECK_STR(s->name, "");
	mp_snap_free(s);
	s = NULL;
	section(&b, MP_SNAP_NAME, "after-load", 10);
	CHECK_INT(mp_snap_parse(b.p, b.len, &s, &err), 0);
	if (s)
		CHECK_STR(s->name, "after-load");
	mp_snap_free(s);
	section(&b, MP_SNAP_NAME, "again", 5);
	EXPECT_BAD(b.p, b.len, "more than one name section");
	free(b.p);
	static const char *const bad[] = { "", "a b", "s12", "x/y", "\xff",
		"0123456789012345678901234567890123456789012345678901234567890123456789" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		b = build_valid(false);
		section(&b, MP_SNAP_NAME, bad[i], strlen(bad[i]));
		EXPECT_BAD(b.p, b.len, "name section is not");
		free(b.p);
	}
	free(err);
}

/* ---- peak and lifetimes (MP_SNAP_PEAK, MP_SNAP_LIFETIMES) ------------------- */

/* build_valid's sections, then a peak section (header + records) and a
 * lifetimes section. */
static struct snapbuf build_peak(const struct mp_snap_peak *h, const struct mp_snap_peak_rec *recs,
				 size_t nrecs, const struct mp_snap_life_rec *life, size_t nlife)
{
	struct snapbuf b = build_valid(false);
	uint8_t buf[512];

	memcpy(buf, h, sizeof(*h));
	memcpy(buf + sizeof(*h), recs, nrecs * sizeof(*recs));
	if (life)
		section(&b, MP_SNAP_LIFETIMES, life, nlife * sizeof(*life));
	section(&b, MP_SNAP_PEAK, buf, sizeof(*h) + nrecs * sizeof(*recs));
	return b;
}

static void test_peak(void)
{
	/* test_heap: (10, 4) of 48 B, (3, 3) of 1 MiB, (5, 0) of 0 B. */
	struct mp_snap_peak h = { .epoch = 7, .inuse = 3 << 20, .time_ns = 1700000001000000000ull,
				  .now = 300 };
	struct mp_snap_peak_rec recs[3] = {
		{ .epoch = 7, .alloc_objects = 6, .free_objects = 1 },   /* saved at the peak */
		{ .epoch = 8, .alloc_objects = 3, .free_objects = 0 },   /* at a later peak */
		{ .epoch = 6, .alloc_objects = 1, .free_objects = 1 },   /* unchanged since */
	};
	struct mp_snap_life_rec life[3] = {
		{ .freed = { 1, 2, 0, 0, 0, 0, 0, 0 } },
		{ .freed = { 0, 0, 0, 0, 0, 0, 2, 5 } },   /* 7 > 3 frees: trimmed */
		{ .freed = { 0 } },
	};
	struct snapbuf b = build_peak(&h, recs, 3, life, 3);
	struct mp_snap *s = NULL;
	char *err = NULL;

	CHECK_INT(mp_snap_parse(b.p, b.len, &s, &err), 0);
	if (s) {
		CHECK(s->has_peak);
		CHECK_U64(s->peak.inuse, 3 << 20);
		CHECK_U64(s->peak.time_ns, 1700000001000000000ull);
		CHECK_U64(s->peak_heap[0].alloc_objects, 6);
		CHECK_U64(s->peak_heap[0].free_objects, 1);
		CHECK_U64(s->peak_heap[0].size, 48);
		CHECK_U64(s->peak_heap[0].stack_id, 1);
		CHECK_U64(s->peak_heap[1].alloc_objects, 3);
		CHECK_U64(s->peak_heap[1].free_objects, 0);
		CHECK_U64(s->peak_heap[2].alloc_objects, 5);   /* the heap's counts */
		CHECK_U64(s->peak_heap[2].free_objects, 0);
		CHECK(s->life != NULL);
		CHECK_U64(s->life[0].freed[0], 1);
		CHECK_U64(s->life[0].freed[1], 2);
		CHECK_U64(s->life[1].freed[6], 2);   /* 2 + 1 = the record's 3 frees */
		CHECK_U64(s->life[1].freed[7], 1);
	}
	mp_snap_free(s);
	free(b.p);

	/* At its peak when the snapshot was taken: every record's heap counts. */
	h.flags = MP_SNAP_PEAK_F_NOW;
	b = build_peak(&h, recs, 3, NULL, 0);
	s = NULL;
	CHECK_INT(mp_snap_parse(b.p, b.len, &s, &err), 0);
	if (s) {
		CHECK_U64(s->peak_heap[0].alloc_objects, 10);
		CHECK_U64(s->peak_heap[0].free_objects, 4);
		CHECK_U64(s->peak_heap[1].free_objects, 3);
		CHECK(s->life == NULL);
	}
	mp_snap_free(s);
	free(b.p);
	h.flags = 0;

	/* Malformed: records that do not match the heap's, bad counts. */
	b = build_peak(&h, recs, 2, NULL, 0);
	EXPECT_BAD(b.p, b.len, "peak section has 2 records for 3 heap records");
	free(b.p);
	recs[0].free_objects = 9;
	b = build_peak(&h, recs, 3, NULL, 0);
	EXPECT_BAD(b.p, b.len, "peak record 1: 9 of 6 objects freed");
	free(b.p);
	recs[0].free_objects = 1;
	h.epoch = 0;
	b = build_peak(&h, recs, 3, NULL, 0);
	EXPECT_BAD(b.p, b.len, "peak header: bad epoch 0");
	free(b.p);
	h.epoch = 7;
	b = build_peak(&h, recs, 3, life, 2);
	EXPECT_BAD(b.p, b.len, "lifetimes section size 128 is not 3 records");
	free(b.p);
	/* Two peak sections. */
	b = build_peak(&h, recs, 3, NULL, 0);
	{
		uint8_t buf[512];

		memcpy(buf, &h, sizeof(h));
		memcpy(buf + sizeof(h), recs, sizeof(recs));
		section(&b, MP_SNAP_PEAK, buf, sizeof(h) + sizeof(recs));
	}
	EXPECT_BAD(b.p, b.len, "more than one peak section");
	free(b.p);
}

/* The sections of fixed-size records besides the heap's (leaks, resources):
 * the size a multiple of the record's, at most one of each, none is fine. */
static void test_record_sections(void)
{
	static const uint8_t junk[sizeof(struct mp_snap_res_rec) + sizeof(struct mp_snap_leak_rec) + 8];
	static const uint32_t types[] = { MP_SNAP_LEAKS, MP_SNAP_RESOURCES };
	static const char *const names[] = { "leaks", "resources" };
	static const size_t sizes[] = { sizeof(struct mp_snap_leak_rec),
					sizeof(struct mp_snap_res_rec) };
	char want[128];

	for (int i = 0; i < 2; i++) {
		struct snapbuf b = build_valid(false);
		struct mp_snap *s = NULL;
		char *err = NULL;

		section(&b, types[i], junk, 0);
		CHECK_INT(mp_snap_parse(b.p, b.len, &s, &err), 0);
		if (s) {
			CHECK(i == 0 ? s->has_leaks && s->nleaks == 0 && !s->leaks
				     : s->has_res && s->nres == 0 && !s->res);
			mp_snap_free(s);
		}
		free(err);
		section(&b, types[i], junk, 0);
		snprintf(want, sizeof(want), "more than one %s section", names[i]);
		EXPECT_BAD(b.p, b.len, want);
		free(b.p);

		b = build_valid(false);
		section(&b, types[i], junk, sizes[i] + 8);
		snprintf(want, sizeof(want), "%s section size %zu is not a multiple of %zu", names[i],
			 sizes[i] + 8, sizes[i]);
		EXPECT_BAD(b.p, b.len, want);
		free(b.p);
	}
}

int main(void)
{
	test_name();
	test_valid();
	test_peak();
	test_truncated();
	test_corrupt();
	test_read_file();
	test_unloaded();
	test_record_sections();
	return tap_done();
}
