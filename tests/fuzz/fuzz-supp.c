/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the suppressions parser (`memprof run
 * --suppressions FILE`): any bytes go through mp_supp_parse; what parses is
 * applied to a fixed leak report; every line of the input is also used as a
 * match pattern against fixed names.  Built as a libFuzzer binary with
 * -Dfuzz=enabled (clang), and always as a replay test over corpus/supp/.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert/leaks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what)
{
	fprintf(stderr, "fuzz-supp: %s\n", what);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mp_supp *s = NULL;
	char *err = NULL;
	int r = mp_supp_parse((const char *)data, size, &s, &err);
	if (r == 0) {
		struct mp_leak_frame frames[2] = {
			{ .function = (char *)"lose_one", .file = (char *)"src/a.c", .line = 3,
			  .object = (char *)"prog" },
			{ .function = (char *)"main", .file = NULL, .line = 0, .object = NULL },
		};
		struct mp_leak leaks[2] = {
			{ .kind = MP_LEAKKIND_HEAP, .category = 1, .bytes = 10, .count = 1,
			  .frames = frames, .nframes = 2 },
			{ .kind = MP_LEAKKIND_FD, .category = 0, .bytes = 0, .count = 1,
			  .frames = frames + 1, .nframes = 1 },
		};
		struct mp_leak_report rep = { .pid = 1, .leaks = leaks, .nleaks = 2 };
		mp_supp_apply(s, &rep);
		mp_supp_free(s);
	} else if (r != -EINVAL && r != -ENOMEM) {
		fail("unexpected error");
	} else if (r == -EINVAL && !err) {
		fail("no reason given");
	}
	free(err);

	/* Every line as a raw pattern. */
	char *copy = malloc(size + 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = 0;
	for (char *line = copy, *next; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		(void)mp_supp_match(line, "std::vector<int>::_M_realloc_insert");
		(void)mp_supp_match(line, "");
		if (!strpbrk(line, "*^$") && !mp_supp_match(line, line))
			fail("a pattern without wildcards does not match itself");
	}
	free(copy);
	return 0;
}
