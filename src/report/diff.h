/* SPDX-License-Identifier: MIT */
/*
 * `memprof diff`: the difference of two pprof profiles as pprof's
 * -diff_base makes it: every sample of AFTER as it is, every sample of BASE
 * with its values negated and the string label pprof::base=true (which
 * makes pprof's reports take their percentages of the base's total).  CLI
 * only.
 */
#ifndef MP_REPORT_DIFF_H
#define MP_REPORT_DIFF_H

#include <stdint.h>

#include "pprof/pprof.h"

/*
 * Build the difference profile of two validated profiles into a new
 * builder (*ret; free with mp_pprof_builder_free).  The profiles must be
 * compatible as pprof requires: the same sample types (type and unit, in
 * order) and the same period type.  0, or -EINVAL with a one-line reason in
 * *ret_err (malloc'd), or -ENOMEM.
 */
int mp_diff_build(const struct mp_profile *base, const struct mp_profile *after,
		  struct mp_pprof_builder **ret, char **ret_err);

/*
 * `memprof merge`: profiles[0..n) (n >= 1, compatible as above) into one
 * builder, samples copied as they are, headers combined as pprof's merge
 * does (earliest time, summed durations, largest period, distinct
 * comments).  Samples with the same stack and labels are summed by every
 * pprof reader (and by memprof top).  Same returns as mp_diff_build.
 */
int mp_merge_build(const struct mp_profile *const *profiles, size_t n, struct mp_pprof_builder **ret,
		   char **ret_err);

/*
 * Growth of sample type `index` from BASE to AFTER: in total (*ret_total)
 * and for the stack that grew most (stacks compared by the function names
 * of their frames), its growth (*ret_max_stack) and that stack as
 * "leaf;caller;...;" (*ret_max_key, malloc'd, may be NULL).  Profiles must
 * be compatible and validated.  0 or -ENOMEM.
 */
int mp_diff_growth(const struct mp_profile *base, const struct mp_profile *after, int index,
		   int64_t *ret_total, int64_t *ret_max_stack, char **ret_max_key);

#endif
