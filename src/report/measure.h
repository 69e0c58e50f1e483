/* SPDX-License-Identifier: MIT */
/*
 * Measurement units the way pprof prints them (internal/measurement in
 * github.com/google/pprof): bytes scale by 1024 to B/kB/MB/GB/TB/PB, time
 * units to ns/us/ms/s/hrs, GCU units; any other unit ("count", "objects")
 * prints the plain number.  `memprof top` must print exactly what
 * `go tool pprof -top` prints, so these follow pprof's rules to the byte,
 * floating-point steps included.  CLI only.
 */
#ifndef MP_REPORT_MEASURE_H
#define MP_REPORT_MEASURE_H

#include <stddef.h>
#include <stdint.h>

/* Formatted values fit easily: "%.2f" of an int64 scaled down, plus a unit. */
#define MP_MEASURE_BUFSZ 64

/*
 * pprof's Scale: `value` in `from_unit` expressed in `to_unit`, which may be
 * "minimum" or "auto" (pick the largest unit that keeps the value >= 1).
 * *ret_unit receives the unit to print: a static string, `to_unit` itself,
 * or "" when the unit is uninteresting (counts).  ret_unit may be NULL.
 */
double mp_measure_scale(int64_t value, const char *from_unit, const char *to_unit,
			const char **ret_unit);

/* pprof's ScaledLabel: "%.2f" of the scaled value without a ".00" tail,
 * followed by the unit; "0" for zero.  `buf` has MP_MEASURE_BUFSZ bytes or
 * more; longer results are truncated. */
void mp_measure_scaled_label(char *buf, size_t size, int64_t value, const char *from_unit,
			     const char *to_unit);

/* pprof's Percentage: "  100%" near 100, "%5.2f%%" from 1% up, "%5.2g%%"
 * below (so "0.49%", "0.0012%"); 0% when total is 0. */
void mp_measure_percentage(char *buf, size_t size, int64_t value, int64_t total);

#endif
