/* SPDX-License-Identifier: MIT */
/*
 * `memprof stats`: the statistics a memprof profile carries in its
 * memprof_stat field (proto/profile.proto) as a table: the allocator's,
 * named like Go's runtime.MemStats, the leak scan's, the resident set size,
 * and the mallocs and frees per size class.  CLI only.
 */
#ifndef MP_REPORT_STATS_H
#define MP_REPORT_STATS_H

#include <stdint.h>
#include <stdio.h>

#include "pprof/pprof.h"

/* Print the statistics of `p` (validated) on f.  Returns how many there
 * were (0: none, nothing printed), or -EIO. */
int mp_stats_print(const struct mp_profile *p, FILE *f);

/*
 * How many sampled allocations a sampled heap profile's estimates rest on:
 * each sample's alloc_objects, scaled up by 1 / (1 - e^(-avg/rate)) when it
 * was written (Go's scaleHeapSample, convert.h), scaled back down and
 * summed.  For memprof's profiles and Go's alike.  0 with *ret_samples and
 * *ret_rate (the period), or -ENOENT for a profile that is not a sampled
 * heap profile (period type not space/bytes, period <= 1, no
 * alloc_objects/alloc_space, or a difference of two profiles).
 */
int mp_heap_sampled_allocations(const struct mp_profile *p, uint64_t *ret_samples, int64_t *ret_rate);

/* A sampling rate (bytes) as the notes print it: "N MiB", "N KiB" or
 * "N bytes", in buf (32 bytes are enough). */
void mp_rate_text(int64_t rate, char *buf, size_t size);

/* Fewer sampled allocations than this make estimates rough (a relative
 * standard error above 1/sqrt(100) = 10%): `memprof top` and `memprof run`
 * say so and suggest --rate 1. */
#define MP_FEW_SAMPLES 100

#endif
