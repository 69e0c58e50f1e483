/* SPDX-License-Identifier: MIT */
/*
 * Parsers for the values of command-line options: plain numbers, sizes and
 * durations.  CLI only; pure functions (no I/O, no allocation), so they are
 * unit tested with tables of good and bad inputs (tests/unit/test-options.c).
 * Then the getopt loop every command runs, and its check for empty values.
 *
 * All of them take the whole string: leading or trailing blanks, signs and
 * any other trailing junk are errors.  On error the output is untouched.
 */
#ifndef MP_CLI_OPTIONS_H
#define MP_CLI_OPTIONS_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * Decimal unsigned integer ("0", "42", "007").
 * Returns 0, -EINVAL (empty, not a number, junk) or -EOVERFLOW (> UINT64_MAX).
 */
int mp_parse_u64(const char *s, uint64_t *ret);

/*
 * Size in bytes: a decimal integer with an optional unit, in any letter case:
 *   (none), B                1
 *   K, KB, KiB               1024
 *   M, MB, MiB               1024^2
 *   G, GB, GiB               1024^3
 * KB, MB and GB are 1024-based too, as in most memory tools.  "512K" is
 * 524288.  No blank between number and unit.
 * Returns 0, -EINVAL or -EOVERFLOW (the result does not fit in 64 bits).
 */
int mp_parse_size(const char *s, uint64_t *ret);

/*
 * Duration in nanoseconds: one or more <number><unit> terms, units
 * ns, us, ms, s, m, h, the number decimal with an optional fraction (like
 * Go's time.ParseDuration, without signs): "500ms", "10s", "1m30s",
 * "1.5s".  A bare number is seconds ("2", "0.5"), as sleep(1) takes it.
 * Fractions below a nanosecond are dropped.
 * Returns 0, -EINVAL or -EOVERFLOW.
 */
int mp_parse_duration(const char *s, uint64_t *ret_ns);

/* A count for --nodecount and the like: decimal, 0 to INT_MAX.  0 or -EINVAL. */
int mp_parse_count(const char *s, int *ret);

/*
 * getopt_long(argc, argv, shortopts, longopts, NULL) whose own one-line
 * messages ("unrecognized option") start "memprof:": argv[0] is "memprof"
 * during the call, the caller's afterwards.  Set optind = 0 before the first
 * call of a command.
 */
int mp_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts);

/*
 * A MEMPROF_OPTIONS value in the sanitizers' style, options separated by
 * ':' ("rate=1:verbose=1") where the shim takes ',': ":<name>=" for the name
 * of one of the shim's options (mp_options_colon_at).  The shim would ignore the whole item (its value is not
 * a number), so `memprof run` refuses it up front.  Returns 0 when the
 * value is fine, or -EINVAL with the value as it should be written in
 * *ret_fixed (malloc'd; NULL on OOM).
 */
int mp_check_shim_options(const char *s, char **ret_fixed);

/* An option value that must not be empty: false after printing
 * "memprof: empty WHAT" when it is. */
bool mp_opt_nonempty(const char *value, const char *what);

#endif
