/* SPDX-License-Identifier: MIT */
/*
 * pprof's profile.Merge, as far as a report can see it.  pprof merges every
 * profile it reads (even a single one) before reporting, and that changes
 * what a report shows in three ways:
 *   - samples with the same stack and labels become one, values summed, so
 *     the report total (a sum of absolute values) sees the sums;
 *   - samples whose values are all zero disappear;
 *   - mappings with the same key (size rounded up to 4 KiB, file offset,
 *     build id or else file name) become the first one met, file name
 *     included.
 * CLI only; the profile must be validated.
 */
#ifndef MP_REPORT_MERGE_H
#define MP_REPORT_MERGE_H

#include <stddef.h>
#include <stdint.h>

#include "pprof/pprof.h"

struct mp_merged {
	size_t nsamples;
	size_t *first;          /* per merged sample: its first sample in p->sample */
	int64_t *values;        /* nsamples x n_sample_type, summed (wrapping) */
	uint32_t *map_canon;    /* per mapping index: index of the mapping it became */
};

/* 0 or -ENOMEM.  On success call mp_merged_done(). */
int mp_merge(const struct mp_profile *p, struct mp_merged *ret);
void mp_merged_done(struct mp_merged *m);

#endif
