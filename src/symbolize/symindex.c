/* SPDX-License-Identifier: MIT */
/*
 * The symbol address index (see symindex.h).
 *
 * Build: the addresses where the answer can change are the starts and ends
 * of sized symbols, labels, the address after an absolute label and the end
 * of a label's section.  Sweeping them in order, the sized symbols that hold
 * the current address are those started and not yet ended: two max-heaps
 * (global/weak, local) ordered by the preference of symindex.h, whose
 * expired tops are dropped as the sweep passes their ends (an expired entry
 * below the top does no harm until it surfaces).  The last label seen, and
 * the largest end of the sized symbols started so far, decide the labels.
 * Each stretch [boundary, next boundary) gets its winner; neighbours with
 * the same winner merge.  Lookup: the last stretch starting at or below the
 * address.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "symbolize/symindex.h"

#define NONE UINT32_MAX

struct mp_symindex {
	uint64_t *start;            /* stretch starts, ascending */
	uint32_t *sym;              /* winner of each stretch, NONE for none */
	size_t n;
};

struct heap {
	uint32_t *v;
	size_t n;
};

static uint64_t end_of(const struct mp_rawsym *s)
{
	return s->size > UINT64_MAX - s->value ? UINT64_MAX : s->value + s->size;
}

/* Whether sized symbol x names an address both hold in preference to y
 * (the position in syms[] breaks the ties a table with duplicate entries
 * leaves). */
static bool better(const struct mp_rawsym *syms, uint32_t x, uint32_t y)
{
	const struct mp_rawsym *a = &syms[x], *b = &syms[y];

	if (a->value != b->value)
		return a->value > b->value;
	if (a->bind != b->bind)
		return a->bind > b->bind;
	if (a->size != b->size)
		return a->size < b->size;
	if (a->order != b->order)
		return a->order < b->order;
	return x < y;
}

/* Whether label x is preferred to label y (both at or below an address). */
static bool label_better(const struct mp_rawsym *syms, uint32_t x, uint32_t y)
{
	const struct mp_rawsym *a = &syms[x], *b = &syms[y];

	if (a->value != b->value)
		return a->value > b->value;
	if (a->bind != b->bind)
		return a->bind > b->bind;
	if (a->order != b->order)
		return a->order < b->order;
	return x < y;
}

static void heap_push(struct heap *h, const struct mp_rawsym *syms, uint32_t x)
{
	size_t i = h->n++;

	while (i > 0) {
		size_t p = (i - 1) / 2;

		if (!better(syms, x, h->v[p]))
			break;
		h->v[i] = h->v[p];
		i = p;
	}
	h->v[i] = x;
}

static void heap_pop(struct heap *h, const struct mp_rawsym *syms)
{
	uint32_t x = h->v[--h->n];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= h->n)
			break;
		if (c + 1 < h->n && better(syms, h->v[c + 1], h->v[c]))
			c++;
		if (!better(syms, h->v[c], x))
			break;
		h->v[i] = h->v[c];
		i = c;
	}
	if (h->n)
		h->v[i] = x;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* qsort has no context argument: the symbols being sorted. */
static __thread const struct mp_rawsym *sort_syms;

static int cmp_by_value(const void *a, const void *b)
{
	const struct mp_rawsym *x = &sort_syms[*(const uint32_t *)a];
	const struct mp_rawsym *y = &sort_syms[*(const uint32_t *)b];

	return (x->value > y->value) - (x->value < y->value);
}

int mp_symindex_build(const struct mp_rawsym *syms, size_t n, struct mp_symindex **ret)
{
	struct mp_symindex *ix = calloc(1, sizeof(*ix));
	uint64_t *bounds = NULL, maxend = 0;
	uint32_t *byval = NULL, label = NONE;
	struct heap heap[2] = { { 0 }, { 0 } };
	size_t nb = 0, p = 0;
	int r = -ENOMEM;

	if (!ix || n >= UINT32_MAX)
		goto fail;
	bounds = malloc((3 * n + 1) * sizeof(*bounds));   /* at most 3 per symbol */
	byval = malloc((n + 1) * sizeof(*byval));
	heap[0].v = malloc((n + 1) * sizeof(uint32_t));
	heap[1].v = malloc((n + 1) * sizeof(uint32_t));
	if (!bounds || !byval || !heap[0].v || !heap[1].v)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		const struct mp_rawsym *s = &syms[i];

		byval[i] = (uint32_t)i;
		bounds[nb++] = s->value;
		if (s->size) {
			bounds[nb++] = end_of(s);
		} else if (s->absolute) {
			if (s->value < UINT64_MAX)
				bounds[nb++] = s->value + 1;
		} else {
			/* Where its section starts or ends it may start or stop
			 * naming addresses (untrusted: either side of value). */
			bounds[nb++] = s->sec_lo;
			bounds[nb++] = s->sec_hi;
		}
	}
	qsort(bounds, nb, sizeof(*bounds), cmp_u64);
	{
		size_t u = 0;

		for (size_t i = 0; i < nb; i++)
			if (u == 0 || bounds[i] != bounds[u - 1])
				bounds[u++] = bounds[i];
		nb = u;
	}
	sort_syms = syms;
	qsort(byval, n, sizeof(*byval), cmp_by_value);
	sort_syms = NULL;

	/* At most one stretch per boundary: the arrays are sized up front. */
	ix->start = malloc((nb ? nb : 1) * sizeof(*ix->start));
	ix->sym = malloc((nb ? nb : 1) * sizeof(*ix->sym));
	if (!ix->start || !ix->sym)
		goto fail;
	for (size_t k = 0; k < nb; k++) {
		uint64_t b = bounds[k];
		uint32_t win = NONE;

		for (; p < n && syms[byval[p]].value <= b; p++) {
			uint32_t x = byval[p];
			const struct mp_rawsym *s = &syms[x];

			if (s->size) {
				heap_push(&heap[s->bind == MP_SYMBIND_LOCAL], syms, x);
				if (end_of(s) > maxend)
					maxend = end_of(s);
			} else if (label == NONE || label_better(syms, x, label)) {
				label = x;
			}
		}
		for (int h = 0; h < 2 && win == NONE; h++) {
			while (heap[h].n && end_of(&syms[heap[h].v[0]]) <= b)
				heap_pop(&heap[h], syms);
			if (heap[h].n)
				win = heap[h].v[0];
		}
		if (win == NONE && label != NONE) {
			const struct mp_rawsym *l = &syms[label];

			if (l->value >= maxend &&
			    (l->absolute ? b == l->value : (b >= l->sec_lo && b < l->sec_hi)))
				win = label;
		}
		if (ix->n && ix->sym[ix->n - 1] == win)
			continue;
		ix->start[ix->n] = b;
		ix->sym[ix->n] = win;
		ix->n++;
	}
	free(bounds);
	free(byval);
	free(heap[0].v);
	free(heap[1].v);
	*ret = ix;
	return 0;
fail:
	free(bounds);
	free(byval);
	free(heap[0].v);
	free(heap[1].v);
	mp_symindex_free(ix);
	return r;
}

void mp_symindex_free(struct mp_symindex *ix)
{
	if (!ix)
		return;
	free(ix->start);
	free(ix->sym);
	free(ix);
}

int64_t mp_symindex_lookup(const struct mp_symindex *ix, uint64_t addr)
{
	size_t lo = 0, hi = ix->n;

	while (lo < hi) {               /* first stretch starting above addr */
		size_t mid = lo + (hi - lo) / 2;

		if (ix->start[mid] <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || ix->sym[lo - 1] == NONE)
		return -1;
	return ix->sym[lo - 1];
}

size_t mp_symindex_bytes(const struct mp_symindex *ix)
{
	return ix->n * (sizeof(*ix->start) + sizeof(*ix->sym));
}
