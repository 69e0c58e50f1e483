/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the live endpoint's HTTP request parser (memprof run
 * --http; cli/http.h): any bytes go through mp_http_parse, which must
 * return a head length inside the input and below MP_HTTP_HEAD_MAX, 0, or
 * minus a status it has a reason for; a parsed head's path and query lie
 * inside it, the path starts with '/', and no prefix of the head is a
 * complete request (it comes whole or not at all, whatever the reads
 * deliver); the query goes through mp_http_parse_query.  Built as a
 * libFuzzer binary with -Dfuzz=enabled (clang), and always as a replay
 * test over corpus/http/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what)
{
	fprintf(stderr, "fuzz-http: %s\n", what);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy of exactly `size` bytes: ASan sees any read past it. */
	char *buf = malloc(size ? size : 1);
	struct mp_http_req req;
	struct mp_http_query q;
	int r;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	r = mp_http_parse(buf, size, &req);
	if (r < 0) {
		if (strcmp(mp_http_reason(-r), "Unknown") == 0)
			fail("a status without a reason");
	} else if (r > 0) {
		size_t n = (size_t)r;
		if (n > size || n > MP_HTTP_HEAD_MAX)
			fail("head length outside the input");
		if (req.path < buf || req.path + req.path_len > buf + n || !req.path_len ||
		    req.path[0] != '/')
			fail("path outside the head, or not starting with '/'");
		if (req.query && (req.query < buf || req.query + req.query_len > buf + n))
			fail("query outside the head");
		if (req.method < MP_HTTP_GET || req.method > MP_HTTP_OTHER || req.minor < 0 ||
		    req.minor > 1)
			fail("bad method or version");
		if (mp_http_parse_query(req.query ? req.query : "", req.query_len, &q) == 0 &&
		    ((q.has_seconds && q.seconds > UINT32_MAX) || (q.has_pid && q.pid > UINT32_MAX)))
			fail("query number out of range");
		/* Every shorter prefix is incomplete (or an error seen early). */
		size_t cuts[] = { n - 1, n / 2, 1 };
		for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
			struct mp_http_req part;
			if (cuts[i] < n && mp_http_parse(buf, cuts[i], &part) > 0)
				fail("a prefix of the head parsed as a whole request");
		}
		/* The head alone parses the same. */
		struct mp_http_req again;
		if (mp_http_parse(buf, n, &again) != r || again.path != req.path ||
		    again.path_len != req.path_len)
			fail("the head alone parses differently");
	}
	mp_http_parse_query(buf, size, &q);
	free(buf);
	return 0;
}
