/* SPDX-License-Identifier: MIT */
/*
 * The HTTP/1.x request parser of the live endpoint (memprof run --http,
 * cli/live.h).  Its input comes from anyone who can connect: it never
 * reads past the bytes given, never allocates, and refuses anything it
 * does not need with the status to answer.  What it takes: a request line
 * "METHOD SP /path[?query] SP HTTP/1.0|HTTP/1.1", header lines
 * "Name: value", an empty line (CRLF or bare LF line ends); no body.
 * CLI only; pure, for the fuzzer (tests/fuzz/fuzz-http.c).
 */
#ifndef MP_CLI_HTTP_H
#define MP_CLI_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest request head taken (request line and headers). */
#define MP_HTTP_HEAD_MAX 8192

enum mp_http_method {
	MP_HTTP_GET = 1,
	MP_HTTP_HEAD,
	MP_HTTP_OTHER,          /* a well-formed method we do not serve (405) */
};

/* The query parameters the endpoint knows (Go's net/http/pprof's). */
struct mp_http_query {
	bool has_debug, has_gc, has_seconds, has_pid;
	uint64_t debug;         /* ?debug=N: 0 pprof, N > 0 text */
	uint64_t gc;            /* ?gc=N: accepted, nothing to collect */
	uint64_t seconds;       /* ?seconds=N: a delta profile over N seconds */
	uint64_t pid;           /* ?pid=N: a process of the tree other than the program */
};

struct mp_http_req {
	enum mp_http_method method;
	const char *path;       /* into the buffer, not NUL-terminated */
	size_t path_len;
	const char *query;      /* after '?', or NULL */
	size_t query_len;
	int minor;              /* HTTP/1.<minor> */
};

/*
 * Parse the request head at buf[0..len).  Returns the bytes the head takes
 * (> 0) with *ret filled in; 0 when it is not complete yet (more bytes may
 * make it one; at MP_HTTP_HEAD_MAX bytes and still incomplete it is -431);
 * or minus the HTTP status to answer: 400 (malformed), 413 (a body:
 * Content-Length above 0 or Transfer-Encoding), 414 (target longer than
 * half MP_HTTP_HEAD_MAX), 431 (head too large), 505 (not HTTP/1.x).
 */
int mp_http_parse(const char *buf, size_t len, struct mp_http_req *ret);

/*
 * Parse a query string ("a=1&b=2", not decoded: the values we know are
 * numbers): known keys with decimal values below 2^32 into *ret (zeroed
 * first), unknown keys and empty items skipped.  0, or -400 for a known key
 * with a value that is not such a number.
 */
int mp_http_parse_query(const char *q, size_t len, struct mp_http_query *ret);

/* The reason phrase of a status code ("Not Found"); "Unknown" if unknown. */
const char *mp_http_reason(int status);

#endif
