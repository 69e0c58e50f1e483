/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the suppressions parser (`memprof run
 * --suppressions FILE`): any bytes go through mp_supp_parse; what parses is
 * applied to a fixed leak report; every line of the input is also used as a
 * match pattern against fixed names and the input itself, and must give
 * what a reference matcher (dynamic programming, no backtracking) gives.  Built as a libFuzzer binary with
 * -Dfuzz=enabled (clang), and always as a replay test over corpus/supp/.
 */
#include <errno.h>
#include <stdbool.h>
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

/* The pattern language of mp_supp_match by dynamic programming over
 * (pattern, text) positions: slow but obviously right, never exponential. */
static bool ref_match(const char *pattern, const char *text)
{
	size_t pn = strlen(pattern), tn = strlen(text);
	bool start = pn > 0 && pattern[0] == '^';
	bool end = pn > (size_t)start && pattern[pn - 1] == '$';
	const char *p = pattern + start;
	size_t n = pn - start - end;
	bool *row = calloc(tn + 1, sizeof(*row)), *next = calloc(tn + 1, sizeof(*next));
	bool r = false;

	if (!row || !next)
		abort();
	for (size_t j = 0; j <= tn; j++)
		row[j] = start ? j == 0 : true;
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j <= tn; j++)
			next[j] = p[i] == '*' ? row[j] || (j > 0 && next[j - 1])
					      : j > 0 && row[j - 1] && text[j - 1] == p[i];
		bool *t = row;
		row = next;
		next = t;
	}
	for (size_t j = 0; j <= tn; j++)
		r = r || (row[j] && (!end || j == tn));
	free(row);
	free(next);
	return r;
}

static void check_match(const char *pattern, const char *text)
{
	if (mp_supp_match(pattern, text) != ref_match(pattern, text)) {
		fprintf(stderr, "fuzz-supp: '%s' against '%s'\n", pattern, text);
		fail("mp_supp_match differs from the reference");
	}
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
			{ .kind = MP_PROFILE_HEAP, .category = 1, .bytes = 10, .count = 1,
			  .frames = frames, .nframes = 2 },
			{ .kind = MP_PROFILE_FDS, .category = 0, .bytes = 0, .count = 1,
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
		static const char *const names[] = {
			"std::vector<int>::_M_realloc_insert", "", "a", "aaaaaaaaaaaaaaaaaaaaaaaaa"
			"aaaaaaaaaaaaaaaaaaaaaaaaa", "libstdc++.so.6+0x9a7b9", "^$*",
		};
		for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++)
			check_match(line, names[k]);
		if (strlen(line) < 256) {
			check_match(line, line);
			/* the first line against every line: pattern and name both
			 * come from the input */
			check_match(copy, line);
		}
		if (!strpbrk(line, "*^$") && !mp_supp_match(line, line))
			fail("a pattern without wildcards does not match itself");
	}
	free(copy);
	return 0;
}
