/* SPDX-License-Identifier: MIT */
/*
 * pprof's profile.Merge for one profile (see merge.h).  Equality follows
 * pprof's keys: a mapping is (size rounded up to 4 KiB, offset, build id or
 * else file); a function is (start line, name, system name, file); a
 * location is (address relative to its mapping, mapping, lines, folded);
 * a sample is (locations, string labels, numeric labels with units).
 * Each key is encoded as bytes and interned; the first one met stands for
 * the others, as in pprof.
 */
#include "report/merge.h"
#include "common/grow.h"
#include "pprof/keymap.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct buf {
	uint8_t *p;
	size_t len, cap;
};

static int put(struct buf *b, const void *data, size_t len)
{
	if (len > SIZE_MAX - b->len || MP_GROW(b->p, b->len + len, b->cap) < 0)
		return -ENOMEM;
	if (len)
		memcpy(b->p + b->len, data, len);
	b->len += len;
	return 0;
}

static int put_str(struct buf *b, const char *s)
{
	return put(b, s, strlen(s) + 1);
}

static int put_u64(struct buf *b, uint64_t v)
{
	return put(b, &v, sizeof(v));
}

static bool all_zero(const int64_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] != 0)
			return false;
	return true;
}

struct label_ref {
	const Perftools__Profiles__Label *l;
	const char *key;
	bool num;
	size_t order;
};

static int cmp_labels(const void *a, const void *b)
{
	const struct label_ref *x = a, *y = b;
	int d;

	if (x->num != y->num)
		return x->num ? 1 : -1;
	d = strcmp(x->key, y->key);
	if (d)
		return d;
	return x->order < y->order ? -1 : x->order > y->order;
}

/*
 * Labels as pprof's decoder sees them: a label with a string value is a
 * string label; otherwise one with a number or a unit is numeric; others
 * vanish.  Encoded per key in key order, values in their order; numeric
 * keys carry their units list only when some value has a unit.
 */
static int put_labels(struct buf *b, const struct mp_profile *p, const Perftools__Profiles__Sample *s,
		      struct label_ref *refs)
{
	size_t n = 0;
	int r = 0;

	for (size_t j = 0; j < s->n_label; j++) {
		const Perftools__Profiles__Label *l = s->label[j];

		if (l->str == 0 && l->num == 0 && l->num_unit == 0)
			continue;
		refs[n++] = (struct label_ref){ .l = l, .key = mp_profile_str(p, l->key),
						.num = l->str == 0, .order = j };
	}
	qsort(refs, n, sizeof(*refs), cmp_labels);
	for (size_t i = 0; i < n && r == 0;) {
		size_t k = i;
		bool units = false;

		while (k < n && refs[k].num == refs[i].num && strcmp(refs[k].key, refs[i].key) == 0) {
			units |= refs[k].l->num_unit != 0;
			k++;
		}
		r = put(b, refs[i].num ? "N" : "S", 1);
		r = r ?: put_str(b, refs[i].key);
		r = r ?: put_u64(b, k - i);
		for (size_t m = i; m < k && r == 0; m++) {
			if (refs[m].num)
				r = put_u64(b, (uint64_t)refs[m].l->num);
			else
				r = put_str(b, mp_profile_str(p, refs[m].l->str));
		}
		if (refs[i].num) {
			r = r ?: put(b, units ? "u" : "-", 1);
			for (size_t m = i; units && m < k && r == 0; m++)
				r = put_str(b, refs[m].l->num_unit ? mp_profile_str(p, refs[m].l->num_unit) : "");
		}
		i = k;
	}
	return r;
}

int mp_merge(const struct mp_profile *p, struct mp_merged *ret)
{
	const Perftools__Profiles__Profile *msg = p->msg;
	struct mp_keymap mapkeys, fnkeys, lockeys, samplekeys;
	uint32_t *fn_canon = NULL, *loc_canon = NULL;
	bool *map_seen = NULL;
	struct label_ref *refs = NULL;
	struct buf b = { 0 };
	struct mp_merged m = { 0 };
	size_t nt = msg->n_sample_type, max_labels = 0;
	int r = -ENOMEM;

	mp_keymap_init(&mapkeys);
	mp_keymap_init(&fnkeys);
	mp_keymap_init(&lockeys);
	mp_keymap_init(&samplekeys);
	for (size_t i = 0; i < msg->n_sample; i++)
		if (msg->sample[i]->n_label > max_labels)
			max_labels = msg->sample[i]->n_label;

	m.map_canon = calloc(msg->n_mapping + 1, sizeof(*m.map_canon));
	map_seen = calloc(msg->n_mapping + 1, sizeof(*map_seen));
	fn_canon = calloc(msg->n_function + 1, sizeof(*fn_canon));
	loc_canon = calloc(msg->n_location + 1, sizeof(*loc_canon));
	m.first = calloc(msg->n_sample + 1, sizeof(*m.first));
	m.values = calloc(msg->n_sample * nt + 1, sizeof(*m.values));
	refs = calloc(max_labels + 1, sizeof(*refs));
	if (!m.map_canon || !map_seen || !fn_canon || !loc_canon || !m.first || !m.values || !refs)
		goto out;

	/* Mappings, in the order Merge meets them: mapping[0], then those of
	 * the non-zero samples' locations. */
	for (size_t i = 0; i < msg->n_mapping; i++)
		m.map_canon[i] = (uint32_t)i;
	for (size_t i = 0, k = 0; i <= msg->n_sample; i++) {
		const Perftools__Profiles__Sample *s = i ? msg->sample[i - 1] : NULL;
		size_t nloc = i ? s->n_location_id : 1;

		if (s && all_zero(s->value, s->n_value))
			continue;
		for (k = 0; k < nloc; k++) {
			const Perftools__Profiles__Mapping *mp;
			const char *id;
			int64_t mi;
			uint64_t size;

			if (!s) {
				if (msg->n_mapping == 0)
					break;
				mi = 0;
			} else {
				int64_t li = mp_profile_location_index(p, s->location_id[k]);

				mi = mp_profile_mapping_index(p, msg->location[li]->mapping_id);
				if (mi < 0)
					continue;
			}
			/* A mapping's key is interned once, where Merge first meets it:
			 * every later meeting would give the same answer. */
			if (map_seen[mi])
				continue;
			map_seen[mi] = true;
			mp = msg->mapping[mi];
			id = mp_profile_str(p, mp->build_id);
			if (!id[0])
				id = mp_profile_str(p, mp->filename);
			size = mp->memory_limit - mp->memory_start + 0xfff;
			b.len = 0;
			r = put_u64(&b, size - size % 0x1000);
			r = r ?: put_u64(&b, mp->file_offset);
			r = r ?: put_str(&b, id);
			r = r ?: mp_keymap_intern(&mapkeys, b.p, b.len, (uint32_t)mi, &m.map_canon[mi]);
			if (r < 0)
				goto out;
		}
	}

	for (size_t i = 0; i < msg->n_function; i++) {
		const Perftools__Profiles__Function *f = msg->function[i];

		b.len = 0;
		r = put_u64(&b, (uint64_t)f->start_line);
		r = r ?: put_str(&b, mp_profile_str(p, f->name));
		r = r ?: put_str(&b, mp_profile_str(p, f->system_name));
		r = r ?: put_str(&b, mp_profile_str(p, f->filename));
		r = r ?: mp_keymap_intern(&fnkeys, b.p, b.len, (uint32_t)i, &fn_canon[i]);
		if (r < 0)
			goto out;
	}

	for (size_t i = 0; i < msg->n_location; i++) {
		const Perftools__Profiles__Location *l = msg->location[i];
		int64_t mi = mp_profile_mapping_index(p, l->mapping_id);
		uint64_t addr = l->address;
		uint32_t mid = 0;

		if (mi >= 0) {
			addr -= msg->mapping[mi]->memory_start;
			mid = m.map_canon[mi] + 1;
		}
		b.len = 0;
		r = put_u64(&b, addr);
		r = r ?: put(&b, &mid, sizeof(mid));
		r = r ?: put(&b, l->is_folded ? "f" : "-", 1);
		for (size_t j = 0; j < l->n_line && r == 0; j++) {
			uint32_t fc = fn_canon[mp_profile_function_index(p, l->line[j]->function_id)];

			r = put(&b, &fc, sizeof(fc));
			r = r ?: put_u64(&b, (uint64_t)l->line[j]->line);
		}
		r = r ?: mp_keymap_intern(&lockeys, b.p, b.len, (uint32_t)i, &loc_canon[i]);
		if (r < 0)
			goto out;
	}

	for (size_t i = 0; i < msg->n_sample; i++) {
		const Perftools__Profiles__Sample *s = msg->sample[i];
		uint32_t idx;

		if (all_zero(s->value, s->n_value))
			continue;
		b.len = 0;
		r = put_u64(&b, s->n_location_id);
		for (size_t k = 0; k < s->n_location_id && r == 0; k++) {
			uint32_t lc = loc_canon[mp_profile_location_index(p, s->location_id[k])];

			r = put(&b, &lc, sizeof(lc));
		}
		r = r ?: put_labels(&b, p, s, refs);
		r = r ?: mp_keymap_intern(&samplekeys, b.p, b.len, (uint32_t)m.nsamples, &idx);
		if (r < 0)
			goto out;
		if (r == 1) {
			m.first[m.nsamples++] = i;
			memcpy(&m.values[idx * nt], s->value, nt * sizeof(*s->value));
		} else {
			for (size_t j = 0; j < nt; j++)
				m.values[idx * nt + j] = (int64_t)((uint64_t)m.values[idx * nt + j] +
								   (uint64_t)s->value[j]);
		}
	}

	/* Merged samples that sum to zero everywhere go too (Merge merges again). */
	{
		size_t k = 0;

		for (size_t i = 0; i < m.nsamples; i++) {
			if (all_zero(&m.values[i * nt], nt))
				continue;
			m.first[k] = m.first[i];
			memmove(&m.values[k * nt], &m.values[i * nt], nt * sizeof(*m.values));
			k++;
		}
		m.nsamples = k;
	}
	*ret = m;
	memset(&m, 0, sizeof(m));
	r = 0;
out:
	mp_merged_done(&m);
	mp_keymap_done(&mapkeys);
	mp_keymap_done(&fnkeys);
	mp_keymap_done(&lockeys);
	mp_keymap_done(&samplekeys);
	free(map_seen);
	free(fn_canon);
	free(loc_canon);
	free(refs);
	free(b.p);
	return r < 0 ? r : 0;
}

void mp_merged_done(struct mp_merged *m)
{
	free(m->first);
	free(m->values);
	free(m->map_canon);
	memset(m, 0, sizeof(*m));
}
