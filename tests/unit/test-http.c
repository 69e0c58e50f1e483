/* SPDX-License-Identifier: MIT */
/* The live endpoint's HTTP request parser and query parser (cli/http.h). */
#include <string.h>

#include "cli/http.h"
#include "tap.h"

static int parse(const char *s, struct mp_http_req *req)
{
	return mp_http_parse(s, strlen(s), req);
}

static void test_requests(void)
{
	static const struct {
		const char *text;
		int want;               /* head length, 0 incomplete, -status */
	} cases[] = {
		{ "GET /debug/pprof/heap HTTP/1.1\r\nHost: x\r\n\r\n", 43 },
		{ "GET / HTTP/1.0\n\n", 16 },
		{ "\r\nGET / HTTP/1.1\r\n\r\n", 20 },
		{ "GET / HTTP/1.1\r\nHost: x\r\n", 0 },
		{ "GET / HTTP/1.1", 0 },
		{ "", 0 },
		{ "\r\n", 0 },
		{ "POST / HTTP/1.1\r\n\r\n", 19 },
		{ "GET / HTTP/2.0\r\n\r\n", -505 },
		{ "GET / HTTP/1.2\r\n\r\n", -505 },
		{ "GET / HTTP/1.1 \r\n\r\n", -400 },
		{ "GET  / HTTP/1.1\r\n\r\n", -400 },
		{ "GET x HTTP/1.1\r\n\r\n", -400 },
		{ "G(T / HTTP/1.1\r\n\r\n", -400 },
		{ "GET / HTTP/1.1\r\n folded\r\n\r\n", -400 },
		{ "GET / HTTP/1.1\r\nNoColon\r\n\r\n", -400 },
		{ "GET / HTTP/1.1\r\nX: a\x01\r\n\r\n", -400 },
		{ "GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 37 },
		{ "GET / HTTP/1.1\r\ncontent-length: 1\r\n\r\n", -413 },
		{ "GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n", -400 },
		{ "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", -413 },
	};
	struct mp_http_req req;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECK_INT(parse(cases[i].text, &req), cases[i].want);

	CHECK_INT(parse("HEAD /debug/pprof/heap?seconds=5&gc=1 HTTP/1.1\r\n\r\n", &req), 50);
	CHECK_INT(req.method, MP_HTTP_HEAD);
	CHECK_INT((int)req.path_len, 17);
	CHECK(memcmp(req.path, "/debug/pprof/heap", 17) == 0);
	CHECK_INT((int)req.query_len, 14);
	CHECK(memcmp(req.query, "seconds=5&gc=1", 14) == 0);
	CHECK_INT(req.minor, 1);
	CHECK_INT(parse("DELETE /x HTTP/1.0\r\n\r\n", &req), 22);
	CHECK_INT(req.method, MP_HTTP_OTHER);
	CHECK(req.query == NULL);

	/* Size limits: an 8 KiB head without its end; a long target. */
	static char big[MP_HTTP_HEAD_MAX + 16];
	memset(big, 'a', sizeof(big));
	memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
	CHECK_INT(mp_http_parse(big, sizeof(big), &req), -431);
	CHECK_INT(mp_http_parse(big, 100, &req), 0);
	memset(big, 'a', sizeof(big));
	memcpy(big, "GET /", 5);
	memcpy(big + 5 + MP_HTTP_HEAD_MAX / 2, " HTTP/1.1\r\n\r\n", 13);
	CHECK_INT(mp_http_parse(big, 5 + MP_HTTP_HEAD_MAX / 2 + 13, &req), -414);
	/* A NUL byte in the head. */
	CHECK_INT(mp_http_parse("GET /\0 HTTP/1.1\r\n\r\n", 20, &req), -400);
}

static void test_query(void)
{
	struct mp_http_query q;

	CHECK_INT(mp_http_parse_query("debug=1&gc=1&seconds=30&pid=77&x=y&&z", 37, &q), 0);
	CHECK(q.has_debug && q.debug == 1 && q.has_gc && q.gc == 1);
	CHECK(q.has_seconds && q.seconds == 30 && q.has_pid && q.pid == 77);
	CHECK_INT(mp_http_parse_query("", 0, &q), 0);
	CHECK(!q.has_debug && !q.has_seconds);
	CHECK_INT(mp_http_parse_query("seconds=", 8, &q), -400);
	CHECK_INT(mp_http_parse_query("seconds=-1", 10, &q), -400);
	CHECK_INT(mp_http_parse_query("pid=4294967296", 14, &q), -400);
	CHECK_INT(mp_http_parse_query("pid=4294967295", 14, &q), 0);
	CHECK_INT(mp_http_parse_query("debug", 5, &q), -400);
	CHECK_INT(mp_http_parse_query("debugx=abc", 10, &q), 0);
	CHECK(!strcmp(mp_http_reason(404), "Not Found") && !strcmp(mp_http_reason(599), "Unknown"));
}

int main(void)
{
	test_requests();
	test_query();
	return tap_done();
}
