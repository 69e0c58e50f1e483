/* SPDX-License-Identifier: MIT */
/*
 * Validity check for decoded profiles, the union of what pprof's Go decoder
 * (profile/encode.go: string_table[0] must be "", every string index in
 * range) and Profile.CheckValid (profile/profile.go) reject:
 *
 *   - samples exist only if sample types do, and each sample has exactly one
 *     value per sample type;
 *   - mapping, function and location ids are nonzero and unique;
 *   - every sample's location ids, every line's function id and every
 *     location's nonzero mapping id resolve.  (pprof leaves an unknown
 *     mapping id as "no mapping"; we reject it: nobody writes one on purpose.)
 *
 * The id -> index maps the check needs stay with the profile it returns
 * (struct mp_profile), so no report builds them again.  The report code
 * relies on these facts and does no checking of its own.
 */
#include "pprof/pprof.h"
#include "pprof/internal.h"
#include "pprof/keymap.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static int fail(char **ret_err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(char **ret_err, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	if (ret_err) {
		va_start(ap, fmt);
		if (vasprintf(&s, fmt, ap) < 0)
			s = NULL;
		va_end(ap);
		*ret_err = s;
	}
	return -EBADMSG;
}

static bool str_ok(const Perftools__Profiles__Profile *p, int64_t i)
{
	return i >= 0 && (uint64_t)i < p->n_string_table;
}

#define CHECK_STR(idx, ...) do { \
	if (!str_ok(p, (idx))) { \
		r = fail(ret_err, __VA_ARGS__); \
		goto out; \
	} \
} while (0)

static int resolve(const Perftools__Profiles__Profile *p, bool trusted, struct mp_profile **ret,
		   char **ret_err)
{
	struct mp_idmap mappings = { 0 }, functions = { 0 }, locations = { 0 };
	struct mp_profile *prof;
	int r;

	if (ret_err)
		*ret_err = NULL;
	if (p->n_string_table == 0)
		return fail(ret_err, "string table is empty (string_table[0] must be \"\")");
	if (!p->string_table[0] || p->string_table[0][0] != '\0')
		return fail(ret_err, "string_table[0] must be \"\"");

	if (mp_idmap_init(&mappings, p->n_mapping) < 0 || mp_idmap_init(&functions, p->n_function) < 0 ||
	    mp_idmap_init(&locations, p->n_location) < 0) {
		r = -ENOMEM;
		goto out;
	}
	if (trusted) {
		/* Ids only: what memprof built itself holds the rest by
		 * construction. */
		r = 0;
		for (size_t i = 0; r == 0 && i < p->n_mapping; i++)
			r = mp_idmap_put(&mappings, p->mapping[i]->id, (uint32_t)i);
		for (size_t i = 0; r == 0 && i < p->n_function; i++)
			r = mp_idmap_put(&functions, p->function[i]->id, (uint32_t)i);
		for (size_t i = 0; r == 0 && i < p->n_location; i++)
			r = mp_idmap_put(&locations, p->location[i]->id, (uint32_t)i);
		if (r < 0) {
			r = fail(ret_err, "duplicate or zero id");
			goto out;
		}
		goto done;
	}

	/* String indexes, in the order pprof's decoder resolves them. */
	for (size_t i = 0; i < p->n_mapping; i++) {
		const Perftools__Profiles__Mapping *m = p->mapping[i];

		CHECK_STR(m->filename, "mapping %" PRIu64 " has file name string index %" PRId64 " out of range",
			  m->id, m->filename);
		CHECK_STR(m->build_id, "mapping %" PRIu64 " has build id string index %" PRId64 " out of range",
			  m->id, m->build_id);
	}
	for (size_t i = 0; i < p->n_function; i++) {
		const Perftools__Profiles__Function *f = p->function[i];

		CHECK_STR(f->name, "function %" PRIu64 " has name string index %" PRId64 " out of range",
			  f->id, f->name);
		CHECK_STR(f->system_name, "function %" PRIu64 " has system name string index %" PRId64 " out of range",
			  f->id, f->system_name);
		CHECK_STR(f->filename, "function %" PRIu64 " has file name string index %" PRId64 " out of range",
			  f->id, f->filename);
	}
	for (size_t i = 0; i < p->n_sample_type; i++) {
		const Perftools__Profiles__ValueType *t = p->sample_type[i];

		CHECK_STR(t->type, "sample type %zu has type string index %" PRId64 " out of range", i, t->type);
		CHECK_STR(t->unit, "sample type %zu has unit string index %" PRId64 " out of range", i, t->unit);
	}
	for (size_t i = 0; i < p->n_sample; i++) {
		const Perftools__Profiles__Sample *s = p->sample[i];

		for (size_t j = 0; j < s->n_label; j++) {
			const Perftools__Profiles__Label *l = s->label[j];

			CHECK_STR(l->key, "sample %zu has label key string index %" PRId64 " out of range",
				  i, l->key);
			CHECK_STR(l->str, "sample %zu has label value string index %" PRId64 " out of range",
				  i, l->str);
			CHECK_STR(l->num_unit, "sample %zu has label unit string index %" PRId64 " out of range",
				  i, l->num_unit);
		}
	}
	CHECK_STR(p->drop_frames, "drop_frames string index %" PRId64 " out of range", p->drop_frames);
	CHECK_STR(p->keep_frames, "keep_frames string index %" PRId64 " out of range", p->keep_frames);
	if (p->period_type) {
		CHECK_STR(p->period_type->type, "period type string index %" PRId64 " out of range",
			  p->period_type->type);
		CHECK_STR(p->period_type->unit, "period unit string index %" PRId64 " out of range",
			  p->period_type->unit);
	}
	for (size_t i = 0; i < p->n_comment; i++)
		CHECK_STR(p->comment[i], "comment %zu has string index %" PRId64 " out of range", i, p->comment[i]);
	CHECK_STR(p->default_sample_type, "default_sample_type string index %" PRId64 " out of range",
		  p->default_sample_type);

	/* Sample values against sample types. */
	if (p->n_sample_type == 0 && p->n_sample != 0) {
		r = fail(ret_err, "%zu samples but no sample types", p->n_sample);
		goto out;
	}
	for (size_t i = 0; i < p->n_sample; i++) {
		if (p->sample[i]->n_value != p->n_sample_type) {
			r = fail(ret_err, "sample %zu has %zu values, expected %zu (one per sample type)",
				 i, p->sample[i]->n_value, p->n_sample_type);
			goto out;
		}
	}

	/* Ids: nonzero and unique. */
	for (size_t i = 0; i < p->n_mapping; i++) {
		r = mp_idmap_put(&mappings, p->mapping[i]->id, (uint32_t)i);
		if (r == -EINVAL) {
			r = fail(ret_err, "mapping %zu has the reserved id 0", i);
			goto out;
		}
		if (r < 0) {
			r = fail(ret_err, "several mappings have id %" PRIu64, p->mapping[i]->id);
			goto out;
		}
	}
	for (size_t i = 0; i < p->n_function; i++) {
		r = mp_idmap_put(&functions, p->function[i]->id, (uint32_t)i);
		if (r == -EINVAL) {
			r = fail(ret_err, "function %zu has the reserved id 0", i);
			goto out;
		}
		if (r < 0) {
			r = fail(ret_err, "several functions have id %" PRIu64, p->function[i]->id);
			goto out;
		}
	}
	for (size_t i = 0; i < p->n_location; i++) {
		const Perftools__Profiles__Location *l = p->location[i];

		r = mp_idmap_put(&locations, l->id, (uint32_t)i);
		if (r == -EINVAL) {
			r = fail(ret_err, "location %zu has the reserved id 0", i);
			goto out;
		}
		if (r < 0) {
			r = fail(ret_err, "several locations have id %" PRIu64, l->id);
			goto out;
		}
		if (l->mapping_id != 0 && mp_idmap_get(&mappings, l->mapping_id) < 0) {
			r = fail(ret_err, "location %" PRIu64 " refers to unknown mapping %" PRIu64,
				 l->id, l->mapping_id);
			goto out;
		}
		for (size_t j = 0; j < l->n_line; j++) {
			uint64_t fid = l->line[j]->function_id;

			if (mp_idmap_get(&functions, fid) < 0) {
				r = fail(ret_err, "location %" PRIu64 " has a line with %s function %" PRIu64,
					 l->id, fid ? "unknown" : "no", fid);
				goto out;
			}
		}
	}
	for (size_t i = 0; i < p->n_sample; i++) {
		const Perftools__Profiles__Sample *s = p->sample[i];

		for (size_t j = 0; j < s->n_location_id; j++) {
			if (mp_idmap_get(&locations, s->location_id[j]) < 0) {
				r = fail(ret_err, "sample %zu refers to unknown location %" PRIu64,
					 i, s->location_id[j]);
				goto out;
			}
		}
	}
done:
	prof = calloc(1, sizeof(*prof));
	if (!prof) {
		r = -ENOMEM;
		goto out;
	}
	*prof = (struct mp_profile){ .msg = p, .mapping_ix = mappings, .function_ix = functions,
				     .location_ix = locations };
	*ret = prof;
	return 0;
out:
	mp_idmap_done(&mappings);
	mp_idmap_done(&functions);
	mp_idmap_done(&locations);
	return r;
}

int mp_profile_new(const Perftools__Profiles__Profile *msg, struct mp_profile **ret,
		   char **ret_err)
{
	return resolve(msg, false, ret, ret_err);
}

int mp_profile_new_built(const Perftools__Profiles__Profile *msg, struct mp_profile **ret,
			 char **ret_err)
{
	return resolve(msg, true, ret, ret_err);
}

int mp_pprof_validate(const Perftools__Profiles__Profile *msg, char **ret_err)
{
	struct mp_profile *p = NULL;
	int r = mp_profile_new(msg, &p, ret_err);

	mp_profile_free(p);
	return r;
}

void mp_profile_free(struct mp_profile *p)
{
	if (!p)
		return;
	mp_idmap_done(&p->mapping_ix);
	mp_idmap_done(&p->function_ix);
	mp_idmap_done(&p->location_ix);
	if (p->release)
		p->release(p->owner);
	free(p);
}
