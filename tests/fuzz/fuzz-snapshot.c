/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the raw snapshot reader and the conversion behind
 * `memprof convert`: any bytes go through mp_snap_parse; what parses must
 * satisfy the invariants snapshot-read.h promises, and must convert (with
 * no file opened: MP_CONVERT_F_NO_FILES) into the profiles `memprof run`
 * writes of it (heap; descriptors, threads and timers when it has them)
 * that our own pprof reader accepts.  The same
 * bytes are also read as maps text by the symbolizer's parser.  Built as a
 * libFuzzer binary with -Dfuzz=enabled (clang), and always as a replay test
 * over corpus/snapshot/ (replay.c).
 *
 *   CC=clang CXX=clang++ meson setup B -Dfuzz=enabled \
 *       -Db_sanitize=address,undefined -Db_lundef=false
 *   ninja -C B tests/fuzz/fuzz-snapshot
 *   mkdir new && B/tests/fuzz/fuzz-snapshot -max_len=16384 new tests/fuzz/corpus/snapshot
 *
 * Inputs that crashed once stay in corpus/snapshot/ as regression tests.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/snapshot-read.h"
#include "convert/convert.h"
#include "convert/escape.h"
#include "convert/leaks-ci.h"
#include "convert/leaks.h"
#include "pprof/pprof.h"
#include "symbolize/maps.h"
#include "symbolize/symbolize.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what)
{
	fprintf(stderr, "fuzz-snapshot: %s\n", what);
	abort();
}

/* What snapshot-read.h promises about a parsed snapshot. */
static void check_snapshot(const struct mp_snap *s)
{
	if (s->header.max_depth > MP_SNAP_MAX_DEPTH || s->maps[s->maps_len] != 0 ||
	    s->exe[s->exe_len] != 0)
		fail("header or text invariant broken");
	for (uint32_t i = 0; i < s->nstacks; i++)
		if (s->stacks[i].depth > s->header.max_depth)
			fail("stack deeper than max_depth");
	for (size_t i = 0; i < s->nheap; i++) {
		const struct mp_snap_heap_rec *h = &s->heap[i];

		if (!mp_snap_stack(s, h->stack_id) || h->free_objects > h->alloc_objects ||
		    (h->alloc_objects && h->size > (uint64_t)INT64_MAX / h->alloc_objects))
			fail("heap record invariant broken");
	}
	for (size_t i = 0; s->has_peak && i < s->nheap; i++) {
		const struct mp_snap_heap_rec *h = &s->peak_heap[i];

		if (h->stack_id != s->heap[i].stack_id || h->size != s->heap[i].size ||
		    h->free_objects > h->alloc_objects ||
		    (h->alloc_objects && h->size > (uint64_t)INT64_MAX / h->alloc_objects))
			fail("peak record invariant broken");
	}
	for (size_t i = 0; s->life && i < s->nheap; i++) {
		uint64_t sum = 0;

		for (int k = 0; k < MP_SNAP_LIFE_CLASSES; k++)
			sum += s->life[i].freed[k];
		if (sum > s->heap[i].free_objects)
			fail("lifetimes exceed the frees");
	}
}

/* The leak report of what parsed, as `memprof run --leak-check` makes it. */
static void leak_report(const struct mp_snap *s)
{
	struct mp_leak_report *r = NULL;
	char *out = NULL;
	size_t len = 0;

	for (size_t i = 0; i < s->nleaks; i++)
		if (s->leaks[i].stack_id > s->nstacks || !s->leaks[i].count ||
		    s->leaks[i].category < MP_LEAK_DEFINITE ||
		    s->leaks[i].category > MP_LEAK_CATEGORY_MAX)
			fail("leak record invariant broken");
	if (mp_leaks_build(s, MP_SYM_F_NO_FILES, &r) < 0)
		return;
	FILE *f = open_memstream(&out, &len);
	if (f) {
		mp_leaks_print(f, r, true);
		mp_leaks_print_suppressions(f, r);
		if (mp_leaks_json(f, &r, 1) < 0)
			fail("leak JSON failed on a memory stream");
		fclose(f);
	}
	free(out);
	/* The CI formats: no source root, so no file system probe. */
	struct mp_leak_ci ci = { .fail_on = MP_FAIL_DEFAULT | MP_FAIL_REACHABLE, .version = "f" };
	for (int fmt = MP_LEAKFMT_SARIF; fmt <= MP_LEAKFMT_JUNIT; fmt++) {
		out = NULL;
		len = 0;
		f = open_memstream(&out, &len);
		if (!f)
			continue;
		int w = mp_leaks_write(f, (enum mp_leak_format)fmt, &r, 1, &ci);
		fclose(f);
		if (w < 0 && w != -ENOMEM)
			fail("SARIF or JUnit failed on a memory stream");
		/* whatever the names, the document is UTF-8 */
		for (size_t i = 0; w == 0 && i < len;) {
			uint32_t cp;
			size_t k = mp_utf8_decode((const unsigned char *)out + i, len - i, &cp);
			if (cp == 0xfffd && k == 1)
				fail("SARIF or JUnit output is not UTF-8");
			if (cp < 0x20 && cp != '\n' && cp != '\t' && cp != '\r')
				fail("SARIF or JUnit output holds a control character");
			i += k;
		}
		free(out);
	}
	mp_leaks_free(r);
}

static void fuzz_maps(const uint8_t *data, size_t size)
{
	struct mp_maps_entry *e = NULL;
	struct mp_symbolizer *sym = NULL;
	struct mp_sym_result r;
	size_t n = 0;

	if (mp_maps_parse((const char *)data, size, &e, &n) == 0) {
		for (size_t i = 0; i < n; i++)
			if (e[i].start >= e[i].end)
				fail("maps entry with start >= end");
		mp_maps_free(e, n);
	}
	if (mp_symbolizer_new((const char *)data, size, MP_SYM_F_NO_FILES, &sym) < 0)
		return;
	for (size_t i = 0; i < mp_symbolizer_nmappings(sym); i++) {
		const struct mp_sym_mapping *m = mp_symbolizer_mapping(sym, i);

		if (i > 0 && m->start < mp_symbolizer_mapping(sym, i - 1)->limit)
			fail("overlapping mappings");
		if (mp_symbolize(sym, m->start, &r) == 0 && r.mapping != m)
			fail("start of a mapping not found in it");
		if (mp_symbolize(sym, m->limit - 1, &r) == 0 && r.mapping != m)
			fail("end of a mapping not found in it");
		if (mp_symbolize(sym, m->limit, &r) == 0 && r.mapping == m)
			fail("limit of a mapping found in it");
	}
	mp_symbolizer_free(sym);
}

/* Every profile `memprof run` writes of a snapshot the reader took, encoded
 * and read back. */
static void convert_all(const struct mp_snap *s)
{
	static const enum mp_profile_kind kinds[] = { MP_PROFILE_HEAP, MP_PROFILE_FDS,
						      MP_PROFILE_THREADS, MP_PROFILE_TIMERS,
						      MP_PROFILE_PEAK };
	struct mp_converter *cv = NULL;
	int r = mp_converter_new(s, MP_CONVERT_F_NO_FILES, NULL, &cv);

	if (r < 0) {
		if (r != -ENOMEM)
			fail("could not convert a valid snapshot");
		return;
	}
	for (size_t k = 0; k < 5; k++) {
		struct mp_profile *p = NULL;
		uint8_t *out = NULL;
		size_t out_len = 0;
		char *err = NULL;

		if (kinds[k] == MP_PROFILE_PEAK ? !s->has_peak
						 : kinds[k] != MP_PROFILE_HEAP && !s->has_res)
			continue;
		r = mp_converter_encode(cv, kinds[k], &out, &out_len, &err);
		if (r < 0 && r != -ENOMEM)
			fail("could not convert a valid snapshot");
		free(err);
		err = NULL;
		if (r == 0) {
			if (mp_pprof_parse(out, out_len, &p, &err) != 0) {
				fprintf(stderr, "fuzz-snapshot: %s\n", err ? err : "?");
				fail("our profile does not read back");
			}
			mp_profile_free(p);
			free(err);
			free(out);
		}
	}
	mp_converter_free(cv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mp_snap *s = NULL;
	char *err = NULL;
	int parsed;

	parsed = mp_snap_parse(data, size, &s, &err);
	if (parsed == 0) {
		check_snapshot(s);
		if (s->has_leaks)
			leak_report(s);
		convert_all(s);
	}
	else if (parsed != -EBADMSG && parsed != -ENOMEM)
		fail("unexpected parse error");
	else if (parsed == -EBADMSG && !err)
		fail("no reason given");
	mp_snap_free(s);
	free(err);
	fuzz_maps(data, size);
	return 0;
}
