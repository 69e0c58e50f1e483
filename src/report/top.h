/* SPDX-License-Identifier: MIT */
/*
 * `memprof top`: the table `go tool pprof -top` prints, computed the way
 * pprof computes it (github.com/google/pprof internal/report, internal/graph,
 * internal/measurement), so both agree line for line on the same profile.
 *
 * pprof's pipeline for -top, reproduced here:
 *   - samples whose values are all zero are dropped (profile.Merge);
 *   - frames below drop_frames (and not matching keep_frames) are pruned;
 *   - granularity "functions": one node per function name; an inlined frame is
 *     a node of its own; a function counted once per sample in cum; a
 *     location without lines, or a function without name, is "[binary]";
 *   - nodes whose |cum| < nodefraction (0.005) x the total flat are dropped
 *     and the graph rebuilt without them (flat of a dropped leaf is lost,
 *     as in pprof);
 *   - sort by |flat| desc, then name, then |cum| desc; keep -n nodes;
 *   - " (inline)" / " (partial-inline)" from the kept incoming edges;
 *   - values in the unit selected from the smallest node and the total.
 * Not reproduced: C++ demangling of mangled names (printed as stored) and
 * pprof's RE2 syntax in drop_frames (POSIX extended regexps are used).
 *
 * CLI only.  The profile must have been validated (mp_pprof_parse does).
 */
#ifndef MP_REPORT_TOP_H
#define MP_REPORT_TOP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "pprof/pprof.h"

struct mp_top_options {
	const char *sample_index;  /* name, number or NULL for pprof's default */
	int node_count;            /* -n: rows to keep; 0 = all */
	double node_fraction;      /* pprof's -nodefraction, default 0.005 */
	double edge_fraction;      /* pprof's -edgefraction, default 0.001 */
	/* NULL, or which samples count: the others weigh 0 (as pprof's
	 * -tagfocus keeps some); called with keep_arg. */
	bool (*keep)(const struct mp_profile *p, const Perftools__Profiles__Sample *s, void *arg);
	void *keep_arg;
};

#define MP_TOP_OPTIONS_DEFAULT { .sample_index = NULL, .node_count = 0, \
	.node_fraction = 0.005, .edge_fraction = 0.001 }

struct mp_top_row {
	char *name;                /* function name as pprof prints it */
	const char *inline_label;  /* "", "(inline)" or "(partial-inline)" */
	int64_t flat, cum;
};

struct mp_top {
	char **labels;             /* header lines ("File: ...", "Type: ...", ...) */
	size_t nlabels;
	struct mp_top_row *rows;
	size_t nrows;
	int64_t total;             /* pprof's report total: sum of |value| */
	int sample_index;          /* index into sample_type used */
	char *sample_unit;         /* unit of that sample type */
	char *output_unit;         /* unit values are printed in */
};

/*
 * Compute the table.  0 and *ret (free with mp_top_free); or -EINVAL for a
 * sample index the profile does not have, -ENODATA for a profile without
 * sample types, -ENOMEM; then the reason is in *ret_err (malloc'd; may be
 * NULL).
 */
int mp_top_compute(const struct mp_profile *p, const struct mp_top_options *o, struct mp_top **ret,
		   char **ret_err);
void mp_top_free(struct mp_top *t);   /* accepts NULL */

/* Print header lines, the column titles and the rows like pprof's text report.
 * 0 or -EIO. */
int mp_top_print(const struct mp_top *t, FILE *f);

/*
 * `memprof top --lifetimes`: the share of each row's flat and cum values
 * that samples labelled with a lifetime (common/snapshot.h MP_LIFE_LABEL)
 * shorter than `short_ns` make, as two more columns ("short" flat and cum
 * percentages; "-" where the row's value is 0).  `short` is the table of
 * the same profile computed with keep = mp_top_short_lived, node_fraction
 * 0 (rows matched by name).  0 or -EIO.
 */
int mp_top_print_lifetimes(const struct mp_top *t, const struct mp_top *shrt, FILE *f);

/* Whether any sample of p has a label with key `key`. */
bool mp_top_has_label(const struct mp_profile *p, const char *key);

/* A keep function for mp_top_options: the samples whose lifetime label is
 * a class wholly below *(const int64_t *)arg nanoseconds. */
bool mp_top_short_lived(const struct mp_profile *p, const Perftools__Profiles__Sample *s,
			void *arg);

/* Value formatted in the table's output unit (pprof's formatValue). */
void mp_top_format_value(const struct mp_top *t, int64_t v, char *buf, size_t size);

/* pprof's symbolizer rule for displayed names: `name` unless it is empty or
 * equal to `system_name`, in which case `system_name`, with (...) and <...>
 * removed when it looks like demangled C++.  Returns a malloc'd string. */
char *mp_top_display_name(const char *name, const char *system_name);

#endif
