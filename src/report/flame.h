/* SPDX-License-Identifier: MIT */
/*
 * `memprof flame`: a self-contained, interactive SVG flame graph of a pprof
 * profile (one sample type): click a frame to zoom on it, click the root
 * (or "Reset zoom") to come back, "Search" (or the search(term) function)
 * highlights the frames whose name matches and gives their share.  No
 * network, no external script.  For a difference profile (samples labelled
 * pprof::base, from `memprof diff -o`), frames are coloured by the sign of
 * their net value: red grew, blue shrank; widths are the absolute values.
 * CLI only.
 */
#ifndef MP_REPORT_FLAME_H
#define MP_REPORT_FLAME_H

#include <stdio.h>

#include "pprof/pprof.h"

/*
 * Write the SVG of `p` (validated) to f.  `sample_index`: a sample type as
 * mp_profile_sample_index() takes it (NULL: the profile's default).
 * `title`: shown at the top.  0; -EINVAL for an unknown sample index or
 * -ENODATA for a profile without sample types (*ret_err says why); or
 * -ENOMEM / -EIO.
 */
int mp_flame_write(const struct mp_profile *p, const char *sample_index, const char *title, FILE *f,
		   char **ret_err);

#endif
