/* SPDX-License-Identifier: MIT */
/*
 * The leak report in the formats CI systems read: SARIF 2.1.0 (GitHub code
 * scanning, GitLab, IDE viewers) and JUnit XML (GitLab, Jenkins, most CI
 * test-report views), beside the JSON of leaks.h.  `--leak-report FILE`
 * picks one by FILE's extension.  Both point each leak at the first frame in
 * the program's own source, with the path relative to a source root (the
 * working directory of `memprof run`) when the file lies under it, as code
 * scanning resolves paths against the checkout.  CLI only.
 */
#ifndef MP_CONVERT_LEAKS_CI_H
#define MP_CONVERT_LEAKS_CI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "convert/leaks.h"

enum mp_leak_format { MP_LEAKFMT_JSON, MP_LEAKFMT_SARIF, MP_LEAKFMT_JUNIT };

/*
 * The format a report file name asks for, by its extension, case ignored:
 * ".json" (leaks.h, mp_leaks_json), ".sarif" or ".sarif.json" (SARIF 2.1.0
 * section 3.2 allows both), ".xml" (JUnit).  0 and *ret, or -EINVAL with
 * *ret untouched.
 */
int mp_leaks_format_of(const char *path, enum mp_leak_format *ret);

/* What the CI formats need besides the reports. */
struct mp_leak_ci {
	char *srcroot;        /* absolute, normalized, no trailing '/' (but "/"); NULL:
			       * no root, every path stays absolute */
	char *srcroot_alt;    /* the same directory by another name ($PWD through a
			       * symbolic link), or NULL */
	unsigned fail_on;     /* MP_FAIL_*: these classes are errors (SARIF level
			       * "error", a JUnit <failure>); the others warnings
			       * (level "warning", <skipped>) */
	const char *version;  /* the tool's version, e.g. MP_VERSION */
	size_t unchecked;     /* processes whose leak check could not run: the
			       * report is incomplete (SARIF executionSuccessful false,
			       * a JUnit <error>) */
};

/* srcroot (and srcroot_alt) from the working directory: getcwd(), and $PWD
 * when it names the same directory another way.  0, or -errno with *ci
 * untouched.  mp_leak_ci_done() frees them. */
int mp_leak_ci_from_cwd(struct mp_leak_ci *ci);
void mp_leak_ci_done(struct mp_leak_ci *ci);

/*
 * The SARIF 2.1.0 log of every report: one run, a rule per leak class
 * (definite-leak, indirect-leak, possible-leak, reachable-leak, fd-leak, thread-leak,
 * timer-leak; all declared, so a consumer can tell "ran and found nothing"),
 * one result per unsuppressed group (still reachable blocks only when
 * fail_on has them), its level from fail_on, bytes and blocks in the
 * message, the location of the first frame in the program's own source,
 * the whole stack as a code flow (outermost call first), and a fingerprint
 * that survives line moves.  Suppressed groups are left out, as in the
 * JSON: GitHub code scanning would show results with SARIF suppressions as
 * alerts.  0, or -EIO when writing failed, -ENOMEM.
 */
int mp_leaks_sarif(FILE *f, struct mp_leak_report *const *reports, size_t n,
		   const struct mp_leak_ci *ci);

/*
 * The JUnit XML document: a <testsuite> per process, a <testcase> per
 * group with a <failure> naming the function, file and line (a class not in
 * fail_on, or a suppressed group: <skipped>), and a passing <testcase> per
 * class with nothing left, so that CI shows the check ran.  0, -EIO, -ENOMEM.
 */
int mp_leaks_junit(FILE *f, struct mp_leak_report *const *reports, size_t n,
		   const struct mp_leak_ci *ci);

/* The document of `fmt` (the JSON ignores ci). */
int mp_leaks_write(FILE *f, enum mp_leak_format fmt, struct mp_leak_report *const *reports,
		   size_t n, const struct mp_leak_ci *ci);

/* ---- shared by the writers (leaks-ci.c) ---- */

/* Where a source file is for a report: relative to the source root
 * (rel), else absolute; path NULL when it cannot be placed (a relative
 * path from some other build, like glibc's "csu/libc-start.c", that names
 * no file under the root). */
struct mp_leak_place {
	const char *path;
	bool rel;
};

/* Places of the files of one document, each worked out once. */
struct mp_leak_places;
struct mp_leak_places *mp_leak_places_new(const struct mp_leak_ci *ci);   /* NULL: OOM */
void mp_leak_places_free(struct mp_leak_places *pl);
/* 0 and *ret (valid until mp_leak_places_free), or -ENOMEM.  file may be
 * NULL (then path NULL). */
int mp_leak_place(struct mp_leak_places *pl, const char *file, const struct mp_leak_place **ret);

/*
 * The frame a report points at: from the first frame of the program's own
 * code (mp_leak_first_own) inward to outward, the first whose file lies
 * under the source root, else the first with a file that can be placed.
 * 0 with *ret_index and *ret_place, 1 when no frame has such a file, or
 * -ENOMEM.
 */
int mp_leak_site(struct mp_leak_places *pl, const struct mp_leak *l, size_t *ret_index,
		 const struct mp_leak_place **ret_place);

#endif
