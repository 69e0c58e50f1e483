/* SPDX-License-Identifier: MIT */
/*
 * /proc/<pid>/maps text -> entries (see maps.h).  The format (proc(5)):
 *
 *   start-end perms offset major:minor inode [spaces pathname]
 *
 * with start, end, offset, major and minor in hex and inode in decimal.  The
 * pathname runs to the end of the line and may contain spaces; the kernel
 * appends " (deleted)" when the file was unlinked.  A newline in a file name
 * is written as "\012", so a line never spans two lines.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/grow.h"
#include "symbolize/maps.h"

struct cursor {
	const char *p, *end;    /* one line, without its newline */
};

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* At least one digit of base 16 or 10, no sign, no overflow. */
static bool number(struct cursor *c, unsigned base, uint64_t *ret)
{
	uint64_t v = 0;
	const char *start = c->p;

	for (; c->p < c->end; c->p++) {
		int d = base == 16 ? hexval(*c->p) : (*c->p >= '0' && *c->p <= '9' ? *c->p - '0' : -1);

		if (d < 0)
			break;
		if (v > (UINT64_MAX - (uint64_t)d) / base)
			return false;
		v = v * base + (uint64_t)d;
	}
	if (c->p == start)
		return false;
	*ret = v;
	return true;
}

static bool expect(struct cursor *c, char ch)
{
	if (c->p >= c->end || *c->p != ch)
		return false;
	c->p++;
	return true;
}

static bool spaces(struct cursor *c)
{
	const char *start = c->p;

	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
		c->p++;
	return c->p > start;
}

static bool parse_line(struct cursor *c, struct mp_maps_entry *e)
{
	static const char deleted[] = " (deleted)";
	uint64_t maj, min;
	size_t plen;

	memset(e, 0, sizeof(*e));
	if (!number(c, 16, &e->start) || !expect(c, '-') || !number(c, 16, &e->end) ||
	    !spaces(c) || e->start >= e->end)
		return false;
	if (c->end - c->p < 4)
		return false;
	for (int i = 0; i < 4; i++) {
		char ch = c->p[i];

		if (ch != 'r' && ch != 'w' && ch != 'x' && ch != 'p' && ch != 's' && ch != '-')
			return false;
		e->perms[i] = ch;
	}
	c->p += 4;
	if (!spaces(c) || !number(c, 16, &e->offset) || !spaces(c) ||
	    !number(c, 16, &maj) || !expect(c, ':') || !number(c, 16, &min) ||
	    maj > UINT32_MAX || min > UINT32_MAX || !spaces(c) || !number(c, 10, &e->inode))
		return false;
	e->dev_major = (uint32_t)maj;
	e->dev_minor = (uint32_t)min;
	if (c->p < c->end && !spaces(c))
		return false;
	plen = (size_t)(c->end - c->p);
	if (plen >= sizeof(deleted) - 1 &&
	    memcmp(c->end - (sizeof(deleted) - 1), deleted, sizeof(deleted) - 1) == 0) {
		e->deleted = true;
		plen -= sizeof(deleted) - 1;
	}
	e->path = strndup(c->p, plen);
	return true;
}

int mp_maps_parse(const char *text, size_t len, struct mp_maps_entry **ret, size_t *ret_n)
{
	struct mp_maps_entry *v = NULL;
	size_t n = 0, cap = 0;
	const char *p = text, *end = text + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		struct cursor c = { p, nl ? nl : end };
		struct mp_maps_entry e;

		p = nl ? nl + 1 : end;
		if (memchr(c.p, 0, (size_t)(c.end - c.p)))
			continue;
		if (!parse_line(&c, &e))
			continue;
		if (!e.path) {
			mp_maps_free(v, n);
			return -ENOMEM;
		}
		if (MP_GROW(v, n + 1, cap) < 0) {
			free(e.path);
			mp_maps_free(v, n);
			return -ENOMEM;
		}
		v[n++] = e;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

void mp_maps_free(struct mp_maps_entry *e, size_t n)
{
	if (!e)
		return;
	for (size_t i = 0; i < n; i++)
		free(e[i].path);
	free(e);
}
