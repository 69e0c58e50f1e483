/* SPDX-License-Identifier: MIT */
/*
 * One-line error messages handed back to the CLI through a `char **ret_err`
 * out-parameter.  CLI only (allocates with malloc).
 */
#ifndef MP_COMMON_ERRMSG_H
#define MP_COMMON_ERRMSG_H

/* *ret_err = the formatted message (malloc'd; caller frees), or NULL when it
 * cannot be allocated.  Does nothing when ret_err is NULL. */
void mp_set_err(char **ret_err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
