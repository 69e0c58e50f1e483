/* SPDX-License-Identifier: MIT */
/*
 * Code unloaded before the snapshot (MP_SNAP_UNLOADED, common/snapshot.h):
 * its records parsed, then folded into the snapshot's maps text and stacks
 * so that every reader of a parsed snapshot (the converter, the leak
 * report, anything that symbolizes from mp_snap.maps) names the functions
 * of unloaded libraries without knowing about them.  CLI only.
 *
 * The maps text grows by the records' lines.  Most records describe a range
 * nothing else occupies, or the same file at the same place (a plugin
 * loaded again): their lines are appended as they are ("layer 0"), and a
 * symbolizer, which keeps the first of overlapping mappings, finds them.
 * A record whose executable range was later taken by other code (another
 * file, or another load bias) conflicts with what is there; it goes to the
 * first layer k >= 1 where it conflicts with nothing, and its lines, and
 * the addresses in the stacks that are its (those of stacks 1..last_stack
 * with no record of a smaller last_stack >= the stack's id covering them),
 * move up by k * 2^57, above any user-space address (2^56 with five-level
 * page tables).  Such frames show in profiles at that address, in a
 * mapping of the library at the same place; their names and lines are the
 * library's.  At most MAX_LAYERS - 1 conflicting layers: records beyond
 * keep no names.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/grow.h"
#include "common/snapshot-read.h"

#define MAX_LAYERS 128
#define LAYER_SHIFT 57

/* One line of maps text, parsed as far as conflicts need. */
struct line {
	uint64_t start, end, offset, inode;
	uint32_t major, minor;
	bool exec;
	const char *path;          /* to the end of the line */
	size_t path_len;
	const char *text;          /* the whole line, without its newline */
	size_t text_len;
};

static bool hex(const char **p, const char *end, uint64_t *ret)
{
	uint64_t v = 0;
	const char *s = *p;
	for (; *p < end; (*p)++) {
		char c = **p;
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (d < 0)
			break;
		if (v >> 60)
			return false;
		v = v * 16 + (uint64_t)d;
	}
	*ret = v;
	return *p > s;
}

static bool dec(const char **p, const char *end, uint64_t *ret)
{
	uint64_t v = 0;
	const char *s = *p;
	for (; *p < end && **p >= '0' && **p <= '9'; (*p)++) {
		if (v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(**p - '0');
	}
	*ret = v;
	return *p > s;
}

static bool skip_blanks(const char **p, const char *end)
{
	const char *s = *p;
	while (*p < end && (**p == ' ' || **p == '\t'))
		(*p)++;
	return *p > s;
}

/* "start-end perms offset major:minor inode [path]" (proc(5)). */
static bool parse_line(const char *text, size_t len, struct line *l)
{
	const char *p = text, *end = text + len;
	uint64_t maj, min;
	memset(l, 0, sizeof(*l));
	l->text = text;
	l->text_len = len;
	if (!hex(&p, end, &l->start) || p == end || *p++ != '-' || !hex(&p, end, &l->end) ||
	    l->start >= l->end || !skip_blanks(&p, end) || end - p < 4)
		return false;
	l->exec = p[2] == 'x';
	p += 4;
	if (!skip_blanks(&p, end) || !hex(&p, end, &l->offset) || !skip_blanks(&p, end) ||
	    !hex(&p, end, &maj) || p == end || *p++ != ':' || !hex(&p, end, &min) ||
	    maj > UINT32_MAX || min > UINT32_MAX || !skip_blanks(&p, end) ||
	    !dec(&p, end, &l->inode))
		return false;
	l->major = (uint32_t)maj;
	l->minor = (uint32_t)min;
	skip_blanks(&p, end);
	l->path = p;
	l->path_len = (size_t)(end - p);
	return true;
}

/* The lines of `text` that parse, in a malloc'd array. */
static int parse_lines(const char *text, size_t len, struct line **ret, size_t *ret_n)
{
	struct line *v = NULL;
	size_t n = 0, cap = 0;
	for (const char *p = text, *end = text + len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		struct line l;
		if (parse_line(p, (size_t)(le - p), &l)) {
			if (MP_GROW(v, n + 1, cap) < 0) {
				free(v);
				return -ENOMEM;
			}
			v[n++] = l;
		}
		p = nl ? nl + 1 : end;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

/* Two executable lines that overlap and would not name an address alike:
 * another file, or the same file at another load bias. */
static bool conflict(const struct line *a, const struct line *b)
{
	if (a->start >= b->end || b->start >= a->end)
		return false;
	return a->inode != b->inode || a->major != b->major || a->minor != b->minor ||
	       a->path_len != b->path_len || memcmp(a->path, b->path, a->path_len) != 0 ||
	       a->start - a->offset != b->start - b->offset;
}

struct layer {
	struct line *lines;        /* executable lines placed on it */
	size_t n, cap;
};

static bool fits(const struct layer *ly, const struct line *lines, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (lines[i].exec)
			for (size_t j = 0; j < ly->n; j++)
				if (conflict(&lines[i], &ly->lines[j]))
					return false;
	return true;
}

static int place(struct layer *ly, const struct line *lines, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!lines[i].exec)
			continue;
		bool same = false;   /* a plugin loaded again: once is enough */
		for (size_t j = 0; j < ly->n && !same; j++)
			same = lines[i].start == ly->lines[j].start && lines[i].end == ly->lines[j].end &&
			       !conflict(&lines[i], &ly->lines[j]);
		if (same)
			continue;
		if (MP_GROW(ly->lines, ly->n + 1, ly->cap) < 0)
			return -ENOMEM;
		ly->lines[ly->n++] = lines[i];
	}
	return 0;
}

/* An executable range of a record, for moving stack addresses. */
struct range {
	uint64_t start, end;
	uint32_t last_stack;
	int layer;
};

static int append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
	if (n >= SIZE_MAX - *len || MP_GROW(*buf, *len + n + 1, *cap) < 0)
		return -ENOMEM;
	memcpy(*buf + *len, s, n);
	*len += n;
	(*buf)[*len] = 0;
	return 0;
}

/* Line l as text, moved up by `shift`. */
static int append_line(char **buf, size_t *len, size_t *cap, const struct line *l, uint64_t shift)
{
	if (!shift) {
		int r = append(buf, len, cap, l->text, l->text_len);
		return r < 0 ? r : append(buf, len, cap, "\n", 1);
	}
	/* The range, then the rest of the line as it was. */
	const char *rest = memchr(l->text, ' ', l->text_len);
	char head[48];
	int n = snprintf(head, sizeof(head), "%llx-%llx", (unsigned long long)(l->start + shift),
			 (unsigned long long)(l->end + shift));
	int r = append(buf, len, cap, head, (size_t)n);
	if (r == 0 && rest)
		r = append(buf, len, cap, rest, l->text_len - (size_t)(rest - l->text));
	return r < 0 ? r : append(buf, len, cap, "\n", 1);
}

int mp_snap_fold_unloaded(struct mp_snap *s)
{
	struct layer layers[MAX_LAYERS];
	struct line *final = NULL, *lines = NULL;
	size_t nfinal = 0, nlines = 0;
	struct range *ranges = NULL;
	size_t nranges = 0, cap_ranges = 0;
	char *text = NULL;
	size_t len = 0, cap = 0;
	bool moved = false;
	int r;

	if (!s->nunloaded)
		return 0;
	memset(layers, 0, sizeof(layers));
	r = parse_lines(s->maps, s->maps_len, &final, &nfinal);
	if (r == 0)
		r = place(&layers[0], final, nfinal);
	if (r == 0)
		r = append(&text, &len, &cap, s->maps, s->maps_len);
	if (r == 0 && len && text[len - 1] != '\n')
		r = append(&text, &len, &cap, "\n", 1);
	for (size_t i = 0; i < s->nunloaded && r == 0; i++) {
		struct mp_snap_unloaded *u = &s->unloaded[i];
		free(lines);
		lines = NULL;
		r = parse_lines(u->text, u->text_len, &lines, &nlines);
		if (r < 0)
			break;
		bool low = true;
		for (size_t j = 0; j < nlines; j++)
			low = low && lines[j].end <= (uint64_t)1 << LAYER_SHIFT;
		int k = 0;
		while (k < MAX_LAYERS && !fits(&layers[k], lines, nlines))
			k++;
		if (k == MAX_LAYERS || (k > 0 && !low)) {
			u->layer = -1;   /* no room: its frames keep no names */
			continue;
		}
		u->layer = k;
		moved = moved || k > 0;
		r = place(&layers[k], lines, nlines);
		for (size_t j = 0; j < nlines && r == 0; j++) {
			r = append_line(&text, &len, &cap, &lines[j], (uint64_t)k << LAYER_SHIFT);
			if (r == 0 && lines[j].exec) {
				if (MP_GROW(ranges, nranges + 1, cap_ranges) < 0) {
					r = -ENOMEM;
					break;
				}
				ranges[nranges++] = (struct range){ lines[j].start, lines[j].end,
								    u->last_stack, k };
			}
		}
	}
	/* Addresses of code that conflicts with what came later: to its layer.
	 * A stack's address is the record's of the smallest last_stack at or
	 * above the stack's id covering it (snapshot.h).  Only addresses in a
	 * moved range need the search. */
	uint64_t lo = UINT64_MAX, hi = 0;
	for (size_t q = 0; q < nranges; q++)
		if (ranges[q].layer > 0) {
			lo = ranges[q].start < lo ? ranges[q].start : lo;
			hi = ranges[q].end > hi ? ranges[q].end : hi;
		}
	for (uint32_t id = 1; moved && r == 0 && id <= s->nstacks; id++) {
		struct mp_snap_stack *st = &s->stacks[id - 1];
		uint64_t *pcs = (uint64_t *)st->pcs;
		for (uint32_t j = 0; j < st->depth; j++) {
			uint64_t a = pcs[j] - 1;
			const struct range *best = NULL;
			if (!pcs[j] || a < lo || a >= hi)
				continue;
			for (size_t q = 0; q < nranges; q++) {
				const struct range *g = &ranges[q];
				if (a - g->start < g->end - g->start && g->last_stack >= id &&
				    (!best || g->last_stack < best->last_stack))
					best = g;
			}
			if (best && best->layer > 0)
				pcs[j] += (uint64_t)best->layer << LAYER_SHIFT;
		}
	}
	if (r == 0) {
		free(s->maps);
		s->maps = text;
		s->maps_len = len;
		text = NULL;
	}
	free(text);
	free(ranges);
	free(lines);
	free(final);
	for (int k = 0; k < MAX_LAYERS; k++)
		free(layers[k].lines);
	return r;
}
