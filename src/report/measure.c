/* SPDX-License-Identifier: MIT */
/*
 * pprof's unit tables and scaling rules (see measure.h).  The unit names,
 * aliases and factors are pprof's; the order of floating-point operations
 * (value * from_factor, then / to_factor) is kept so results round the same.
 */
#include "report/measure.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct unit {
	const char *name;          /* canonical name, what is printed */
	const char *aliases[4];
	double factor;             /* in the type's base unit */
};

struct unit_type {
	struct unit def;           /* used when the target unit is unknown */
	struct unit units[10];
	size_t nunits;
};

static const struct unit_type unit_types[] = {
	{
		.def = { "B", { "b", "byte" }, 1 },
		.units = {
			{ "B", { "b", "byte" }, 1 },
			{ "kB", { "kb", "kbyte", "kilobyte" }, 1024.0 },
			{ "MB", { "mb", "mbyte", "megabyte" }, 1048576.0 },
			{ "GB", { "gb", "gbyte", "gigabyte" }, 1073741824.0 },
			{ "TB", { "tb", "tbyte", "terabyte" }, 1099511627776.0 },
			{ "PB", { "pb", "pbyte", "petabyte" }, 1125899906842624.0 },
		},
		.nunits = 6,
	},
	{
		.def = { "s", { NULL }, 1e9 },
		.units = {
			{ "ns", { "ns", "nanosecond" }, 1 },
			{ "us", { "\xce\xbcs", "us", "microsecond" }, 1e3 },
			{ "ms", { "ms", "millisecond" }, 1e6 },
			{ "s", { "s", "sec", "second" }, 1e9 },
			{ "hrs", { "hour", "hr" }, 3600e9 },
		},
		.nunits = 5,
	},
	{
		.def = { "GCU", { NULL }, 1.0 },
		.units = {
			{ "n*GCU", { "nanogcu" }, 1e-9 },
			{ "u*GCU", { "microgcu" }, 1e-6 },
			{ "m*GCU", { "milligcu" }, 1e-3 },
			{ "GCU", { "gcu" }, 1 },
			{ "k*GCU", { "kilogcu" }, 1e3 },
			{ "M*GCU", { "megagcu" }, 1e6 },
			{ "G*GCU", { "gigagcu" }, 1e9 },
			{ "T*GCU", { "teragcu" }, 1e12 },
			{ "P*GCU", { "petagcu" }, 1e15 },
		},
		.nunits = 9,
	},
};

/* pprof's sniffUnit: lower-case, drop one trailing 's' from names longer
 * than two bytes, then look the alias up. */
static const struct unit *sniff_unit(const struct unit_type *ut, const char *unit)
{
	char buf[64];
	size_t len = strlen(unit);

	if (len >= sizeof(buf))
		return NULL;            /* no alias is that long */
	for (size_t i = 0; i < len; i++) {
		char c = unit[i];

		buf[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
	if (len > 2 && buf[len - 1] == 's')
		len--;
	buf[len] = '\0';
	for (size_t i = 0; i < ut->nunits; i++)
		for (size_t j = 0; j < 4 && ut->units[i].aliases[j]; j++)
			if (strcmp(ut->units[i].aliases[j], buf) == 0)
				return &ut->units[i];
	return NULL;
}

static bool auto_scale(const struct unit_type *ut, double value, double *ret, const char **ret_unit)
{
	double f = 0;
	const char *name = NULL;

	for (size_t i = 0; i < ut->nunits; i++) {
		const struct unit *u = &ut->units[i];

		if (u->factor >= f && value / u->factor >= 1.0) {
			f = u->factor;
			name = u->name;
		}
	}
	if (f == 0)
		return false;
	*ret = value / f;
	*ret_unit = name;
	return true;
}

static bool convert_unit(const struct unit_type *ut, int64_t value, const char *from, const char *to,
			 double *ret, const char **ret_unit)
{
	const struct unit *fu = sniff_unit(ut, from), *tu;
	double v;

	if (!fu)
		return false;
	v = (double)value * fu->factor;
	if (strcmp(to, "minimum") == 0 || strcmp(to, "auto") == 0) {
		if (auto_scale(ut, v, ret, ret_unit))
			return true;
		*ret = v / ut->def.factor;
		*ret_unit = ut->def.name;
		return true;
	}
	tu = sniff_unit(ut, to);
	if (!tu) {
		*ret = v / ut->def.factor;
		*ret_unit = ut->def.name;
		return true;
	}
	*ret = v / tu->factor;
	*ret_unit = tu->name;
	return true;
}

double mp_measure_scale(int64_t value, const char *from_unit, const char *to_unit,
			const char **ret_unit)
{
	const char *unit;
	double v;

	if (!ret_unit)
		ret_unit = &unit;
	/* As pprof: negate and recurse, except for INT64_MIN (its negation overflows). */
	if (value < 0 && value != INT64_MIN)
		return -mp_measure_scale(-value, from_unit, to_unit, ret_unit);
	for (size_t i = 0; i < sizeof(unit_types) / sizeof(unit_types[0]); i++)
		if (convert_unit(&unit_types[i], value, from_unit, to_unit, &v, ret_unit))
			return v;
	if (strcmp(to_unit, "count") == 0 || strcmp(to_unit, "sample") == 0 ||
	    strcmp(to_unit, "unit") == 0 || strcmp(to_unit, "minimum") == 0 ||
	    strcmp(to_unit, "auto") == 0)
		*ret_unit = "";
	else
		*ret_unit = to_unit;
	return (double)value;
}

void mp_measure_scaled_label(char *buf, size_t size, int64_t value, const char *from_unit,
			     const char *to_unit)
{
	const char *unit;
	double v = mp_measure_scale(value, from_unit, to_unit, &unit);
	char num[512];
	size_t len;

	/* "%.2f" of a double up to 2^63 * 2^50 needs < 400 characters. */
	snprintf(num, sizeof(num), "%.2f", v);
	len = strlen(num);
	if (len >= 3 && strcmp(num + len - 3, ".00") == 0)
		num[len - 3] = '\0';
	if (strcmp(num, "0") == 0 || strcmp(num, "-0") == 0) {
		snprintf(buf, size, "0");
		return;
	}
	snprintf(buf, size, "%s%s", num, unit);
}

void mp_measure_percentage(char *buf, size_t size, int64_t value, int64_t total)
{
	double ratio = 0;

	if (total != 0)
		ratio = fabs((double)value / (double)total) * 100;
	if (ratio >= 99.95 && ratio <= 100.05)
		snprintf(buf, size, "  100%%");
	else if (ratio >= 1.0)
		snprintf(buf, size, "%5.2f%%", ratio);
	else
		snprintf(buf, size, "%5.2g%%", ratio);
}
