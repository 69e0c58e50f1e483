/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the reader of a dead process's shared tables
 * (common/shm-read.h), which `memprof run` feeds with whatever the program
 * left in its memory: the first sizeof(struct mp_shm_meta) bytes are the
 * directory, the rest is every other table (the directory's offsets, sizes,
 * sequence counts and torn ranges say where each one's records are).  What
 * mp_shm_build accepts must parse (mp_snap_parse) with its death section
 * and the same count of torn records.  Built as a libFuzzer binary with
 * -Dfuzz=enabled (clang), and always as a replay test over corpus/shm/.
 *
 *   ninja -C B tests/fuzz/fuzz-shm
 *   mkdir new && B/tests/fuzz/fuzz-shm -max_len=16384 new tests/fuzz/corpus/shm
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/shm-read.h"
#include "common/snapshot-read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *why)
{
	fprintf(stderr, "fuzz-shm: %s: %s\n", what, why ? why : "");
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mp_shm_view views[MP_SHM_MAX_TABLES] = { { 0 } };
	size_t dir = sizeof(struct mp_shm_meta);
	uint8_t *buf = NULL;
	size_t len = 0;
	uint64_t torn = 0;
	char *err = NULL;
	struct mp_snap *s = NULL;

	/* A copy: the views are read as the CLI reads a memfd's mapping. */
	uint8_t *copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	views[0] = (struct mp_shm_view){ copy, size < dir ? size : dir };
	for (uint32_t i = 1; i < MP_SHM_MAX_TABLES && size > dir; i++)
		views[i] = (struct mp_shm_view){ copy + dir, size - dir };
	uint32_t sig = size ? data[size - 1] % 70 : 0;
	if (mp_shm_build(views, sig, 0, 123456789, &buf, &len, &torn, &err) == 0) {
		if (mp_snap_parse(buf, len, &s, &err) < 0)
			fail("built snapshot does not parse", err);
		if (!s->has_death || s->death.torn != torn)
			fail("death section", "missing or wrong torn count");
		mp_snap_free(s);
		free(buf);
	}
	free(err);
	free(copy);
	return 0;
}
