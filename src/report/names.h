/* SPDX-License-Identifier: MIT */
/*
 * Name helpers shared by the report code (names.c).  The displayed-name rule
 * itself, mp_top_display_name(), is declared in top.h.  CLI only.
 */
#ifndef MP_REPORT_NAMES_H
#define MP_REPORT_NAMES_H

#include <stddef.h>

/* Go's filepath.Base(path), copied into buf (truncated to size - 1);
 * returns buf or a static string ("." for "", "/" for all slashes). */
const char *mp_report_base_name(const char *path, char *buf, size_t size);

/* pprof's profile.simplifyFunc: the name up to the first '(' that does not
 * start "(anonymous namespace)" or belong to "operator()", without a
 * leading '.'.  malloc'd, NULL on OOM. */
char *mp_report_simplify_func(const char *f);

#endif
