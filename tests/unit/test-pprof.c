/* SPDX-License-Identifier: MIT */
/*
 * pprof builder, writer, reader and validator: round trips with exact
 * values, every validity rule broken once, and bad inputs (empty, garbage,
 * truncated gzip, gzip of garbage, truncated protobuf, trailing junk, a
 * decompression bomb).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>
#include <zlib.h>

#include "pprof/internal.h"
#include "pprof/pprof.h"
#include "pprof/keymap.h"
#include "tap.h"

/* ---- helpers ------------------------------------------------------------- */

static int gzip_buf(const uint8_t *in, size_t len, uint8_t **ret, size_t *ret_len)
{
	z_stream zs;
	size_t cap;
	uint8_t *out;

	memset(&zs, 0, sizeof(zs));
	if (deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	cap = deflateBound(&zs, len) + 64;
	out = malloc(cap);
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)len;
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	if (deflate(&zs, Z_FINISH) != Z_STREAM_END) {
		deflateEnd(&zs);
		free(out);
		return -1;
	}
	*ret_len = cap - zs.avail_out;
	*ret = out;
	deflateEnd(&zs);
	return 0;
}

static int gunzip_buf(const uint8_t *in, size_t len, uint8_t **ret, size_t *ret_len)
{
	z_stream zs;
	size_t cap = 1 << 20;
	uint8_t *out = malloc(cap);
	int zr;

	memset(&zs, 0, sizeof(zs));
	inflateInit2(&zs, 16 + MAX_WBITS);
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)len;
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	zr = inflate(&zs, Z_FINISH);
	inflateEnd(&zs);
	if (zr != Z_STREAM_END) {
		free(out);
		return -1;
	}
	*ret = out;
	*ret_len = cap - zs.avail_out;
	return 0;
}

static uint8_t *pack_profile(const Perftools__Profiles__Profile *p, size_t *ret_len)
{
	size_t len = perftools__profiles__profile__get_packed_size(p);
	uint8_t *buf = malloc(len + 1);

	perftools__profiles__profile__pack(p, buf);
	*ret_len = len;
	return buf;
}

/* parse() that returns the error text (or "ok") and frees everything. */
static char errbuf[512];

static int parse_err(const uint8_t *buf, size_t len, const char **ret_msg)
{
	struct mp_profile *p = NULL;
	char *err = NULL;
	int r = mp_pprof_parse(buf, len, &p, &err);

	snprintf(errbuf, sizeof(errbuf), "%s", r < 0 ? (err ? err : "(no message)") : "ok");
	*ret_msg = errbuf;
	free(err);
	mp_profile_free(p);
	return r;
}

#define CHECK_CONTAINS(hay, needle) do { \
	const char *h_ = (hay), *n_ = (needle); \
	int ok_ = h_ && strstr(h_, n_) != NULL; \
	tap_ok(ok_, __FILE__, __LINE__, "\"" #hay "\" contains " #needle); \
	if (!ok_) \
		printf("#   got \"%s\", want it to contain \"%s\"\n", h_ ? h_ : "(null)", n_); \
} while (0)

/* ---- a builder profile ---------------------------------------------------- */

static struct mp_pprof_builder *sample_builder(void)
{
	struct mp_pprof_builder *b = mp_pprof_builder_new();
	struct mp_pprof_line inl[2] = {
		{ .function = "leaf", .file = "leaf.c", .line = 12, .start_line = 10 },
		{ .function = "caller", .system_name = "_Z6callerv", .file = "caller.c", .line = 40,
		  .start_line = 30 },
	};
	struct mp_pprof_line mainl = { .function = "main", .file = "main.c", .line = 7, .start_line = 3 };
	struct mp_pprof_line leafl = { .function = "leaf", .file = "leaf.c", .line = 14, .start_line = 10 };
	struct mp_pprof_line synth = { .function = "synthetic" };
	struct mp_pprof_label labels[2] = {
		{ .key = "bytes", .num = 64, .num_unit = "bytes" },
		{ .key = "thread", .str = "worker" },
	};
	uint64_t m1, m2, l1, l2, l3, l4, l5;
	int64_t v1[2] = { 3, 192 }, v2[2] = { 1, 4096 };

	mp_pprof_add_sample_type(b, "alloc_objects", "count");
	mp_pprof_add_sample_type(b, "alloc_space", "bytes");
	mp_pprof_set_period(b, "space", "bytes", 524288);
	mp_pprof_set_default_sample_type(b, "alloc_space");
	mp_pprof_set_time(b, 1700000000123456789LL, 2500000000LL);
	mp_pprof_add_comment(b, "memprof test");
	m1 = mp_pprof_add_mapping(b, 0x400000, 0x500000, 0x1000, "/usr/bin/app", "0123abcd",
				  true, true, true, true);
	m2 = mp_pprof_add_mapping(b, 0x7f0000000000, 0x7f0000100000, 0, "/lib/libc.so.6", NULL,
				  true, false, false, false);
	CHECK_U64(m1, 1);
	CHECK_U64(m2, 2);
	l1 = mp_pprof_add_location(b, m1, 0x401000, inl, 2);
	l2 = mp_pprof_add_location(b, m1, 0x402000, &mainl, 1);
	l3 = mp_pprof_add_location(b, m1, 0x401000, &mainl, 1);   /* same address: deduped */
	l4 = mp_pprof_add_location(b, m2, 0x7f0000000100, &leafl, 1);
	l5 = mp_pprof_add_location(b, 0, 0, &synth, 1);
	CHECK_U64(l1, 1);
	CHECK_U64(l2, 2);
	CHECK_U64(l3, 1);
	CHECK_U64(l4, 3);
	CHECK_U64(l5, 4);
	CHECK_U64(mp_pprof_add_location(b, 0, 0, &synth, 1), 4);  /* same lines, no address */
	CHECK_U64(mp_pprof_add_location(b, 0, 0, &mainl, 1), 5);  /* other lines, no address */
	mp_pprof_add_sample(b, (uint64_t[]){ l1, l2 }, 2, v1, 2, labels, 2);
	mp_pprof_add_sample(b, (uint64_t[]){ l4, l5, l2 }, 3, v2, 2, NULL, 0);
	return b;
}

static void test_round_trip(void)
{
	struct mp_pprof_builder *b = sample_builder();
	uint8_t *buf = NULL;
	size_t len = 0;
	struct mp_profile *p = NULL;
	char *err = NULL;
	int r;

	CHECK_INT(mp_pprof_encode(b, &buf, &len), 0);
	CHECK(len > 10);
	/* gzip header: magic, deflate. */
	CHECK_INT(buf[0], 0x1f);
	CHECK_INT(buf[1], 0x8b);
	CHECK_INT(buf[2], 8);
	r = mp_pprof_parse(buf, len, &p, &err);
	CHECK_INT(r, 0);
	CHECK(err == NULL);
	if (r < 0) {
		printf("# %s\n", err);
		goto out;
	}
	CHECK_STR(p->msg->string_table[0], "");
	CHECK_INT(p->msg->n_sample_type, 2);
	CHECK_STR(mp_profile_str(p, p->msg->sample_type[0]->type), "alloc_objects");
	CHECK_STR(mp_profile_str(p, p->msg->sample_type[0]->unit), "count");
	CHECK_STR(mp_profile_str(p, p->msg->sample_type[1]->type), "alloc_space");
	CHECK_STR(mp_profile_str(p, p->msg->sample_type[1]->unit), "bytes");
	CHECK_STR(mp_profile_str(p, p->msg->default_sample_type), "alloc_space");
	CHECK(p->msg->period_type != NULL);
	CHECK_STR(mp_profile_str(p, p->msg->period_type->type), "space");
	CHECK_STR(mp_profile_str(p, p->msg->period_type->unit), "bytes");
	CHECK_INT(p->msg->period, 524288);
	CHECK_INT(p->msg->time_nanos, 1700000000123456789LL);
	CHECK_INT(p->msg->duration_nanos, 2500000000LL);
	CHECK_INT(p->msg->n_comment, 1);
	CHECK_STR(mp_profile_str(p, p->msg->comment[0]), "memprof test");
	CHECK_INT(mp_profile_type_index(p, "alloc_space"), 1);
	CHECK_INT(mp_profile_type_index(p, "alloc_objects"), 0);
	CHECK_INT(mp_profile_type_index(p, "inuse_space"), -1);
	CHECK_STR(mp_profile_str(p, -1), "");
	CHECK_STR(mp_profile_str(p, (int64_t)p->msg->n_string_table), "");

	/* Interned strings: each once. */
	for (size_t i = 0; i < p->msg->n_string_table; i++)
		for (size_t j = i + 1; j < p->msg->n_string_table; j++)
			if (strcmp(p->msg->string_table[i], p->msg->string_table[j]) == 0)
				CHECK_STR(p->msg->string_table[i], "(a duplicate string)");

	CHECK_INT(p->msg->n_mapping, 2);
	CHECK_U64(p->msg->mapping[0]->id, 1);
	CHECK_U64(p->msg->mapping[0]->memory_start, 0x400000);
	CHECK_U64(p->msg->mapping[0]->memory_limit, 0x500000);
	CHECK_U64(p->msg->mapping[0]->file_offset, 0x1000);
	CHECK_STR(mp_profile_str(p, p->msg->mapping[0]->filename), "/usr/bin/app");
	CHECK_STR(mp_profile_str(p, p->msg->mapping[0]->build_id), "0123abcd");
	CHECK(p->msg->mapping[0]->has_functions && p->msg->mapping[0]->has_filenames &&
	      p->msg->mapping[0]->has_line_numbers && p->msg->mapping[0]->has_inline_frames);
	CHECK_U64(p->msg->mapping[1]->id, 2);
	CHECK_STR(mp_profile_str(p, p->msg->mapping[1]->build_id), "");
	CHECK(p->msg->mapping[1]->has_functions && !p->msg->mapping[1]->has_filenames &&
	      !p->msg->mapping[1]->has_line_numbers && !p->msg->mapping[1]->has_inline_frames);

	/* Functions: leaf, caller, main, synthetic; leaf at line 14 reuses leaf. */
	CHECK_INT(p->msg->n_function, 4);
	for (size_t i = 0; i < p->msg->n_function; i++)
		CHECK_U64(p->msg->function[i]->id, i + 1);
	CHECK_STR(mp_profile_str(p, p->msg->function[0]->name), "leaf");
	CHECK_STR(mp_profile_str(p, p->msg->function[0]->system_name), "leaf");
	CHECK_STR(mp_profile_str(p, p->msg->function[0]->filename), "leaf.c");
	CHECK_INT(p->msg->function[0]->start_line, 10);
	CHECK_STR(mp_profile_str(p, p->msg->function[1]->name), "caller");
	CHECK_STR(mp_profile_str(p, p->msg->function[1]->system_name), "_Z6callerv");
	CHECK_STR(mp_profile_str(p, p->msg->function[2]->name), "main");
	CHECK_STR(mp_profile_str(p, p->msg->function[3]->name), "synthetic");
	CHECK_STR(mp_profile_str(p, p->msg->function[3]->filename), "");

	CHECK_INT(p->msg->n_location, 5);
	for (size_t i = 0; i < p->msg->n_location; i++)
		CHECK_U64(p->msg->location[i]->id, i + 1);
	CHECK_U64(p->msg->location[0]->mapping_id, 1);
	CHECK_U64(p->msg->location[0]->address, 0x401000);
	CHECK_INT(p->msg->location[0]->n_line, 2);
	CHECK_U64(p->msg->location[0]->line[0]->function_id, 1);
	CHECK_INT(p->msg->location[0]->line[0]->line, 12);
	CHECK_U64(p->msg->location[0]->line[1]->function_id, 2);
	CHECK_INT(p->msg->location[0]->line[1]->line, 40);
	CHECK_U64(p->msg->location[2]->mapping_id, 2);
	CHECK_U64(p->msg->location[2]->line[0]->function_id, 1);
	CHECK_INT(p->msg->location[2]->line[0]->line, 14);
	CHECK_U64(p->msg->location[3]->mapping_id, 0);
	CHECK_U64(p->msg->location[3]->address, 0);
	CHECK_U64(p->msg->location[4]->line[0]->function_id, 3);

	CHECK_INT(p->msg->n_sample, 2);
	CHECK_INT(p->msg->sample[0]->n_location_id, 2);
	CHECK_U64(p->msg->sample[0]->location_id[0], 1);
	CHECK_U64(p->msg->sample[0]->location_id[1], 2);
	CHECK_INT(p->msg->sample[0]->n_value, 2);
	CHECK_INT(p->msg->sample[0]->value[0], 3);
	CHECK_INT(p->msg->sample[0]->value[1], 192);
	CHECK_INT(p->msg->sample[0]->n_label, 2);
	CHECK_STR(mp_profile_str(p, p->msg->sample[0]->label[0]->key), "bytes");
	CHECK_INT(p->msg->sample[0]->label[0]->num, 64);
	CHECK_INT(p->msg->sample[0]->label[0]->str, 0);
	CHECK_STR(mp_profile_str(p, p->msg->sample[0]->label[0]->num_unit), "bytes");
	CHECK_STR(mp_profile_str(p, p->msg->sample[0]->label[1]->key), "thread");
	CHECK_STR(mp_profile_str(p, p->msg->sample[0]->label[1]->str), "worker");
	CHECK_INT(p->msg->sample[0]->label[1]->num, 0);
	CHECK_INT(p->msg->sample[1]->n_location_id, 3);
	CHECK_U64(p->msg->sample[1]->location_id[0], 3);
	CHECK_U64(p->msg->sample[1]->location_id[1], 4);
	CHECK_U64(p->msg->sample[1]->location_id[2], 2);
	CHECK_INT(p->msg->sample[1]->value[1], 4096);
	CHECK_INT(p->msg->sample[1]->n_label, 0);
	CHECK_INT(mp_pprof_validate(p->msg, NULL), 0);

	/* The ids resolved once, by the validator. */
	CHECK_INT(mp_profile_location_index(p, 3), 2);
	CHECK(mp_profile_location(p, 5) == p->msg->location[4]);
	CHECK_INT(mp_profile_location_index(p, 6), -1);
	CHECK(mp_profile_location(p, 0) == NULL);
	CHECK_INT(mp_profile_function_index(p, 4), 3);
	CHECK_STR(mp_profile_str(p, mp_profile_function(p, 2)->system_name), "_Z6callerv");
	CHECK(mp_profile_function(p, 5) == NULL);
	CHECK(mp_profile_mapping(p, 2) == p->msg->mapping[1]);
	CHECK(mp_profile_mapping(p, 0) == NULL);
	CHECK_INT(mp_profile_mapping_index(p, 3), -1);

out:
	mp_profile_free(p);
	free(err);
	free(buf);
	mp_pprof_builder_free(b);
}

/* An empty builder still makes a valid profile: string_table = [""]. */
static void test_empty_builder(void)
{
	struct mp_pprof_builder *b = mp_pprof_builder_new();
	uint8_t *buf = NULL;
	size_t len = 0;
	struct mp_profile *p = NULL;

	CHECK_INT(mp_pprof_encode(b, &buf, &len), 0);
	CHECK_INT(mp_pprof_parse(buf, len, &p, NULL), 0);
	if (p) {
		CHECK_INT(p->msg->n_string_table, 1);
		CHECK_INT(p->msg->n_sample, 0);
		CHECK_INT(p->msg->n_sample_type, 0);
	}
	mp_profile_free(p);
	free(buf);
	mp_pprof_builder_free(b);
	mp_pprof_builder_free(NULL);
	mp_profile_free(NULL);
}

/* Plain (not gzip'd) protobuf, and gzip in two members (Go reads both). */
static void test_plain_and_multistream(void)
{
	struct mp_pprof_builder *b = sample_builder();
	uint8_t *gz = NULL, *plain = NULL, *g1 = NULL, *g2 = NULL, *cat;
	size_t gz_len, plain_len, g1_len, g2_len;
	struct mp_profile *p = NULL;
	const char *msg;

	CHECK_INT(mp_pprof_encode(b, &gz, &gz_len), 0);
	CHECK_INT(gunzip_buf(gz, gz_len, &plain, &plain_len), 0);
	CHECK_INT(mp_pprof_parse(plain, plain_len, &p, NULL), 0);
	if (p) {
		CHECK_INT(p->msg->n_sample, 2);
		CHECK_INT(p->msg->sample[1]->value[1], 4096);
	}
	mp_profile_free(p);
	p = NULL;

	CHECK_INT(gzip_buf(plain, plain_len / 2, &g1, &g1_len), 0);
	CHECK_INT(gzip_buf(plain + plain_len / 2, plain_len - plain_len / 2, &g2, &g2_len), 0);
	cat = malloc(g1_len + g2_len + 3);
	memcpy(cat, g1, g1_len);
	memcpy(cat + g1_len, g2, g2_len);
	CHECK_INT(parse_err(cat, g1_len + g2_len, &msg), 0);
	CHECK_STR(msg, "ok");

	/* Junk after the last member. */
	memcpy(cat + g1_len + g2_len, "xyz", 3);
	CHECK_INT(parse_err(cat, g1_len + g2_len + 3, &msg), -EBADMSG);
	CHECK_CONTAINS(msg, "trailing garbage after gzip data");
	/* A second member cut short. */
	CHECK_INT(parse_err(cat, g1_len + 5, &msg), -EBADMSG);
	CHECK_CONTAINS(msg, "truncated gzip data");

	free(cat);
	free(g1);
	free(g2);
	free(gz);
	free(plain);
	mp_pprof_builder_free(b);
}

static void test_bad_inputs(void)
{
	struct mp_pprof_builder *b = sample_builder();
	uint8_t *gz = NULL, *plain = NULL, *g = NULL;
	size_t gz_len, plain_len, g_len;
	uint8_t garbage[300];
	const char *msg;
	int all_failed = 1;
	uint32_t x = 12345;

	CHECK_INT(parse_err((const uint8_t *)"", 0, &msg), -EBADMSG);
	CHECK_STR(msg, "empty file");

	for (size_t i = 0; i < sizeof(garbage); i++) {
		x = x * 1103515245 + 12345;
		garbage[i] = (uint8_t)(x >> 16);
	}
	garbage[0] = 0xff;     /* field 31, wire type 7: invalid */
	CHECK_INT(parse_err(garbage, sizeof(garbage), &msg), -EBADMSG);
	CHECK_CONTAINS(msg, "invalid protobuf");

	/* Text is not a profile either (pprof's legacy formats are not read). */
	CHECK_INT(parse_err((const uint8_t *)"heap profile: 1: 2 [3: 4] @ heap/1048576\n", 41, &msg),
		  -EBADMSG);
	CHECK_CONTAINS(msg, "invalid protobuf");

	/* gzip of garbage. */
	CHECK_INT(gzip_buf(garbage, sizeof(garbage), &g, &g_len), 0);
	CHECK_INT(parse_err(g, g_len, &msg), -EBADMSG);
	CHECK_CONTAINS(msg, "invalid protobuf");
	free(g);
	g = NULL;
	/* gzip of nothing. */
	CHECK_INT(gzip_buf(garbage, 0, &g, &g_len), 0);
	CHECK_INT(parse_err(g, g_len, &msg), -EBADMSG);
	CHECK_STR(msg, "empty profile inside gzip data");
	free(g);

	/* Every strict prefix of the gzip'd profile is refused. */
	CHECK_INT(mp_pprof_encode(b, &gz, &gz_len), 0);
	for (size_t n = 1; n < gz_len; n++) {
		if (parse_err(gz, n, &msg) >= 0) {
			all_failed = 0;
			printf("# prefix of %zu bytes accepted\n", n);
		}
	}
	CHECK(all_failed);
	CHECK_INT(parse_err(gz, gz_len / 2, &msg), -EBADMSG);
	CHECK_STR(msg, "truncated gzip data");
	CHECK_INT(parse_err(gz, 1, &msg), -EBADMSG);    /* 0x1f alone: not gzip, bad protobuf */
	CHECK_CONTAINS(msg, "invalid protobuf");

	/* Corrupt deflate data. */
	gz[12] ^= 0xff;
	gz[13] ^= 0xff;
	CHECK_INT(parse_err(gz, gz_len, &msg), -EBADMSG);
	CHECK_CONTAINS(msg, "gzip data");

	/* A protobuf cut inside a field. */
	CHECK_INT(mp_pprof_encode(b, &g, &g_len), 0);
	CHECK_INT(gunzip_buf(g, g_len, &plain, &plain_len), 0);
	CHECK_INT(parse_err(plain, 5, &msg), -EBADMSG);
	CHECK_CONTAINS(msg, "invalid protobuf: truncated");
	/* Wrong wire type for a sub-message: field 1 (sample_type) as a varint. */
	CHECK_INT(parse_err((const uint8_t *)"\x08\x01", 2, &msg), -EBADMSG);
	CHECK_CONTAINS(msg, "wire type 0, expected 2");
	/* Field number 0. */
	CHECK_INT(parse_err((const uint8_t *)"\x00\x01", 2, &msg), -EBADMSG);
	CHECK_CONTAINS(msg, "bad field number 0");
	/* Over-long varint. */
	CHECK_INT(parse_err((const uint8_t *)"\x48\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f", 11, &msg),
		  -EBADMSG);
	CHECK_CONTAINS(msg, "over-long varint");
	/* A bad field inside a nested message: Sample.value as a string. */
	CHECK_INT(parse_err((const uint8_t *)"\x12\x02\x15\x00", 4, &msg), -EBADMSG);
	CHECK_CONTAINS(msg, "Sample field 2");
	/* Valid wire format but no string table. */
	CHECK_INT(parse_err((const uint8_t *)"\x48\x01", 2, &msg), -EBADMSG);
	CHECK_STR(msg, "malformed profile: string table is empty (string_table[0] must be \"\")");

	free(g);
	free(plain);
	free(gz);
	mp_pprof_builder_free(b);
}

static void test_bomb(void)
{
	uint8_t *zeros = calloc(1, 100000), *g = NULL;
	size_t g_len;
	struct mp_profile *p = NULL;
	char *err = NULL;

	CHECK_INT(gzip_buf(zeros, 100000, &g, &g_len), 0);
	CHECK(g_len < 1000);
	CHECK_INT(mp_pprof_parse_limited(g, g_len, 4096, &p, &err), -EFBIG);
	CHECK_STR(err, "decompressed profile is larger than 4096 bytes");
	CHECK(p == NULL);
	free(err);
	err = NULL;
	/* Plain input over the limit. */
	CHECK_INT(mp_pprof_parse_limited(zeros, 5000, 4096, &p, &err), -EFBIG);
	CHECK_STR(err, "profile is larger than 4096 bytes");
	free(err);
	err = NULL;
	/* Under the limit: it inflates, then fails as a protobuf (zeros = field 0). */
	CHECK_INT(mp_pprof_parse_limited(g, g_len, 200000, &p, &err), -EBADMSG);
	CHECK_CONTAINS(err, "bad field number 0");
	free(err);
	free(g);
	free(zeros);
	CHECK_U64(MP_PPROF_MAX_DECOMPRESSED, 1073741824);
}

/* ---- validation ------------------------------------------------------------ */

/*
 * A small valid profile held in static storage, rebuilt before each case so
 * one field can be broken: 2 sample types, 1 mapping, 2 functions, 2
 * locations (one inlined pair), 2 samples with a label.
 */
static char *strs[] = { "", "objects", "count", "space", "bytes", "/bin/app", "f", "g", "f.c",
			"key", "val", "drop" };
static Perftools__Profiles__ValueType st[2], period;
static Perftools__Profiles__ValueType *stp[2];
static Perftools__Profiles__Mapping map, map2;
static Perftools__Profiles__Mapping *mapp[2];
static Perftools__Profiles__Function fn[2];
static Perftools__Profiles__Function *fnp[2];
static Perftools__Profiles__Line ln[3];
static Perftools__Profiles__Line *lnp[3];
static Perftools__Profiles__Location loc[2];
static Perftools__Profiles__Location *locp[2];
static Perftools__Profiles__Label lab;
static Perftools__Profiles__Label *labp[1];
static Perftools__Profiles__Sample smp[2];
static Perftools__Profiles__Sample *smpp[2];
static uint64_t s0locs[2] = { 1, 2 }, s1locs[1] = { 2 };
static int64_t s0vals[2] = { 1, 100 }, s1vals[2] = { 2, 200 };
static int64_t comments[1] = { 11 };
static Perftools__Profiles__Profile prof;

static Perftools__Profiles__Profile *good_profile(void)
{
	perftools__profiles__profile__init(&prof);
	for (int i = 0; i < 2; i++) {
		perftools__profiles__value_type__init(&st[i]);
		stp[i] = &st[i];
	}
	st[0].type = 1, st[0].unit = 2, st[1].type = 3, st[1].unit = 4;
	perftools__profiles__value_type__init(&period);
	period.type = 3, period.unit = 4;
	perftools__profiles__mapping__init(&map);
	map.id = 1, map.filename = 5, map.memory_start = 0x1000, map.memory_limit = 0x2000;
	mapp[0] = &map;
	perftools__profiles__mapping__init(&map2);
	map2.id = 2;
	mapp[1] = &map2;
	for (int i = 0; i < 2; i++) {
		perftools__profiles__function__init(&fn[i]);
		fn[i].id = (uint64_t)i + 1;
		fn[i].name = 6 + i;
		fn[i].system_name = 6 + i;
		fn[i].filename = 8;
		fnp[i] = &fn[i];
	}
	for (int i = 0; i < 3; i++) {
		perftools__profiles__line__init(&ln[i]);
		lnp[i] = &ln[i];
	}
	ln[0].function_id = 1, ln[1].function_id = 2, ln[2].function_id = 2;
	for (int i = 0; i < 2; i++) {
		perftools__profiles__location__init(&loc[i]);
		loc[i].id = (uint64_t)i + 1;
		loc[i].mapping_id = 1;
		loc[i].address = 0x1100 + (uint64_t)i;
		locp[i] = &loc[i];
	}
	loc[0].n_line = 2, loc[0].line = &lnp[0];
	loc[1].n_line = 1, loc[1].line = &lnp[2];
	perftools__profiles__label__init(&lab);
	lab.key = 9, lab.str = 10;
	labp[0] = &lab;
	for (int i = 0; i < 2; i++) {
		perftools__profiles__sample__init(&smp[i]);
		smpp[i] = &smp[i];
	}
	smp[0].n_location_id = 2, smp[0].location_id = s0locs;
	smp[0].n_value = 2, smp[0].value = s0vals;
	smp[0].n_label = 1, smp[0].label = labp;
	smp[1].n_location_id = 1, smp[1].location_id = s1locs;
	smp[1].n_value = 2, smp[1].value = s1vals;
	s0locs[0] = 1, s0locs[1] = 2, s1locs[0] = 2;

	prof.n_sample_type = 2, prof.sample_type = stp;
	prof.n_sample = 2, prof.sample = smpp;
	prof.n_mapping = 2, prof.mapping = mapp;
	prof.n_location = 2, prof.location = locp;
	prof.n_function = 2, prof.function = fnp;
	prof.n_string_table = sizeof(strs) / sizeof(strs[0]), prof.string_table = strs;
	prof.period_type = &period;
	prof.period = 1;
	prof.n_comment = 1, prof.comment = comments;
	comments[0] = 11;
	prof.drop_frames = 0;
	return &prof;
}

/* Validate in memory and through pack + parse: both must give `want`. */
static void check_invalid(int line, const char *want)
{
	char *err = NULL;
	struct mp_profile *q = NULL;
	uint8_t *buf;
	size_t len;
	int r;
	char what[600];

	snprintf(what, sizeof(what), "rule at line %d", line);
	r = mp_pprof_validate(&prof, &err);
	tap_ok(r == -EBADMSG, __FILE__, line, what);
	tap_ok(err && strcmp(err, want) == 0, __FILE__, line, want);
	if (!err || strcmp(err, want) != 0)
		printf("#   got \"%s\"\n", err ? err : "(null)");
	free(err);
	err = NULL;
	buf = pack_profile(&prof, &len);
	r = mp_pprof_parse(buf, len, &q, &err);
	tap_ok(r == -EBADMSG && q == NULL, __FILE__, line, "parse refuses it too");
	snprintf(what, sizeof(what), "malformed profile: %s", want);
	tap_ok(err && strcmp(err, what) == 0, __FILE__, line, "parse gives the reason");
	if (!err || strcmp(err, what) != 0)
		printf("#   got \"%s\"\n", err ? err : "(null)");
	free(err);
	free(buf);
	mp_profile_free(q);
}

static char *bad_strs[] = { "x" };

static void test_validation(void)
{
	Perftools__Profiles__Profile *p;
	uint8_t *buf;
	size_t len;
	struct mp_profile *q = NULL;

	/* The base profile is valid, in memory and packed. */
	p = good_profile();
	CHECK_INT(mp_pprof_validate(p, NULL), 0);
	buf = pack_profile(p, &len);
	CHECK_INT(mp_pprof_parse(buf, len, &q, NULL), 0);
	mp_profile_free(q);
	free(buf);

#define BAD(mutation, msg) do { good_profile(); mutation; check_invalid(__LINE__, msg); } while (0)
	BAD(prof.n_string_table = 0, "string table is empty (string_table[0] must be \"\")");
	BAD((prof.string_table = bad_strs, prof.n_string_table = 1), "string_table[0] must be \"\"");
	BAD(map.filename = 12, "mapping 1 has file name string index 12 out of range");
	BAD(map.build_id = -1, "mapping 1 has build id string index -1 out of range");
	BAD(fn[1].name = 99, "function 2 has name string index 99 out of range");
	BAD(fn[0].system_name = 12, "function 1 has system name string index 12 out of range");
	BAD(fn[0].filename = -5, "function 1 has file name string index -5 out of range");
	BAD(st[1].type = 12, "sample type 1 has type string index 12 out of range");
	BAD(st[0].unit = 40, "sample type 0 has unit string index 40 out of range");
	BAD(lab.key = 12, "sample 0 has label key string index 12 out of range");
	BAD(lab.str = 13, "sample 0 has label value string index 13 out of range");
	BAD((lab.str = 0, lab.num = 5, lab.num_unit = 14), "sample 0 has label unit string index 14 out of range");
	BAD(prof.drop_frames = 12, "drop_frames string index 12 out of range");
	BAD(prof.keep_frames = -2, "keep_frames string index -2 out of range");
	BAD(period.type = 77, "period type string index 77 out of range");
	BAD(period.unit = 78, "period unit string index 78 out of range");
	BAD(comments[0] = 12, "comment 0 has string index 12 out of range");
	BAD(prof.default_sample_type = 100, "default_sample_type string index 100 out of range");
	BAD(prof.n_sample_type = 0, "2 samples but no sample types");
	BAD(smp[1].n_value = 1, "sample 1 has 1 values, expected 2 (one per sample type)");
	BAD(map2.id = 0, "mapping 1 has the reserved id 0");
	BAD(map2.id = 1, "several mappings have id 1");
	BAD(fn[0].id = 0, "function 0 has the reserved id 0");
	BAD(fn[1].id = 1, "several functions have id 1");
	BAD(loc[1].id = 0, "location 1 has the reserved id 0");
	BAD(loc[1].id = 1, "several locations have id 1");
	BAD(loc[0].mapping_id = 3, "location 1 refers to unknown mapping 3");
	BAD(ln[1].function_id = 7, "location 1 has a line with unknown function 7");
	BAD(ln[2].function_id = 0, "location 2 has a line with no function 0");
	BAD(s0locs[1] = 9, "sample 0 refers to unknown location 9");
	BAD(s1locs[0] = 0, "sample 1 refers to unknown location 0");
#undef BAD

	/* Valid variations: mapping id 0 (none), no period type, empty strings. */
	good_profile();
	loc[0].mapping_id = 0;
	prof.period_type = NULL;
	prof.drop_frames = 11;
	CHECK_INT(mp_pprof_validate(&prof, NULL), 0);
	/* Sample types without samples. */
	good_profile();
	prof.n_sample = 0;
	CHECK_INT(mp_pprof_validate(&prof, NULL), 0);
}

/* ---- files ----------------------------------------------------------------- */

static int count_tmp_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (strstr(e->d_name, ".tmp."))
			n++;
	closedir(d);
	return n;
}

static void test_files(void)
{
	char dir[] = "/tmp/memprof-test-pprof-XXXXXX", path[256], sub[300];
	struct mp_pprof_builder *b = sample_builder();
	struct mp_profile *p = NULL;
	char *err = NULL;
	struct stat sb;
	struct rlimit old, lim;
	mode_t mask;
	int fd;
	char content[16] = { 0 };

	if (!mkdtemp(dir)) {
		CHECK(!"mkdtemp");
		return;
	}
	snprintf(path, sizeof(path), "%s/a.pb.gz", dir);
	CHECK_INT(mp_pprof_write_file(b, path), 0);
	CHECK_INT(mp_pprof_read_file(path, &p, &err), 0);
	if (p)
		CHECK_INT(p->msg->n_sample, 2);
	mp_profile_free(p);
	p = NULL;
	mask = umask(0);
	umask(mask);
	CHECK_INT(stat(path, &sb), 0);
	CHECK_INT(sb.st_mode & 0777, 0666 & ~mask);
	CHECK_INT(count_tmp_files(dir), 0);

	/* Overwrite an existing file. */
	fd = open(path, O_WRONLY | O_TRUNC);
	CHECK(write(fd, "old!", 4) == 4);
	close(fd);
	CHECK_INT(mp_pprof_write_file(b, path), 0);
	CHECK_INT(mp_pprof_read_file(path, &p, NULL), 0);
	mp_profile_free(p);
	p = NULL;

	/* A failing write leaves the existing file alone and no temp file. */
	fd = open(path, O_WRONLY | O_TRUNC);
	CHECK(write(fd, "old!", 4) == 4);
	close(fd);
	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &old);
	lim = old;
	lim.rlim_cur = 10;
	CHECK_INT(setrlimit(RLIMIT_FSIZE, &lim), 0);
	CHECK_INT(mp_pprof_write_file(b, path), -EFBIG);
	setrlimit(RLIMIT_FSIZE, &old);
	fd = open(path, O_RDONLY);
	CHECK_INT(read(fd, content, sizeof(content)), 4);
	close(fd);
	CHECK_STR(content, "old!");
	CHECK_INT(count_tmp_files(dir), 0);

	/* A directory in the way: rename fails, nothing left behind. */
	snprintf(sub, sizeof(sub), "%s/d", dir);
	CHECK_INT(mkdir(sub, 0755), 0);
	snprintf(sub, sizeof(sub), "%s/d/x", dir);
	CHECK_INT(mkdir(sub, 0755), 0);
	snprintf(sub, sizeof(sub), "%s/d", dir);
	CHECK(mp_pprof_write_file(b, sub) < 0);
	CHECK_INT(count_tmp_files(dir), 0);
	/* No such directory. */
	snprintf(sub, sizeof(sub), "%s/nodir/a.pb.gz", dir);
	CHECK_INT(mp_pprof_write_file(b, sub), -ENOENT);

	/* Reading: missing file, a directory, an empty file. */
	CHECK_INT(mp_pprof_read_file(sub, &p, &err), -ENOENT);
	CHECK_STR(err, "No such file or directory");
	free(err);
	err = NULL;
	CHECK_INT(mp_pprof_read_file(dir, &p, &err), -EISDIR);
	free(err);
	err = NULL;
	snprintf(sub, sizeof(sub), "%s/empty", dir);
	fd = open(sub, O_WRONLY | O_CREAT, 0644);
	close(fd);
	CHECK_INT(mp_pprof_read_file(sub, &p, &err), -EBADMSG);
	CHECK_STR(err, "empty file");
	free(err);
	CHECK(p == NULL);

	unlink(sub);
	snprintf(sub, sizeof(sub), "%s/d/x", dir);
	rmdir(sub);
	snprintf(sub, sizeof(sub), "%s/d", dir);
	rmdir(sub);
	unlink(path);
	rmdir(dir);
	mp_pprof_builder_free(b);
}

static void test_keymap(void)
{
	struct mp_keymap m;
	struct mp_idmap ids;
	uint32_t v = 0;
	char key[16];
	int inserted_wrong = 0;

	mp_keymap_init(&m);
	for (uint32_t i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "k%u", i);
		if (mp_keymap_intern(&m, key, strlen(key), i, NULL) != 1)
			inserted_wrong++;
	}
	CHECK_INT(inserted_wrong, 0);
	CHECK_INT(mp_keymap_intern(&m, "k42", 3, 7, &v), 0);
	CHECK_INT(v, 42);
	CHECK_INT(mp_keymap_get(&m, "k4999", 5, &v), 0);
	CHECK_INT(v, 4999);
	CHECK_INT(mp_keymap_get(&m, "k5000", 5, &v), -ENOENT);
	CHECK_INT(mp_keymap_intern(&m, "", 0, 9, &v), 1);
	CHECK_INT(mp_keymap_get(&m, "", 0, &v), 0);
	CHECK_INT(v, 9);
	mp_keymap_done(&m);

	CHECK_INT(mp_idmap_init(&ids, 3), 0);
	CHECK_INT(mp_idmap_put(&ids, 0, 1), -EINVAL);
	CHECK_INT(mp_idmap_put(&ids, 7, 1), 0);
	CHECK_INT(mp_idmap_put(&ids, UINT64_MAX, 2), 0);
	CHECK_INT(mp_idmap_put(&ids, 7, 3), -EEXIST);
	CHECK_INT(mp_idmap_get(&ids, 7), 1);
	CHECK_INT(mp_idmap_get(&ids, UINT64_MAX), 2);
	CHECK_INT(mp_idmap_get(&ids, 8), -1);
	CHECK_INT(mp_idmap_get(&ids, 0), -1);
	mp_idmap_done(&ids);
}

/* The gzip'd bytes gz[0..gz_len) inflated; NULL when they are not one
 * gzip member. */
static uint8_t *gunzip(const uint8_t *gz, size_t gz_len, size_t *ret_len)
{
	size_t cap = gz_len * 16 + 1024;
	uint8_t *out = malloc(cap);
	z_stream zs;

	memset(&zs, 0, sizeof(zs));
	if (!out || inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
		free(out);
		return NULL;
	}
	zs.next_in = (Bytef *)gz;
	zs.avail_in = (uInt)gz_len;
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	if (inflate(&zs, Z_FINISH) != Z_STREAM_END) {
		inflateEnd(&zs);
		free(out);
		return NULL;
	}
	*ret_len = cap - zs.avail_out;
	inflateEnd(&zs);
	return out;
}

/*
 * The builder encodes its profile itself, without protobuf-c: the bytes
 * must be the very ones protobuf-c packs from the builder's view, for
 * every kind of field (labels with strings and numbers, inline lines,
 * locations without an address, negative values, a comment, the period,
 * memprof's statistics, an empty string in the table).
 */
static void test_encode_like_protobuf_c(void)
{
	struct mp_pprof_builder *b = sample_builder();
	struct mp_pprof_builder *e = mp_pprof_builder_new();
	struct mp_profile *view;
	uint8_t *gz = NULL, *raw, *ours;
	size_t gz_len = 0, raw_len = 0, ours_len = 0;
	int64_t neg[2] = { -1, INT64_MIN };
	/* (The second label's fields are all 0: an empty message.) */
	struct mp_pprof_label lab[2] = { { .key = "negative", .num = -5 }, { .key = "" } };

	mp_pprof_add_stat(b, "HeapAlloc", 123456789);
	mp_pprof_add_stat(b, "Frees", 0);
	mp_pprof_add_stat(b, "", -7);
	mp_pprof_add_sample(b, (uint64_t[]){ 5 }, 1, neg, 2, lab, 2);
	mp_pprof_add_sample(b, NULL, 0, (int64_t[]){ 0, 0 }, 2, NULL, 0);
	/* A long stack (a sample longer than 127 bytes: a two-byte length)
	 * and more labels than the builder keeps on its stack. */
	uint64_t deep[200];
	struct mp_pprof_label many[11];
	for (size_t i = 0; i < 200; i++)
		deep[i] = 1 + i % 5;
	for (size_t i = 0; i < 11; i++)
		many[i] = i % 2 ? (struct mp_pprof_label){ .key = "k", .str = i % 3 ? "v" : "w" }
				: (struct mp_pprof_label){ .key = "n", .num = INT64_MAX - (int64_t)i,
							   .num_unit = i % 4 ? "bytes" : "unit" };
	mp_pprof_add_sample(b, deep, 200, (int64_t[]){ 1, INT64_MAX }, 2, many, 11);
	for (int k = 0; k < 2; k++) {
		struct mp_pprof_builder *x = k ? e : b;

		view = mp_pprof_builder_view(x);
		raw = pack_profile(view->msg, &raw_len);
		CHECK_INT(mp_pprof_encode(x, &gz, &gz_len), 0);
		ours = gunzip(gz, gz_len, &ours_len);
		CHECK(ours != NULL);
		CHECK_INT(ours_len, raw_len);
		CHECK(ours && ours_len == raw_len && memcmp(ours, raw, raw_len) == 0);
		free(ours);
		free(gz);
		/* Encoding again (the samples are moved and put back) gives
		 * the same bytes, and the builder reads as before. */
		CHECK_INT(mp_pprof_encode(x, &gz, &gz_len), 0);
		ours = gunzip(gz, gz_len, &ours_len);
		CHECK(ours && ours_len == raw_len && memcmp(ours, raw, raw_len) == 0);
		mp_profile_free(view);
		view = mp_pprof_builder_view(x);
		if (!k) {
			/* The view decodes the samples as they were added. */
			CHECK_INT(view->msg->n_sample, 5);
			CHECK_INT(view->msg->sample[4]->n_location_id, 200);
			CHECK_INT(view->msg->sample[4]->location_id[199], 5);
			CHECK_INT(view->msg->sample[4]->n_label, 11);
			CHECK_INT(view->msg->sample[4]->label[10]->num, INT64_MAX - 10);
			CHECK_INT(view->msg->sample[2]->n_label, 2);
			CHECK_INT(view->msg->sample[2]->label[0]->num, -5);
			CHECK_INT(view->msg->sample[2]->value[1], INT64_MIN);
			CHECK_INT(view->msg->sample[3]->n_location_id, 0);
			CHECK_INT(view->msg->sample[0]->n_label, 2);
		}
		free(ours);
		free(raw);
		free(gz);
		gz = NULL;
		mp_profile_free(view);
	}
	mp_pprof_builder_free(b);
	mp_pprof_builder_free(e);
}

/*
 * A profile big enough to be compressed in parts on several cores is still
 * one gzip member that plain zlib inflates in one go (to the bytes the
 * builder packs), and its in-memory view reads the same as the file.
 */
static void test_big_gzip(void)
{
	struct mp_pprof_builder *b = mp_pprof_builder_new();
	uint64_t locs[1000], stack[40];
	uint32_t x = 12345;
	uint8_t *gz = NULL, *raw, *out;
	size_t gz_len = 0, raw_len, cap;
	struct mp_profile *view, *p = NULL;
	z_stream zs;
	int zr;

	mp_pprof_add_sample_type(b, "alloc_space", "bytes");
	mp_pprof_add_sample_type(b, "inuse_space", "bytes");
	uint64_t map = mp_pprof_add_mapping(b, 0x400000, 0x800000, 0, "/bin/app", "", true, true,
					    true, false);
	for (size_t i = 0; i < 1000; i++) {
		char fn[32];
		snprintf(fn, sizeof(fn), "function_%zu", i);
		struct mp_pprof_line ln = { .function = fn, .file = "app.c", .line = (int64_t)i + 1 };
		locs[i] = mp_pprof_add_location(b, map, 0x400000 + i * 16, &ln, 1);
	}
	for (size_t s = 0; s < 120000; s++) {
		int64_t v[2];
		for (size_t k = 0; k < 40; k++) {
			x = x * 1103515245u + 12345u;
			stack[k] = locs[(x >> 8) % 1000];
		}
		v[0] = (int64_t)(x >> 4);
		v[1] = (int64_t)(x >> 12);
		mp_pprof_add_sample(b, stack, 40, v, 2, NULL, 0);
	}
	view = mp_pprof_builder_view(b);
	raw = pack_profile(view->msg, &raw_len);
	CHECK(raw_len > ((size_t)8 << 20));      /* at least two parts */
	CHECK_INT(mp_pprof_encode(b, &gz, &gz_len), 0);
	CHECK(gz_len > 18 && gz[0] == 0x1f && gz[1] == 0x8b && gz[3] == 0);

	cap = raw_len + 1;
	out = malloc(cap);
	memset(&zs, 0, sizeof(zs));
	CHECK_INT(inflateInit2(&zs, 16 + MAX_WBITS), Z_OK);
	zs.next_in = gz;
	zs.avail_in = (uInt)gz_len;
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	zr = inflate(&zs, Z_FINISH);
	CHECK_INT(zr, Z_STREAM_END);                 /* CRC and length agree */
	CHECK_INT(zs.avail_in, 0);                   /* one member, nothing after */
	CHECK_INT(cap - zs.avail_out, raw_len);
	CHECK(memcmp(out, raw, raw_len) == 0);
	inflateEnd(&zs);

	CHECK_INT(mp_pprof_parse(gz, gz_len, &p, NULL), 0);
	if (p) {
		CHECK_INT(p->msg->n_sample, view->msg->n_sample);
		CHECK_INT(p->msg->sample[119999]->location_id[39], view->msg->sample[119999]->location_id[39]);
		CHECK_INT(p->msg->sample[7]->value[1], view->msg->sample[7]->value[1]);
		CHECK_STR(mp_profile_str(p, p->msg->function[999]->name), "function_999");
	}
	mp_profile_free(p);
	mp_profile_free(view);
	free(out);
	free(raw);
	free(gz);
	mp_pprof_builder_free(b);
}

/* A profile of n samples, locations added among them (the tail grows
 * after streaming began), labels on some. */
static struct mp_pprof_builder *streamed_profile(size_t n, bool stream)
{
	struct mp_pprof_builder *b = mp_pprof_builder_new();
	uint64_t locs[2000], stack[40];
	uint32_t x = 777;

	if (stream)
		mp_pprof_builder_stream(b);
	mp_pprof_add_sample_type(b, "alloc_space", "bytes");
	mp_pprof_add_sample_type(b, "inuse_space", "bytes");
	uint64_t map = mp_pprof_add_mapping(b, 0x400000, 0x800000, 0, "/bin/app", "", true, true,
					    true, false);
	for (size_t i = 0; i < 2000; i++) {
		char fn[32];
		snprintf(fn, sizeof(fn), "function_%zu", i);
		struct mp_pprof_line ln = { .function = fn, .file = "app.c", .line = (int64_t)i + 1 };
		locs[i] = mp_pprof_add_location(b, map, 0x400000 + i * 16, &ln, 1);
		if (i >= 1000)
			continue;
		for (size_t s = 0; s < n / 1000; s++) {
			struct mp_pprof_label l = { .key = "bytes", .num = (int64_t)s };
			int64_t v[2];
			for (size_t k = 0; k < 40; k++) {
				x = x * 1103515245u + 12345u;
				stack[k] = locs[(x >> 8) % (i + 1)];
			}
			v[0] = (int64_t)(x >> 4);
			v[1] = (int64_t)(x >> 12);
			mp_pprof_add_sample(b, stack, 40, v, 2, &l, s % 3 ? 1 : 0);
		}
	}
	return b;
}

/*
 * A profile compressed while it is built (mp_pprof_builder_stream) is
 * the very file of one compressed at the end: small (never streamed),
 * middling (streamed), and big (the stream gives up for the parts).
 */
static void test_streamed_gzip(void)
{
	static const size_t sizes[] = { 100, 60000, 130000 };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct mp_pprof_builder *a = streamed_profile(sizes[i], false);
		struct mp_pprof_builder *b = streamed_profile(sizes[i], true);
		uint8_t *ga = NULL, *gb = NULL;
		size_t la = 0, lb = 0;

		CHECK_INT(mp_pprof_encode(a, &ga, &la), 0);
		CHECK_INT(mp_pprof_encode(b, &gb, &lb), 0);
		CHECK_INT(lb, la);
		CHECK(la == lb && memcmp(ga, gb, la) == 0);
		free(gb);
		gb = NULL;
		/* Again, the stream spent: the same once more. */
		CHECK_INT(mp_pprof_encode(b, &gb, &lb), 0);
		CHECK(la == lb && memcmp(ga, gb, la) == 0);
		free(ga);
		free(gb);
		mp_pprof_builder_free(a);
		mp_pprof_builder_free(b);
	}
	/* Given up at once: freed without encoding. */
	mp_pprof_builder_free(streamed_profile(60000, true));
}

/* n bytes like a profile's for deflate: a small alphabet, and now and
 * then a stretch seen before (long matches at all distances). */
static uint8_t *gz_input(size_t n, uint32_t x)
{
	uint8_t *in = malloc(n ? n : 1);

	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		if (i > 40000 && (x >> 20) % 512 == 0) {
			size_t from = i - 1 - (x >> 4) % 32000, len = 3 + (x >> 9) % 300;
			for (size_t k = 0; k < len && i < n; k++, i++)
				in[i] = in[from + k];
			i--;
			continue;
		}
		in[i] = (uint8_t)('a' + (x >> 16) % 16);
	}
	return in;
}

/* in[0..n) through a stream in pieces of piece(&x) bytes (the last one
 * given to mp_gz_stream_end): the very bytes of mp_gzip's? */
static bool gz_streamed_same(const uint8_t *in, size_t n, size_t (*piece)(uint32_t *x))
{
	struct mp_gz_stream *s = mp_gz_stream_new();
	uint8_t *a = NULL, *b = NULL;
	size_t la = 0, lb = 0, off = 0, len;
	uint32_t x = 1;
	bool same = false;

	if (s && mp_gzip(in, n, &a, &la) == 0) {
		while ((len = piece(&x)) < n - off && mp_gz_stream_feed(s, in + off, len))
			off += len;
		same = len >= n - off && mp_gz_stream_end(s, in + off, n - off, &b, &lb) == 0 &&
		       la == lb && memcmp(a, b, la) == 0;
	}
	mp_gz_stream_free(s);
	free(a);
	free(b);
	return same;
}

static size_t piece_1(uint32_t *x) { (void)x; return 1; }
static size_t piece_7(uint32_t *x) { *x = *x * 1103515245u + 12345u; return 1 + (*x >> 16) % 7; }
static size_t piece_64k(uint32_t *x) { (void)x; return (size_t)64 << 10; }
static size_t piece_any(uint32_t *x) { *x = *x * 1103515245u + 12345u; return 1 + (*x >> 8) % 100000; }
static size_t piece_first_65535(uint32_t *x) { return (*x)++ == 1 ? 65535 : 100000; }

/*
 * The stream's bytes are mp_gzip's, however the input is cut (the
 * builder cuts where the samples reach GZ_FEED bytes): around the 64 KiB
 * of deflate's window and where it slides, around where mp_gzip makes
 * two parts (8 MiB; the stream takes less), and a piece that ends one
 * byte short of the window's first fill with a match at exactly the
 * longest distance from where the window then slides (zlib slides it one
 * step early when its input runs out there, and loses that match).
 */
static void test_gz_stream_pieces(void)
{
	static const size_t sizes[] = { 0, 1, 258, 65535, 65536, 65537, 98304, 300000,
					((size_t)8 << 20) - 1 };
	size_t (*const pieces[])(uint32_t *) = { piece_7, piece_64k, piece_any,
						 piece_first_65535 };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint8_t *in = gz_input(sizes[i], (uint32_t)i);

		for (size_t p = 0; p < sizeof(pieces) / sizeof(pieces[0]); p++)
			if (sizes[i] < 1000000 || pieces[p] == piece_any)
				CHECK(gz_streamed_same(in, sizes[i], pieces[p]));
		free(in);
	}
	/* One byte at a time. */
	uint8_t *in = gz_input(150000, 9);
	CHECK(gz_streamed_same(in, 150000, piece_1));
	free(in);

	/* The window slides when its first 64 KiB are used up; a piece ending
	 * at 65,535 bytes made it slide at 65,274 = 32,768 + MAX_DIST, where
	 * the string at 32,768 was still in reach. */
	size_t n = 100000;
	in = malloc(n);
	uint32_t x = 1;
	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		in[i] = (uint8_t)('a' + (x >> 16) % 16);
	}
	memcpy(in + 32768, "\xf1\xf2\xf3\xf4\xf5\xf6\xf7\xf8\xf9\xfa\xfb\xfc", 12);
	memcpy(in + 65274, "\xf1\xf2\xf3\xf4\xf5\xf6\xf7\xf8\xf9\xfa\xfb\xfc", 12);
	CHECK(gz_streamed_same(in, n, piece_first_65535));
	free(in);

	/* 8 MiB and more: the stream gives up (mp_gzip makes parts there). */
	struct mp_gz_stream *s = mp_gz_stream_new();
	in = calloc((size_t)8 << 20, 1);
	CHECK(s != NULL);
	CHECK(s && mp_gz_stream_feed(s, in, ((size_t)8 << 20) - 1));
	CHECK(s && !mp_gz_stream_feed(s, in, 1));
	mp_gz_stream_free(s);
	free(in);
}

int main(void)
{
	test_round_trip();
	test_encode_like_protobuf_c();
	test_empty_builder();
	test_plain_and_multistream();
	test_big_gzip();
	test_streamed_gzip();
	test_gz_stream_pieces();
	test_bad_inputs();
	test_bomb();
	test_validation();
	test_files();
	test_keymap();
	return tap_done();
}
