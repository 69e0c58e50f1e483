/* SPDX-License-Identifier: MIT */
/* The difference of two profiles (see diff.h).  CLI only. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/diff.h"

static int bad(char **ret_err, const char *fmt, const char *a, const char *b)
{
	if (ret_err && asprintf(ret_err, fmt, a, b) < 0)
		*ret_err = NULL;
	return -EINVAL;
}

static const char *str(const struct mp_profile *p, int64_t i)
{
	const char *s = mp_profile_str(p, i);
	return s ? s : "";
}

/* "type/unit, type/unit, ..." of p's sample types, malloc'd (NULL without
 * memory). */
static char *type_list(const struct mp_profile *p)
{
	char *s = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);

	if (!f)
		return NULL;
	for (size_t i = 0; i < p->msg->n_sample_type; i++)
		fprintf(f, "%s%s/%s", i ? ", " : "", str(p, p->msg->sample_type[i]->type),
			str(p, p->msg->sample_type[i]->unit));
	if (p->msg->n_sample_type == 0)
		fputs("none", f);
	if (fclose(f) != 0) {
		free(s);
		return NULL;
	}
	return s;
}

/* pa and pb in the order the user named them: the error names pa's sample
 * types first. */
static int compatible(const struct mp_profile *pa, const struct mp_profile *pb, char **ret_err)
{
	const Perftools__Profiles__Profile *a = pa->msg, *b = pb->msg;
	bool same = a->n_sample_type == b->n_sample_type;

	for (size_t i = 0; same && i < a->n_sample_type; i++)
		same = strcmp(str(pa, a->sample_type[i]->type), str(pb, b->sample_type[i]->type)) == 0 &&
		       strcmp(str(pa, a->sample_type[i]->unit), str(pb, b->sample_type[i]->unit)) == 0;
	if (!same) {
		char *la = type_list(pa), *lb = type_list(pb);
		int r = bad(ret_err, "incompatible profiles: sample types %s against %s",
			    la ? la : "?", lb ? lb : "?");
		free(la);
		free(lb);
		return r;
	}
	if (!a->period_type != !b->period_type ||
	    (a->period_type && (strcmp(str(pa, a->period_type->type), str(pb, b->period_type->type)) ||
				strcmp(str(pa, a->period_type->unit), str(pb, b->period_type->unit)))))
		return bad(ret_err, "incompatible profiles: period type '%s' against '%s'",
			   a->period_type ? str(pa, a->period_type->type) : "none",
			   b->period_type ? str(pb, b->period_type->type) : "none");
	return 0;
}

/* Copy p's samples into b, values multiplied by `sign`; base samples get
 * the pprof::base label. */
static int copy_samples(struct mp_pprof_builder *b, const struct mp_profile *prof, int sign)
{
	const Perftools__Profiles__Profile *p = prof->msg;
	uint64_t *map_ids = calloc(p->n_mapping + 1, sizeof(*map_ids));
	uint64_t *loc_ids = NULL, *ids = NULL;
	int64_t *values = calloc(p->n_sample_type + 1, sizeof(*values));
	struct mp_pprof_line *lines = NULL;
	struct mp_pprof_label *labels = NULL;
	size_t max_lines = 1, max_locs = 1, max_labels = 1;
	int r = -ENOMEM;

	for (size_t i = 0; i < p->n_location; i++)
		if (p->location[i]->n_line > max_lines)
			max_lines = p->location[i]->n_line;
	for (size_t i = 0; i < p->n_sample; i++) {
		if (p->sample[i]->n_location_id > max_locs)
			max_locs = p->sample[i]->n_location_id;
		if (p->sample[i]->n_label + 1 > max_labels)
			max_labels = p->sample[i]->n_label + 1;
	}
	loc_ids = calloc(p->n_location + 1, sizeof(*loc_ids));
	ids = calloc(max_locs, sizeof(*ids));
	lines = calloc(max_lines, sizeof(*lines));
	labels = calloc(max_labels, sizeof(*labels));
	if (!map_ids || !values || !loc_ids || !ids || !lines || !labels)
		goto out;

	/* Mappings and locations by index, what refers to them by id
	 * resolved through the profile's indexes. */
	for (size_t i = 0; i < p->n_mapping; i++) {
		const Perftools__Profiles__Mapping *m = p->mapping[i];
		map_ids[i] = mp_pprof_add_mapping(b, m->memory_start, m->memory_limit, m->file_offset,
						  str(prof, m->filename), str(prof, m->build_id),
						  m->has_functions, m->has_filenames,
						  m->has_line_numbers, m->has_inline_frames);
	}
	for (size_t i = 0; i < p->n_location; i++) {
		const Perftools__Profiles__Location *l = p->location[i];
		int64_t mk = mp_profile_mapping_index(prof, l->mapping_id);
		uint64_t mid = mk >= 0 ? map_ids[mk] : 0;
		for (size_t k = 0; k < l->n_line; k++) {
			const Perftools__Profiles__Function *f =
				mp_profile_function(prof, l->line[k]->function_id);
			lines[k].function = f ? str(prof, f->name) : "";
			lines[k].system_name = f ? str(prof, f->system_name) : NULL;
			lines[k].file = f && f->filename ? str(prof, f->filename) : NULL;
			lines[k].line = l->line[k]->line;
			lines[k].start_line = f ? f->start_line : 0;
		}
		loc_ids[i] = mp_pprof_add_location(b, mid, l->address, lines, l->n_line);
	}
	for (size_t i = 0; i < p->n_sample; i++) {
		const Perftools__Profiles__Sample *s = p->sample[i];
		for (size_t k = 0; k < s->n_location_id; k++) {
			int64_t lk = mp_profile_location_index(prof, s->location_id[k]);
			ids[k] = lk >= 0 ? loc_ids[lk] : 0;
		}
		for (size_t k = 0; k < p->n_sample_type; k++)
			values[k] = sign * s->value[k];
		size_t nl = 0;
		for (size_t k = 0; k < s->n_label; k++) {
			const Perftools__Profiles__Label *lb = s->label[k];
			labels[nl].key = str(prof, lb->key);
			labels[nl].str = lb->str ? str(prof, lb->str) : NULL;
			labels[nl].num = lb->num;
			labels[nl].num_unit = lb->num_unit ? str(prof, lb->num_unit) : NULL;
			nl++;
		}
		if (sign < 0)
			labels[nl++] = (struct mp_pprof_label){ .key = "pprof::base", .str = "true" };
		mp_pprof_add_sample(b, ids, s->n_location_id, values, p->n_sample_type, labels, nl);
	}
	r = 0;
out:
	free(map_ids);
	free(loc_ids);
	free(ids);
	free(values);
	free(lines);
	free(labels);
	return r;
}

/* Profiles srcs[0..n) into one builder, as pprof's profile.Merge combines
 * them; signs[i] < 0 negates a profile's values and labels its samples
 * pprof::base (diff_base). */
static int combine(const struct mp_profile *const *srcs, const int *signs, size_t n,
		   struct mp_pprof_builder **ret, char **ret_err)
{
	for (size_t i = 1; i < n; i++) {
		/* A base (diff) was named before the profile it is compared with. */
		int r = signs[i] < 0 ? compatible(srcs[i], srcs[0], ret_err)
				     : compatible(srcs[0], srcs[i], ret_err);
		if (r < 0)
			return r;
	}
	const struct mp_profile *after = srcs[0];
	const Perftools__Profiles__Profile *am = after->msg;
	struct mp_pprof_builder *b = mp_pprof_builder_new();
	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < am->n_sample_type; i++)
		mp_pprof_add_sample_type(b, str(after, am->sample_type[i]->type),
					 str(after, am->sample_type[i]->unit));
	/* Headers as pprof's merge combines them, in order: earliest time
	 * (the first profile's unless a later one is smaller), durations
	 * summed, the largest period, each distinct comment once in order of
	 * appearance, the first default sample type set. */
	int64_t time = 0, duration = 0, period = 0;
	const char *def = NULL;
	for (size_t k = 0; k < n; k++) {
		if (time == 0 || srcs[k]->msg->time_nanos < time)
			time = srcs[k]->msg->time_nanos;
		duration += srcs[k]->msg->duration_nanos;
		if (period == 0 || period < srcs[k]->msg->period)
			period = srcs[k]->msg->period;
		if (!def && srcs[k]->msg->default_sample_type)
			def = str(srcs[k], srcs[k]->msg->default_sample_type);
		for (size_t i = 0; i < srcs[k]->msg->n_comment; i++) {
			const char *c = str(srcs[k], srcs[k]->msg->comment[i]);
			bool seen = false;
			for (size_t k2 = 0; k2 <= k && !seen; k2++)
				for (size_t j = 0; j < (k2 < k ? srcs[k2]->msg->n_comment : i) && !seen; j++)
					seen = strcmp(str(srcs[k2], srcs[k2]->msg->comment[j]), c) == 0;
			if (!seen)
				mp_pprof_add_comment(b, c);
		}
	}
	if (am->period_type)
		mp_pprof_set_period(b, str(after, am->period_type->type),
				    str(after, am->period_type->unit), period);
	if (def && *def)
		mp_pprof_set_default_sample_type(b, def);
	mp_pprof_set_time(b, time, duration);
	for (size_t k = 0; k < n; k++)
		if (copy_samples(b, srcs[k], signs[k]) < 0) {
			mp_pprof_builder_free(b);
			return -ENOMEM;
		}
	*ret = b;
	return 0;
}

int mp_diff_build(const struct mp_profile *base, const struct mp_profile *after,
		  struct mp_pprof_builder **ret, char **ret_err)
{
	const struct mp_profile *srcs[2] = { after, base };
	const int signs[2] = { 1, -1 };
	return combine(srcs, signs, 2, ret, ret_err);
}

int mp_merge_build(const struct mp_profile *const *profiles, size_t n, struct mp_pprof_builder **ret,
		   char **ret_err)
{
	int *signs = calloc(n + 1, sizeof(*signs));
	if (!signs)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		signs[i] = 1;
	int r = combine(profiles, signs, n, ret, ret_err);
	free(signs);
	return r;
}

/* A stack as text: the function names of its frames, leaf first. */
static char *stack_key(const struct mp_profile *p, const Perftools__Profiles__Sample *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	for (size_t k = 0; k < s->n_location_id; k++) {
		const Perftools__Profiles__Location *l = mp_profile_location(p, s->location_id[k]);
		if (!l)
			continue;
		if (!l->n_line) {
			/* object+offset, not the address: the same in every run */
			char name[MP_FRAME_NAME_MAX];
			mp_profile_location_name(p, l, name, sizeof(name));
			fprintf(f, "%s;", name);
		}
		for (size_t j = 0; j < l->n_line; j++) {
			const Perftools__Profiles__Function *fn =
				mp_profile_function(p, l->line[j]->function_id);
			fprintf(f, "%s;", fn ? str(p, fn->name) : "?");
		}
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

struct keyed {
	char *key;
	int64_t value;
};

static int cmp_keyed(const void *a, const void *b)
{
	return strcmp(((const struct keyed *)a)->key, ((const struct keyed *)b)->key);
}

static int add_keys(const struct mp_profile *p, int index, int sign, struct keyed *out, size_t *n)
{
	for (size_t i = 0; i < p->msg->n_sample; i++) {
		char *k = stack_key(p, p->msg->sample[i]);
		if (!k)
			return -ENOMEM;
		out[*n].key = k;
		out[*n].value = sign * p->msg->sample[i]->value[index];
		(*n)++;
	}
	return 0;
}

int mp_diff_growth(const struct mp_profile *base, const struct mp_profile *after, int index,
		   int64_t *ret_total, int64_t *ret_max_stack, char **ret_max_key)
{
	size_t n = 0, cap = base->msg->n_sample + after->msg->n_sample;
	struct keyed *all = calloc(cap + 1, sizeof(*all));
	int64_t total = 0, best = INT64_MIN;
	char *best_key = NULL;
	int r = -ENOMEM;
	if (!all || add_keys(after, index, 1, all, &n) < 0 || add_keys(base, index, -1, all, &n) < 0)
		goto out;
	qsort(all, n, sizeof(*all), cmp_keyed);
	for (size_t i = 0; i < n;) {
		size_t j = i;
		int64_t sum = 0;
		while (j < n && strcmp(all[j].key, all[i].key) == 0)
			sum += all[j++].value;
		total += sum;
		if (sum > best) {
			best = sum;
			best_key = all[i].key;
		}
		i = j;
	}
	*ret_total = total;
	*ret_max_stack = n ? best : 0;
	if (ret_max_key)
		*ret_max_key = best_key ? strdup(best_key) : NULL;
	r = 0;
out:
	for (size_t i = 0; i < n; i++)
		free(all[i].key);
	free(all);
	return r;
}
