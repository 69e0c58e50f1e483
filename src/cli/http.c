/* SPDX-License-Identifier: MIT */
/*
 * The live endpoint's HTTP request parser (see http.h).  RFC 9112's grammar,
 * narrowed to what the endpoint serves: no body, no folded headers, no
 * absolute-form targets.
 */
#include <string.h>
#include <strings.h>

#include "cli/http.h"

/* RFC 9110's tchar: the characters of a method or a header name. */
static bool tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* The length of the head (through its empty line), 0 when there is none in
 * buf[0..len). */
static size_t head_end(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (i + 1 < len && buf[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/* One line of buf[*pos..end): its start and length without CR LF; the
 * position moves past it.  Every line of a head found by head_end ends in
 * LF. */
static const char *next_line(const char *buf, size_t end, size_t *pos, size_t *ret_len)
{
	const char *s = buf + *pos;
	const char *nl = memchr(s, '\n', end - *pos);
	size_t n = (size_t)(nl - s);

	*pos += n + 1;
	if (n && s[n - 1] == '\r')
		n--;
	*ret_len = n;
	return s;
}

static bool ieq(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && strncasecmp(s, lit, n) == 0;
}

static int parse_request_line(const char *s, size_t n, struct mp_http_req *ret)
{
	size_t i = 0, m;

	while (i < n && tchar((unsigned char)s[i]))
		i++;
	if (i == 0 || i >= n || s[i] != ' ')
		return -400;
	if (i == 3 && memcmp(s, "GET", 3) == 0)
		ret->method = MP_HTTP_GET;
	else if (i == 4 && memcmp(s, "HEAD", 4) == 0)
		ret->method = MP_HTTP_HEAD;
	else
		ret->method = MP_HTTP_OTHER;
	m = ++i;
	while (i < n && (unsigned char)s[i] > 0x20 && (unsigned char)s[i] < 0x7f)
		i++;
	if (i == m || i >= n || s[i] != ' ')
		return -400;
	if (s[m] != '/')
		return -400;
	if (i - m > MP_HTTP_HEAD_MAX / 2)
		return -414;
	ret->path = s + m;
	ret->path_len = i - m;
	ret->query = NULL;
	ret->query_len = 0;
	const char *q = memchr(ret->path, '?', ret->path_len);
	if (q) {
		ret->query = q + 1;
		ret->query_len = (size_t)(ret->path + ret->path_len - q - 1);
		ret->path_len = (size_t)(q - ret->path);
	}
	i++;
	/* "HTTP/" DIGIT "." DIGIT, and nothing after it. */
	if (n - i != 8 || memcmp(s + i, "HTTP/", 5) != 0 || s[i + 6] != '.' ||
	    s[i + 5] < '0' || s[i + 5] > '9' || s[i + 7] < '0' || s[i + 7] > '9')
		return -400;
	if (s[i + 5] != '1' || s[i + 7] > '1')
		return -505;
	ret->minor = s[i + 7] - '0';
	return 0;
}

static int parse_header(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && tchar((unsigned char)s[i]))
		i++;
	if (i == 0 || i >= n || s[i] != ':')
		return -400;   /* also a folded line (starts with a space) */
	size_t name_len = i++;
	for (size_t j = i; j < n; j++) {
		unsigned char c = (unsigned char)s[j];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return -400;
	}
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	while (n > i && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (ieq(s, name_len, "Transfer-Encoding"))
		return -413;
	if (ieq(s, name_len, "Content-Length")) {
		bool nonzero = false;
		if (i == n)
			return -400;
		for (; i < n; i++) {
			if (s[i] < '0' || s[i] > '9')
				return -400;
			nonzero |= s[i] != '0';
		}
		if (nonzero)
			return -413;
	}
	return 0;
}

int mp_http_parse(const char *buf, size_t len, struct mp_http_req *ret)
{
	struct mp_http_req req;
	size_t end, pos = 0, n;
	const char *line;
	int r;

	if (len > MP_HTTP_HEAD_MAX)
		len = MP_HTTP_HEAD_MAX;
	/* A server SHOULD ignore empty lines before the request line. */
	while (pos < len && (buf[pos] == '\n' || (buf[pos] == '\r' && pos + 1 < len &&
						  buf[pos + 1] == '\n')))
		pos += buf[pos] == '\r' ? 2 : 1;
	end = head_end(buf + pos, len - pos);
	if (!end)
		return len >= MP_HTTP_HEAD_MAX ? -431 : 0;
	end += pos;
	if (memchr(buf, 0, end))
		return -400;
	memset(&req, 0, sizeof(req));
	line = next_line(buf, end, &pos, &n);
	r = parse_request_line(line, n, &req);
	if (r < 0)
		return r;
	for (;;) {
		line = next_line(buf, end, &pos, &n);
		if (n == 0)
			break;
		r = parse_header(line, n);
		if (r < 0)
			return r;
	}
	*ret = req;
	return (int)pos;
}

/* A decimal number below 2^32 filling s[0..n). */
static bool parse_num(const char *s, size_t n, uint64_t *ret)
{
	uint64_t v = 0;

	if (n == 0 || n > 10)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > UINT32_MAX)
		return false;
	*ret = v;
	return true;
}

int mp_http_parse_query(const char *q, size_t len, struct mp_http_query *ret)
{
	struct mp_http_query out;
	size_t i = 0;

	memset(&out, 0, sizeof(out));
	while (i < len) {
		const char *item = q + i;
		const char *amp = memchr(item, '&', len - i);
		size_t n = amp ? (size_t)(amp - item) : len - i;
		const char *eq = memchr(item, '=', n);
		size_t klen = eq ? (size_t)(eq - item) : n;
		const char *v = eq ? eq + 1 : item + n;
		size_t vlen = (size_t)(item + n - v);
		uint64_t *dst = NULL;
		bool *has = NULL;

		i += n + 1;
		if (klen == 5 && memcmp(item, "debug", 5) == 0)
			dst = &out.debug, has = &out.has_debug;
		else if (klen == 2 && memcmp(item, "gc", 2) == 0)
			dst = &out.gc, has = &out.has_gc;
		else if (klen == 7 && memcmp(item, "seconds", 7) == 0)
			dst = &out.seconds, has = &out.has_seconds;
		else if (klen == 3 && memcmp(item, "pid", 3) == 0)
			dst = &out.pid, has = &out.has_pid;
		if (!dst)
			continue;
		if (!parse_num(v, vlen, dst))
			return -400;
		*has = true;
	}
	*ret = out;
	return 0;
}

const char *mp_http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 301: return "Moved Permanently";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}
