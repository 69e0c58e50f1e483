/* SPDX-License-Identifier: MIT */
/*
 * Number, size and duration parsers for CLI options, and the getopt loop's
 * helpers (see options.h).
 * Overflow is checked before every multiplication and addition, so a
 * value that does not fit in 64 bits is reported, never wrapped.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cli/options.h"
#include "common/shim-options.h"

/*
 * Consume the leading decimal digits of s and return their number (0 when s
 * does not start with a digit).  *ret_v gets their value; *ret_overflow is
 * set when it does not fit in 64 bits.  Syntax is checked to the end before
 * overflow is reported, so "99999999999999999999x" is -EINVAL everywhere.
 */
static size_t scan_digits(const char *s, uint64_t *ret_v, bool *ret_overflow)
{
	uint64_t v = 0;
	size_t n = 0;

	for (; s[n] >= '0' && s[n] <= '9'; n++) {
		unsigned d = (unsigned)(s[n] - '0');

		if (v > (UINT64_MAX - d) / 10)
			*ret_overflow = true;
		else
			v = v * 10 + d;
	}
	*ret_v = v;
	return n;
}

int mp_parse_u64(const char *s, uint64_t *ret)
{
	bool overflow = false;
	uint64_t v;
	size_t n;

	if (!s)
		return -EINVAL;
	n = scan_digits(s, &v, &overflow);
	if (n == 0 || s[n] != '\0')
		return -EINVAL;
	if (overflow)
		return -EOVERFLOW;
	*ret = v;
	return 0;
}

static const struct {
	const char *name;
	uint64_t mult;
} size_units[] = {
	{ "",    1 },
	{ "b",   1 },
	{ "k",   1ull << 10 }, { "kb", 1ull << 10 }, { "kib", 1ull << 10 },
	{ "m",   1ull << 20 }, { "mb", 1ull << 20 }, { "mib", 1ull << 20 },
	{ "g",   1ull << 30 }, { "gb", 1ull << 30 }, { "gib", 1ull << 30 },
};

int mp_parse_size(const char *s, uint64_t *ret)
{
	bool overflow = false;
	uint64_t v;
	size_t n;

	if (!s)
		return -EINVAL;
	n = scan_digits(s, &v, &overflow);
	if (n == 0)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(size_units) / sizeof(size_units[0]); i++) {
		if (strcasecmp(s + n, size_units[i].name) != 0)
			continue;
		if (overflow || v > UINT64_MAX / size_units[i].mult)
			return -EOVERFLOW;
		*ret = v * size_units[i].mult;
		return 0;
	}
	return -EINVAL;
}

static const struct {
	const char *name;
	uint64_t ns;
} duration_units[] = {
	/* Longest names first where one is a prefix of another ("ms" and "m"). */
	{ "ns", 1 },
	{ "us", 1000 },
	{ "ms", 1000 * 1000 },
	{ "s",  1000 * 1000 * 1000 },
	{ "m",  60ull * 1000 * 1000 * 1000 },
	{ "h",  3600ull * 1000 * 1000 * 1000 },
};

int mp_parse_duration(const char *s, uint64_t *ret_ns)
{
	uint64_t total = 0;
	bool overflow = false, bare;

	if (!s || !*s)
		return -EINVAL;
	/* A bare number is seconds, as for sleep(1) and timeout(1). */
	bare = s[strspn(s, "0123456789.")] == '\0';
	while (*s) {
		uint64_t v, mult = 0, frac = 0, scale = 1, part;
		size_t len = 0;
		size_t n = scan_digits(s, &v, &overflow);

		s += n;
		if (*s == '.') {
			/* A fraction: its first 9 digits count (1 ns at most
			 * with seconds; the rest would be below a nanosecond
			 * for every unit but m and h, where 9 digits are well
			 * below one). */
			size_t k = 0;

			for (s++; *s >= '0' && *s <= '9'; s++, k++)
				if (k < 9) {
					frac = frac * 10 + (uint64_t)(*s - '0');
					scale *= 10;
				}
			if (k == 0)
				return -EINVAL;
		} else if (n == 0) {
			return -EINVAL;
		}
		if (bare) {
			if (*s)
				return -EINVAL;      /* "1.5.5" */
			mult = 1000000000ull;
		} else {
			for (size_t i = 0; i < sizeof(duration_units) / sizeof(duration_units[0]); i++) {
				size_t l = strlen(duration_units[i].name);

				if (strncmp(s, duration_units[i].name, l) == 0) {
					mult = duration_units[i].ns;
					len = l;
					break;
				}
			}
			if (!mult)
				return -EINVAL;
		}
		s += len;
		/* frac / scale < 1 and mult < 2^43: frac * mult fits. */
		part = frac * mult / scale;
		if (v > (UINT64_MAX - part) / mult || total > UINT64_MAX - (v * mult + part))
			overflow = true;
		else
			total += v * mult + part;
	}
	if (overflow)
		return -EOVERFLOW;
	*ret_ns = total;
	return 0;
}

int mp_parse_count(const char *s, int *ret)
{
	uint64_t v;

	if (mp_parse_u64(s, &v) < 0 || v > INT_MAX)
		return -EINVAL;
	*ret = (int)v;
	return 0;
}

int mp_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts)
{
	char *argv0 = argv[0];
	int c;

	argv[0] = (char *)"memprof";
	c = getopt_long(argc, argv, shortopts, longopts, NULL);
	argv[0] = argv0;
	return c;
}

bool mp_opt_nonempty(const char *value, const char *what)
{
	if (value[0])
		return true;
	fprintf(stderr, "memprof: empty %s\n", what);
	return false;
}

/* ":<name>=" at p, for the name of one of the shim's options: a ':' that
 * starts another option (the shim's own check, common/shim-options.h). */
static bool option_start(const char *p)
{
	size_t at;

	return *p == ':' && mp_options_colon_at(p, strlen(p), &at) && at == 0;
}

int mp_check_shim_options(const char *s, char **ret_fixed)
{
	bool bad = false;
	char *fixed;

	for (const char *p = s; *p; p++)
		bad = bad || option_start(p);
	if (!bad)
		return 0;
	fixed = strdup(s);
	if (fixed)
		for (char *p = fixed; *p; p++)
			if (option_start(p))
				*p = ',';
	*ret_fixed = fixed;
	return -EINVAL;
}
