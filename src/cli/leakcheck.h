/* SPDX-License-Identifier: MIT */
/*
 * `memprof run --leak-check` over a process tree: the suppressions, read
 * before the program runs; the leak report of each process's final
 * snapshot, printed as it comes; the report files (--leak-report) and the
 * exit status once all are in.  CLI only; every function prints its own
 * one-line error.
 */
#ifndef MP_CLI_LEAKCHECK_H
#define MP_CLI_LEAKCHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "convert/leaks-ci.h"

struct mp_snap;
struct mp_symbolizer;
struct mp_supp;
struct mp_leak_report;

/* Initialize with designated initializers: the settings, the rest zero;
 * free with mp_leakcheck_done(). */
struct mp_leakcheck {
	bool full;            /* --leak-check=full: every stack in full */
	bool gen_suppressions; /* --gen-suppressions */
	unsigned fail_on;     /* --fail-on: MP_FAIL_* classes that fail */

	struct mp_supp *supp; /* --suppressions, or NULL */
	struct mp_leak_report **reports; /* one per process checked */
	size_t n, cap;
	bool failing;         /* a report has a failing leak */
	int errors;           /* processes not checked (or out of memory) */
	size_t unchecked;     /* processes the shim could not check */
};

/* --suppressions FILE: read and parse now, before the program runs.  0, or
 * -1 with the reason printed. */
int mp_leakcheck_load_suppressions(struct mp_leakcheck *lc, const char *path);

/* The report of one process's snapshot `sn` (only a final, unnumbered one
 * counts), symbolized with `sym` (the converter's, may be NULL): kept,
 * suppressions applied, printed on stderr. */
void mp_leakcheck_add(struct mp_leakcheck *lc, const struct mp_snap *sn,
		      struct mp_symbolizer *sym);

/* --leak-report FILE: every report kept, in `fmt`, the file whole or not at
 * all.  0, or < 0 with the reason printed. */
int mp_leakcheck_write(const struct mp_leakcheck *lc, const char *path,
		       enum mp_leak_format fmt);

/* memprof run's exit status after the check, from the program's `status`:
 * 1 if a process went unchecked and status was 0; `error_exitcode` (>= 0,
 * --error-exitcode) on a failing leak. */
int mp_leakcheck_status(const struct mp_leakcheck *lc, int status, int error_exitcode);

void mp_leakcheck_done(struct mp_leakcheck *lc);

#endif
