/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for `memprof diff`'s path: the input is two profiles
 * (split at the first "\n--\n", or in half), each read by the pprof reader;
 * what reads goes through the difference builder, its encoding and
 * re-reading, the top report (on the builder's view too, which must print
 * the same table), and the growth computation.  Built as a
 * libFuzzer binary with -Dfuzz=enabled (clang), and always as a replay test
 * over corpus/diff/.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pprof/pprof.h"
#include "report/diff.h"
#include "report/top.h"

/* The table as `memprof top` prints it, malloc'd (NULL on OOM). */
static char *top_text(const struct mp_top *t)
{
	char *out = NULL;
	size_t olen = 0;
	FILE *f = open_memstream(&out, &olen);

	if (!f)
		return NULL;
	mp_top_print(t, f);
	fclose(f);
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_DECOMPRESSED ((size_t)16 << 20)

static void fail(const char *what)
{
	fprintf(stderr, "fuzz-diff: %s\n", what);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *sep = NULL;
	for (size_t i = 0; i + 4 <= size; i++)
		if (memcmp(data + i, "\n--\n", 4) == 0) {
			sep = data + i;
			break;
		}
	size_t n1 = sep ? (size_t)(sep - data) : size / 2;
	const uint8_t *d2 = sep ? sep + 4 : data + n1;
	size_t n2 = size - (size_t)(d2 - data);
	struct mp_profile *a = NULL, *b = NULL, *d = NULL, *view = NULL;
	struct mp_pprof_builder *bld = NULL;
	char *err = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;

	if (mp_pprof_parse_limited(data, n1, FUZZ_MAX_DECOMPRESSED, &a, &err) < 0)
		goto out;
	free(err);
	err = NULL;
	if (mp_pprof_parse_limited(d2, n2, FUZZ_MAX_DECOMPRESSED, &b, &err) < 0)
		goto out;
	free(err);
	err = NULL;
	int r = mp_diff_build(a, b, &bld, &err);
	if (r < 0) {
		if (r != -EINVAL && r != -ENOMEM)
			fail("unexpected error");
		if (r == -EINVAL && !err)
			fail("no reason given");
		goto out;
	}
	if (mp_pprof_encode(bld, &buf, &len) < 0)
		goto out;
	if (mp_pprof_parse(buf, len, &d, &err) < 0) {
		fprintf(stderr, "fuzz-diff: %s\n", err ? err : "?");
		fail("the difference profile does not read back");
	}
	struct mp_top_options o = MP_TOP_OPTIONS_DEFAULT;
	struct mp_top *t = NULL;
	if (mp_top_compute(d, &o, &t, &err) == 0) {
		char *out = top_text(t), *vout = NULL;
		/* memprof diff reports on the builder's view, never encoded: the
		 * same model as the profile read back. */
		view = mp_pprof_builder_view(bld);
		struct mp_top *vt = NULL;
		char *verr = NULL;
		if (mp_top_compute(view, &o, &vt, &verr) != 0)
			fail("top refuses the view of a profile it reads back");
		vout = top_text(vt);
		if (out && vout && strcmp(out, vout) != 0)
			fail("top differs on the view and on the profile read back");
		mp_top_free(vt);
		free(verr);
		free(vout);
		free(out);
		int64_t total, max_stack;
		char *key = NULL;
		if (t->sample_index >= 0 && (size_t)t->sample_index < a->msg->n_sample_type &&
		    mp_diff_growth(a, b, t->sample_index, &total, &max_stack, &key) == 0)
			free(key);
		mp_top_free(t);
	}
out:
	free(err);
	free(buf);
	mp_pprof_builder_free(bld);
	mp_profile_free(a);
	mp_profile_free(b);
	mp_profile_free(d);
	mp_profile_free(view);
	return 0;
}
