/* SPDX-License-Identifier: MIT */
/*
 * Reading a validated profile (pprof.h, struct mp_profile): strings,
 * sample types, the sample index every report takes, statistics.  CLI only.
 */
#include "common/errmsg.h"
#include "pprof/pprof.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const char *mp_profile_str(const struct mp_profile *p, int64_t i)
{
	if (!p || i < 0 || (uint64_t)i >= p->msg->n_string_table || !p->msg->string_table[i])
		return "";
	return p->msg->string_table[i];
}

int mp_profile_type_index(const struct mp_profile *p, const char *type)
{
	for (size_t i = 0; i < p->msg->n_sample_type; i++)
		if (strcmp(mp_profile_str(p, p->msg->sample_type[i]->type), type) == 0)
			return (int)i;
	return -1;
}

/* pprof's Profile.SampleIndexByName. */
int mp_profile_sample_index(const struct mp_profile *p, const char *want, char **ret_err)
{
	const Perftools__Profiles__Profile *m = p->msg;
	const char *noinuse;
	char *end;
	long v;

	if (m->n_sample_type == 0) {
		mp_set_err(ret_err, "profile has no sample types");
		return -ENODATA;
	}
	if (!want || !want[0]) {
		const char *dst = mp_profile_str(p, m->default_sample_type);

		if (dst[0])
			for (size_t i = 0; i < m->n_sample_type; i++)
				if (strcmp(mp_profile_str(p, m->sample_type[i]->type), dst) == 0)
					return (int)i;
		return (int)m->n_sample_type - 1;
	}
	/* strconv.Atoi: optional sign, decimal digits, nothing else. */
	errno = 0;
	v = strtol(want, &end, 10);
	if (*end == '\0' && errno == 0 && (want[0] == '+' || want[0] == '-' || (want[0] >= '0' && want[0] <= '9'))) {
		if (v < 0 || (size_t)v >= m->n_sample_type) {
			mp_set_err(ret_err, "sample index '%s' is outside the range [0..%zu]", want,
				   m->n_sample_type - 1);
			return -EINVAL;
		}
		return (int)v;
	}
	noinuse = strncmp(want, "inuse_", 6) == 0 ? want + 6 : want;
	for (size_t i = 0; i < m->n_sample_type; i++) {
		const char *t = mp_profile_str(p, m->sample_type[i]->type);

		if (strcmp(t, want) == 0 || strcmp(t, noinuse) == 0)
			return (int)i;
	}
	if (ret_err) {
		size_t len = 0;
		char *list;

		for (size_t i = 0; i < m->n_sample_type; i++)
			len += strlen(mp_profile_str(p, m->sample_type[i]->type)) + 1;
		list = calloc(1, len + 1);
		if (list) {
			for (size_t i = 0; i < m->n_sample_type; i++) {
				if (i)
					strcat(list, " ");
				strcat(list, mp_profile_str(p, m->sample_type[i]->type));
			}
			mp_set_err(ret_err, "unknown sample index '%s': the profile has %s", want, list);
			free(list);
		}
	}
	return -EINVAL;
}

int mp_profile_stat(const struct mp_profile *p, const char *name, int64_t *ret)
{
	for (size_t i = 0; i < p->msg->n_memprof_stat; i++) {
		const Perftools__Profiles__MemprofStat *s = p->msg->memprof_stat[i];

		if (s && s->name && strcmp(s->name, name) == 0) {
			*ret = s->value;
			return 0;
		}
	}
	return -ENOENT;
}
